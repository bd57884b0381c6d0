"""Study aggregation (Table 1), agreement, and the generated 315 points."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from emo_app.emotion.space import C2A2_CLASSES, CLASS_NAMES, EmotionPoint, nearest_classes
from emo_app.study import service
from emo_app.study.db import StudyDB
from emo_app.study.points import generate_study_points
from emo_app.study.published import PUBLISHED_TABLE1
from emo_app.study.results import VoteRecord, aggregate, item_class, krippendorff_alpha_ordinal


def test_aggregation_of_a_small_table_matches_hand_computed_means() -> None:
    records = [
        VoteRecord("3d", "a", "Happy", "r1", 5), VoteRecord("3d", "a", "Happy", "r2", 4),
        VoteRecord("3d", "b", "Happy", "r1", 3),
        VoteRecord("3d", "c", "Sad", "r1", 2), VoteRecord("3d", "c", "Sad", "r2", 4),
        VoteRecord("2d", "d", "Neutral", "r1", 1), VoteRecord("2d", "d", "Neutral", "r2", 2),
        VoteRecord("2d", "d", "Neutral", "r3", 3),
    ]
    results = aggregate(records, study="known", item_classes={("2d", "e"): "Happy"})
    three_d, two_d = results.models["3d"], results.models["2d"]
    # Happy 3D: (5 + 4 + 3) / 3 = 4; sd = 1 -> SE = 1 / sqrt(3)
    happy = three_d.by_class["Happy"]
    assert (happy.n_items, happy.n_votes, happy.mean) == (2, 3, pytest.approx(4.0))
    assert happy.sem == pytest.approx(1 / math.sqrt(3))
    # Sad 3D: (2 + 4) / 2 = 3; sd = sqrt(2) -> SE = sqrt(2) / sqrt(2) = 1
    assert three_d.by_class["Sad"].mean == pytest.approx(3.0)
    assert three_d.by_class["Sad"].sem == pytest.approx(1.0)
    # overall 3D: 18 / 5 = 3.6 over 3 items and 2 raters
    assert three_d.overall.mean == pytest.approx(3.6)
    assert (three_d.overall.n_votes, three_d.overall.n_items, three_d.n_raters) == (5, 3, 2)
    # 2D: Neutral (1 + 2 + 3) / 3 = 2; an unrated Happy item counts as an item with no votes
    assert two_d.by_class["Neutral"].mean == pytest.approx(2.0)
    assert two_d.by_class["Happy"].n_items == 1 and two_d.by_class["Happy"].mean is None
    assert (two_d.overall.n_items, two_d.overall.n_votes) == (2, 3)
    rows = {r["class"]: r for r in results.table1_rows()}
    assert rows["Happy"]["ours_3d_mean"] == pytest.approx(4.0) and rows["Happy"]["paper_3d"] == 3.90
    assert rows["Angrily disgusted"]["paper_2d"] == 2.17 and rows["Angrily disgusted"]["ours_2d_mean"] is None
    markdown = results.to_markdown()
    assert "| Happy | — | 4.00 ± 0.58 (3) | 4.28 | 3.90 |" in markdown
    assert "| Overall | 2.00 ± 0.58 (3) | 3.60 ± 0.51 (5) |" in markdown


def test_krippendorff_alpha_matches_krippendorffs_worked_example() -> None:
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability": 4 observers, 12 units
    # with missing values; the paper reports ordinal alpha = 0.815.
    table = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
        [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
    ]
    records = [VoteRecord("3d", unit, "Happy", observer, value)
               for observer, row in enumerate(table) for unit, value in enumerate(row) if value is not None]
    assert krippendorff_alpha_ordinal(records) == pytest.approx(0.815, abs=5e-4)
    one_rater = [r for r in records if r.rater == 0]
    assert krippendorff_alpha_ordinal(one_rater) is None  # undefined, not a made-up number


def test_generated_points_follow_the_papers_design() -> None:
    points = generate_study_points(seed=0)
    assert len(points) == 315
    assert Counter(p.part for p in points) == {part: 63 for part in range(1, 6)}
    for part in range(1, 6):
        assert sorted(p.position for p in points if p.part == part) == list(range(1, 64))
    xyz = np.array([[p.valence, p.arousal, p.z] for p in points])
    assert np.linalg.norm(xyz, axis=1).max() <= 1.0 + 1e-9
    for part in range(1, 6):
        classes = {nearest_classes(p.point(), 1)[0][0] for p in points if p.part == part}
        assert classes == set(CLASS_NAMES)
    assert generate_study_points(seed=0) == points
    assert generate_study_points(seed=1) != points
    assert all(p.point("2d") == EmotionPoint(p.valence, p.arousal, 0.0) for p in points)


def test_study_items_carry_their_true_nearest_class(tmp_path: Path) -> None:
    db = StudyDB(tmp_path / "s.sqlite3")
    admin = service.create_admin_token(db)
    service.create_study_from_points(db, admin, "paper design", seed=0)
    items = service.list_items(db, "paper design")
    assert Counter(i.model for i in items) == {"3d": 315, "2d": 315}
    for item in items:
        nearest, second = nearest_classes(item.point, 2, model=item.model)
        assert item.nearest_class == nearest[0] != second[0]
        if item.model == "2d":
            assert item.z == 0.0


def test_every_class_can_win_2d_items_in_the_2d_layout() -> None:
    """A 2D item is matched in the 2D AV model's layout (each class at its valence/arousal
    direction): Sad, Fearful and the z-lifted compounds get 2D items too, as in Table 1."""
    for name, xyz in C2A2_CLASSES.items():
        flat = EmotionPoint(xyz[0], xyz[1], 0.0)
        direction = flat.as_array() / max(np.linalg.norm(flat.as_array()), 1e-12)
        on_circle = EmotionPoint(*(0.9 * direction)) if name != "Neutral" else flat
        assert item_class("2d", on_circle) == name
        assert item_class("2d", EmotionPoint(xyz[0], xyz[1], 0.7)) == item_class("2d", flat)  # Z unseen
    assert item_class("3d", EmotionPoint.of_class("Sad")) == "Sad"
    with pytest.raises(service.InvalidInputError, match="model must be one of"):
        item_class("4d", EmotionPoint(0.0, 0.0, 0.0))
    # Our generated design: a class's own points flatten into its 2D sector unless its in-plane
    # part is too short to beat Neutral reliably (|xy| <= 0.5 inside the unit ball).
    two_d = Counter(item_class("2d", p.point("2d")) for p in generate_study_points(seed=0))
    short = {n for n, xyz in C2A2_CLASSES.items() if n != "Neutral" and math.hypot(*xyz[:2]) < 0.5 + 1e-3}
    assert set(CLASS_NAMES) - set(two_d) <= short
    assert {"Sad", "Fearful"} <= set(two_d)


def _one_face_folder(tmp_path: Path, header: str, rows: list[str]) -> Path:
    """A study folder: one small face image (face.png) and labels.csv with ``rows``."""
    from PIL import Image

    folder = tmp_path / "faces"
    folder.mkdir()
    Image.new("RGB", (8, 8), (120, 90, 60)).save(folder / "face.png")
    (folder / "labels.csv").write_text("\n".join([header, *rows]) + "\n")
    return folder


def test_authors_315_points_give_2d_votes_to_every_class(tmp_path: Path, shared_dir: Path) -> None:
    """The authors' study points, flattened for the 2D study: every class of Table 1 gets items
    (matching them to the 3D table left Sad, Fearful and eight compounds empty)."""
    points = json.loads((shared_dir / "reference" / "study_points_3d.json").read_text())
    flat = [EmotionPoint(p["x"], p["y"], 0.0) for p in points]
    counts = Counter(item_class("2d", p) for p in flat)
    assert set(counts) == set(CLASS_NAMES)
    assert counts["Neutral"] < 80  # the 3D table made 80 of them Neutral
    folder = _one_face_folder(tmp_path, "file,valence,arousal,z,model",
                              [f"face.png,{p['x']},{p['y']},0,2d" for p in points])
    db = StudyDB(tmp_path / "s.sqlite3")
    admin = service.create_admin_token(db)
    service.create_study_from_folder(db, admin, "paper 2d", folder)
    token = service.add_rater(db, admin, "paper 2d", "A")[1]
    for item in service.list_items(db, "paper 2d", "2d"):
        service.cast_vote(db, "paper 2d", token, item.id, 4)
    by_class = service.study_results(db, admin, "paper 2d").models["2d"].by_class
    assert {name for name, summary in by_class.items() if summary.n_votes} == set(CLASS_NAMES)


def test_results_of_a_study_put_ours_beside_the_published(tmp_path: Path) -> None:
    db = StudyDB(tmp_path / "s.sqlite3")
    admin = service.create_admin_token(db)
    service.create_study_from_points(db, admin, "s", seed=2, parts=1, per_part=60)
    tokens = [service.add_rater(db, admin, "s", name)[1] for name in ("A", "B")]
    item = next(i for i in service.list_items(db, "s", "3d") if i.nearest_class == "Fearful")
    service.cast_vote(db, "s", tokens[0], item.id, 5)
    service.cast_vote(db, "s", tokens[1], item.id, 2)
    results = service.study_results(db, admin, "s")
    fearful = results.models["3d"].by_class["Fearful"]
    assert (fearful.n_items, fearful.n_votes, fearful.mean) == (3, 2, pytest.approx(3.5))
    assert results.models["2d"].overall.n_votes == 0
    payload = json.loads(json.dumps(results.to_dict()))
    assert payload["published_table1"]["Fearful"] == {"2d": 3.47, "3d": 3.98}
    figure = results.bar_chart()
    bars = figure.axes[0].containers
    assert len(bars) == 4 and all(len(group) == len(PUBLISHED_TABLE1) + 1 for group in bars)


def test_folder_study_reads_the_csv_and_checks_files(tmp_path: Path, shared_dir: Path) -> None:
    """The paper's own 315 points (dev-only data) as a folder + CSV study."""
    points = json.loads((shared_dir / "reference" / "study_points_3d.json").read_text())
    folder = _one_face_folder(tmp_path, "file,valence,arousal,z",
                              [f"face.png,{p['x']},{p['y']},{p['z']}" for p in points])
    db = StudyDB(tmp_path / "s.sqlite3")
    admin = service.create_admin_token(db)
    service.create_study_from_folder(db, admin, "paper points", folder)
    assert service.study_layout(db, "paper points") == {"3d": {p: 63 for p in range(1, 6)}}
    items = service.list_items(db, "paper points")
    assert {i.nearest_class for i in items} == set(CLASS_NAMES)
    assert service.item_image(db, items[0]).shape == (8, 8, 3)
    (folder / "bad.csv").write_text("file,valence,arousal,z\n../escape.png,0,0,0\n")
    with pytest.raises(service.InvalidInputError, match="must be a file inside"):
        service.create_study_from_folder(db, admin, "bad", folder, folder / "bad.csv")
    (folder / "nan.csv").write_text("file,valence,arousal,z\nface.png,nan,0,0\n")
    with pytest.raises(service.InvalidInputError, match="Line 2: valence must be a finite number"):
        service.create_study_from_folder(db, admin, "nan", folder, folder / "nan.csv")


def test_point_faces_use_the_facs_prior_of_the_nearest_emotion() -> None:
    pytest.importorskip("emo_app.text.facs")
    happy = service.point_blendshapes(EmotionPoint.of_class("Happy"))
    sad = service.point_blendshapes(EmotionPoint.of_class("Sad"))
    neutral = service.point_blendshapes(EmotionPoint(0.0, 0.0, 0.0))
    assert happy["mouthSmileLeft"] > 0.3 and sad["mouthSmileLeft"] < 0.2 * happy["mouthSmileLeft"]
    assert sad["mouthFrownLeft"] > happy["mouthFrownLeft"]
    assert float(np.abs(neutral.values).max()) < 1e-6
