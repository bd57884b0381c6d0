"""The renderer's GPU side: one GL context (made by pyrender, EGL on Mesa llvmpipe), the lean
shaders in ./shaders, and each head's buffers kept between frames. A new pose rewrites
positions, normals and cavity-shaded colours in place; a frame is one draw per part and one
read-back. On llvmpipe the frame time is mostly per triangle, so each camera draws only the
triangles that can face it, in an order that shares corners. ``emo_app.face.render`` owns the
render thread, the cameras and lights, and the posing; this module only draws.
"""

from __future__ import annotations

import ctypes
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np


def cavity_shaded(part: Any) -> bool:
    """Whether ``render.cavity_shading`` shades rig ``part``: the skin (its creases) and the
    mouth's inside (relit where it comes out of the mouth's shadow), not the eyes or teeth."""
    return part.uvs is not None or part.name == "mouth"


@dataclass(frozen=True)
class Stage:
    """One named view: the camera pose, the directional lights (pose, intensity), the ambient
    light and the camera's vertical field of view."""

    name: str
    camera: np.ndarray
    lights: tuple[tuple[np.ndarray, float], ...]
    ambient: float
    yfov_deg: float


def _load_triton_before_mesa() -> None:
    """Import triton (and the LLVM it bundles) before Mesa's llvmpipe loads its own LLVM with
    the first GL context. The other order segfaults the process as soon as anything imports
    triton later (torch.optim and torch.compile do, through torch._dynamo)."""
    try:
        import triton  # noqa: F401
    except Exception:  # no triton in this torch build: nothing can clash
        pass


class GLState:
    """Everything that lives on the render thread: the context, the shader programs, the
    offscreen framebuffer and the GPU buffers of the heads drawn lately. pyrender makes the EGL
    context and compiles the shaders in ./shaders; drawing is a handful of direct GL calls per
    frame (one buffer update, one draw per part, one read-back) instead of pyrender's scene walk,
    which rebuilt and re-uploaded every mesh and set ~90 uniforms per frame."""

    def __init__(self, size: int, msaa_samples: int, shader_dir: Path, roughness: Mapping[str, float]):
        _load_triton_before_mesa()
        import pyrender
        from pyrender.shader_program import ShaderProgramCache

        self.pyrender = pyrender
        self.renderer = pyrender.OffscreenRenderer(size, size)  # makes the context current
        self.shaders = ShaderProgramCache(shader_dir=str(shader_dir))
        self.roughness = dict(roughness)  # part name -> material roughness (default 0.62)
        self.programs: dict[tuple, _Program] = {}
        self.samples = msaa_samples
        self.size = size
        self.target: _Target | None = None
        self.heads: dict[tuple[int, int], HeadBuffers] = {}  # (id(rig), id(texture)), newest last
        self.textures: dict[int, tuple[Any, Any]] = {}  # id(texture) -> (GL texture, texture)
        self.head: HeadBuffers | None = None  # the head the next frame draws

    def program(self, attributes: tuple[str, ...], textured: bool) -> _Program:
        """The lean shader pair compiled for one vertex layout, with pyrender's defines."""
        from pyrender.constants import MAX_N_LIGHTS

        key = (attributes, textured)
        if key not in self.programs:
            defines = {f"{name}_LOC": loc for loc, name in enumerate(attributes, start=1)}
            defines.update(INST_M_LOC=len(attributes) + 1, MAX_DIRECTIONAL_LIGHTS=MAX_N_LIGHTS,
                           MAX_SPOT_LIGHTS=MAX_N_LIGHTS, MAX_POINT_LIGHTS=MAX_N_LIGHTS,
                           USE_METALLIC_MATERIAL=1)
            if textured:
                defines["HAS_BASE_COLOR_TEX"] = 1
            shader = self.shaders.get_program("mesh.vert", "mesh.frag", defines=defines)
            shader._add_to_context()
            self.programs[key] = _Program(shader._program_id, len(attributes) + 1)
        return self.programs[key]

    def gl_texture(self, texture: Any) -> int:
        """The texture's image uploaded once: RGB, linear filtering, clamped at the edges. No
        mipmaps: linear minification never reads them, and building them for a 2048 x 1024
        atlas took a tenth of a second per new look."""
        from OpenGL import GL

        cached = self.textures.get(id(texture))
        if cached is not None and cached[1] is texture:  # holding it keeps its id() unique
            return cached[0]
        image = np.ascontiguousarray(texture.image[::-1], dtype=np.uint8)  # GL: first row at the bottom
        texture_id = int(GL.glGenTextures(1))
        GL.glBindTexture(GL.GL_TEXTURE_2D, texture_id)
        GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)
        GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, GL.GL_RGB, image.shape[1], image.shape[0], 0, GL.GL_RGB,
                        GL.GL_UNSIGNED_BYTE, image)
        for name, value in ((GL.GL_TEXTURE_MIN_FILTER, GL.GL_LINEAR),
                            (GL.GL_TEXTURE_MAG_FILTER, GL.GL_LINEAR),
                            (GL.GL_TEXTURE_WRAP_S, GL.GL_CLAMP_TO_EDGE),
                            (GL.GL_TEXTURE_WRAP_T, GL.GL_CLAMP_TO_EDGE),
                            (GL.GL_TEXTURE_MAX_LEVEL, 0)):
            GL.glTexParameteri(GL.GL_TEXTURE_2D, name, value)
        if len(self.textures) >= 8:
            old_id = next(iter(self.textures))
            if not any(key[1] == old_id for key in self.heads):
                GL.glDeleteTextures([self.textures.pop(old_id)[0]])
        self.textures[id(texture)] = (texture_id, texture)
        return texture_id

    def use_head(self, rig: Any, texture: Any, stages: Mapping[str, Stage]) -> HeadBuffers:
        """The GPU buffers of ``rig`` drawn with ``texture`` (made on first use, with triangle
        lists for each of ``stages``; a few kept)."""
        key = (id(rig), id(texture))
        head = self.heads.pop(key, None)
        if head is None or head.rig is not rig or head.texture is not texture:
            if head is not None:
                head.delete()
            head = HeadBuffers(self, rig, texture, stages)
            while len(self.heads) >= 4:
                self.heads.pop(next(iter(self.heads))).delete()
        self.heads[key] = head  # newest last
        self.head = head
        return head

    def shoot(self, stage: Stage, background: tuple[int, int, int] | None,
              every_triangle: bool = False) -> np.ndarray:
        """The current head seen from ``stage`` over ``background``: uint8 RGB, or RGBA with a
        transparent background when ``background`` is None. ``every_triangle``: draw the
        triangles the rig's shapes alone can never turn to this camera too (a turned head can)."""
        from OpenGL import GL

        if self.target is None or self.target.size != self.size:
            if self.target is not None:
                self.target.delete()
            self.target = _Target(self.size, self.samples)
        self.target.bind()
        if background is None:
            GL.glClearColor(0.0, 0.0, 0.0, 0.0)
        else:
            GL.glClearColor(*(np.asarray(background, float) / 255.0), 1.0)
        GL.glClear(GL.GL_COLOR_BUFFER_BIT | GL.GL_DEPTH_BUFFER_BIT)
        if self.head is not None:
            self.head.draw(stage, every_triangle)
        return self.target.read(rgba=background is None)

    def resize(self, size: int) -> None:
        self.size = size

    def delete(self) -> None:
        """Free the context (and with it every buffer, texture and program on it)."""
        self.renderer.delete()


class _Program:
    """A compiled shader program and its uniform locations; the view it was last set up for."""

    def __init__(self, program_id: int, instance_location: int):
        self.id = program_id
        self.instance_location = instance_location
        self.stage: Stage | None = None
        self._locations: dict[str, int] = {}

    def set(self, name: str, value: Any) -> None:
        """Set a uniform of this (bound) program; names the shader does not use are skipped."""
        from OpenGL import GL

        location = self._locations.get(name)
        if location is None:
            location = self._locations[name] = GL.glGetUniformLocation(self.id, name)
        if location < 0:
            return
        value = np.asarray(value)
        if value.dtype.kind in "iub" and value.ndim == 0:
            GL.glUniform1i(location, int(value))
        elif value.ndim == 0:
            GL.glUniform1f(location, float(value))
        elif value.shape == (4, 4):
            GL.glUniformMatrix4fv(location, 1, GL.GL_TRUE, value.astype(np.float32))
        else:
            {3: GL.glUniform3fv, 4: GL.glUniform4fv}[value.size](location, 1, value.astype(np.float32))

    def set_stage(self, stage: Stage) -> None:
        """Camera, lights and the fixed material terms, as pyrender would set them."""
        if self.stage is stage:
            return
        self.set("M", np.eye(4))
        self.set("V", np.linalg.inv(stage.camera))
        self.set("P", _projection(stage.yfov_deg))
        self.set("cam_pos", stage.camera[:3, 3])
        self.set("ambient_light", np.full(3, stage.ambient))
        self.set("n_directional_lights", np.int32(len(stage.lights)))
        for index, (pose, intensity) in enumerate(stage.lights):
            self.set(f"directional_lights[{index}].direction", -pose[:3, 2])
            self.set(f"directional_lights[{index}].color", np.ones(3))
            self.set(f"directional_lights[{index}].intensity", intensity)
        self.set("material.emissive_factor", np.zeros(3))
        self.set("material.base_color_factor", np.ones(4))
        self.set("material.metallic_factor", 0.0)
        self.set("material.base_color_texture", np.int32(0))
        self.stage = stage


def _projection(yfov_deg: float, znear: float = 20.0, zfar: float = 200.0) -> np.ndarray:
    """The perspective matrix pyrender's ``PerspectiveCamera`` makes for the renders' camera."""
    t = np.tan(np.radians(yfov_deg) / 2.0)
    P = np.zeros((4, 4))
    P[0, 0], P[1, 1], P[3, 2] = 1.0 / t, 1.0 / t, -1.0
    P[2, 2], P[2, 3] = (zfar + znear) / (znear - zfar), 2.0 * zfar * znear / (znear - zfar)
    return P


@dataclass
class _DrawItem:
    part: Any
    program: _Program
    vertex_array: int
    texture: int | None  # GL texture bound to unit 0
    roughness: float
    ranges: dict[str, tuple[int, int]]  # stage name -> (byte offset, index count) in the index buffer
    base_colors: np.ndarray | None  # per-frame colours = these times the cavity shade, or None


class HeadBuffers:
    """One rig drawn with one texture, on the GPU: every vertex's position and normal in one
    buffer rewritten per pose (one call), colours (rewritten where cavity shading darkens them),
    UVs and per-view triangle lists made once. Each part has its own vertex array and draw."""

    def __init__(self, state: GLState, rig: Any, texture: Any, stages: Mapping[str, Stage]):
        from OpenGL import GL

        self.rig, self.texture = rig, texture
        self.pose_key: bytes | None = None
        count = rig.vertex_count
        self.positions_normals = np.zeros((count, 6), np.float32)
        self.colors = np.ones((count, 4), np.float32)
        uvs_all = np.zeros((count, 2), np.float32)
        self.items: list[_DrawItem] = []
        plans = [self._plan(part, uvs_all) for part in rig.parts]
        self.buffers = [int(i) for i in GL.glGenBuffers(5)]
        pose_buffer, color_buffer, uv_buffer, instance_buffer, index_buffer = self.buffers
        for buffer, data, usage in ((pose_buffer, self.positions_normals, GL.GL_DYNAMIC_DRAW),
                                    (color_buffer, self.colors, GL.GL_DYNAMIC_DRAW),
                                    (uv_buffer, uvs_all, GL.GL_STATIC_DRAW),
                                    (instance_buffer, np.eye(4, dtype=np.float32), GL.GL_STATIC_DRAW)):
            GL.glBindBuffer(GL.GL_ARRAY_BUFFER, buffer)
            GL.glBufferData(GL.GL_ARRAY_BUFFER, data.nbytes, data, usage)
        indices, offset = [], 0
        self.vertex_arrays = []
        for part, has_uvs, has_colors, base in plans:
            attributes = ("NORMAL", *(["TEXCOORD_0"] if has_uvs else []),
                          *(["COLOR_0"] if has_colors else []))
            program = state.program(attributes, textured=has_uvs)
            layout = [(pose_buffer, 3, 24, 0), (pose_buffer, 3, 24, 12)]
            if has_uvs:
                layout.append((uv_buffer, 2, 8, 0))
            if has_colors:
                layout.append((color_buffer, 4, 16, 0))
            vertex_array = _vertex_array(part.start, layout, (instance_buffer, program.instance_location),
                                         index_buffer)
            self.vertex_arrays.append(vertex_array)
            ranges = {}
            eyes = [(name, stage.camera[:3, 3]) for name, stage in stages.items()] + [(EVERY, None)]
            for name, eye in eyes:
                triangles = drawn_triangles(rig, part, eye)
                ranges[name] = (offset, triangles.size)
                indices.append(triangles.ravel())
                offset += triangles.size * 4
            self.items.append(_DrawItem(
                part, program, vertex_array, state.gl_texture(texture) if has_uvs else None,
                state.roughness.get(part.name, 0.62), ranges, base,
            ))
        GL.glBindVertexArray(0)
        index_data = np.concatenate(indices).astype(np.uint32)
        GL.glBindBuffer(GL.GL_ELEMENT_ARRAY_BUFFER, index_buffer)
        GL.glBufferData(GL.GL_ELEMENT_ARRAY_BUFFER, index_data.nbytes, index_data, GL.GL_STATIC_DRAW)
        shaded = [item.part for item in self.items if item.base_colors is not None]
        self.shaded_span = (min(p.start for p in shaded), max(p.stop for p in shaded)) if shaded else None

    def _plan(self, part: Any, uvs_all: np.ndarray) -> tuple[Any, bool, bool, np.ndarray | None]:
        """(part, has UVs, has colours, base colours the cavity shade multiplies or None) for one
        part, with its static colours and GL UVs written into the buffers' arrays."""
        from emo_app.face.texture import texture_uvs

        rig, texture = self.rig, self.texture
        colors, uvs = part.colors, texture_uvs(texture, rig, part)
        if uvs is not None:
            uvs_all[part.start : part.stop] = np.column_stack([uvs[:, 0], 1.0 - uvs[:, 1]])  # GL: v up
            colors = None
        # render.cavity_shading relights the skin's creases and the mouth's inside every frame
        shaded = getattr(rig, "weld", None) is not None and cavity_shaded(part)
        if shaded:
            colors = np.ones((part.size, 4), np.float32) if colors is None else colors.astype(np.float32)
        elif texture is not None and part.name == "head" and uvs is None:
            colors = np.tile(np.append(texture.skin_rgb, 1.0), (part.size, 1)).astype(np.float32)
        if colors is not None:
            self.colors[part.start : part.stop] = colors
        return part, uvs is not None, colors is not None, colors if shaded else None

    def upload(self, vertices: np.ndarray, normals: np.ndarray, cavity: np.ndarray | None) -> None:
        """Write one pose: positions, normals and (V,) cavity shades (None: none); two buffer
        updates."""
        from OpenGL import GL

        self.positions_normals[:, :3] = vertices
        self.positions_normals[:, 3:] = normals
        GL.glBindBuffer(GL.GL_ARRAY_BUFFER, self.buffers[0])
        GL.glBufferSubData(GL.GL_ARRAY_BUFFER, 0, self.positions_normals.nbytes, self.positions_normals)
        if cavity is not None and self.shaded_span is not None:
            for item in self.items:
                if item.base_colors is not None:
                    part = item.part
                    rows = self.colors[part.start : part.stop]
                    rows[:, :3] = item.base_colors[:, :3] * cavity[part.start : part.stop, None]
            start, stop = self.shaded_span
            GL.glBindBuffer(GL.GL_ARRAY_BUFFER, self.buffers[1])
            GL.glBufferSubData(GL.GL_ARRAY_BUFFER, start * 16, (stop - start) * 16, self.colors[start:stop])

    def draw(self, stage: Stage, every_triangle: bool = False) -> None:
        """One draw call per part, from ``stage`` (its triangles that can face the camera, or
        all of them)."""
        from OpenGL import GL

        GL.glEnable(GL.GL_DEPTH_TEST)
        GL.glDepthFunc(GL.GL_LESS)
        GL.glEnable(GL.GL_CULL_FACE)
        GL.glCullFace(GL.GL_BACK)
        GL.glDisable(GL.GL_BLEND)
        current = None
        for item in self.items:
            if item.program is not current:
                GL.glUseProgram(item.program.id)
                item.program.set_stage(stage)
                current = item.program
            item.program.set("material.roughness_factor", item.roughness)
            GL.glBindVertexArray(item.vertex_array)
            if item.texture is not None:
                GL.glActiveTexture(GL.GL_TEXTURE0)
                GL.glBindTexture(GL.GL_TEXTURE_2D, item.texture)
            offset, count = item.ranges[EVERY if every_triangle else stage.name]
            GL.glDrawElements(GL.GL_TRIANGLES, count, GL.GL_UNSIGNED_INT, ctypes.c_void_p(offset))
        GL.glBindVertexArray(0)
        GL.glUseProgram(0)

    def delete(self) -> None:
        from OpenGL import GL

        GL.glDeleteVertexArrays(len(self.vertex_arrays), self.vertex_arrays)
        GL.glDeleteBuffers(len(self.buffers), self.buffers)


def _vertex_array(first_vertex: int, layout: list[tuple[int, int, int, int]],
                  instances: tuple[int, int], index_buffer: int) -> int:
    """A vertex array reading one part: ``layout`` is (buffer, floats, stride, offset) per
    attribute location from 0, each starting at ``first_vertex``; ``instances`` the buffer
    holding the identity instance matrix pyrender's shaders take, and its first location."""
    from OpenGL import GL

    vertex_array = int(GL.glGenVertexArrays(1))
    GL.glBindVertexArray(vertex_array)
    for location, (buffer, size, stride, start) in enumerate(layout):
        GL.glBindBuffer(GL.GL_ARRAY_BUFFER, buffer)
        GL.glEnableVertexAttribArray(location)
        GL.glVertexAttribPointer(location, size, GL.GL_FLOAT, GL.GL_FALSE, stride,
                                 ctypes.c_void_p(start + first_vertex * stride))
    GL.glBindBuffer(GL.GL_ARRAY_BUFFER, instances[0])
    for column in range(4):
        location = instances[1] + column
        GL.glEnableVertexAttribArray(location)
        GL.glVertexAttribPointer(location, 4, GL.GL_FLOAT, GL.GL_FALSE, 64, ctypes.c_void_p(16 * column))
        GL.glVertexAttribDivisor(location, 1)
    GL.glBindBuffer(GL.GL_ELEMENT_ARRAY_BUFFER, index_buffer)
    return vertex_array


class _Target:
    """The offscreen framebuffer: RGBA colour and 24-bit depth; with multisampling, a second
    single-sample framebuffer to resolve into before reading."""

    def __init__(self, size: int, samples: int):
        from OpenGL import GL

        self.size, self.samples = size, samples
        self.renderbuffers = [int(i) for i in np.atleast_1d(GL.glGenRenderbuffers(3 if samples else 2))]
        self.framebuffers = [int(i) for i in np.atleast_1d(GL.glGenFramebuffers(2 if samples else 1))]
        for index, fmt in ((0, GL.GL_RGBA8), (1, GL.GL_DEPTH_COMPONENT24)):
            GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, self.renderbuffers[index])
            GL.glRenderbufferStorageMultisample(GL.GL_RENDERBUFFER, samples, fmt, size, size)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self.framebuffers[0])
        GL.glFramebufferRenderbuffer(GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_RENDERBUFFER,
                                     self.renderbuffers[0])
        GL.glFramebufferRenderbuffer(GL.GL_FRAMEBUFFER, GL.GL_DEPTH_ATTACHMENT, GL.GL_RENDERBUFFER,
                                     self.renderbuffers[1])
        if samples:
            GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, self.renderbuffers[2])
            GL.glRenderbufferStorage(GL.GL_RENDERBUFFER, GL.GL_RGBA8, size, size)
            GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self.framebuffers[1])
            GL.glFramebufferRenderbuffer(GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_RENDERBUFFER,
                                         self.renderbuffers[2])

    def bind(self) -> None:
        from OpenGL import GL

        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self.framebuffers[0])
        GL.glViewport(0, 0, self.size, self.size)
        if self.samples:
            GL.glEnable(GL.GL_MULTISAMPLE)

    def read(self, rgba: bool) -> np.ndarray:
        """The finished frame, top row first (a multisampled one resolved first)."""
        from OpenGL import GL

        size = self.size
        if self.samples:
            GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, self.framebuffers[0])
            GL.glBindFramebuffer(GL.GL_DRAW_FRAMEBUFFER, self.framebuffers[1])
            GL.glBlitFramebuffer(0, 0, size, size, 0, 0, size, size, GL.GL_COLOR_BUFFER_BIT, GL.GL_LINEAR)
        GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, self.framebuffers[-1])
        GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)
        fmt, channels = (GL.GL_RGBA, 4) if rgba else (GL.GL_RGB, 3)
        pixels = GL.glReadPixels(0, 0, size, size, fmt, GL.GL_UNSIGNED_BYTE)
        return np.frombuffer(pixels, np.uint8).reshape(size, size, channels)[::-1].copy()

    def delete(self) -> None:
        from OpenGL import GL

        GL.glDeleteFramebuffers(len(self.framebuffers), self.framebuffers)
        GL.glDeleteRenderbuffers(len(self.renderbuffers), self.renderbuffers)


_DRAWN_TRIANGLES: dict[int, tuple[Any, dict]] = {}
EVERY = "every"  # the draw range of all of a part's triangles (a turned head, any view)


def drawn_triangles(rig: Any, part: Any, eye: np.ndarray | None) -> np.ndarray:
    """(T, 3) part-local triangles to draw for a camera at ``eye`` (None: every one), made once
    per rig. Left out:
    triangles that face away from that camera in every pose the rig can take (GL would cull them after
    shading their corners). Kept ones are sorted along a Z-order curve of their centres, so
    consecutive triangles share corners and llvmpipe's small vertex cache shades each corner
    about once instead of twice. The picture is the same either way."""
    cached = _DRAWN_TRIANGLES.get(id(rig))
    if cached is None or cached[0] is not rig:
        if len(_DRAWN_TRIANGLES) >= 8:
            _DRAWN_TRIANGLES.pop(next(iter(_DRAWN_TRIANGLES)))
        cached = _DRAWN_TRIANGLES[id(rig)] = (rig, {})
    key = (part.name, part.start, None if eye is None else tuple(np.round(eye, 6)))
    if key not in cached[1]:
        faces = np.asarray(part.faces, np.int64)
        points = rig.neutral[part.start : part.stop].astype(np.float64)
        faces = faces[np.argsort(_z_order(points[faces].mean(axis=1)), kind="stable")]
        if eye is not None:
            if "reach" not in cached[1]:
                cached[1]["reach"] = _delta_reach(rig)
            faces = faces[~always_facing_away(rig, faces + part.start, eye, cached[1]["reach"])]
        cached[1][key] = np.ascontiguousarray(faces, dtype=np.uint32)
    return cached[1][key]


def _z_order(points: np.ndarray, bits: int = 10) -> np.ndarray:
    """Morton code of each point in its bounding box: near codes are near points."""
    low, high = points.min(axis=0), points.max(axis=0)
    cells = ((points - low) / np.maximum(high - low, 1e-9) * (2**bits - 1)).astype(np.int64)
    code = np.zeros(len(points), np.int64)
    for bit in range(bits):
        for axis in range(3):
            code |= ((cells[:, axis] >> bit) & 1) << (3 * bit + axis)
    return code


def always_facing_away(rig: Any, faces: np.ndarray, eye: np.ndarray, reach: np.ndarray) -> np.ndarray:
    """Triangles (rig vertex indices) that are back-facing to a camera at ``eye`` for every
    weight vector in [0, 1]^52: each corner moves at most its ``reach`` (``_delta_reach``), and
    the facing test (b - a) x (c - a) . (eye - a) stays negative under any such moves. None for
    rigs whose deformation does more than add deltas (the mask head's lid and lip limits)."""
    if len(getattr(rig, "eye_margins", ())) or getattr(rig, "lip_margins", None) is not None:
        return np.zeros(len(faces), bool)
    a, b, c = (rig.neutral[faces[:, i]].astype(np.float64) for i in range(3))
    ra, rb, rc = reach[faces[:, 0]], reach[faces[:, 1]], reach[faces[:, 2]]
    edge1, edge2, to_eye = b - a, c - a, eye - a
    normal = np.cross(edge1, edge2)
    facing = np.einsum("ij,ij->i", normal, to_eye)
    length = partial(np.linalg.norm, axis=1)
    spread1, spread2 = ra + rb, ra + rc
    normal_change = spread1 * length(edge2) + length(edge1) * spread2 + spread1 * spread2
    bound = normal_change * (length(to_eye) + ra) + length(normal) * ra
    return facing + bound < 0


def _delta_reach(rig: Any) -> np.ndarray:
    """(V,) the farthest each vertex can move from neutral with weights in [0, 1] (the sum of its
    delta lengths, rounded up past float32's error)."""
    deltas = np.asarray(rig.deltas, np.float32)
    lengths = np.sqrt(np.einsum("kvi,kvi->kv", deltas, deltas))
    return lengths.sum(axis=0, dtype=np.float64) * (1.0 + 1e-4) + 1e-6
