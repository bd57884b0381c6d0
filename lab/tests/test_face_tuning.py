"""The rig's MediaPipe tuning (lab/tuning.py) and the fidelity read-back (lab/fidelity.py)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from emo_app.blendshapes import ARKIT_NAMES, Blendshapes, mirror_name
from emo_app.face.rig import build_rig, load_tuning, tuned_deltas
from lab.readback import BLENDSHAPE_LANDMARKS, blendshape_model, direct_scores

TUNING = load_tuning()


def test_our_blendshape_model_call_reproduces_mediapipe_exactly():
    """Same 146 landmarks in pixels -> the same 52 scores the FaceLandmarker reports, so the
    direct read-back measures exactly what MediaPipe would."""
    from skimage.data import astronaut

    from emo_app.face.capture import capture_blendshapes

    result = capture_blendshapes(astronaut())
    width, height = result.image_size
    pixels = result.landmarks[:, :2] * [width, height]
    ours = blendshape_model().scores(pixels)
    assert len(BLENDSHAPE_LANDMARKS) == 146
    np.testing.assert_allclose(ours[1:], result.shapes.values[:51], atol=1e-5)


def test_direct_read_back_sees_the_rigs_own_smile_and_blink():
    rig = build_rig()
    neutral = direct_scores(rig, np.zeros(52))
    for name in ("mouthSmileLeft", "eyeBlinkRight", "jawOpen", "browInnerUp"):
        k = ARKIT_NAMES.index(name)
        scores = direct_scores(rig, np.eye(52)[k])
        rise = scores[1:52] - neutral[1:52]
        assert int(np.argmax(rise)) == k, (name, ARKIT_NAMES[int(np.argmax(rise))])


@pytest.mark.skipif(TUNING is None, reason="no rig_tuning.json shipped")
def test_shipped_tuning_is_small_local_and_keeps_the_rig_symmetric():
    authored = build_rig(tuned=False)
    tuned = build_rig()
    for name, moves in TUNING["corrections"].items():
        if not moves:  # an eyeball-only shape: nothing on the face was corrected
            continue
        k = ARKIT_NAMES.index(name)
        vertices = np.array([int(v) for v in moves])
        # at most CORRECTION_PX + REFINE_PX + SECOND_PASS_PX (40 px in a 512 px render, about
        # 2.4 cm) plus a fold relaxation; shipped: under 1.3 cm (mouthFrownLeft's corner)
        assert np.abs(np.array(list(moves.values()))).max() < 1.5
        region = np.linalg.norm(authored.deltas[k, :468], axis=1) > 0
        inside = authored.neutral[:468][region]
        near = np.linalg.norm(authored.neutral[vertices, None] - inside[None], axis=2)
        assert near.min(axis=1).max() <= 1.3, name  # within the falloff of the shape's own region
    from lab.tuning import GAINS, REGAINS

    assert set(TUNING["gains"].values()) <= set(GAINS) | set(REGAINS)
    for name in ARKIT_NAMES:  # Right twins stay exact mirrors after tuning
        twin = mirror_name(name)
        mirrored = tuned.deltas[ARKIT_NAMES.index(twin)][tuned.mirror] * [-1, 1, 1]
        np.testing.assert_allclose(tuned.deltas[ARKIT_NAMES.index(name)], mirrored, atol=1e-5)


def test_tuned_deltas_apply_gain_and_correction_exactly():
    rig = build_rig(tuned=False)
    k = ARKIT_NAMES.index("mouthFrownLeft")
    tuning = {"corrections": {"mouthFrownLeft": {"291": [0.0, -0.2, 0.0]}}, "gains": {"mouthFrownLeft": 2.0}}
    deltas = tuned_deltas(rig, tuning)
    expected = rig.deltas[k, 291] * 2.0 + np.array([0.0, -0.4, 0.0])
    np.testing.assert_allclose(deltas[k, 291], expected, atol=1e-6)
    twin = ARKIT_NAMES.index("mouthFrownRight")
    np.testing.assert_allclose(deltas[twin, rig.mirror[291]], expected * [-1, 1, 1], atol=1e-6)
    untouched = ARKIT_NAMES.index("jawOpen")
    np.testing.assert_array_equal(deltas[untouched], rig.deltas[untouched])


def test_tuning_gives_a_shape_its_authored_field_back_when_it_costs_a_side(monkeypatch):
    """Step 6: a pair that read on both sides as authored and on one side tuned goes back to
    authored; a shape that reads on no side either way keeps its correction (ranks of tiny
    rises are noise, and the correction is what the direct read-back asked for)."""
    from lab import tuning as tuning_module

    rig = build_rig(tuned=False)
    before = {"jawLeft": (1, 0.30), "jawRight": (1, 0.30), "mouthFunnel": (3, 0.03)}
    after = {"jawLeft": (1, 0.60), "jawRight": (4, 0.01), "mouthFunnel": (6, 0.02)}
    monkeypatch.setattr(tuning_module, "_readback_ranks", lambda rig, texture: after)
    tuning = {
        "corrections": {"jawLeft": {"152": [0.1, 0.0, 0.0]}, "mouthFunnel": {"14": [0.0, -0.1, 0.0]}},
        "gains": {"jawLeft": 1.5, "mouthFunnel": 1.0},
        "refined": ["jawLeft", "mouthFunnel"],
    }
    kept = tuning_module.drop_harmful(tuning, rig, None, before, log=lambda message: None)
    assert set(kept["corrections"]) == set(kept["gains"]) == {"mouthFunnel"}
    assert kept["refined"] == ["mouthFunnel"]
    assert set(tuning["corrections"]) == {"jawLeft", "mouthFunnel"}  # the input is not changed


def test_key_shapes_read_back_from_renders_as_their_own_name():
    """The FIDELITY.md measurement for the shapes the text model leans on most."""
    from lab.fidelity import measure

    rows = {row.name: row for row in measure(size=512)}
    for name in ("browInnerUp", "eyeBlinkLeft", "eyeBlinkRight", "mouthSmileLeft", "mouthSmileRight",
                 "eyeSquintLeft", "mouthPucker"):
        assert rows[name].rank == 1, (name, rows[name].top_name)
        assert rows[name].own > rows[name].neutral + 0.05
    assert rows["tongueOut"].rank == 0  # MediaPipe has no tongueOut output
    # a mirrored smile render reads as the other side's smile; unsided shapes have no mirror row
    assert rows["mouthSmileLeft"].mirror_rank == 1 and rows["mouthSmileLeft"].mirror_rise > 0.2
    assert rows["browInnerUp"].mirror_rank == 0
    visible = [r for r in rows.values() if r.visible]
    assert sum(r.rank == 1 for r in visible) >= 0.6 * len(visible)


def test_fidelity_report_is_written(tmp_path):
    from lab.fidelity import FidelityRow, write_report

    rows = [FidelityRow("jawOpen", 0.5, 0.1, "jawOpen", 0.4, 1, 1, 0.7, 0.9),
            FidelityRow("cheekPuff", 0.0, 0.0, "jawOpen", 0.01, 20, 30, 0.0, 0.09),
            FidelityRow("jawRight", 0.0, 0.0, "mouthLowerDownRight", 0.1, 14, 1, 0.9, 1.0, 1, 0.57),
            FidelityRow("eyeLookOutLeft", 0.26, 0.06, "eyeLookInRight", 0.21, 2, 1, 0.7, 0.9, 2, 0.16),
            FidelityRow("tongueOut", float("nan"), float("nan"), "-", float("nan"), 0)]
    text = write_report(rows, tmp_path / "F.md", 512, "default").read_text()
    assert "matching gaze rose (almost) as much: **1** (eyeLookOutLeft: eyeLookInRight)" in text
    assert "mirrored render reads as the twin (rank 1): **1 / 2** (jawRight)" in text
    assert "| +0.570 (1) |" in text
    assert "visible to MediaPipe: **3 / 4**" in text
    assert "| cheekPuff |" in text and "(not visible)" in text
    assert "| tongueOut | - |" in text


def test_report_lists_groups_of_shapes_and_counts_only_those_that_read(tmp_path):
    from lab.fidelity import FidelityRow, TogetherRow, write_report

    together = [
        TogetherRow(("eyeLookOutLeft", "eyeLookInRight"), (1, 2), (0.65, 0.62),
                    (("eyeLookOutLeft", 0.65), ("eyeLookInRight", 0.62), ("eyeSquintRight", 0.05))),
        TogetherRow(("jawRight", "mouthRight"), (1, 3), (0.94, 0.28),
                    (("jawRight", 0.94), ("mouthLowerDownRight", 0.4), ("mouthRight", 0.28))),
        TogetherRow(("jawLeft", "mouthLeft"), (), (), ()),
    ]
    assert [row.reads for row in together] == [True, False, False]
    rows = [FidelityRow("jawOpen", 0.5, 0.1, "jawOpen", 0.4, 1, 1, 0.7, 0.9)]
    text = write_report(rows, tmp_path / "F.md", 512, "default", together).read_text()
    assert "groups that read as all their names: **1 / 3**" in text
    assert "| jawRight + mouthRight | 1, 3 | +0.940, +0.280 | jawRight (+0.940), " in text
    assert "| jawLeft + mouthLeft | - | - | no face found |" in text
    assert "Shapes together" not in write_report(rows, tmp_path / "G.md", 512, "default").read_text()


def test_both_eyes_looking_down_read_as_both_names():
    """A single eye's gaze can lose to the other eye's (the read-back turns both eyes);
    rendered together, as a face looks down, both names must rise the most."""
    from lab.fidelity import measure_together

    (down,) = measure_together((("eyeLookDownLeft", "eyeLookDownRight"),))
    assert down.reads, down.top
    assert min(down.rises) > 0.1


def test_report_compares_a_reference_head_over_the_visible_shapes_only(tmp_path):
    from lab.fidelity import FidelityRow, Reference, RenderRow, write_report

    rows = [FidelityRow("jawOpen", 0.5, 0.1, "jawOpen", 0.4, 1, 1, 0.7, 0.9),
            FidelityRow("mouthFunnel", 0.02, 0.0, "jawOpen", 0.2, 6, 1, 0.6, 0.97),
            FidelityRow("cheekPuff", 0.0, 0.0, "jawOpen", 0.01, 20, 30, 0.0, 0.09)]  # not visible
    reference = Reference(
        "ICT-FaceKit",
        [RenderRow("jawOpen", 1, 0.6, "jawOpen", 0.6), RenderRow("mouthFunnel", 0, float("nan"), "-", 0.0),
         RenderRow("cheekPuff", 1, 0.3, "cheekPuff", 0.3)],
        [RenderRow("jawOpen", 2, 0.1, "mouthClose", 0.2),
         RenderRow("mouthFunnel", 3, 0.1, "mouthPucker", 0.5),
         RenderRow("cheekPuff", 9, 0.0, "jawOpen", 0.1)],
    )
    text = write_report(rows, tmp_path / "F.md", 512, "default", reference=reference).read_text()
    assert "(ICT-FaceKit, flat skin): own name rose the most **1 / 2** visible shapes; this rig with " \
           "the same flat skin **0 / 2**" in text
    assert "- this rig, flat skin: own name rose the most **0 / 2**, in the top 3 **2 / 2**" in text
    assert "- this rig, photo (the table above): own name rose the most **1 / 2**, in the top 3 **1 / 2**" \
        in text
    assert "| jawOpen | 1 | 2 | 1 | +0.600 | jawOpen (+0.600) |" in text
    assert "| mouthFunnel | 6 | 3 | - | - | no face found |" in text
    assert "| cheekPuff | 1 |" not in text.split("## Against a reference head")[1]
    assert "reference head" not in write_report(rows, tmp_path / "G.md", 512, "default").read_text()


def test_render_only_read_back_ranks_a_shape_on_any_head():
    """The measurement used for heads without MediaPipe's topology, on the flat-skin rig."""
    from lab.fidelity import measure_render_only

    jaw, pucker, tongue = measure_render_only(build_rig(), names=("jawOpen", "mouthPucker", "tongueOut"))
    assert jaw.rank == 1 and jaw.rise > 0.2, jaw
    assert pucker.rank == 1 and pucker.rise > 0.2, pucker
    assert tongue.rank == 0  # MediaPipe has no tongueOut output


def test_ict_facekit_reference_reads_its_jaw_open_pucker_and_gaze():
    from emo_app.face.hd_head import load_hd_head
    from emo_app.models import resolve
    from lab.fidelity import measure_reference

    path = resolve("ict-facekit", allow_download=False)  # the head committed in assets/
    names = ("jawOpen", "mouthPucker", "eyeLookInLeft")  # the gaze reads once its eyeball turns
    result = measure_reference(load_hd_head(path), "ICT-FaceKit", names=names)
    # read back first, or tied with the first (within 0.02): a dropped jaw also drops the lower
    # lip, and MediaPipe read mouthLowerDownLeft 0.656 beside jawOpen 0.652 once the mouth's
    # deep shadow was warmed
    assert all(r.rank == 1 or r.top_rise - r.rise < 0.02 for r in result.reference), result.reference
    assert all(r.rise > 0.2 for r in result.reference), result.reference
    assert [r.name for r in result.flat] == list(names)


def test_fidelity_reference_head_is_the_bundled_one_and_never_downloaded(tmp_path, monkeypatch):
    from emo_app.errors import MissingWeightsError
    from lab.cli import _reference_head

    monkeypatch.setenv("EMO_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setenv("EMO_OFFLINE", "1")
    assert _reference_head("none") is None
    assert _reference_head("auto").head == "ict"  # the copy in assets/, offline
    with pytest.raises(MissingWeightsError):
        _reference_head(str(tmp_path / "elsewhere.npz"))  # asked for by path: an error, not a skip


def test_conjugate_gaze_names_the_other_eye():
    from lab.fidelity import conjugate_gaze

    assert conjugate_gaze("eyeLookOutLeft") == "eyeLookInRight"
    assert conjugate_gaze("eyeLookInRight") == "eyeLookOutLeft"
    assert conjugate_gaze("eyeLookDownLeft") == "eyeLookDownRight"
    assert conjugate_gaze("jawLeft") is None


def test_mouth_close_is_measured_on_an_open_jaw():
    from lab.fidelity import _weights

    weights = _weights("mouthClose")
    assert weights[ARKIT_NAMES.index("jawOpen")] == 1.0 and weights[ARKIT_NAMES.index("mouthClose")] == 1.0
    assert Blendshapes(weights).values.sum() == 2.0


def test_tuning_adds_no_folds_or_tears_to_any_shape():
    """A tuned shape at weight 1 flips at most FOLD_TOLERANCE more face triangles than the
    authored one, so the corrections and gains never fold the lips or tear the mesh."""
    from lab.readback import fold_overs
    from lab.tuning import FOLD_TOLERANCE

    authored, tuned = build_rig(tuned=False), build_rig()
    eye = np.eye(52, dtype=np.float32)
    added = {name: fold_overs(tuned, eye[k]) - fold_overs(authored, eye[k])
             for k, name in enumerate(ARKIT_NAMES)}
    assert all(v <= FOLD_TOLERANCE for v in added.values()), {k: v for k, v in added.items() if v > 0}


def test_fold_overs_notice_crossed_lips():
    from lab.readback import fold_overs

    rig = build_rig(tuned=False)
    k = ARKIT_NAMES.index("mouthLeft")
    deltas = rig.deltas.copy()
    deltas[k, 13] += [0.0, -1.5, 0.0]  # push the upper inner lip down through the lower lip

    crossed = replace(rig, deltas=deltas)
    weights = np.eye(52, dtype=np.float32)[k]
    assert fold_overs(crossed, weights) > fold_overs(rig, weights)


def test_fold_relaxation_unfolds_a_compressed_lip_corner_with_small_moves():
    """A sideways lower lip pushed 1.5x further turns the triangles at the corner it moves into
    over; relax_folds slides only the vertices around them, a few mm at most, until none is
    folded; a shape that folds nothing is left alone."""
    from lab.readback import fold_overs
    from lab.tuning import relax_folds

    rig = build_rig()
    k = ARKIT_NAMES.index("jawLeft")
    deltas = rig.deltas.copy()
    deltas[k] *= 1.5
    pushed = replace(rig, deltas=deltas)
    weights = np.eye(52, dtype=np.float32)[k]
    assert fold_overs(pushed, weights) > fold_overs(rig, weights)
    moves = relax_folds(pushed, k)
    moved = np.flatnonzero(np.abs(moves).max(axis=1) > 0)
    assert 0 < len(moved) < 468 // 4 and np.abs(moves).max() < 0.5  # cm: local and small
    assert np.all(moves[:, 2] == 0)  # in the image plane only
    relaxed = deltas.copy()
    relaxed[k, :468] += moves
    relaxed_rig = replace(rig, deltas=relaxed)
    assert fold_overs(relaxed_rig, weights) == 0
    assert fold_overs(relaxed_rig, weights * 0.5) == 0
    unfolded = ARKIT_NAMES.index("browInnerUp")  # folds nothing: nothing to move
    assert fold_overs(rig, np.eye(52, dtype=np.float32)[unfolded]) == 0
    np.testing.assert_array_equal(relax_folds(rig, unfolded), np.zeros((468, 3)))


def test_second_pass_takes_the_smallest_gain_then_a_relaxed_search(monkeypatch):
    """Step 5 on a fake read-back. jawRight reads from gain 1.6: jawLeft gets 1.6 (not a larger
    caricature), the folds that gain adds relaxed away, and no search. mouthFunnel reads at no
    gain: it keeps gain 1 and gets the relaxed search's field, which makes it read. A pair whose
    sides all read is left alone."""
    from lab import tuning as tuning_module

    rig = build_rig(tuned=False)
    k, funnel = ARKIT_NAMES.index("jawLeft"), ARKIT_NAMES.index("mouthFunnel")
    searches = []

    def fake_refine(tuned_rig, name, texture, search, region_rig=None, **options):
        searches.append((name, search, options.get("relax")))
        field = np.zeros((468, 3))
        field[151] = [0.0, 0.05, 0.0]  # a forehead vertex: no gain moves it, so it marks the search
        return field

    def fake_ranks(trial_rig, texture, sides):
        # the chin is far from the lip corners the relaxation moves, so it shows the gain
        gain = float(trial_rig.deltas[k, 152, 0] / tuned.deltas[k, 152, 0])
        if "jawLeft" in sides:
            return {"jawLeft": (1, 0.6), "jawRight": (1 if gain > 1.55 else 4, 0.3)}
        if "mouthSmileLeft" in sides:
            return {"mouthSmileLeft": (1, 0.5), "mouthSmileRight": (1, 0.4)}
        searched = trial_rig.deltas[funnel, 151, 1] > 0.04
        return {"mouthFunnel": (1 if searched else 6, 0.2 if searched else 0.02)}

    shipped = load_tuning() or {"corrections": {}, "gains": {}}
    tuning = {"corrections": {n: shipped["corrections"].get(n, {}) for n in ("jawLeft", "mouthFunnel")},
              "gains": {"jawLeft": 1.0, "mouthSmileLeft": 1.0, "mouthFunnel": 1.0}}
    tuned = replace(rig, deltas=tuned_deltas(rig, tuning))
    monkeypatch.setattr(tuning_module, "_readback_ranks", fake_ranks)
    monkeypatch.setattr(tuning_module, "refine", fake_refine)
    out = tuning_module.second_pass(tuning, rig, None, log=lambda message: None)
    assert out["gains"] == {"jawLeft": 1.6, "mouthSmileLeft": 1.0, "mouthFunnel": 1.0}
    unrelaxed = replace(rig, deltas=tuned_deltas(rig, {**tuning, "gains": out["gains"]}))
    assert not tuning_module._no_new_folds(rig, unrelaxed, [k])  # the gain alone folds the lips
    regained = replace(rig, deltas=tuned_deltas(rig, out))
    assert tuning_module._no_new_folds(rig, regained, [k])
    assert searches == [("mouthFunnel", "evolution", True)]
    funnel_field = tuning_module._field_array(out["corrections"]["mouthFunnel"])
    np.testing.assert_allclose(funnel_field[151], [0.0, 0.05, 0.0])
    assert tuning["gains"]["jawLeft"] == 1.0  # the input is not changed


def test_refinement_of_mouth_close_renders_it_on_an_open_jaw(monkeypatch):
    """mouthClose only acts on an open jaw, so the search must render it with jawOpen and compare
    with jawOpen alone; rendered alone it is the neutral face and the search sees nothing."""
    from lab import tuning as tuning_module

    rendered = []

    class Renderer:
        def render(self, shapes, **kwargs):
            rendered.append(np.flatnonzero(shapes.values).tolist())
            return np.zeros((8, 8, 3), np.uint8)

    monkeypatch.setattr("emo_app.face.get_face_renderer", lambda: Renderer())
    rig = build_rig()
    tuning_module.refine(rig, "mouthClose", None, "gradient", build_rig(tuned=False), steps=1)
    jaw, close = ARKIT_NAMES.index("jawOpen"), ARKIT_NAMES.index("mouthClose")
    assert rendered[0] == [jaw]  # the baseline
    assert all(r == [jaw, close] for r in rendered[1:]) and len(rendered) > 1


def test_refinement_search_climbs_a_piecewise_constant_read_back():
    """The render read-back changes in jumps (the detector snaps landmarks), so a 1 px finite
    difference sees a flat objective and stops where it started; the seeded evolution strategy
    still climbs, never returns a worse point, keeps to its box and repeats itself exactly."""
    from lab.tuning import _evolve, _finite_difference_ascent

    target = np.array([[7.5, -7.5], [7.5, 7.5]])  # the start sits mid-terrace on every axis

    def stepped(x: np.ndarray) -> float:
        return -float(np.floor(np.abs(x - target) / 5.0).sum())  # flat within 5 px terraces

    start = np.zeros((2, 2))
    stalled = _finite_difference_ascent(stepped, start.copy(), 10.0, 40, step_px=1.5, probe_px=1.0)
    assert stepped(stalled) == stepped(start)
    found = _evolve(stepped, start.copy(), 10.0, 40, np.random.default_rng(0))
    assert stepped(found) >= stepped(start) + 3
    assert np.abs(found).max() <= 10.0
    again = _evolve(stepped, start.copy(), 10.0, 40, np.random.default_rng(0))
    np.testing.assert_array_equal(found, again)
