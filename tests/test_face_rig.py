"""The canonical mesh and the ARKit rig: topology, linearity, exact mirror symmetry, limits."""

from __future__ import annotations

import numpy as np
import pytest

from emo_app.blendshapes import ARKIT_NAMES, Blendshapes, mirror_name
from emo_app.face.mesh import FACE_OVAL, FACE_VERTEX_COUNT, load_canonical_mesh
from emo_app.face.rig import INDEX, SHAPE_DOCS, build_rig


@pytest.fixture(scope="module")
def rig():
    return build_rig()


def test_canonical_mesh_comes_from_the_task_file_with_open_eyes_and_mouth():
    mesh = load_canonical_mesh()
    assert mesh.vertices.shape == (FACE_VERTEX_COUNT, 3)
    # 898 canonical triangles minus the 18 + 14 + 14 that fill the mouth and the eyes
    assert mesh.faces.shape == (898 - 46, 3)
    assert mesh.uvs.shape == (468, 2) and 0 <= mesh.uvs.min() and mesh.uvs.max() <= 1
    assert np.array_equal(mesh.mirror[mesh.mirror], np.arange(468))
    assert np.array_equal(mesh.outer_loop, FACE_OVAL)  # the texture fades in along this oval
    # the subject's left eye (MediaPipe 263) is at +x, the nose (4) is the front-most point
    assert mesh.vertices[263, 0] > 0 and mesh.vertices[4, 2] == mesh.vertices[:, 2].max()


def test_every_shape_is_documented_and_moves_something(rig):
    assert set(SHAPE_DOCS) == set(ARKIT_NAMES)
    magnitudes = np.abs(rig.deltas).reshape(52, -1).max(axis=1)
    assert (magnitudes > 0.1).all(), [n for n, m in zip(ARKIT_NAMES, magnitudes) if m <= 0.1]


def test_linear_offsets_are_linear(rig):
    rng = np.random.default_rng(0)
    a, b = rng.random(52).astype(np.float32), rng.random(52).astype(np.float32)
    combined = rig.linear_offsets(0.3 * a + 0.5 * b)
    separate = 0.3 * rig.linear_offsets(a) + 0.5 * rig.linear_offsets(b)
    np.testing.assert_allclose(combined, separate, atol=1e-4)


def test_deform_is_linear_for_shapes_that_do_not_interact(rig):
    neutral = rig.deform(Blendshapes.zeros())
    half = rig.deform(Blendshapes.from_dict({"jawOpen": 0.5})) - neutral
    full = rig.deform(Blendshapes.from_dict({"jawOpen": 1.0})) - neutral
    np.testing.assert_allclose(2 * half, full, atol=1e-4)
    both = rig.deform(Blendshapes.from_dict({"jawOpen": 1.0, "browInnerUp": 1.0})) - neutral
    brow = rig.deform(Blendshapes.from_dict({"browInnerUp": 1.0})) - neutral
    np.testing.assert_allclose(both, full + brow, atol=1e-4)


def test_right_shapes_are_exact_mirrors_of_left_shapes(rig):
    flip = np.array([-1.0, 1.0, 1.0], dtype=np.float32)
    np.testing.assert_array_equal(rig.neutral, rig.neutral[rig.mirror] * flip)
    for name in ARKIT_NAMES:
        twin = mirror_name(name)
        mirrored = rig.deltas[INDEX[twin]][rig.mirror] * flip
        np.testing.assert_array_equal(rig.deltas[INDEX[name]], mirrored, err_msg=name)


def test_mirrored_weights_give_the_mirrored_face(rig):
    rng = np.random.default_rng(1)
    shapes = Blendshapes.from_array(rng.random(52))
    np.testing.assert_allclose(
        rig.deform(shapes.mirrored()), rig.mirror_vertices(rig.deform(shapes)), atol=1e-4
    )


def test_random_weights_never_produce_nan_or_crossed_lids(rig):
    rng = np.random.default_rng(2)
    for _ in range(50):
        vertices = rig.deform(Blendshapes.from_array(rng.random(52)))
        assert np.isfinite(vertices).all()
        for upper, lower in rig.eye_margins:
            assert (vertices[upper, 1] >= vertices[lower, 1] - 1e-6).all()
        assert np.abs(vertices).max() < 40.0  # nothing flies off the head


def test_corrective_limits(rig):
    w = np.zeros(52, np.float32)
    w[INDEX["eyeBlinkLeft"]] = 1.0
    w[INDEX["eyeWideLeft"]] = 1.0
    w[INDEX["mouthClose"]] = 1.0
    w[INDEX["jawOpen"]] = 0.4
    effective = rig.effective_weights(w)
    assert effective[INDEX["eyeWideLeft"]] == 0.0
    assert effective[INDEX["mouthClose"]] == pytest.approx(0.4)
    # nothing else is touched: opposite pairs are not cancelled, as the docstring now says
    others = np.random.default_rng(0).uniform(0.0, 1.0, 52).astype(np.float32)
    limited = [INDEX[n] for n in ("eyeWideLeft", "eyeWideRight", "mouthClose")]
    untouched = np.setdiff1d(np.arange(52), limited)
    np.testing.assert_array_equal(rig.effective_weights(others)[untouched], others[untouched])
    # blink + wide closes the eye just like a blink alone
    blink = rig.deform(Blendshapes.from_dict({"eyeBlinkLeft": 1.0}))
    both = rig.deform(Blendshapes.from_dict({"eyeBlinkLeft": 1.0, "eyeWideLeft": 1.0}))
    np.testing.assert_allclose(blink, both, atol=1e-5)


def test_jaw_open_drops_the_chin_and_blink_closes_the_lid(rig):
    mesh = load_canonical_mesh()
    neutral = rig.deform(Blendshapes.zeros())
    jaw = rig.deform(Blendshapes.from_dict({"jawOpen": 1.0}))
    assert jaw[152, 1] < neutral[152, 1] - 1.0  # chin down more than 1 cm
    assert np.allclose(jaw[10], neutral[10])  # forehead still
    blink = rig.deform(Blendshapes.from_dict({"eyeBlinkLeft": 1.0}))
    upper, lower = mesh.eye_loops["left"]
    gap_before = neutral[upper[4], 1] - neutral[lower[4], 1]
    gap_after = blink[upper[4], 1] - blink[lower[4], 1]
    assert gap_before > 0.4 and abs(gap_after) < 0.1 * gap_before
    smile = rig.deform(Blendshapes.from_dict({"mouthSmileLeft": 1.0}))
    assert smile[291, 1] > neutral[291, 1] + 0.3  # left corner up
    assert np.allclose(smile[61], neutral[61], atol=0.05)  # right corner stays


def _first_part_hit(rig, vertices: np.ndarray, origin: np.ndarray, targets: np.ndarray) -> list[str]:
    """Name of the part each ray from ``origin`` through ``targets`` meets first
    (Moller-Trumbore over every triangle of the posed rig)."""
    tris, owner = [], []
    for part in rig.parts:
        tris.append(vertices[part.start : part.stop][part.faces])
        owner += [part.name] * len(part.faces)
    tris = np.concatenate(tris).astype(np.float64)
    a, e1, e2 = tris[:, 0], tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0]
    names = []
    for target in targets:
        d = (target - origin) / np.linalg.norm(target - origin)
        p = np.cross(d, e2)
        det = np.einsum("ij,ij->i", e1, p)
        ok = np.abs(det) > 1e-12
        inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
        s = origin - a
        u = np.einsum("ij,ij->i", s, p) * inv
        q = np.cross(s, e1)
        v = (q @ d) * inv
        t = np.einsum("ij,ij->i", e2, q) * inv
        hit = ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 0)
        names.append(owner[int(np.argmin(np.where(hit, t, np.inf)))] if hit.any() else "nothing")
    return names


@pytest.mark.parametrize(
    "pose",
    [
        {"jawOpen": 1.0},
        {"jawOpen": 0.3, "mouthStretchLeft": 1.0, "mouthStretchRight": 1.0},
        {"jawOpen": 0.6, "mouthFrownLeft": 1.0, "mouthFrownRight": 1.0},
        {"jawOpen": 0.5, "mouthSmileLeft": 1.0, "mouthSmileRight": 1.0},
        {"jawOpen": 0.6, "mouthLowerDownLeft": 1.0, "jawRight": 1.0},
    ],
    ids=lambda pose: "+".join(pose),
)
def test_an_open_mouth_shows_its_interior_out_to_the_corners(rig, pose):
    """Looking into the mouth from the front camera, every line of sight between the lips must
    end on the mouth interior (cavity, teeth, tongue), never on the skull shell behind it."""
    from emo_app.face.render import view_poses

    weights = np.zeros(52, np.float32)
    for name, value in pose.items():
        weights[INDEX[name]] = value
    vertices = rig.deform(Blendshapes(weights)).astype(np.float64)
    upper, lower = load_canonical_mesh().lip_loops
    camera = view_poses("front")[0][:3, 3]
    targets = []
    for k in range(1, len(upper) - 1):  # columns between the lips, from corner to corner
        top, bottom = vertices[upper[k]], vertices[lower[k]]
        if top[1] - bottom[1] > 0.15:  # the lips are apart here
            targets += [top + (bottom - top) * f for f in (0.3, 0.5, 0.7)]
    assert len(targets) >= 12, "the pose should open the mouth"
    hits = _first_part_hit(rig, vertices, camera, np.asarray(targets))
    assert set(hits) <= {"mouth", "face"}, hits
    assert hits.count("mouth") >= len(hits) // 2


def test_mouth_close_seals_an_open_jaw_without_tearing(rig):
    """jawOpen + mouthClose: the chin stays down, the lips meet, and the lower face stretches
    smoothly. A mask on the lips alone (tuned) folded 22 triangles and stretched one 4.0x; now
    10 (2 are the open jaw's own) and 3.1x."""
    from emo_app.face.tuning import face_triangle_areas, fold_overs

    neutral = rig.deform(Blendshapes.zeros())
    jaw = Blendshapes.from_dict({"jawOpen": 1.0})
    sealed = Blendshapes.from_dict({"jawOpen": 1.0, "mouthClose": 1.0})
    closed = rig.deform(sealed)
    assert closed[152, 1] < neutral[152, 1] - 1.0  # the chin is still down
    opened = rig.deform(jaw)
    poses = {"neutral": neutral, "jaw": opened, "closed": closed}
    gap = {name: v[13, 1] - v[14, 1] for name, v in poses.items()}
    # the lips close at least 95% of what the jaw opened between them
    assert gap["closed"] - gap["neutral"] < 0.05 * (gap["jaw"] - gap["neutral"])
    assert fold_overs(rig, sealed.values) <= fold_overs(rig, jaw.values) + 8

    before = np.abs(face_triangle_areas(rig, neutral))
    after = np.abs(face_triangle_areas(rig, closed))
    visible = before > 4.0  # triangles over 2 px² at 512 px
    assert (after[visible] / before[visible]).max() < 3.5


def test_lower_lip_roll_and_shrug_move_different_edges(rig):
    """MediaPipe (and a face) tell these apart by which edge of the lower lip moves: a roll lifts
    the outer edge toward a still inner edge; a shrug lifts the whole lip against the upper one."""
    neutral = rig.deform(Blendshapes.zeros())
    roll = rig.deform(Blendshapes.from_dict({"mouthRollLower": 1.0})) - neutral
    shrug = rig.deform(Blendshapes.from_dict({"mouthShrugLower": 1.0})) - neutral
    outer, inner = 17, 14  # lower lip centre: vermilion border and inner edge
    assert roll[outer, 1] > 0.1 and roll[outer, 1] > 2 * roll[inner, 1]
    assert shrug[inner, 1] > 0.1 and shrug[inner, 1] >= 0.7 * shrug[outer, 1]
    assert shrug[13, 1] - shrug[14, 1] < -0.1  # the lip gap closes
