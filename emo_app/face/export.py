"""Exports: a GLB with the 52 ARKit morph targets (three.js, Blender, gr.Model3D), an OBJ of the
posed mesh, and PNG images.

The GLB carries the rig itself rather than a baked pose, so a user can keep animating the face
in any glTF tool; the current weights are set on the mesh and a sequence becomes a morph-weight
animation track.
"""

from __future__ import annotations

import io
import json
import struct
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from emo_app.blendshapes import ARKIT_NAMES, Blendshapes
from emo_app.errors import InvalidInputError

if TYPE_CHECKING:  # pragma: no cover
    from emo_app.face.texture import FaceTexture

_FLOAT, _UINT = 5126, 5125
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963


def _as_sequence(shapes: Blendshapes | Sequence[Blendshapes]) -> list[Blendshapes]:
    items = [shapes] if isinstance(shapes, Blendshapes) else list(shapes)
    if not items:
        raise InvalidInputError("Nothing to export: give at least one set of blendshape weights.")
    for item in items:
        if not isinstance(item, Blendshapes):
            raise InvalidInputError(f"Expected Blendshapes to export; got {type(item).__name__}.")
    return items


def _target_path(path: str | Path, suffix: str) -> Path:
    target = Path(path)
    if target.suffix.lower() != suffix:
        raise InvalidInputError(f"The output file must end in {suffix}; got '{target.name}'.")
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


class _Packer:
    """Collects binary chunks, buffer views and accessors for one glTF buffer."""

    def __init__(self, gltf: Any):
        self.gltf = gltf
        self.blob = bytearray()

    def view(self, data: bytes, target: int | None = None) -> int:
        import pygltflib

        while len(self.blob) % 4:
            self.blob.append(0)
        self.gltf.bufferViews.append(
            pygltflib.BufferView(buffer=0, byteOffset=len(self.blob), byteLength=len(data), target=target)
        )
        self.blob.extend(data)
        return len(self.gltf.bufferViews) - 1

    def accessor(
        self, array: np.ndarray, kind: str, target: int | None = _ARRAY_BUFFER, bounds: bool = False
    ) -> int:
        import pygltflib

        component = _UINT if array.dtype == np.uint32 else _FLOAT
        flat = np.ascontiguousarray(array)
        view = self.view(flat.tobytes(), target)
        count = flat.size if kind == "SCALAR" else flat.shape[0]
        accessor = pygltflib.Accessor(bufferView=view, componentType=component, count=int(count), type=kind)
        if bounds:
            data = flat.reshape(int(count), -1)
            accessor.min = data.min(axis=0).astype(float).tolist()
            accessor.max = data.max(axis=0).astype(float).tolist()
        self.gltf.accessors.append(accessor)
        return len(self.gltf.accessors) - 1


_TEMPLATES: dict[tuple[int, int], tuple[Any, Any, dict, bytes]] = {}
_TEMPLATE_LOCK = threading.Lock()
_MAX_TEMPLATES = 8


def _sparse_target(packer: _Packer, delta: np.ndarray) -> int:
    """A morph target as a sparse accessor: only the vertices the shape moves are stored (most
    shapes move a small region, so the GLB is several times smaller than dense targets)."""
    import pygltflib

    moved = np.flatnonzero(np.abs(delta).max(axis=1) > 1e-7).astype(np.uint32)
    accessor = pygltflib.Accessor(componentType=_FLOAT, count=int(len(delta)), type="VEC3")
    accessor.min = np.minimum(delta.min(axis=0), 0.0).astype(float).tolist()
    accessor.max = np.maximum(delta.max(axis=0), 0.0).astype(float).tolist()
    if len(moved):
        accessor.sparse = pygltflib.Sparse(
            count=int(len(moved)),
            indices=pygltflib.AccessorSparseIndices(
                bufferView=packer.view(moved.tobytes()), componentType=_UINT
            ),
            values=pygltflib.AccessorSparseValues(
                bufferView=packer.view(np.ascontiguousarray(delta[moved], np.float32).tobytes())
            ),
        )
    packer.gltf.accessors.append(accessor)
    return len(packer.gltf.accessors) - 1


def _template(rig: Any, texture: FaceTexture | None) -> tuple[dict, bytes]:
    """The weight-independent GLB (geometry, 52 sparse targets, materials, texture) as a glTF
    JSON dict and its binary chunk, built once per rig and texture: a describe call then only
    sets the weights, instead of re-packing and re-encoding everything."""
    key = (id(rig), id(texture))
    with _TEMPLATE_LOCK:
        cached = _TEMPLATES.get(key)
        if cached is not None and cached[0] is rig and cached[1] is texture:
            return cached[2], cached[3]
    built = _build_template(rig, texture)
    with _TEMPLATE_LOCK:
        if len(_TEMPLATES) >= _MAX_TEMPLATES:
            _TEMPLATES.pop(next(iter(_TEMPLATES)))
        _TEMPLATES[key] = (rig, texture, *built)  # holding the objects keeps their ids unique
    return built


def _build_template(rig: Any, texture: FaceTexture | None) -> tuple[dict, bytes]:
    import pygltflib

    from emo_app.face.render import posed_parts
    from emo_app.face.texture import texture_uvs

    gltf = pygltflib.GLTF2(asset=pygltflib.Asset(generator="Emotion Studio", version="2.0"))
    gltf.buffers.append(pygltflib.Buffer())
    packer = _Packer(gltf)
    materials = {}

    def material(kind: str, textured: bool) -> int:
        key = (kind, textured)
        if key in materials:
            return materials[key]
        pbr = pygltflib.PbrMetallicRoughness(
            baseColorFactor=[1.0, 1.0, 1.0, 1.0],
            metallicFactor=0.0,
            roughnessFactor={"eyes": 0.2, "mouth": 0.5}.get(kind, 0.65),
        )
        if textured:
            from PIL import Image

            encoded = io.BytesIO()  # JPEG: a skin atlas is 4-8x smaller than as PNG
            Image.fromarray(texture.image).save(encoded, format="JPEG", quality=90)
            view = packer.view(encoded.getvalue())
            gltf.images.append(pygltflib.Image(bufferView=view, mimeType="image/jpeg"))
            gltf.samplers.append(pygltflib.Sampler(magFilter=9729, minFilter=9729, wrapS=33071, wrapT=33071))
            gltf.textures.append(
                pygltflib.Texture(source=len(gltf.images) - 1, sampler=len(gltf.samplers) - 1)
            )
            pbr.baseColorTexture = pygltflib.TextureInfo(index=len(gltf.textures) - 1)
        gltf.materials.append(pygltflib.Material(name=kind, pbrMetallicRoughness=pbr, doubleSided=False))
        materials[key] = len(gltf.materials) - 1
        return materials[key]

    primitives = []
    neutral = rig.neutral.astype(np.float32)
    for part, positions, normals in posed_parts(rig, neutral):
        uvs = texture_uvs(texture, rig, part)
        textured = uvs is not None
        attributes = pygltflib.Attributes(
            POSITION=packer.accessor(positions, "VEC3", bounds=True),
            NORMAL=packer.accessor(normals.astype(np.float32), "VEC3"),
        )
        if textured:
            attributes.TEXCOORD_0 = packer.accessor(np.asarray(uvs, np.float32), "VEC2")
        else:
            colors = part.colors.astype(np.float32)
            if texture is not None and part.name in ("face", "head"):
                colors = np.tile(np.append(texture.skin_rgb, 1.0), (part.size, 1)).astype(np.float32)
            attributes.COLOR_0 = packer.accessor(colors, "VEC4")
        targets = [
            {"POSITION": _sparse_target(packer, rig.deltas[k, part.start : part.stop])}
            for k in range(len(ARKIT_NAMES))
        ]
        primitives.append(
            pygltflib.Primitive(
                attributes=attributes,
                indices=packer.accessor(
                    part.faces.astype(np.uint32).reshape(-1), "SCALAR", _ELEMENT_ARRAY_BUFFER
                ),
                material=material("face" if textured else part.name, textured),
                targets=targets,
            )
        )
    gltf.meshes.append(
        pygltflib.Mesh(name="face", primitives=primitives, extras={"targetNames": list(ARKIT_NAMES)})
    )
    # cm -> m, so the head is life-size in Blender and three.js
    gltf.nodes.append(pygltflib.Node(name="face", mesh=0, scale=[0.01, 0.01, 0.01]))
    gltf.scenes.append(pygltflib.Scene(nodes=[0]))
    gltf.scene = 0
    return json.loads(gltf.to_json()), bytes(packer.blob)


def _glb_container(document: dict, blob: bytes) -> bytes:
    """GLB 2.0 container: 12-byte header, a JSON chunk padded with spaces and a BIN chunk padded
    with zeros (glTF 2.0 spec, section 4.4)."""
    text = orjson.dumps(document)  # compact like json.dumps(separators=(",", ":")), 10x faster
    text += b" " * (-len(text) % 4)
    binary = blob + b"\0" * (-len(blob) % 4)
    length = 12 + 8 + len(text) + 8 + len(binary)
    return b"".join(
        [
            struct.pack("<4sII", b"glTF", 2, length),
            struct.pack("<I4s", len(text), b"JSON"),
            text,
            struct.pack("<I4s", len(binary), b"BIN\0"),
            binary,
        ]
    )


def build_glb(
    shapes: Blendshapes | Sequence[Blendshapes],
    fps: float = 30.0,
    texture: FaceTexture | None = None,
    rig: Any = None,
) -> bytes:
    """The GLB file as bytes (see ``export_glb``)."""
    from emo_app.face.looks import head_rig

    frames = _as_sequence(shapes)
    if not np.isfinite(fps) or fps <= 0:
        raise InvalidInputError(f"Frames per second must be a positive number; got {fps}.")
    rig = rig or head_rig()
    weights = np.stack([rig.effective_weights(f.values) for f in frames]).astype(np.float32)
    template, blob = _template(rig, texture)
    # shallow copies of only what changes: the template itself is shared and never mutated
    document = dict(template)
    document["meshes"] = [dict(template["meshes"][0], weights=weights[0].astype(float).tolist())]
    document["bufferViews"] = list(template["bufferViews"])
    document["accessors"] = list(template["accessors"])
    if len(frames) > 1:
        blob = bytearray(blob)
        times = np.arange(len(frames), dtype=np.float32) / np.float32(fps)
        accessors = []
        for array, extra in ((times, {"min": [0.0], "max": [float(times[-1])]}), (weights.reshape(-1), {})):
            blob.extend(b"\0" * (-len(blob) % 4))
            document["bufferViews"].append({"buffer": 0, "byteOffset": len(blob), "byteLength": array.nbytes})
            blob.extend(array.tobytes())
            document["accessors"].append({"bufferView": len(document["bufferViews"]) - 1,
                                          "componentType": _FLOAT, "count": int(array.size),
                                          "type": "SCALAR", **extra})
            accessors.append(len(document["accessors"]) - 1)
        document["animations"] = [{
            "name": "expression",
            "samplers": [{"input": accessors[0], "output": accessors[1], "interpolation": "LINEAR"}],
            "channels": [{"sampler": 0, "target": {"node": 0, "path": "weights"}}],
        }]
        blob = bytes(blob)
    document["buffers"] = [{"byteLength": len(blob)}]
    return _glb_container(document, blob)


def export_glb(
    shapes: Blendshapes | Sequence[Blendshapes],
    path: str | Path,
    fps: float = 30.0,
    texture: FaceTexture | None = None,
    rig: Any = None,
) -> Path:
    """Write a GLB: 52 morph targets named with ARKIT_NAMES, weights set to the first frame,
    and for a sequence a LINEAR animation of the morph weights at ``fps``."""
    target = _target_path(path, ".glb")
    target.write_bytes(build_glb(shapes, fps=fps, texture=texture, rig=rig))
    return target


def export_obj(shapes: Blendshapes, path: str | Path) -> Path:
    """Write the posed head as a Wavefront OBJ (positions in cm, one group per part)."""
    from emo_app.face.rig import build_rig

    if not isinstance(shapes, Blendshapes):
        raise InvalidInputError(f"Expected Blendshapes to export; got {type(shapes).__name__}.")
    target = _target_path(path, ".obj")
    rig = build_rig()
    vertices = rig.deform(shapes)
    lines = ["# Emotion Studio face, centimetres, +y up"]
    lines += [f"v {x:.5f} {y:.5f} {z:.5f}" for x, y, z in vertices]
    face_part = rig.part("face")
    lines += [f"vt {u:.6f} {1.0 - v:.6f}" for u, v in face_part.uvs]
    for part in rig.parts:
        lines.append(f"g {part.name}")
        for a, b, c in part.faces + part.start + 1:
            if part.name == "face":
                lines.append(f"f {a}/{a} {b}/{b} {c}/{c}")
            else:
                lines.append(f"f {a} {b} {c}")
    target.write_text("\n".join(lines) + "\n")
    return target


def save_png(image: np.ndarray, path: str | Path) -> Path:
    """Write an RGB or RGBA uint8 image as PNG (zlib level 1: three times faster to write than
    the default for about a third more bytes, which suits per-request exports)."""
    from PIL import Image

    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] not in (3, 4):
        raise InvalidInputError(f"A PNG needs a uint8 H x W x 3 or 4 image; got {array.dtype} {array.shape}.")
    target = _target_path(path, ".png")
    Image.fromarray(array).save(target, compress_level=1)
    return target
