"""Face exports: the GLB (52 ARKit morph targets, the skin texture, small enough to download and
valid for three.js, Babylon.js and Blender) and the OBJ, both of the full head by default."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest

from emo_app.blendshapes import ARKIT_NAMES, Blendshapes
from emo_app.errors import InvalidInputError

# 52 sparse float morph targets with normals, 25k vertices, the skin JPEG (8.12 MB since the full
# head's sculpted tongueOut, which opens the jaw part way, joined the targets; 8.33 MB with the
# neck and skull joints' 8 bytes a vertex)
MAX_GLB_BYTES = 8_500_000
_DTYPES = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}


@pytest.fixture(scope="module")
def full_head():
    from emo_app.face.looks import head_rig, look_texture

    return head_rig("full"), look_texture("skin", head="full")


@pytest.fixture(scope="module")
def full_glb(full_head):
    import pygltflib

    from emo_app.face.export import build_glb

    rig, skin = full_head
    data = build_glb(Blendshapes.from_dict({"jawOpen": 0.6, "browInnerUp": 0.8}), texture=skin, rig=rig)
    return data, pygltflib.GLTF2.load_from_bytes(data)


def _view_bytes(gltf, blob: bytes, index: int) -> bytes:
    view = gltf.bufferViews[index]
    return blob[(view.byteOffset or 0) : (view.byteOffset or 0) + view.byteLength]


def _read(gltf, index: int) -> np.ndarray:
    """An accessor's values as a glTF reader sees them: strided views, sparse substitution."""
    accessor, blob = gltf.accessors[index], gltf.binary_blob()
    dtype, width = np.dtype(_DTYPES[accessor.componentType]), _WIDTH[accessor.type]
    values = np.zeros((accessor.count, width), dtype)
    if accessor.bufferView is not None:
        raw = _view_bytes(gltf, blob, accessor.bufferView)
        stride = gltf.bufferViews[accessor.bufferView].byteStride or width * dtype.itemsize
        for row in range(width):  # column by column keeps it simple for any stride
            start = (accessor.byteOffset or 0) + row * dtype.itemsize
            values[:, row] = np.ndarray((accessor.count,), dtype, raw, start, (stride,))
    if accessor.sparse is not None:
        rows = np.frombuffer(_view_bytes(gltf, blob, accessor.sparse.indices.bufferView),
                             _DTYPES[accessor.sparse.indices.componentType])
        values[rows] = np.frombuffer(_view_bytes(gltf, blob, accessor.sparse.values.bufferView),
                                     dtype).reshape(-1, width)
    if accessor.normalized:  # glTF 2.0, 3.11: c / max, and for signed types at least -1
        return np.maximum(values / np.iinfo(dtype).max, -1.0)
    return values


def _primitives(gltf) -> list:
    return [primitive for mesh in gltf.meshes for primitive in mesh.primitives]


def _surface_srgb(gltf, primitive) -> np.ndarray:
    """(n, 3) sRGB 0-255 colour at each vertex of a primitive as a viewer shows it: its base
    colour texture read at its UVs (nearest texel), or its vertex colours."""
    from PIL import Image

    from emo_app.face.texture import linear_to_srgb

    if primitive.attributes.COLOR_0 is not None:
        return linear_to_srgb(_read(gltf, primitive.attributes.COLOR_0)[:, :3] / 255.0).astype(float)
    material = gltf.materials[primitive.material]
    if material.pbrMetallicRoughness.baseColorTexture is None:  # one colour
        colour = linear_to_srgb(np.asarray(material.pbrMetallicRoughness.baseColorFactor[:3]))
        return np.tile(colour.astype(float), (gltf.accessors[primitive.attributes.POSITION].count, 1))
    texture = gltf.textures[material.pbrMetallicRoughness.baseColorTexture.index]
    blob = _view_bytes(gltf, gltf.binary_blob(), gltf.images[texture.source].bufferView)
    image = np.asarray(Image.open(io.BytesIO(blob)).convert("RGB")).astype(float)
    uvs = _read(gltf, primitive.attributes.TEXCOORD_0)
    rows = np.clip((uvs[:, 1] * image.shape[0]).astype(int), 0, image.shape[0] - 1)
    columns = np.clip((uvs[:, 0] * image.shape[1]).astype(int), 0, image.shape[1] - 1)
    return image[rows, columns]


def _decoded_targets(gltf, rig) -> np.ndarray:
    """(52, V, 3) morph deltas in centimetres (the file's are in metres), in the rig's vertex
    order (the GLB splits the head into meshes: ``glb_meshes``)."""
    from emo_app.face.export import glb_meshes

    order = np.concatenate([part.start + rows for mesh in glb_meshes(rig) for part, rows in mesh.pieces])
    stored = np.concatenate([np.stack([_read(gltf, t["POSITION"]) * 100.0 for t in primitive.targets])
                             for primitive in _primitives(gltf)], axis=1)
    targets = np.zeros_like(stored)
    targets[:, order] = stored
    return targets


def test_full_head_glb_is_under_8_5_mb_with_52_named_targets_and_the_skin_jpeg(full_head, full_glb):
    import trimesh

    from emo_app.face.texture import texture_uvs

    rig, atlas = full_head
    data, gltf = full_glb
    assert len(data) <= MAX_GLB_BYTES
    for mesh in gltf.meshes:
        assert mesh.extras["targetNames"] == list(ARKIT_NAMES)
        assert all(len(p.targets) == 52 for p in mesh.primitives)
        assert mesh.weights[ARKIT_NAMES.index("jawOpen")] == pytest.approx(0.6)
    assert sum(gltf.accessors[p.attributes.POSITION].count for p in _primitives(gltf)) == rig.vertex_count
    assert [image.mimeType for image in gltf.images] == ["image/jpeg"] + ["image/png"] * 4  # skin; baked
    assert _view_bytes(gltf, gltf.binary_blob(), gltf.images[0].bufferView)[:2] == b"\xff\xd8"
    skin = [gltf.materials[p.material] for p in gltf.meshes[0].primitives]
    assert len(skin) == 2 and {m.name for m in skin} == {"skin"}  # face and scalp, one skin atlas
    assert all(m.pbrMetallicRoughness.baseColorTexture.index == 0 for m in skin)
    # trimesh reads it back life-size, and the skin where the renderer puts it: trimesh takes
    # normalized 16-bit UVs as 0..65535 (the whole head drew one corner texel, no brows or hair)
    scene = trimesh.load(io.BytesIO(data), file_type="glb")
    assert sum(len(g.vertices) for g in scene.geometry.values()) == rig.vertex_count
    expected = np.array([rig.neutral.min(0), rig.neutral.max(0)]) / 100.0
    np.testing.assert_allclose(scene.bounds, expected, atol=1e-5)
    uvs = texture_uvs(atlas, rig, rig.part("face"))  # image convention; trimesh's v points up
    np.testing.assert_allclose(scene.geometry["head"].visual.uv, np.column_stack([uvs[:, 0], 1 - uvs[:, 1]]),
                               atol=1e-6)


def test_glb_is_plain_gltf_life_size_in_metres_y_up_facing_z(full_head, full_glb):
    """What a game engine or Blender imports without fixing anything: no required extension
    (Bevy's gltf crate, libGDX and VTK refuse KHR_mesh_quantization), no node transform (the
    mesh was stored in 1/8192 cm steps under a 1.2e-6 node scale: Blender's object had that
    scale), vertex data in metres with +Y up and the face towards +Z (glTF 2.0, 3.4)."""
    rig, _ = full_head
    _, gltf = full_glb
    assert not gltf.extensionsRequired and not gltf.extensionsUsed
    for node in gltf.nodes:  # at rest only the neck and skull joints sit somewhere: at their bones
        assert not (node.scale or node.rotation or node.matrix), node.name
        assert not node.translation or node.name in ("neck", "skull"), node.name
    points = np.concatenate([_read(gltf, p.attributes.POSITION) for m in gltf.meshes for p in m.primitives])
    np.testing.assert_allclose(np.ptp(points, axis=0), np.ptp(rig.neutral, axis=0) / 100.0, rtol=1e-5)
    assert 0.15 < np.ptp(points[:, 1]) < 0.4  # a head and neck, in metres
    face = _read(gltf, _primitives(gltf)[0].attributes.POSITION)
    nose = face[np.argmax(face[:, 2])]  # the point furthest towards +Z is the nose, mid-face
    assert abs(nose[0]) < 0.005 and face[:, 1].min() < nose[1] < face[:, 1].max()
    top = points[np.argmax(points[:, 1])]  # +Y up: the highest point is the crown, centred
    assert abs(top[0]) < 0.02


@pytest.mark.parametrize("head", ["full", "mediapipe"])
def test_glb_has_a_named_mesh_for_the_head_each_eye_the_teeth_and_the_tongue(head):
    """An animator hides the teeth, swaps the eyes or rigs them to bones: each is its own named
    node and mesh (all four parts were primitives of one mesh 'face'), every one with the 52
    named targets and the weights, so the shape keys drive them all together."""
    import pygltflib

    from emo_app.face.export import build_glb
    from emo_app.face.looks import head_rig

    rig = head_rig(head)
    gltf = pygltflib.GLTF2.load_from_bytes(build_glb(Blendshapes.from_dict({"eyeLookInLeft": 1.0}), rig=rig))
    root = gltf.nodes[gltf.scenes[0].nodes[0]]
    children = {gltf.nodes[i].name: gltf.nodes[i] for i in root.children if gltf.nodes[i].mesh is not None}
    assert set(children) == {"head", "eyeLeft", "eyeRight", "teeth", "tongueAndGums"}
    meshes = {name: gltf.meshes[node.mesh] for name, node in children.items()}
    for name, mesh in meshes.items():
        assert mesh.name == name and mesh.extras["targetNames"] == list(ARKIT_NAMES)
        assert mesh.weights[ARKIT_NAMES.index("eyeLookInLeft")] == 1.0

    def points(name: str, target: str | None = None) -> np.ndarray:
        primitive = meshes[name].primitives[0]
        accessor = primitive.attributes.POSITION if target is None else \
            primitive.targets[ARKIT_NAMES.index(target)]["POSITION"]
        return _read(gltf, accessor)

    assert points("eyeLeft")[:, 0].min() > 0 > points("eyeRight")[:, 0].max()  # subject's left: +X
    assert np.abs(points("eyeLeft", "eyeLookInLeft")).max() > 1e-3  # the left gaze turns the left eye
    assert np.abs(points("eyeRight", "eyeLookInLeft")).max() == 0.0
    colour = {name: _surface_srgb(gltf, meshes[name].primitives[0]).mean(axis=0)
              for name in ("teeth", "tongueAndGums")}
    assert colour["teeth"][0] - colour["teeth"][1] < 0.1 * colour["teeth"][0]  # grey-white
    assert colour["tongueAndGums"][0] > 1.3 * colour["tongueAndGums"][1]  # red (in sRGB levels)


def test_glb_eyes_and_mouth_keep_their_colours_where_importers_drop_vertex_colours(full_head, full_glb):
    """trimesh, and Unreal's and Unity's default materials, ignore COLOR_0: the eyes came in
    white without iris or pupil, the teeth and gums white. Their colours are baked into
    textures the meshes' UVs read back: each vertex shows the rig's colour."""
    from scipy.spatial import cKDTree

    from emo_app.face.texture import linear_to_srgb

    rig, _ = full_head
    _, gltf = full_glb
    by_name = {mesh.name: mesh for mesh in gltf.meshes}
    parts = {"eyeLeft": "eyes", "eyeRight": "eyes", "teeth": "mouth", "tongueAndGums": "mouth"}
    for name, part in parts.items():
        primitive = by_name[name].primitives[0]
        assert primitive.attributes.COLOR_0 is None  # nothing for an importer to drop
        material = gltf.materials[primitive.material]
        assert material.pbrMetallicRoughness.baseColorTexture is not None
        shown = _surface_srgb(gltf, primitive)
        points = _read(gltf, primitive.attributes.POSITION) * 100.0
        rig_part = rig.part(part)
        distance, index = cKDTree(rig.neutral[rig_part.start : rig_part.stop]).query(points)
        assert distance.max() < 1e-3
        expected = linear_to_srgb(rig_part.colors[index, :3]).astype(float)
        error = np.abs(shown - expected).max(axis=1)
        assert error.mean() < 4 and np.percentile(error, 95) < 16, (name, error.mean())
    iris = _surface_srgb(gltf, by_name["eyeLeft"].primitives[0])
    assert iris.min() < 60 < 200 < iris.max()  # a dark pupil and a light sclera


def test_mask_head_glb_keeps_its_skin_where_importers_drop_vertex_colours():
    """The mask head's skin was vertex colours only: trimesh showed a white head. Its painted
    face is baked into a texture its own UVs read, the plain scalp is one base colour, and so
    are its mouth's cavity and tongue (one primitive each): no part relies on COLOR_0."""
    import pygltflib

    from emo_app.face.export import build_glb
    from emo_app.face.looks import head_rig
    from emo_app.face.texture import linear_to_srgb

    rig = head_rig("mediapipe")
    gltf = pygltflib.GLTF2.load_from_bytes(build_glb(Blendshapes.zeros(), rig=rig))
    face, scalp = next(mesh for mesh in gltf.meshes if mesh.name == "head").primitives
    assert all(primitive.attributes.COLOR_0 is None for primitive in _primitives(gltf))
    inside = next(mesh for mesh in gltf.meshes if mesh.name == "tongueAndGums").primitives
    factors = sorted(gltf.materials[p.material].pbrMetallicRoughness.baseColorFactor[0] for p in inside)
    assert len(inside) == 2 and factors[0] < 0.3 < 0.6 < factors[1]  # a dark cavity, a pink tongue
    error = np.abs(_surface_srgb(gltf, face) - linear_to_srgb(rig.part("face").colors[:, :3])).max(axis=1)
    assert error.mean() < 4 and np.percentile(error, 95) < 16
    factor = gltf.materials[scalp.material].pbrMetallicRoughness.baseColorFactor
    np.testing.assert_allclose(factor[:3], rig.part("head").colors[0, :3], atol=1e-6)


def test_glb_follows_the_gltf_rules_a_validator_checks(full_glb):
    """What the Khronos validator would reject: chunk layout, views inside the buffer and
    aligned, accessor bounds that are the data's own, sparse indices increasing and in range,
    triangle indices in range, extensions declared."""
    data, gltf = full_glb
    magic, version, length = struct.unpack_from("<4sII", data)
    assert (magic, version, length) == (b"glTF", 2, len(data))
    json_length, json_kind = struct.unpack_from("<I4s", data, 12)
    bin_length, bin_kind = struct.unpack_from("<I4s", data, 20 + json_length)
    assert json_kind == b"JSON" and bin_kind == b"BIN\0" and json_length % 4 == 0 and bin_length % 4 == 0
    assert 28 + json_length + bin_length == len(data) and gltf.buffers[0].byteLength <= bin_length
    assert set(gltf.extensionsRequired) <= set(gltf.extensionsUsed)
    for view in gltf.bufferViews:
        assert (view.byteOffset or 0) % 4 == 0
        assert view.byteOffset + view.byteLength <= gltf.buffers[0].byteLength
        assert view.byteStride is None or (view.byteStride % 4 == 0 and 4 <= view.byteStride <= 252)
    sparse_views = set()
    for index, accessor in enumerate(gltf.accessors):
        values = _read(gltf, index)  # raises if a view is too short for its accessor
        if accessor.min:  # pygltflib reads a missing min as []
            np.testing.assert_array_equal(values.min(0), accessor.min)
            np.testing.assert_array_equal(values.max(0), accessor.max)
        if accessor.sparse is not None:
            rows = np.frombuffer(_view_bytes(gltf, gltf.binary_blob(), accessor.sparse.indices.bufferView),
                                 _DTYPES[accessor.sparse.indices.componentType])
            assert len(rows) == accessor.sparse.count and np.all(np.diff(rows.astype(np.int64)) > 0)
            assert rows[-1] < accessor.count
            sparse_views |= {accessor.sparse.indices.bufferView, accessor.sparse.values.bufferView}
    for index in sparse_views:  # sparse data is tightly packed and no vertex buffer
        assert gltf.bufferViews[index].target is None and gltf.bufferViews[index].byteStride is None
    for primitive in _primitives(gltf):
        assert gltf.accessors[primitive.attributes.POSITION].min
        assert all(gltf.accessors[t["POSITION"]].min for t in primitive.targets)
        count = gltf.accessors[primitive.attributes.POSITION].count
        triangles = _read(gltf, primitive.indices)
        assert len(triangles) % 3 == 0 and triangles.max() < count
        normals = _read(gltf, primitive.attributes.NORMAL)
        np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-5)  # unit, as the spec asks
        joints = _read(gltf, primitive.attributes.JOINTS_0)
        weights = _read(gltf, primitive.attributes.WEIGHTS_0)  # normalised bytes, read as 0-1
        assert len(joints) == len(weights) == count and joints.max() < len(gltf.skins[0].joints)
        np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-6)
    assert len(_read(gltf, gltf.skins[0].inverseBindMatrices)) == len(gltf.skins[0].joints)


@pytest.mark.parametrize("head", ["full", "mediapipe"])
def test_glb_morph_targets_are_sparse_and_decode_to_the_rig_within_the_tolerance(head):
    """Small deltas are left out, yet no pose with weights in [0, 1] puts a vertex further from
    the rig than MORPH_TOLERANCE_CM plus float rounding."""
    import pygltflib

    from emo_app.face.export import MORPH_TOLERANCE_CM, build_glb
    from emo_app.face.looks import head_rig

    rig = head_rig(head)
    gltf = pygltflib.GLTF2.load_from_bytes(build_glb(Blendshapes.zeros(), rig=rig))
    decoded = _decoded_targets(gltf, rig)
    expected = rig.deltas.astype(np.float64)
    bound = MORPH_TOLERANCE_CM + 1e-4
    rng = np.random.default_rng(0)
    for weights in [np.ones(52), *rng.random((20, 52)), *(rng.random((20, 52)) < 0.2)]:
        error = np.linalg.norm(np.tensordot(weights, decoded - expected, axes=1), axis=1)
        assert error.max() <= bound
    stored = sum(gltf.accessors[t["POSITION"]].sparse.count for p in _primitives(gltf)
                 for t in p.targets if gltf.accessors[t["POSITION"]].sparse is not None)
    assert stored < 0.5 * expected.shape[0] * expected.shape[1]  # sparse: a shape moves one region
    jaw = ARKIT_NAMES.index("jawOpen")
    assert np.abs(decoded[jaw] - expected[jaw]).max() < 0.01 and np.abs(decoded[jaw]).max() > 1.0


def test_glb_template_is_built_once_per_head_and_skin(full_head, monkeypatch):
    """A describe call sets only the weights: the binary part (geometry, targets, texture) is
    packed once per head and skin and shared by every later GLB."""
    from emo_app.face import export

    rig, skin = full_head
    export.build_glb(Blendshapes.zeros(), texture=skin, rig=rig)
    built = []
    original = export._build_document
    monkeypatch.setattr(export, "_build_document", lambda *a: built.append(a) or original(*a))
    first = export.build_glb(Blendshapes.from_dict({"jawOpen": 1.0}), texture=skin, rig=rig)
    second = export.build_glb(Blendshapes.from_dict({"mouthSmileLeft": 1.0}), texture=skin, rig=rig)
    assert built == [] and first != second and first[-100_000:] == second[-100_000:]


def test_glb_eye_and_mouth_textures_are_baked_once_per_head(full_head, monkeypatch):
    """A photo look makes a new skin per request, and with it a new template: the eyes' and
    mouth's textures do not change with the skin and are not baked again."""
    from emo_app.face import export, export_textures

    rig, skin = full_head
    export.build_glb(Blendshapes.zeros(), texture=skin, rig=rig)
    baked = []
    original = export_textures._bake
    monkeypatch.setattr(export_textures, "_bake", lambda *a: baked.append(a[0]) or original(*a))
    export.build_glb(Blendshapes.zeros(), texture=None, rig=rig)  # another skin: a new template
    assert baked == []


def test_glb_sequence_becomes_a_morph_weight_animation(tmp_path, full_head):
    import pygltflib

    from emo_app.face.export import build_glb, export_glb

    rig, skin = full_head
    frames = [Blendshapes.from_dict({"jawOpen": 0.7}), Blendshapes.from_dict({"mouthSmileLeft": 1.0})]
    path = export_glb(frames, tmp_path / "walk.glb", fps=24, texture=skin, rig=rig)
    assert path.read_bytes() == build_glb(frames, fps=24, texture=skin, rig=rig)
    gltf = pygltflib.GLTF2().load(str(path))
    assert gltf.meshes[0].weights[ARKIT_NAMES.index("jawOpen")] == pytest.approx(0.7)
    animation = gltf.animations[0]
    animated = sorted(channel.target.node for channel in animation.channels)
    assert animated == [i for i, node in enumerate(gltf.nodes) if node.mesh is not None]  # every mesh
    assert {channel.target.path for channel in animation.channels} == {"weights"}
    times = _read(gltf, animation.samplers[0].input)[:, 0]
    np.testing.assert_allclose(times, [0.0, 1 / 24])
    weights = _read(gltf, animation.samplers[0].output).reshape(2, 52)
    assert weights[1, ARKIT_NAMES.index("mouthSmileLeft")] == pytest.approx(1.0)
    with pytest.raises(InvalidInputError, match=".glb"):
        export_glb(frames[0], tmp_path / "face.gltf")
    with pytest.raises(InvalidInputError, match="Frames per second"):
        build_glb(frames, fps=0.0, rig=rig)


def test_obj_export_is_the_full_head_with_its_uvs_and_skin_texture(tmp_path, full_head):
    import trimesh

    from emo_app.face.export import save_png
    from emo_app.face.export_obj import export_obj

    rig, _ = full_head
    smile = Blendshapes.from_dict({"mouthSmileLeft": 1.0, "mouthSmileRight": 1.0})
    path = export_obj(smile, tmp_path / "face.obj")  # the default face: full head in its skin
    assert "map_Kd face_skin.jpg" in (tmp_path / "face.mtl").read_text()
    assert (tmp_path / "face_skin.jpg").read_bytes()[:2] == b"\xff\xd8"
    mesh = trimesh.load(path, force="mesh", process=False)
    posed = rig.deform(smile)  # trimesh reorders vertices and splits them at UV seams: compare sets
    from scipy.spatial import cKDTree

    assert cKDTree(posed).query(mesh.vertices)[0].max() < 1e-4  # every vertex is the head's
    assert cKDTree(mesh.vertices).query(posed)[0].max() < 1e-4  # and the head is all there
    assert len(mesh.faces) == sum(len(part.faces) for part in rig.parts)
    assert mesh.visual.kind == "texture"
    skin = rig.part("face").size + rig.part("head").size
    baked = 3 * (len(rig.part("eyes").faces) + len(rig.part("mouth").faces))  # one UV per corner
    assert sum(line.startswith("vt ") for line in path.read_text().splitlines()) == skin + baked
    with pytest.raises(InvalidInputError, match="Blendshapes"):
        export_obj({"jawOpen": 1.0}, tmp_path / "x.obj")
    png = save_png(np.zeros((4, 4, 3), np.uint8), tmp_path / "x.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_obj_export_is_smooth_and_matte_in_blender(tmp_path, full_head):
    """Blender's OBJ importer shades triangles flat unless the file has normals, and reads a
    material without ``Ns`` as a mirror (roughness 0: glossy speckles on the skin). Each vertex
    carries the renderer's smooth normal and each material an Ns Blender reads back as the
    GLB's roughness (measured with bpy 4.2: lab/blender_import.py)."""
    from emo_app.face.export_obj import export_obj
    from emo_app.face.render import posed_normals

    rig, skin = full_head
    smile = Blendshapes.from_dict({"mouthSmileLeft": 1.0, "jawOpen": 0.3})
    lines = export_obj(smile, tmp_path / "face.obj", texture=skin, rig=rig).read_text().splitlines()
    normals = np.array([line.split()[1:] for line in lines if line.startswith("vn ")], float)
    assert len(normals) == rig.vertex_count
    np.testing.assert_allclose(normals, posed_normals(rig, rig.deform(smile)), atol=1e-3)
    faces = [line.split()[1:] for line in lines if line.startswith("f ")]
    assert len(faces) == sum(len(part.faces) for part in rig.parts)
    for corners in faces[:: max(1, len(faces) // 500)]:  # every corner names its vertex's normal
        for corner in corners:
            fields = corner.split("/")
            assert len(fields) == 3 and fields[2] == fields[0], corner
    materials = (tmp_path / "face.mtl").read_text().split("newmtl ")[1:]
    roughness = {}
    for block in materials:
        name, *rest = block.split("\n")
        ns = [float(line.split()[1]) for line in rest if line.startswith("Ns ")]
        assert ns, f"material {name} has no Ns"
        roughness[name] = 1.0 - np.sqrt(min(ns[0], 1000.0) / 1000.0)  # Blender's reading
    assert roughness["skin"] == pytest.approx(0.65, abs=0.01)
    assert roughness["eyes"] < roughness["mouth"] < roughness["skin"]


def test_describe_exports_the_full_head_with_its_skin_offline(no_network, tmp_path, monkeypatch):
    import pygltflib

    from emo_app import services
    from emo_app.face.looks import head_rig

    monkeypatch.setenv("EMO_DATA_DIR", str(tmp_path))
    result = services.describe("She beams with delight at the news", size=64)
    files = result.face.files
    gltf = pygltflib.GLTF2().load(str(files["glb"]))
    positions = [gltf.accessors[p.attributes.POSITION].count for p in _primitives(gltf)]
    assert sum(positions) == head_rig("full").vertex_count
    assert [image.mimeType for image in gltf.images].count("image/jpeg") == 1  # the skin
    assert gltf.meshes[0].extras["targetNames"] == list(ARKIT_NAMES)
    assert files["glb"].stat().st_size <= MAX_GLB_BYTES
    assert files["csv"].read_text().splitlines()[0].startswith("Timecode,BlendShapeCount")
    assert '"jawOpen"' in files["json"].read_text()
    assert no_network == []


def test_sphere_json_says_which_point_it_shows(no_network, tmp_path, monkeypatch):
    """The sphere's JSON held only the 52 weights: it now names the point, its nearest classes
    and emotions, and still reads back as the weights the face shows."""
    import json

    from emo_app import services
    from emo_app.blendshapes.io import from_json

    monkeypatch.setenv("EMO_DATA_DIR", str(tmp_path))
    result = services.sphere_point(services.parse_point(0.6, 0.3, 0.0), exports=True, size=64)
    data = json.loads(result.face.files["json"].read_text())
    assert data["point"]["valence"] == pytest.approx(0.6) and data["point"]["arousal"] == pytest.approx(0.3)
    assert data["nearest_classes"][0][0] == result.nearest[0][0]
    assert data["emotions"] == result.emotions.to_dict()
    read_back = from_json(result.face.files["json"].read_text())
    np.testing.assert_allclose(read_back.values, result.face.shapes.values, atol=1e-6)  # 6 decimals
    assert no_network == []


def test_obj_eyes_and_mouth_show_their_colours(tmp_path, full_head):
    """An MTL material cannot read vertex colours, so the OBJ's eyes were one flat near-white
    (Blender showed blank eyes): the eyes' and mouth's colours are baked into textures that
    give each corner its own colour back, the iris dark and the sclera light."""
    from PIL import Image

    from emo_app.face.export_obj import export_obj
    from emo_app.face.texture import linear_to_srgb

    rig, skin = full_head
    path = export_obj(Blendshapes.zeros(), tmp_path / "face.obj", texture=skin, rig=rig)
    mtl = (tmp_path / "face.mtl").read_text()
    lines = path.read_text().splitlines()
    uvs = np.array([line.split()[1:] for line in lines if line.startswith("vt ")], float)
    faces = [line.split()[1:] for line in lines if line.startswith("f ")]
    for name in ("eyes", "mouth"):
        assert f"map_Kd face_{name}.png" in mtl
        image = np.asarray(Image.open(tmp_path / f"face_{name}.png").convert("RGB")).astype(int)
        part = rig.part(name)
        first = sum(len(p.faces) for p in rig.parts[: rig.parts.index(part)])
        expected = linear_to_srgb(part.colors[:, :3]).astype(int)
        for corners in faces[first : first + len(part.faces)][:: max(1, len(part.faces) // 300)]:
            for corner in corners:
                vertex, uv = (int(i) - 1 for i in corner.split("/")[:2])
                u, v = uvs[uv]
                texel = image[int((1.0 - v) * image.shape[0]), int(u * image.shape[1])]
                assert np.abs(texel - expected[vertex - part.start]).max() <= 2
    eyes = np.asarray(Image.open(tmp_path / "face_eyes.png").convert("L")).astype(int)
    assert eyes.min() < 60 and np.percentile(eyes, 90) > 170  # pupils and irises, and white sclera


def test_the_viewers_posed_glb_is_the_renders_face_without_targets_and_a_quarter_of_the_bytes(
        tmp_path, full_head, full_glb):
    """The page's 3D viewer gets the pose baked in: every vertex where the renderer puts it (on
    the mask head the lid limit too, which morph targets cannot express), the rig's meshes and
    materials, no morph targets, and far fewer bytes to send on every slider change."""
    import pygltflib

    from emo_app.face.export import export_posed_glb, glb_meshes
    from emo_app.face.looks import head_rig
    from emo_app.face.render import posed_normals

    rig, skin = full_head
    # a full blink squeezed by squint and cheek: the mask head's lid limit holds the upper lid
    shapes = Blendshapes.from_dict({"jawOpen": 0.6, "browInnerUp": 0.8, "eyeBlinkLeft": 1.0,
                                    "eyeSquintLeft": 1.0, "cheekSquintLeft": 1.0})
    path = export_posed_glb(shapes, tmp_path / "posed.glb", texture=skin, rig=rig)
    gltf = pygltflib.GLTF2().load(str(path))
    rigged = full_glb[1]
    assert [m.name for m in gltf.meshes] == [m.name for m in rigged.meshes]
    assert [m.name for m in gltf.materials] == [m.name for m in rigged.materials]
    assert all(p.targets in (None, []) for p in _primitives(gltf)) and not gltf.meshes[0].weights
    order = np.concatenate([part.start + rows for mesh in glb_meshes(rig) for part, rows in mesh.pieces])
    stored = np.concatenate([_read(gltf, p.attributes.POSITION) for p in _primitives(gltf)]) * 100.0
    assert np.abs(stored - rig.deform(shapes)[order]).max() < 1e-4  # centimetres
    normals = np.concatenate([_read(gltf, p.attributes.NORMAL) for p in _primitives(gltf)])
    posed = posed_normals(rig, rig.deform(shapes))[order]
    assert np.abs(normals - posed / np.linalg.norm(posed, axis=1, keepdims=True)).max() < 1e-5  # as posed
    assert path.stat().st_size < len(full_glb[0]) / 3

    mask = head_rig("mediapipe")
    gltf = pygltflib.GLTF2().load(str(export_posed_glb(shapes, tmp_path / "mask.glb", rig=mask)))
    order = np.concatenate([part.start + rows for mesh in glb_meshes(mask) for part, rows in mesh.pieces])
    stored = np.concatenate([_read(gltf, p.attributes.POSITION) for p in _primitives(gltf)]) * 100.0
    linear = mask.neutral + mask.linear_offsets(mask.effective_weights(shapes.values))
    assert np.abs(stored - mask.deform(shapes)[order]).max() < 1e-4
    assert np.abs(stored - linear[order]).max() > 0.3  # the lid limit moved the lid (0.54 cm)


def test_the_viewers_posed_glb_shows_the_renders_light_and_creases(tmp_path, full_head):
    """A web viewer lit the posed GLB with its own flat environment light: a pinker face with no
    shading and no creases. Its materials are unlit and each vertex colour carries the render's
    light, so skin texture times vertex colour, through the viewer's tone mapping, is what the
    render shows at that point (a frown's furrows and a sneer's folds included); the skin alone
    is more than twice as far from it."""
    import pygltflib
    from PIL import Image

    from emo_app import services
    from emo_app.face.export import export_posed_glb, glb_meshes
    from emo_app.face.render import posed_normals, project
    from emo_app.face.texture import linear_to_srgb, srgb_to_linear
    from emo_app.face.viewer_tone import neutral_tone_mapping

    rig, skin = full_head
    shapes = Blendshapes.from_dict({"browDownLeft": 1.0, "browDownRight": 1.0, "noseSneerLeft": 0.8,
                                    "noseSneerRight": 0.8, "mouthSmileLeft": 0.7, "mouthSmileRight": 0.7})
    path = export_posed_glb(shapes, tmp_path / "posed.glb", texture=skin, rig=rig)
    gltf = pygltflib.GLTF2().load(str(path))
    assert all(m.extensions == {"KHR_materials_unlit": {}} for m in gltf.materials)
    assert "KHR_materials_unlit" in gltf.extensionsUsed
    size = 256
    render = services.render_face(shapes, size=size, texture=skin, rig=rig).images["front"].astype(float)
    vertices = rig.deform(shapes)
    facing = posed_normals(rig, vertices)[:, 2] > 0.6  # toward the camera: nothing in front of it
    pieces = [piece for mesh in glb_meshes(rig) for piece in mesh.pieces]
    lit_error, skin_error = [], []
    for primitive, (part, rows) in zip(_primitives(gltf), pieces, strict=True):
        material = gltf.materials[primitive.material]
        if material.name != "skin":
            continue
        texture = gltf.textures[material.pbrMetallicRoughness.baseColorTexture.index]
        blob = _view_bytes(gltf, gltf.binary_blob(), gltf.images[texture.source].bufferView)
        image = np.asarray(Image.open(io.BytesIO(blob)).convert("RGB")).astype(float)
        uvs = _read(gltf, primitive.attributes.TEXCOORD_0)
        albedo = image[np.clip((uvs[:, 1] * image.shape[0]).astype(int), 0, image.shape[0] - 1),
                       np.clip((uvs[:, 0] * image.shape[1]).astype(int), 0, image.shape[1] - 1)]
        light = _read(gltf, primitive.attributes.COLOR_0)
        pixels = np.round(project(vertices[part.start + rows], "front", size)).astype(int)
        keep = facing[part.start + rows] & np.all((pixels >= 0) & (pixels < size), axis=1)
        shown = render[pixels[keep, 1], pixels[keep, 0]]
        lit = linear_to_srgb(neutral_tone_mapping(srgb_to_linear(albedo[keep]) * light[keep])).astype(float)
        lit_error.append(np.abs(lit - shown).mean(axis=1))
        skin_error.append(np.abs(albedo[keep] - shown).mean(axis=1))
    lit_error, skin_error = np.concatenate(lit_error), np.concatenate(skin_error)
    assert len(lit_error) > 2000
    # measured: 7.7 and 20.7 grey levels (the rest is the render's specular sheen and filtering)
    assert np.median(lit_error) < 10.0 and np.median(lit_error) < np.median(skin_error) / 2


def test_the_walk_viewers_creases_deepen_as_its_shapes_move(full_head, tmp_path):
    """The walk's viewer GLB kept the light of the rest pose: a frown's furrows never darkened as
    the walk played (the GIF beside it showed them). Each target now also changes the vertex
    colours by the light its shape takes away or adds, so the viewer's colours for a pose come
    close to the posed GLB's, which carries the render's light exactly."""
    import pygltflib

    from emo_app.face.export import build_glb, export_posed_glb

    rig, skin = full_head
    shapes = Blendshapes.from_dict({"browDownLeft": 1.0, "browDownRight": 1.0, "noseSneerLeft": 0.8,
                                    "noseSneerRight": 0.8, "mouthSmileLeft": 0.7, "mouthSmileRight": 0.7})
    viewer = pygltflib.GLTF2.load_from_bytes(build_glb(shapes, texture=skin, rig=rig, viewer=True))
    posed_path = export_posed_glb(shapes, tmp_path / "posed.glb", texture=skin, rig=rig)
    posed = pygltflib.GLTF2().load(str(posed_path))
    played, still = [], []
    for mesh, exact_mesh in zip(viewer.meshes, posed.meshes, strict=True):
        for primitive, exact in zip(mesh.primitives, exact_mesh.primitives, strict=True):
            rest = _read(viewer, primitive.attributes.COLOR_0)
            shown = rest + sum(weight * _read(viewer, target["COLOR_0"])
                               for weight, target in zip(mesh.weights, primitive.targets) if weight)
            truth = _read(posed, exact.attributes.COLOR_0)
            played.append(np.abs(shown - truth).max(axis=1))
            still.append(np.abs(rest - truth).max(axis=1))
    played, still = np.concatenate(played), np.concatenate(still)
    changed = still > 0.02  # the vertices whose light this pose changes (creases, folds)
    assert changed.sum() > 500
    # measured: 0.013 against 0.088 (linear colour) over 5974 vertices
    error, before = played[changed].mean(), still[changed].mean()
    assert error < 0.25 * before, (error, before)


def test_the_viewers_tone_mapping_is_undone_for_skin_teeth_and_shadow():
    """Babylon's viewer tone-maps with Khronos PBR Neutral: sent (0.5, 0.3, 0.15), Chromium showed
    sRGB (179, 138, 93), darker and more saturated than the render's (186, 148, 108). The GLB's
    colours go through the curve's inverse, so the viewer shows what the render shows."""
    from emo_app.face.texture import linear_to_srgb
    from emo_app.face.viewer_tone import neutral_tone_mapping, undo_neutral_tone_mapping

    sent = np.array([0.5, 0.3, 0.15])
    assert np.abs(linear_to_srgb(neutral_tone_mapping(sent)).astype(int) - [179, 138, 93]).max() <= 2
    rng = np.random.default_rng(0)
    skin = rng.uniform(0.0, 0.76, (2000, 3))  # below the highlight compression: exact (float32)
    np.testing.assert_allclose(neutral_tone_mapping(undo_neutral_tone_mapping(skin)), skin, atol=1e-6)
    teeth = np.array([[0.9, 0.85, 0.8], [0.8, 0.78, 0.7], [0.95, 0.95, 0.95]])  # compressed highlights
    np.testing.assert_allclose(neutral_tone_mapping(undo_neutral_tone_mapping(teeth)), teeth, atol=0.01)


def test_describe_shows_the_posed_glb_and_offers_the_rigged_one(no_network, tmp_path, monkeypatch):
    """The viewer's file sits beside the downloads but is not one of them: the download is the
    GLB an animator keeps working with, with its 52 targets."""
    import pygltflib

    from emo_app import services
    from emo_app.ui.tabs.describe import describe

    monkeypatch.setenv("EMO_DATA_DIR", str(tmp_path))
    result = services.describe("Wide eyes and a mouth agape in sheer surprise.", size=64)
    assert result.face.viewer_glb().parent == result.face.files["glb"].parent
    assert result.face.viewer_glb() not in result.face.files.values()
    page = describe("Wide eyes and a mouth agape in sheer surprise.", "embedded")
    viewer, downloads = page[2], page[8]
    assert viewer.endswith("-posed.glb") and viewer not in downloads
    rigged = [pygltflib.GLTF2().load(f) for f in downloads if f.endswith(".glb")]
    assert len(rigged) == 1 and rigged[0].meshes[0].extras["targetNames"] == list(ARKIT_NAMES)


@pytest.mark.parametrize("head", ["full", "mediapipe"])
def test_glb_morph_targets_turn_the_normals_as_the_pose_does(head):
    """The targets moved only positions: a viewer that blends morph normals (three.js, Babylon.js,
    Unity's glTFast) shaded an open jaw with the closed one's normals. Each target now carries
    its normals' turn, and rest + turn is the posed normal within NORMAL_TOLERANCE."""
    import pygltflib

    from emo_app.face.export import NORMAL_TOLERANCE, build_glb, glb_meshes
    from emo_app.face.looks import head_rig
    from emo_app.face.render import posed_normals

    rig = head_rig(head)
    gltf = pygltflib.GLTF2.load_from_bytes(build_glb(Blendshapes.from_dict({}), rig=rig))
    order = np.concatenate([part.start + rows for mesh in glb_meshes(rig) for part, rows in mesh.pieces])
    rest = np.concatenate([_read(gltf, p.attributes.NORMAL) for p in _primitives(gltf)])
    for name in ("jawOpen", "eyeBlinkLeft", "mouthSmileRight"):
        k = ARKIT_NAMES.index(name)
        turn = np.concatenate([_read(gltf, p.targets[k]["NORMAL"]) for p in _primitives(gltf)])
        shaded = rest + turn
        shaded /= np.linalg.norm(shaded, axis=1, keepdims=True)
        posed = posed_normals(rig, rig.neutral + rig.deltas[k])[order]
        posed /= np.linalg.norm(posed, axis=1, keepdims=True)
        error = np.linalg.norm(shaded - posed, axis=1)
        assert error.max() <= NORMAL_TOLERANCE + 1e-3, name
        moved = np.linalg.norm(posed - rest, axis=1)
        assert moved.max() > 0.3, name  # the shape does turn normals a viewer must see
