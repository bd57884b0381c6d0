"""Offscreen rendering of the rigged head with pyrender (EGL; Mesa llvmpipe on a CPU machine).

A GL context belongs to the thread that made it, and creating one costs far more than drawing
a frame, so one render thread owns one long-lived context (pyrender's ``OffscreenRenderer``
makes it and compiles the shaders in ./shaders); every caller (Gradio workers, the metric's
batches, the CLI) queues requests to it. Each head keeps its GPU buffers between frames: a new
pose rewrites positions, normals and cavity-shaded colours in place, and a frame is one draw per
part and one read-back. On llvmpipe the frame time is mostly per triangle, so each view draws
only the triangles that can face its camera, in an order that shares corners.
"""

from __future__ import annotations

import ctypes
import logging
import os
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from emo_app.blendshapes import Blendshapes
from emo_app.config import Settings
from emo_app.errors import InvalidInputError

if TYPE_CHECKING:  # pragma: no cover
    from emo_app.face.texture import FaceTexture

log = logging.getLogger(__name__)

VIEWS: dict[str, float] = {"front": 0.0, "three_quarter": 35.0, "profile": 90.0}
CAMERA_TARGET = np.array([0.0, -0.6, -1.5])
CAMERA_DISTANCE = 76.0
CAMERA_YFOV_DEG = 21.0


def _look_at(eye: np.ndarray, target: np.ndarray, up=(0.0, 1.0, 0.0)) -> np.ndarray:
    """A camera/light pose whose -z axis points from ``eye`` to ``target`` (OpenGL convention)."""
    forward = target - eye
    forward = forward / np.linalg.norm(forward)
    right = np.cross(forward, up)
    right = right / np.linalg.norm(right)
    true_up = np.cross(right, forward)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = right, true_up, -forward, eye
    return pose


def view_poses(view: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """Camera pose and the key, fill and rim light poses for a named view; the lights turn with
    the camera so every view is lit the same way."""
    if view not in VIEWS:
        raise InvalidInputError(f"Unknown view '{view}'; choose one of {', '.join(VIEWS)}.")
    yaw = np.radians(VIEWS[view])
    direction = np.array([np.sin(yaw), 0.0, np.cos(yaw)])
    camera = _look_at(CAMERA_TARGET + direction * CAMERA_DISTANCE, CAMERA_TARGET)
    right, up = camera[:3, 0], camera[:3, 1]
    lights = []
    for offset in (
        direction * 0.9 - right * 0.75 + up * 0.85,  # key: high to the upper left, rakes the brow
        direction * 1.0 + right * 0.9 - up * 0.05,  # fill: right, soft, keeps shadows open
        -direction * 0.8 + up * 0.9 + right * 0.4,  # rim: behind and above, separates the head
    ):
        lights.append(_look_at(CAMERA_TARGET + offset * 50.0, CAMERA_TARGET))
    return camera, lights


def project(points: np.ndarray, view: str = "front", size: int = 512) -> np.ndarray:
    """Pixel (column, row) of rig-space points in a render of ``view`` at ``size``: lets callers
    and tests find the mouth or the eyes in an image without detecting anything."""
    camera, _ = view_poses(view)
    world_to_camera = np.linalg.inv(camera)
    homogeneous = np.column_stack([points, np.ones(len(points))]) @ world_to_camera.T
    focal = 1.0 / np.tan(np.radians(CAMERA_YFOV_DEG) / 2.0)
    x_ndc = focal * homogeneous[:, 0] / -homogeneous[:, 2]
    y_ndc = focal * homogeneous[:, 1] / -homogeneous[:, 2]
    return np.column_stack([(x_ndc + 1.0) / 2.0 * size, (1.0 - y_ndc) / 2.0 * size])


LIGHT_INTENSITIES = (3.6, 0.55, 1.2)
AMBIENT = 0.1
CAVITY_STRENGTH = 0.9  # how dark creases get (0: no cavity shading)
SHADER_DIR = Path(__file__).resolve().parent / "shaders"
# 4x MSAA triples the 512 px frame time on llvmpipe; FaceRenderer(msaa_samples=4) buys smoother
# silhouettes where a GPU makes it cheap.
DEFAULT_MSAA_SAMPLES = 0


@dataclass
class _Request:
    shapes: list[Blendshapes]
    view: str
    size: int
    background: tuple[int, int, int] | None
    texture: Any
    rig: Any


def _load_triton_before_mesa() -> None:
    """Import triton (and the LLVM it bundles) before Mesa's llvmpipe loads its own LLVM with
    the first GL context. The other order segfaults the process as soon as anything imports
    triton later (torch.optim and torch.compile do, through torch._dynamo)."""
    try:
        import triton  # noqa: F401
    except Exception:  # no triton in this torch build: nothing can clash
        pass


class _GLState:
    """Everything that lives on the render thread: the context, the shader programs, the
    offscreen framebuffer and the GPU buffers of the heads drawn lately. pyrender makes the EGL
    context and compiles the shaders in ./shaders; drawing is a handful of direct GL calls per
    frame (one buffer update, one draw per part, one read-back) instead of pyrender's scene walk,
    which rebuilt and re-uploaded every mesh and set ~90 uniforms per frame."""

    def __init__(self, size: int, msaa_samples: int = DEFAULT_MSAA_SAMPLES):
        _load_triton_before_mesa()
        import pyrender
        from pyrender.shader_program import ShaderProgramCache

        self.pyrender = pyrender
        self.renderer = pyrender.OffscreenRenderer(size, size)  # makes the context current
        self.shaders = ShaderProgramCache(shader_dir=str(SHADER_DIR))
        self.programs: dict[tuple, _Program] = {}
        self.samples = msaa_samples
        self.size = size
        self.target: _Target | None = None
        self.view: str | None = None
        self.heads: dict[tuple[int, int], _HeadBuffers] = {}  # (id(rig), id(texture)), newest last
        self.textures: dict[int, tuple[Any, Any]] = {}  # id(texture) -> (GL texture, texture)
        self.head: _HeadBuffers | None = None  # the head the next frame draws

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

    def use_head(self, rig: Any, texture: Any) -> _HeadBuffers:
        """The GPU buffers of ``rig`` drawn with ``texture`` (made on first use; a few kept)."""
        key = (id(rig), id(texture))
        head = self.heads.pop(key, None)
        if head is None or head.rig is not rig or head.texture is not texture:
            if head is not None:
                head.delete()
            head = _HeadBuffers(self, rig, texture)
            while len(self.heads) >= 4:
                self.heads.pop(next(iter(self.heads))).delete()
        self.heads[key] = head  # newest last
        self.head = head
        return head

    def set_view(self, view: str) -> None:
        self.view = view

    def shoot(self, request: _Request) -> np.ndarray:
        """The current head from the current view over the request's background: uint8 RGB, or
        RGBA with a transparent background when the request's background is None."""
        from OpenGL import GL

        if self.target is None or self.target.size != self.size:
            if self.target is not None:
                self.target.delete()
            self.target = _Target(self.size, self.samples)
        self.target.bind()
        if request.background is None:
            GL.glClearColor(0.0, 0.0, 0.0, 0.0)
        else:
            GL.glClearColor(*(np.asarray(request.background, float) / 255.0), 1.0)
        GL.glClear(GL.GL_COLOR_BUFFER_BIT | GL.GL_DEPTH_BUFFER_BIT)
        if self.head is not None:
            self.head.draw(self.view or "front")
        return self.target.read(rgba=request.background is None)

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
        self.view: str | None = None
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

    def set_view(self, view: str) -> None:
        """Camera, lights and the fixed material terms, as pyrender would set them for ``view``."""
        if self.view == view:
            return
        camera, lights = view_poses(view)
        self.set("M", np.eye(4))
        self.set("V", np.linalg.inv(camera))
        self.set("P", _projection())
        self.set("cam_pos", camera[:3, 3])
        self.set("ambient_light", np.full(3, AMBIENT))
        self.set("n_directional_lights", np.int32(len(lights)))
        for index, (pose, intensity) in enumerate(zip(lights, LIGHT_INTENSITIES)):
            self.set(f"directional_lights[{index}].direction", -pose[:3, 2])
            self.set(f"directional_lights[{index}].color", np.ones(3))
            self.set(f"directional_lights[{index}].intensity", intensity)
        self.set("material.emissive_factor", np.zeros(3))
        self.set("material.base_color_factor", np.ones(4))
        self.set("material.metallic_factor", 0.0)
        self.set("material.base_color_texture", np.int32(0))
        self.view = view


def _projection(znear: float = 20.0, zfar: float = 200.0) -> np.ndarray:
    """The perspective matrix pyrender's ``PerspectiveCamera`` makes for the renders' camera."""
    t = np.tan(np.radians(CAMERA_YFOV_DEG) / 2.0)
    P = np.zeros((4, 4))
    P[0, 0], P[1, 1], P[3, 2] = 1.0 / t, 1.0 / t, -1.0
    P[2, 2], P[2, 3] = (zfar + znear) / (znear - zfar), 2.0 * zfar * znear / (znear - zfar)
    return P


ROUGHNESS = {"eyes": 0.18, "mouth": 0.45}  # every other part (skin) 0.62


@dataclass
class _DrawItem:
    part: Any
    program: _Program
    vertex_array: int
    texture: int | None  # GL texture bound to unit 0
    roughness: float
    ranges: dict[str, tuple[int, int]]  # view -> (byte offset, index count) in the index buffer
    base_colors: np.ndarray | None  # per-frame colours = these times the cavity shade, or None


class _HeadBuffers:
    """One rig drawn with one texture, on the GPU: every vertex's position and normal in one
    buffer rewritten per pose (one call), colours (rewritten where cavity shading darkens them),
    UVs and per-view triangle lists made once. Each part has its own vertex array and draw."""

    def __init__(self, state: _GLState, rig: Any, texture: Any):
        from OpenGL import GL

        from emo_app.face.texture import texture_uvs

        self.rig, self.texture = rig, texture
        self.pose_key: bytes | None = None
        count = rig.vertex_count
        self.positions_normals = np.zeros((count, 6), np.float32)
        self.colors = np.ones((count, 4), np.float32)
        uvs_all = np.zeros((count, 2), np.float32)
        self.cavity = getattr(rig, "weld", None) is not None and CAVITY_STRENGTH > 0
        self.items: list[_DrawItem] = []
        plans = []
        for part in rig.parts:
            colors, uvs = part.colors, texture_uvs(texture, rig, part)
            if uvs is not None:
                uvs_all[part.start : part.stop] = np.column_stack([uvs[:, 0], 1.0 - uvs[:, 1]])  # GL: v up
                colors = None
            shaded = self.cavity and part.uvs is not None
            if shaded:
                colors = np.ones((part.size, 4), np.float32) if colors is None else colors.astype(np.float32)
            elif texture is not None and part.name == "head" and uvs is None:
                colors = np.tile(np.append(texture.skin_rgb, 1.0), (part.size, 1)).astype(np.float32)
            if colors is not None:
                self.colors[part.start : part.stop] = colors
            plans.append((part, uvs is not None, colors is not None, colors if shaded else None))
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
            vertex_array = GL.glGenVertexArrays(1)
            self.vertex_arrays.append(vertex_array)
            GL.glBindVertexArray(vertex_array)
            layout = [(pose_buffer, 3, 24, 0), (pose_buffer, 3, 24, 12)]
            if has_uvs:
                layout.append((uv_buffer, 2, 8, 0))
            if has_colors:
                layout.append((color_buffer, 4, 16, 0))
            for location, (buffer, size, stride, start) in enumerate(layout):
                GL.glBindBuffer(GL.GL_ARRAY_BUFFER, buffer)
                GL.glEnableVertexAttribArray(location)
                GL.glVertexAttribPointer(location, size, GL.GL_FLOAT, GL.GL_FALSE, stride,
                                         ctypes.c_void_p(start + part.start * stride))
            GL.glBindBuffer(GL.GL_ARRAY_BUFFER, instance_buffer)
            for column in range(4):  # the instance matrix pyrender's shaders take: identity
                location = program.instance_location + column
                GL.glEnableVertexAttribArray(location)
                GL.glVertexAttribPointer(location, 4, GL.GL_FLOAT, GL.GL_FALSE, 64,
                                         ctypes.c_void_p(16 * column))
                GL.glVertexAttribDivisor(location, 1)
            GL.glBindBuffer(GL.GL_ELEMENT_ARRAY_BUFFER, index_buffer)
            ranges = {}
            for view in VIEWS:
                triangles = _drawn_triangles(rig, part, view)
                ranges[view] = (offset, triangles.size)
                indices.append(triangles.ravel())
                offset += triangles.size * 4
            self.items.append(_DrawItem(
                part, program, vertex_array, state.gl_texture(texture) if has_uvs else None,
                ROUGHNESS.get(part.name, 0.62), ranges, base,
            ))
        GL.glBindVertexArray(0)
        index_data = np.concatenate(indices).astype(np.uint32)
        GL.glBindBuffer(GL.GL_ELEMENT_ARRAY_BUFFER, index_buffer)
        GL.glBufferData(GL.GL_ELEMENT_ARRAY_BUFFER, index_data.nbytes, index_data, GL.GL_STATIC_DRAW)
        shaded = [item.part for item in self.items if item.base_colors is not None]
        self.shaded_span = (min(p.start for p in shaded), max(p.stop for p in shaded)) if shaded else None

    def upload(self, vertices: np.ndarray) -> None:
        """Write one pose: welded normals, cavity shading, positions; two buffer updates."""
        from OpenGL import GL

        normals = posed_normals(self.rig, vertices)
        self.positions_normals[:, :3] = vertices
        self.positions_normals[:, 3:] = normals
        GL.glBindBuffer(GL.GL_ARRAY_BUFFER, self.buffers[0])
        GL.glBufferSubData(GL.GL_ARRAY_BUFFER, 0, self.positions_normals.nbytes, self.positions_normals)
        cavity = cavity_shading(self.rig, vertices, normals) if self.shaded_span else None
        if cavity is not None:
            for item in self.items:
                if item.base_colors is not None:
                    part = item.part
                    rows = self.colors[part.start : part.stop]
                    rows[:, :3] = item.base_colors[:, :3] * cavity[part.start : part.stop, None]
            start, stop = self.shaded_span
            GL.glBindBuffer(GL.GL_ARRAY_BUFFER, self.buffers[1])
            GL.glBufferSubData(GL.GL_ARRAY_BUFFER, start * 16, (stop - start) * 16, self.colors[start:stop])

    def draw(self, view: str) -> None:
        """One draw call per part, from ``view`` (its triangles that can face the camera)."""
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
                item.program.set_view(view)
                current = item.program
            item.program.set("material.roughness_factor", item.roughness)
            GL.glBindVertexArray(item.vertex_array)
            if item.texture is not None:
                GL.glActiveTexture(GL.GL_TEXTURE0)
                GL.glBindTexture(GL.GL_TEXTURE_2D, item.texture)
            offset, count = item.ranges[view]
            GL.glDrawElements(GL.GL_TRIANGLES, count, GL.GL_UNSIGNED_INT, ctypes.c_void_p(offset))
        GL.glBindVertexArray(0)
        GL.glUseProgram(0)

    def delete(self) -> None:
        from OpenGL import GL

        GL.glDeleteVertexArrays(len(self.vertex_arrays), self.vertex_arrays)
        GL.glDeleteBuffers(len(self.buffers), self.buffers)


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


def _drawn_triangles(rig: Any, part: Any, view: str) -> np.ndarray:
    """(T, 3) part-local triangles to draw from ``view``, made once per rig. Left out: triangles
    that face away from that camera in every pose the rig can take (GL would cull them after
    shading their corners). Kept ones are sorted along a Z-order curve of their centres, so
    consecutive triangles share corners and llvmpipe's small vertex cache shades each corner
    about once instead of twice. The picture is the same either way."""
    cached = _DRAWN_TRIANGLES.get(id(rig))
    if cached is None or cached[0] is not rig:
        if len(_DRAWN_TRIANGLES) >= 8:
            _DRAWN_TRIANGLES.pop(next(iter(_DRAWN_TRIANGLES)))
        cached = _DRAWN_TRIANGLES[id(rig)] = (rig, {})
    key = (part.name, part.start, view)
    if key not in cached[1]:
        faces = np.asarray(part.faces, np.int64)
        points = rig.neutral[part.start : part.stop].astype(np.float64)
        faces = faces[np.argsort(_z_order(points[faces].mean(axis=1)), kind="stable")]
        if "reach" not in cached[1]:
            cached[1]["reach"] = _delta_reach(rig)
        facing_away = _always_facing_away(rig, faces + part.start, view_poses(view)[0][:3, 3],
                                          cached[1]["reach"])
        cached[1][key] = np.ascontiguousarray(faces[~facing_away], dtype=np.uint32)
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


def _always_facing_away(rig: Any, faces: np.ndarray, eye: np.ndarray, reach: np.ndarray) -> np.ndarray:
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


def posed_parts(rig: Any, vertices: np.ndarray, normals: np.ndarray | None = None):
    """(part, positions, normals) for each drawable part of a posed rig. Vertices split along UV
    seams (``rig.weld``) share one normal, and the canonical skull shell takes the mask's
    normals along their shared border, so no seam shows. ``normals``: ``posed_normals`` of these
    vertices when the caller already has them."""
    normals = posed_normals(rig, vertices) if normals is None else normals
    return [
        (part, np.ascontiguousarray(vertices[part.start : part.stop], dtype=np.float32),
         normals[part.start : part.stop])
        for part in rig.parts
    ]


def posed_normals(rig: Any, vertices: np.ndarray) -> np.ndarray:
    """(V, 3) smooth normals of a posed rig (see ``posed_parts``)."""
    normals = _head_normals(rig, vertices)
    seam_head, seam_face = rig.seams
    if len(seam_head):
        normals[seam_head] = normals[seam_face]
    return normals


_HEAD_FACES: dict[tuple[int, int], tuple[Any, Any, np.ndarray]] = {}


def _head_normals(rig: Any, vertices: np.ndarray) -> np.ndarray:
    """Smooth normals of every part in one pass over all triangles (parts share no vertices),
    with the split copies of a vertex (``rig.weld``) counted as one. The triangle list is
    cached per parts and weld map, which rigs made by ``replace`` share."""
    from emo_app.face.mesh import vertex_normals

    weld = getattr(rig, "weld", None)
    key = (id(rig.parts), id(weld))
    cached = _HEAD_FACES.get(key)
    if cached is None or cached[0] is not rig.parts or cached[1] is not weld:
        faces = np.concatenate([
            weld[p.faces + p.start] if weld is not None and p.uvs is not None else p.faces + p.start
            for p in rig.parts
        ]).astype(np.int64)
        if len(_HEAD_FACES) >= 8:  # holding parts and weld keeps their ids unique
            _HEAD_FACES.pop(next(iter(_HEAD_FACES)))
        cached = _HEAD_FACES[key] = (rig.parts, weld, faces)
    normals = vertex_normals(vertices, cached[2])
    return np.take(normals, weld, axis=0) if weld is not None else normals


def cavity_shading(rig: Any, vertices: np.ndarray, normals: np.ndarray) -> np.ndarray | None:
    """Per-vertex darkening (1 = none) where the skin folds inward, recomputed every frame: a
    cheap stand-in for ambient occlusion that makes furrows, nasolabial folds and lid creases
    show as they form. A vertex sitting below the mean of its neighbours, along its normal, is
    in a crease; creases an expression deepens count fully, the neutral face's own hollows
    (eye sockets, nostrils) a third. None for a rig without a weld map (the mask head)."""
    if getattr(rig, "weld", None) is None or CAVITY_STRENGTH <= 0:
        return None
    mean, neutral_depth, scale = _cavity_basis(rig)
    posed = np.asarray(vertices, np.float32)
    depth = np.einsum("ij,ij->i", mean @ posed - posed, normals)
    crease = (depth - neutral_depth) + 0.35 * neutral_depth
    shade = 1.0 - CAVITY_STRENGTH * np.clip(crease / (4.0 * scale), 0.0, 0.5)
    return np.take(shade, rig.weld).astype(np.float32)  # split copies take their representative's


_CAVITY_BASES: dict[int, tuple[Any, tuple]] = {}


def _cavity_basis(rig: Any) -> tuple[Any, np.ndarray, float]:
    """The neighbour-mean operator over the welded skin, the neutral face's crease depths and
    the typical vertex spacing, built once per rig."""
    cached = _CAVITY_BASES.get(id(rig))
    if cached is not None and cached[0] is rig:
        return cached[1]
    from scipy.sparse import coo_matrix, diags

    faces = np.concatenate([rig.weld[p.faces + p.start] for p in rig.parts if p.uvs is not None])
    rows = np.concatenate([faces[:, 0], faces[:, 1], faces[:, 2], faces[:, 1], faces[:, 2], faces[:, 0]])
    cols = np.concatenate([faces[:, 1], faces[:, 2], faces[:, 0], faces[:, 0], faces[:, 1], faces[:, 2]])
    n = len(rig.neutral)
    adjacency = coo_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n, n)).tocsr()
    adjacency.data[:] = 1.0
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    mean = (diags(1.0 / np.maximum(degree, 1)) @ adjacency).astype(np.float32).tocsr()
    neutral = rig.neutral.astype(np.float32)
    offset = mean @ neutral - neutral
    neutral_depth = np.einsum("ij,ij->i", offset, posed_normals(rig, neutral))
    scale = float(np.median(np.linalg.norm(offset, axis=1)[degree > 0]) + 1e-6)
    basis = (mean, neutral_depth, scale)
    _CAVITY_BASES[id(rig)] = (rig, basis)
    return basis


class FaceRenderer:
    """Thread-safe front door to the render thread. Build it with ``get_face_renderer()``."""

    def __init__(self, settings: Settings | None = None, msaa_samples: int = DEFAULT_MSAA_SAMPLES):
        self.settings = settings or Settings.from_env()
        self.msaa_samples = msaa_samples
        self._queue: queue.Queue[tuple[Callable[[], Any], Future] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._state: _GLState | None = None

    # -- public API ----------------------------------------------------------------------------
    def render(
        self,
        shapes: Blendshapes,
        *,
        view: str = "front",
        size: int | None = None,
        background: tuple[int, int, int] | None = (255, 255, 255),
        texture: FaceTexture | None = None,
        rig: Any = None,
    ) -> np.ndarray:
        """One posed head as uint8 RGB (size, size, 3), or RGBA with a transparent background
        when ``background`` is None."""
        return self.render_batch(
            [shapes], view=view, size=size, background=background, texture=texture, rig=rig
        )[0]

    def render_batch(
        self,
        shapes_list: Sequence[Blendshapes],
        *,
        view: str = "front",
        size: int | None = None,
        background: tuple[int, int, int] | None = (255, 255, 255),
        texture: FaceTexture | None = None,
        rig: Any = None,
    ) -> list[np.ndarray]:
        """Many weight vectors in one trip to the render thread (what the metric needs)."""
        request = self._validate(shapes_list, view, size, background, texture, rig)
        if not request.shapes:
            return []
        return self._submit(lambda: self._draw_all(request))

    def close(self) -> None:
        """Stop the render thread and free its GL context (tests and shutdown)."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=30)

    # -- internals -------------------------------------------------------------------------------
    def _validate(self, shapes_list, view, size, background, texture, rig) -> _Request:
        if view not in VIEWS:
            raise InvalidInputError(f"Unknown view '{view}'; choose one of {', '.join(VIEWS)}.")
        size = self.settings.render_size if size is None else size
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 32 <= int(size) <= 2048:
            raise InvalidInputError(
                f"Render size must be a whole number of pixels from 32 to 2048; got {size!r}."
            )
        if background is not None:
            if len(background) != 3 or not all(0 <= int(c) <= 255 for c in background):
                raise InvalidInputError(
                    "Background must be three 0-255 values (R, G, B) or None for transparent."
                )
            background = tuple(int(c) for c in background)
        shapes = []
        for item in shapes_list:
            if not isinstance(item, Blendshapes):
                raise InvalidInputError(f"Expected Blendshapes to render; got {type(item).__name__}.")
            shapes.append(item)
        return _Request(shapes, view, int(size), background, texture, rig)

    def _draw_all(self, request: _Request) -> list[np.ndarray]:
        from emo_app.face.looks import default_face

        rig, texture = request.rig, request.texture
        if rig is None:  # the default face: the settings' head, and its look unless given one
            rig, default_texture = default_face(self.settings)
            texture = default_texture if texture is None else texture
        if self._state is None:
            self._state = _GLState(request.size, self.msaa_samples)
        state = self._state
        state.resize(request.size)
        state.set_view(request.view)
        head = state.use_head(rig, texture)
        images = []
        for shapes in request.shapes:
            # the same pose again (describe's second view): keep the uploaded one, move the camera
            weights = shapes.values.tobytes()
            if head.pose_key != weights:
                head.upload(rig.deform(shapes))
                head.pose_key = weights
            images.append(state.shoot(request))
        return images

    def _submit(self, job: Callable[[], Any]) -> Any:
        if self._thread is not None and threading.current_thread() is self._thread:
            return job()
        future: Future = Future()
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="face-render", daemon=True)
                self._thread.start()
            self._queue.put((job, future))
        return future.result()

    def _loop(self) -> None:
        os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
        while True:
            item = self._queue.get()
            if item is None:
                break
            job, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(job())
            except BaseException as exc:  # handed to the caller's thread
                future.set_exception(exc)
        if self._state is not None:
            try:
                self._state.delete()
            except Exception as exc:  # some EGL drivers refuse to destroy a context at exit
                log.debug("could not free the render context: %s", exc)
            finally:
                self._state = None


_RENDERER: FaceRenderer | None = None
_RENDERER_LOCK = threading.Lock()


def get_face_renderer(settings: Settings | None = None) -> FaceRenderer:
    """The process-wide renderer (created on first use; the GL context on the first frame)."""
    global _RENDERER
    with _RENDERER_LOCK:
        if _RENDERER is None:
            os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
            _RENDERER = FaceRenderer(settings)
        return _RENDERER
