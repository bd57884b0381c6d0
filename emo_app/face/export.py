"""Exports: a GLB with the 52 ARKit morph targets (three.js, Blender, gr.Model3D), the posed GLB
a web viewer shows, and PNG images (the OBJ is in ``export_obj``).

The GLB carries the rig itself rather than a baked pose, so a user can keep animating the face
in any glTF tool; the current weights are set on the mesh and a sequence becomes a morph-weight
animation track. It is plain glTF 2.0 (no extension a loader must support), life-size in metres
with no node transform, +Y up and the face towards +Z, as engines and Blender expect.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from emo_app.blendshapes import ARKIT_NAMES, Blendshapes
from emo_app.blendshapes.pose import HeadPose
from emo_app.errors import InvalidInputError
from emo_app.face.export_animation import add_animation
from emo_app.face.export_skin import add_joints, posed_nodes, skin_attributes
from emo_app.face.export_textures import bake_colours, jpeg_bytes
from emo_app.face.texture import srgb_to_linear
from emo_app.face.viewer_tone import undo_neutral_tone_mapping

if TYPE_CHECKING:  # pragma: no cover
    from emo_app.face.texture import FaceTexture

_FLOAT, _UINT, _USHORT, _SHORT, _UBYTE = 5126, 5125, 5123, 5122, 5121
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963
_SAMPLER = {"magFilter": 9729, "minFilter": 9729, "wrapS": 33071, "wrapT": 33071}  # linear, clamped
# Small deltas are left out of the morph targets (see ``kept_morph_entries``): no pose with
# weights in [0, 1] puts a vertex further than this from the rig, 0.1 mm or a fifth of a pixel
# in a 512 px render.
MORPH_TOLERANCE_CM = 0.01
# The same bound for the targets' normals (unit vectors): a shaded pose's normal is at most this
# far from the rig's, about 6 degrees; 0.1 keeps the full head's GLB 2.2 MB under storing them all.
NORMAL_TOLERANCE = 0.1
# a viewer target's COLOR_0 change below this (linear, about two thirds of an 8-bit level at mid
# grey) is left out of its sparse accessor
COLOUR_TOLERANCE = 2e-3
METRES_PER_CM = 0.01  # the rig is in centimetres; a glTF file is in metres (glTF 2.0, 3.4)
ROOT_NODE = "face"  # the GLB's root node; its children are the meshes of ``glb_meshes``
SKIN_PARTS = ("face", "head")  # the rig parts drawn with the skin
TOOTH_REDNESS = 0.25  # (red - green) / red below this: a grey-white tooth, not gums or tongue


def _as_sequence(shapes: Blendshapes | Sequence[Blendshapes]) -> list[Blendshapes]:
    items = [shapes] if isinstance(shapes, Blendshapes) else list(shapes)
    if not items:
        raise InvalidInputError("Nothing to export: give at least one set of blendshape weights.")
    for item in items:
        if not isinstance(item, Blendshapes):
            raise InvalidInputError(f"Expected Blendshapes to export; got {type(item).__name__}.")
    return items


def target_path(path: str | Path, suffix: str) -> Path:
    target = Path(path)
    if target.suffix.lower() != suffix:
        raise InvalidInputError(f"The output file must end in {suffix}; got '{target.name}'.")
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def kept_morph_entries(deltas: np.ndarray, tolerance: float = MORPH_TOLERANCE_CM) -> np.ndarray:
    """(shapes, vertices) mask of the deltas a GLB stores. Per vertex, its smallest deltas are
    left out as long as their lengths sum to at most ``tolerance``, so with any weights in
    [0, 1] a vertex ends at most ``tolerance`` from where the rig puts it (a hard threshold per
    delta has no such bound: at 0.01 cm, overlapping small deltas move a vertex 0.09 cm)."""
    lengths = np.linalg.norm(deltas, axis=-1)
    order = np.argsort(lengths, axis=0, kind="stable")
    dropped = np.cumsum(np.take_along_axis(lengths, order, axis=0), axis=0) <= tolerance
    keep = np.empty_like(dropped)
    np.put_along_axis(keep, order, ~dropped, axis=0)
    return keep & (lengths > 0)


class _Packer:
    """Collects the binary chunk, buffer views and accessors of one glTF buffer as plain JSON."""

    def __init__(self) -> None:
        self.blob = bytearray()
        self.views: list[dict] = []
        self.accessors: list[dict] = []

    def view(self, data: bytes, target: int | None = None) -> int:
        self.blob.extend(b"\0" * (-len(self.blob) % 4))
        view: dict[str, Any] = {"buffer": 0, "byteOffset": len(self.blob), "byteLength": len(data)}
        if target is not None:
            view["target"] = target
        self.blob.extend(data)
        self.views.append(view)
        return len(self.views) - 1

    def add(self, accessor: dict) -> int:
        self.accessors.append(accessor)
        return len(self.accessors) - 1

    def attribute(self, array: np.ndarray, kind: str, component: int, normalized: bool = False,
                  bounds: bool = False) -> int:
        """A vertex attribute, tightly packed (each element is a multiple of 4 bytes)."""
        data = np.ascontiguousarray(array)
        accessor = {"bufferView": self.view(data.tobytes(), _ARRAY_BUFFER),
                    "componentType": component, "count": len(array), "type": kind}
        if normalized:
            accessor["normalized"] = True
        if bounds:
            accessor["min"] = data.min(axis=0).tolist()
            accessor["max"] = data.max(axis=0).tolist()
        return self.add(accessor)

    def indices(self, faces: np.ndarray, vertex_count: int) -> int:
        """Triangle indices, 16-bit where the part has fewer than 65535 vertices."""
        small = vertex_count < 0xFFFF  # 65535 itself is reserved (primitive restart)
        flat = np.ascontiguousarray(faces.reshape(-1), np.uint16 if small else np.uint32)
        return self.add({"bufferView": self.view(flat.tobytes(), _ELEMENT_ARRAY_BUFFER),
                         "componentType": _USHORT if small else _UINT, "count": len(flat), "type": "SCALAR"})

    def sparse_target(self, deltas: np.ndarray, kept: np.ndarray, zero: int, short: bool = False) -> int:
        """One morph target as a sparse accessor of float deltas (metres): only the vertices in
        ``kept`` are stored, every other one reads as zero (``zero``: the shared all-zero one).
        ``short``: as normalized 16-bit integers instead (glTF 2.0 allows them for morphed
        colours: a step of 1/32767 in half the bytes; no bounds, which only POSITION needs)."""
        rows = np.flatnonzero(kept)
        if not len(rows):
            return zero
        accessor: dict[str, Any] = {"componentType": _SHORT if short else _FLOAT, "count": len(deltas),
                                    "type": "VEC3"}
        if short:
            values = np.round(np.clip(deltas[rows], -1.0, 1.0) * 32767).astype(np.int16)
            accessor["normalized"] = True
        else:
            values = np.ascontiguousarray(deltas[rows], np.float32)
            lo, hi = values.min(axis=0), values.max(axis=0)
            if len(rows) < len(deltas):  # the vertices left out are zeros and count in the bounds
                lo, hi = np.minimum(lo, 0), np.maximum(hi, 0)
            accessor.update(min=lo.astype(float).tolist(), max=hi.astype(float).tolist())
        index_type, index_component = (np.uint16, _USHORT) if len(deltas) <= 0xFFFF else (np.uint32, _UINT)
        accessor["sparse"] = {
            "count": len(rows),
            "indices": {"bufferView": self.view(rows.astype(index_type).tobytes()),
                        "componentType": index_component},
            "values": {"bufferView": self.view(np.ascontiguousarray(values).tobytes())},
        }
        return self.add(accessor)

    def morph_targets(self, deltas: np.ndarray, turns: np.ndarray | None,
                      colours: np.ndarray | None = None) -> list[dict[str, int]]:
        """A primitive's 52 targets from its (52, n, 3) position deltas (cm) and normal turns;
        every lit target has both (three.js reads a missing NORMAL as the whole normal). Without
        ``turns`` (unlit, where normals shade nothing) positions only, and ``colours``: the
        viewer's COLOR_0 deltas (the light a shape's creases take away or add)."""
        kept = kept_morph_entries(deltas)
        turned = None if turns is None else kept_morph_entries(turns, NORMAL_TOLERANCE)
        shaded = None if colours is None else np.abs(colours).max(axis=2) >= COLOUR_TOLERANCE
        zero = self.add({"componentType": _FLOAT, "count": deltas.shape[1], "type": "VEC3",
                         "min": [0.0, 0.0, 0.0], "max": [0.0, 0.0, 0.0]})
        targets = []
        for k in range(len(ARKIT_NAMES)):
            target = {"POSITION": self.sparse_target(deltas[k] * METRES_PER_CM, kept[k], zero)}
            if turns is not None:
                target["NORMAL"] = self.sparse_target(turns[k], turned[k], zero)
            if colours is not None:
                target["COLOR_0"] = self.sparse_target(colours[k], shaded[k], zero, short=True)
            targets.append(target)
        return targets


@dataclass(frozen=True, eq=False)
class _Template:
    """The weight-independent GLB of one rig and texture: glTF JSON and binary chunk."""

    rig: Any
    texture: Any
    document: dict
    blob: bytes
    # a posed template's primitives in order: (rig part, its vertex rows, POSITION, NORMAL and
    # COLOR_0 accessors, each vertex's albedo and COLOR_0 per unit of shown colour), the only
    # bytes a pose rewrites
    slots: tuple[tuple[Any, np.ndarray, int, int, int | None, np.ndarray | None, np.ndarray | None], ...] = ()


_TEMPLATES: dict[tuple[int, int, bool, bool], _Template] = {}
_TEMPLATE_LOCK = threading.Lock()
_MAX_TEMPLATES = 8


def _template(rig: Any, texture: FaceTexture | None, targets: bool = True, viewer: bool = False) -> _Template:
    """The template of a rig and texture, built once: a describe call then only sets the
    weights (or, without ``targets``, the vertices, normals and colours), instead of re-packing
    and re-encoding geometry, targets and texture. ``viewer``: for the page's viewer (see
    ``_build_document``)."""
    key = (id(rig), id(texture), targets, viewer)
    with _TEMPLATE_LOCK:
        cached = _TEMPLATES.get(key)
        if cached is not None and cached.rig is rig and cached.texture is texture:
            return cached
    built = _Template(rig, texture, *_build_document(rig, texture, targets, viewer))
    with _TEMPLATE_LOCK:
        if len(_TEMPLATES) >= _MAX_TEMPLATES:
            _TEMPLATES.pop(next(iter(_TEMPLATES)))
        _TEMPLATES[key] = built  # holding the rig and texture keeps their ids unique
    return built


def material_roughness(part_name: str) -> float:
    """How matte a part's material is (glTF roughness): wet eyes, a moist mouth, matte skin."""
    return {"eyes": 0.2, "mouth": 0.5}.get(part_name, 0.65)


def viewer_colours(albedo: np.ndarray, light: np.ndarray, per_shown: np.ndarray) -> np.ndarray:
    """COLOR_0 for the page's viewer: what the render shows (``albedo`` times the render's
    ``light``), through the inverse of the viewer's tone mapping, per unit of shown colour."""
    return (undo_neutral_tone_mapping(albedo * light[:, None]) * per_shown).astype(np.float32)


def _viewer_light(surface: _Surface, vertices: np.ndarray, light: np.ndarray, shape_light: np.ndarray | None,
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """A viewer primitive's colours (float: light exceeds 1) at its rig ``vertices``: COLOR_0
    per unit of shown colour, COLOR_0 at rest and, given each shape's ``shape_light``, the
    (52, n, 3) change each target makes to it."""
    base = np.ones((len(vertices), 3)) if surface.colours is None else surface.colours[:, :3]
    per_shown = base / np.maximum(surface.albedo, 1e-3)
    rest = viewer_colours(surface.albedo, light[vertices], per_shown)
    if shape_light is None:
        return per_shown, rest, None
    shaped = np.stack([viewer_colours(surface.albedo, lit[vertices], per_shown) for lit in shape_light])
    return per_shown, rest, shaped - rest


def _build_document(rig: Any, texture: FaceTexture | None, morph_targets: bool,
                    viewer: bool = False) -> tuple[dict, bytes, tuple]:
    """GLB JSON and binary chunk of the rig's meshes at rest, with or without the 52 morph
    targets, and each primitive's slots (see ``_Template``: a posed GLB rewrites them). For the
    page's ``viewer`` every material is unlit and COLOR_0 carries the render's light (at rest
    until a posed GLB rewrites it; each target carries its shape's change of that light)."""
    from emo_app.face.render import posed_normals, posed_parts, shape_lights, vertex_light
    from emo_app.face.texture import texture_uvs

    packer = _Packer()
    document: dict[str, Any] = {"asset": {"version": "2.0", "generator": "Emotion Studio"}, "materials": []}
    material = partial(_material, document, packer, {}, viewer=viewer)  # (surface, part name) -> index
    neutral = rig.neutral.astype(np.float32)
    rest_normals = posed_normals(rig, neutral)
    light = vertex_light(rig, neutral, rest_normals) if viewer else None
    rest = {part.name: (positions, normals)
            for part, positions, normals in posed_parts(rig, neutral, rest_normals)}
    normal_deltas = _normal_deltas(rig) if morph_targets and not viewer else None
    skinned = morph_targets and not viewer  # the rig for animators turns its head on a joint
    shape_light = shape_lights(rig) if morph_targets and viewer else None
    meshes, slots = [], []
    for glb_mesh in glb_meshes(rig):
        primitives = []
        for part, rows in glb_mesh.pieces:
            positions, normals = (array[rows] for array in rest[part.name])  # normals: unit length
            faces = _local_faces(part.faces, rows, part.size)
            uvs = texture_uvs(texture, rig, part)
            attributes = {
                "POSITION": packer.attribute((positions * METRES_PER_CM).astype(np.float32), "VEC3", _FLOAT,
                                             bounds=True),
                "NORMAL": packer.attribute(normals.astype(np.float32), "VEC3", _FLOAT),
            }
            surface = _surface(glb_mesh.name, part, rows, positions, faces, uvs, texture)
            if surface.uvs is not None:
                attributes["TEXCOORD_0"] = packer.attribute(surface.uvs, "VEC2", _FLOAT)
            if skinned:
                attributes.update(skin_attributes(rig, part.start + rows, packer.attribute))
            per_shown = shape_colours = None
            if viewer:
                per_shown, at_rest, shape_colours = _viewer_light(surface, part.start + rows, light,
                                                                  shape_light)
                attributes["COLOR_0"] = packer.attribute(at_rest, "VEC3", _FLOAT)
            elif surface.colours is not None:
                attributes["COLOR_0"] = packer.attribute(
                    np.round(np.clip(surface.colours, 0, 1) * 255).astype(np.uint8), "VEC4", _UBYTE,
                    normalized=True)
            primitive = {"attributes": attributes, "indices": packer.indices(faces, len(rows)),
                         "material": material(surface, part.name)}
            slots.append((part, rows, attributes["POSITION"], attributes["NORMAL"],
                          attributes.get("COLOR_0"), surface.albedo, per_shown))
            if morph_targets:
                turns = None if normal_deltas is None else normal_deltas[:, part.start + rows]
                primitive["targets"] = packer.morph_targets(rig.deltas[:, part.start + rows], turns,
                                                            shape_colours)
            primitives.append(primitive)
        mesh = {"name": glb_mesh.name, "primitives": primitives}
        if morph_targets:
            mesh["extras"] = {"targetNames": list(ARKIT_NAMES)}
        meshes.append(mesh)
    document.update(
        meshes=meshes,
        # one root to move the whole head by; no transforms: the meshes are life-size, in metres
        nodes=[{"name": ROOT_NODE, "children": list(range(1, len(meshes) + 1))}]
        + [{"name": mesh["name"], "mesh": index} for index, mesh in enumerate(meshes)],
        scenes=[{"nodes": [0]}], scene=0,
        bufferViews=packer.views, accessors=packer.accessors,
        **({"extensionsUsed": ["KHR_materials_unlit"]} if viewer else {}),
    )
    if skinned:
        add_joints(document, rig, METRES_PER_CM, lambda data: packer.add(
            {"bufferView": packer.view(data), "componentType": _FLOAT, "count": 2, "type": "MAT4"}))
    packer.blob.extend(b"\0" * (-len(packer.blob) % 4))
    return document, bytes(packer.blob), tuple(slots)


def _material(document: dict, packer: _Packer, materials: dict, surface: _Surface, kind: str,
              viewer: bool) -> int:
    """The material ``surface.material`` (roughness of rig part ``kind``) of this base colour
    factor, made once (``materials``: key -> index): the factor times its image, if it has one.
    Another colour under the same name is 'name.1' (the mask head's cavity and tongue)."""
    key = (surface.material, tuple(surface.factor))
    if key not in materials:
        twins = sum(name == surface.material for name, _ in materials)
        name = surface.material + (f".{twins}" if twins else "")
        pbr: dict[str, Any] = {"baseColorFactor": surface.factor, "metallicFactor": 0.0,
                               "roughnessFactor": material_roughness(kind)}
        unlit = {"extensions": {"KHR_materials_unlit": {}}} if viewer else {}
        if surface.image is not None:
            images = document.setdefault("images", [])
            images.append({"bufferView": packer.view(surface.image()), "mimeType": surface.mime})
            document["samplers"] = [_SAMPLER]
            textures = document.setdefault("textures", [])
            textures.append({"source": len(images) - 1, "sampler": 0})
            pbr["baseColorTexture"] = {"index": len(textures) - 1}
        document["materials"].append({"name": name, "pbrMetallicRoughness": pbr, **unlit})
        materials[key] = len(document["materials"]) - 1
    return materials[key]


def _normal_deltas(rig: Any) -> np.ndarray:
    """(52, V, 3) how each shape at full weight turns the unit normals: a viewer adds the weighted
    deltas to the rest normals and renormalises (glTF 2.0, 3.7.2.2), so an open jaw or a closed
    lid is shaded as posed instead of with the rest pose's normals."""
    from emo_app.face.render import posed_normals  # unit length (mesh.vertex_normals)

    neutral = rig.neutral.astype(np.float32)
    rest = posed_normals(rig, neutral)
    return np.stack([posed_normals(rig, neutral + delta) - rest for delta in rig.deltas]).astype(np.float32)


@dataclass(frozen=True, eq=False)
class _Surface:
    """How a primitive is coloured: a texture read by ``uvs``, one base colour ``factor``, or
    (only where neither reproduces its colours) vertex ``colours``, which many importers drop."""

    material: str
    uvs: np.ndarray | None = None
    image: Callable[[], bytes] | None = None  # encoded only for the first primitive that uses it
    mime: str = "image/png"
    factor: list[float] = field(default_factory=lambda: [1.0, 1.0, 1.0, 1.0])
    colours: np.ndarray | None = None
    albedo: np.ndarray | None = None  # (n, 3) linear colour at each vertex, however it is drawn


def _surface(mesh: str, part: Any, rows: np.ndarray, positions: np.ndarray, faces: np.ndarray,
             skin_uvs: np.ndarray | None, texture: FaceTexture | None) -> _Surface:
    """The colouring of the ``rows`` of ``part`` in GLB mesh ``mesh``: the skin texture where it
    covers the part; else its vertex colours as one colour (a plain scalp) or baked into a
    texture (eyes, mouth, a painted mask face: ``export_textures``)."""
    if skin_uvs is not None:
        # floats (60 kB more than normalized 16-bit): trimesh reads normalized UVs as 0..65535
        uvs, image = np.clip(skin_uvs[rows], 0, 1).astype(np.float32), texture.image
        texels = image[np.minimum((uvs[:, 1] * image.shape[0]).astype(int), image.shape[0] - 1),
                       np.minimum((uvs[:, 0] * image.shape[1]).astype(int), image.shape[1] - 1)]
        return _Surface("skin", uvs, lambda: jpeg_bytes(texture.image), "image/jpeg",
                        albedo=srgb_to_linear(texels))
    colours = part.colors[rows]
    skin = part.name in SKIN_PARTS
    if texture is not None and skin:  # a part the look's texture does not cover: its skin tone
        colours = np.tile(np.append(texture.skin_rgb, 1.0), (len(rows), 1))
    if np.ptp(colours, axis=0).max() < 0.5 / 255:
        return _Surface("skinTone" if skin else mesh, factor=[float(c) for c in colours[0, :3]] + [1.0],
                        albedo=colours[:, :3])
    own_uvs = part.uvs[rows] if skin and part.uvs is not None else None
    baked = bake_colours(mesh, positions, faces, colours, own_uvs)
    if baked is not None:
        return _Surface("skin" if skin else mesh, baked.uvs, lambda: baked.png, albedo=colours[:, :3])
    return _Surface(part.name, colours=colours, albedo=colours[:, :3])


@dataclass(frozen=True, eq=False)
class GlbMesh:
    """One mesh (and its node) of the GLB: a name an animator looks for and, per primitive, the
    rig part and the part's vertex rows it draws."""

    name: str
    pieces: tuple[tuple[Any, np.ndarray], ...]


def glb_meshes(rig: Any) -> list[GlbMesh]:
    """The GLB's meshes, so eyes, teeth and tongue can be hidden, swapped or rigged on their own:
    ``head`` (the skin: face and scalp), ``eyeLeft`` and ``eyeRight`` (the subject's left is +X,
    the face looking along +Z), ``teeth`` and ``tongueAndGums`` (the rest of the mouth). Every
    rig vertex is in exactly one."""
    meshes: dict[str, list[tuple[Any, np.ndarray]]] = {}
    for part in rig.parts:
        if part.name in SKIN_PARTS:
            groups = [("head", np.arange(part.size))]
        elif part.name == "eyes":
            side = _component_means(part, rig.neutral[part.start : part.stop, 0]) > 0
            groups = [("eyeLeft", np.flatnonzero(side)), ("eyeRight", np.flatnonzero(~side))]
        elif part.name == "mouth":
            mean = np.column_stack([_component_means(part, part.colors[:, channel]) for channel in range(3)])
            toothlike = mean[:, 0] - mean[:, 1] < TOOTH_REDNESS * np.maximum(mean[:, 0], 1e-6)  # grey-white
            # the rest one primitive per colour of its pieces (the mask head's cavity and tongue are
            # each one colour, which every importer shows; ICT's gums and tongue are one piece)
            colour_of = np.unique(np.round(mean * 64), axis=0, return_inverse=True)[1].reshape(-1)
            groups = [("teeth", np.flatnonzero(toothlike))] + [
                ("tongueAndGums", np.flatnonzero(~toothlike & (colour_of == colour)))
                for colour in np.unique(colour_of[~toothlike])]
        else:
            groups = [(part.name, np.arange(part.size))]
        for name, rows in groups:
            if len(rows):
                meshes.setdefault(name, []).append((part, rows))
    return [GlbMesh(name, tuple(pieces)) for name, pieces in meshes.items()]


def _component_means(part: Any, values: np.ndarray) -> np.ndarray:
    """Per vertex of ``part``: the mean of ``values`` over its connected piece of mesh (an
    eyeball, a tooth, the tongue)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    edges = np.asarray(part.faces)[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(part.size, part.size))
    _, labels = connected_components(graph, directed=False)
    return (np.bincount(labels, weights=values) / np.bincount(labels))[labels]


def _local_faces(faces: np.ndarray, rows: np.ndarray, size: int) -> np.ndarray:
    """The triangles of ``faces`` among the vertex ``rows`` (whole connected pieces), renumbered."""
    index = np.full(size, -1, np.int64)
    index[rows] = np.arange(len(rows))
    local = index[np.asarray(faces)]
    return local[(local >= 0).all(axis=1)]


def _glb_head(document: dict, binary_length: int) -> bytes:
    """Everything of a GLB 2.0 before its binary data: 12-byte header, the JSON chunk padded
    with spaces, and the BIN chunk's header (glTF 2.0 spec, section 4.4). ``binary_length``
    must be a multiple of 4."""
    text = orjson.dumps(document)  # compact like json.dumps(separators=(",", ":")), 10x faster
    text += b" " * (-len(text) % 4)
    length = 12 + 8 + len(text) + 8 + binary_length
    return b"".join([struct.pack("<4sII", b"glTF", 2, length), struct.pack("<I4s", len(text), b"JSON"),
                     text, struct.pack("<I4s", binary_length, b"BIN\0")])


def face_to_export(rig: Any, texture: FaceTexture | None) -> tuple[Any, FaceTexture | None]:
    """The head and skin an export draws: a given rig as given; with only a texture, the head
    it fits; with neither, the default face (the settings' head in its look), as rendered."""
    from emo_app.face.looks import default_face, head_rig

    if rig is not None:
        return rig, texture
    if texture is None:
        return default_face()
    return head_rig("full" if texture.head == "ict" else "mediapipe"), texture


def _glb_parts(
    shapes: Blendshapes | Sequence[Blendshapes], fps: float, texture: FaceTexture | None, rig: Any,
    viewer: bool = False, pose: HeadPose | Sequence[HeadPose] | None = None,
) -> tuple[dict, _Template, bytes]:
    """The GLB of these weights (the skull joint turned by ``pose``, or by one pose per frame) as
    its JSON, the shared template and the bytes after the template's binary part (the animation
    of a sequence, padded to 4 bytes)."""
    frames = _as_sequence(shapes)
    if not np.isfinite(fps) or fps <= 0:
        raise InvalidInputError(f"Frames per second must be a positive number; got {fps}.")
    poses = None if pose is None or isinstance(pose, HeadPose) else list(pose)
    if poses is not None and len(poses) != len(frames):
        raise InvalidInputError(f"Give one head pose per frame: {len(poses)} poses for {len(frames)} frames.")
    rig, texture = face_to_export(rig, texture)
    weights = np.stack([rig.effective_weights(f.values) for f in frames]).astype(np.float32)
    template = _template(rig, texture, viewer=viewer)
    # shallow copies of only what changes: the template itself is shared and never mutated
    document = dict(template.document)
    first = weights[0].astype(float).tolist()
    document["meshes"] = [dict(mesh, weights=first) for mesh in document["meshes"]]
    document["nodes"] = posed_nodes(document["nodes"], poses[0] if poses else pose)
    extra = b""
    if len(frames) > 1:
        extra = add_animation(document, len(template.blob), weights, fps, poses)
    document["buffers"] = [{"byteLength": len(template.blob) + len(extra)}]
    return document, template, extra


def build_glb(
    shapes: Blendshapes | Sequence[Blendshapes],
    fps: float = 30.0,
    texture: FaceTexture | None = None,
    rig: Any = None,
    viewer: bool = False,
    pose: HeadPose | Sequence[HeadPose] | None = None,
) -> bytes:
    """The GLB file as bytes (see ``export_glb``)."""
    document, template, extra = _glb_parts(shapes, fps, texture, rig, viewer, pose)
    return _glb_head(document, len(template.blob) + len(extra)) + template.blob + extra


def export_glb(
    shapes: Blendshapes | Sequence[Blendshapes],
    path: str | Path,
    fps: float = 30.0,
    texture: FaceTexture | None = None,
    rig: Any = None,
    viewer: bool = False,
    pose: HeadPose | Sequence[HeadPose] | None = None,
) -> Path:
    """Write a GLB: one mesh per piece of the head (``glb_meshes``: head, eyeLeft, eyeRight,
    teeth, tongueAndGums), each with 52 morph targets named with ARKIT_NAMES and its weights set
    to the first frame; for a sequence a LINEAR animation of every mesh's weights at ``fps``.
    The meshes are skinned to a neck and a skull joint (``export_skin``), the skull turned by
    ``pose`` (for a sequence, one pose per frame animates it).
    ``rig`` and ``texture`` default to the face the renderer draws (the full head in its skin).
    ``viewer``: for the page's 3D viewer, unlit, the render's light at rest in the vertex colours
    and each target's change of it in the target's COLOR_0 (``render.shape_lights``), so the creases
    darken as the weights move (as ``export_posed_glb`` shows one pose)."""
    target = target_path(path, ".glb")
    document, template, extra = _glb_parts(shapes, fps, texture, rig, viewer, pose)
    with open(target, "wb") as out:  # in pieces: the shared binary part is not copied first
        out.write(_glb_head(document, len(template.blob) + len(extra)))
        out.write(template.blob)
        out.write(extra)
    return target


def export_posed_glb(shapes: Blendshapes, path: str | Path, texture: FaceTexture | None = None,
                     rig: Any = None, pose: HeadPose | None = None) -> Path:
    """Write a GLB of the posed face only: the same meshes, materials and textures as
    ``export_glb`` with the expression baked into the vertices (as the renderer deforms them, lid
    and lip limits included) and no morph targets: what a web viewer shows, the render's exact
    vertices in under a quarter of the bytes (1.7 MB for the full head, not 8.3). Its materials
    are unlit and each vertex colour carries the render's diffuse light (``vertex_light``), so
    the viewer shows the render's shading and creases, not its own flat environment light; the
    colours undo the viewer's tone mapping (``viewer_tone``). ``pose`` turns the head as the
    render does."""
    target = target_path(path, ".glb")
    if not isinstance(shapes, Blendshapes):
        raise InvalidInputError(f"Expected one set of Blendshapes to pose; got {type(shapes).__name__}.")
    from emo_app.face.render import turned_head, vertex_light

    rig, texture = face_to_export(rig, texture)
    template = _template(rig, texture, targets=False, viewer=True)
    vertices, normals, cavity = turned_head(rig, shapes, pose)
    light = vertex_light(rig, vertices, normals, cavity=cavity)
    blob = bytearray(template.blob)
    document = dict(template.document, accessors=list(template.document["accessors"]))
    for part, rows, position, normal, colour, albedo, per_shown in template.slots:
        points = (vertices[part.start + rows] * METRES_PER_CM).astype(np.float32)
        turned = normals[part.start + rows].astype(np.float32)  # unit length, as posed_normals gives
        lit = viewer_colours(albedo, light[part.start + rows], per_shown)
        for accessor, values in ((position, points), (normal, turned), (colour, lit)):
            view = document["bufferViews"][document["accessors"][accessor]["bufferView"]]
            blob[view["byteOffset"] : view["byteOffset"] + view["byteLength"]] = values.tobytes()
        bounds = {"min": points.min(axis=0).tolist(), "max": points.max(axis=0).tolist()}
        document["accessors"][position] = dict(document["accessors"][position], **bounds)
    document["buffers"] = [{"byteLength": len(blob)}]
    target.write_bytes(_glb_head(document, len(blob)) + bytes(blob))
    return target


def save_png(image: np.ndarray, path: str | Path) -> Path:
    """Write an RGB or RGBA uint8 image as PNG (zlib level 1: three times faster to write than
    the default for about a third more bytes, which suits per-request exports)."""
    from PIL import Image

    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] not in (3, 4):
        raise InvalidInputError(f"A PNG needs a uint8 H x W x 3 or 4 image; got {array.dtype} {array.shape}.")
    target = target_path(path, ".png")
    Image.fromarray(array).save(target, compress_level=1)
    return target
