"""The 52-value blendshape container and its file formats."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from emo_app.blendshapes import ARKIT_NAMES, LIVE_LINK_COLUMNS, MEDIAPIPE_NAMES, Blendshapes, mirror_name
from emo_app.blendshapes.io import from_json, read_live_link_csv, to_json, write_live_link_csv
from emo_app.errors import InvalidInputError

unit_vectors = arrays(np.float64, 52, elements=st.floats(0.0, 1.0, allow_nan=False, width=32))


def test_names_follow_mediapipe_and_arkit():
    assert len(MEDIAPIPE_NAMES) == 52 and MEDIAPIPE_NAMES[0] == "_neutral"
    assert len(ARKIT_NAMES) == 52 and ARKIT_NAMES[-1] == "tongueOut"
    assert list(ARKIT_NAMES[:51]) == sorted(ARKIT_NAMES[:51], key=str.lower)
    assert len(LIVE_LINK_COLUMNS) == 63 and LIVE_LINK_COLUMNS[:2] == ("Timecode", "BlendShapeCount")


@given(unit_vectors)
def test_mirror_twice_is_identity(values):
    shapes = Blendshapes.from_array(values)
    assert shapes.mirrored().mirrored() == shapes


def test_mirror_swaps_sides_and_keeps_centre():
    shapes = Blendshapes.from_dict(
        {"mouthSmileLeft": 0.8, "jawLeft": 0.3, "jawOpen": 0.5, "eyeLookInLeft": 0.4}
    )
    mirrored = shapes.mirrored()
    assert mirrored["mouthSmileRight"] == pytest.approx(0.8) and mirrored["mouthSmileLeft"] == 0
    assert mirrored["jawRight"] == pytest.approx(0.3)
    assert mirrored["eyeLookInRight"] == pytest.approx(0.4)
    assert mirrored["jawOpen"] == pytest.approx(0.5)
    assert mirror_name("cheekPuff") == "cheekPuff"


@settings(max_examples=30, deadline=None)
@given(st.lists(unit_vectors, min_size=1, max_size=5))
def test_live_link_csv_round_trip(tmp_path_factory, frames):
    path = tmp_path_factory.mktemp("llf") / "take.csv"
    shapes = [Blendshapes.from_array(f) for f in frames]
    write_live_link_csv(shapes, path, fps=30)
    take = read_live_link_csv(path)
    assert len(take.frames) == len(shapes)
    for written, read in zip(shapes, take.frames):
        np.testing.assert_allclose(read.values, written.values, atol=1e-5)
    assert take.timecodes[0] == "00:00:00:00.000"
    assert take.rotations.shape == (len(shapes), 9)


def test_live_link_header_and_timecode(tmp_path):
    text = write_live_link_csv([Blendshapes.zeros()] * 31, fps=30)
    lines = text.splitlines()
    assert lines[0].split(",") == list(LIVE_LINK_COLUMNS)
    assert lines[31].startswith("00:00:01:00.000,61,")


def _unreal_live_link_face_import(text: str) -> tuple[int, list[float]]:
    """The checks and timing of Unreal's Live Link Face importer (LiveLinkFaceImporterFactory):
    'Timecode' and 'BlendShapeCount' first, every row as many fields as the header, timecodes
    HH:MM:SS:FF.fff, 60 fps inferred only when a frame number passes 30, else 30. Returns the
    inferred rate and each row's time in seconds."""
    header, *rows = [line.split(",") for line in text.splitlines()]
    assert header[:2] == ["Timecode", "BlendShapeCount"] and len(header) >= 3
    assert rows and all(len(row) == len(header) for row in rows)
    stamps = [row[0].split(":") for row in rows]
    assert all(len(stamp) == 4 for stamp in stamps)
    rate = 60 if any(float(stamp[3]) > 30.0 for stamp in stamps) else 30
    return rate, [int(h) * 3600 + int(m) * 60 + int(s) + float(f) / rate for h, m, s, f in stamps]


def test_a_still_pose_is_a_one_second_take_unreal_imports_at_its_rate():
    """A one-row file was a take without length (Unreal's importer makes a zero-length
    sequence; add-ons that skip the first data row read nothing): a still pose is held for a
    second, at a rate Unreal infers correctly."""
    smile = Blendshapes.from_dict({"mouthSmileLeft": 0.8, "mouthSmileRight": 0.8})
    text = write_live_link_csv(smile)  # 60 fps, the Live Link Face app's default
    rate, times = _unreal_live_link_face_import(text)
    assert rate == 60 and times[-1] - times[0] == pytest.approx(59 / 60)
    take = read_live_link_csv(text)
    assert len(take.frames) == 60 and all(frame == smile for frame in take.frames)
    rate, times = _unreal_live_link_face_import(write_live_link_csv(smile, fps=30))
    assert rate == 30 and len(times) == 30 and times[-1] == pytest.approx(29 / 30)
    with pytest.raises(InvalidInputError, match="one row of head and eye rotations per frame"):
        write_live_link_csv([smile, smile], rotations=np.zeros((3, 9)))


def test_live_link_rejects_foreign_csv():
    with pytest.raises(InvalidInputError, match="unknown columns"):
        read_live_link_csv("name,value\nfoo,1\n")


def test_emo3d_string_round_trip_and_empty():
    text = "[0.    0.271 0.191 0.165" + " 0." * 48 + "]"
    shapes = Blendshapes.from_emo3d_string(text)
    assert shapes["browDownLeft"] == pytest.approx(0.271)
    assert shapes["browInnerUp"] == pytest.approx(0.165)
    again = Blendshapes.from_emo3d_string(shapes.to_emo3d_string())
    np.testing.assert_allclose(again.values, shapes.values, atol=1e-3)
    assert Blendshapes.from_emo3d_string("") is None
    assert Blendshapes.from_emo3d_string(float("nan")) is None


def test_mediapipe_vectors_both_lengths():
    vec = np.linspace(0, 1, 52)
    from52 = Blendshapes.from_mediapipe(vec)
    from51 = Blendshapes.from_mediapipe(vec[1:])
    assert from52 == from51
    np.testing.assert_allclose(from52.to_mediapipe()[1:], vec[1:], atol=1e-6)
    assert from52["tongueOut"] == 0


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_values_are_rejected_with_the_name(bad):
    values = np.zeros(52)
    values[24] = bad
    with pytest.raises(InvalidInputError, match="jawOpen"):
        Blendshapes.from_array(values)


def test_clamp_policy():
    values = np.zeros(52)
    values[0], values[1] = -0.2, 1.3
    clipped = Blendshapes.from_array(values)
    assert clipped.values[0] == 0 and clipped.values[1] == 1
    with pytest.raises(InvalidInputError, match="outside"):
        Blendshapes.from_array(values, policy="strict")


def test_json_says_what_its_numbers_are():
    """A downloaded JSON read months later, or by someone else's tool, names its format: the
    ARKit blendshapes, 52 weights in [0, 1]; it still reads back as the same weights."""
    shapes = Blendshapes.from_dict({"jawOpen": 0.5})
    data = json.loads(to_json(shapes, text="a yawn"))
    assert "ARKit" in data["format"] and "52" in data["format"] and "[0, 1]" in data["format"]
    assert data["text"] == "a yawn" and len(data["blendshapes"]) == 52
    assert from_json(json.dumps(data)) == shapes


def test_json_forms_and_errors():
    shapes = Blendshapes.from_dict({"JawOpen": 0.5, "mouthsmileleft": 0.25})
    assert from_json(to_json(shapes)) == shapes
    assert from_json(json.dumps({"jawOpen": 0.5, "mouthSmileLeft": 0.25})) == shapes
    assert from_json(json.dumps(list(shapes.values.astype(float)))) == shapes
    with pytest.raises(InvalidInputError, match="could not be read"):
        from_json("{not json")
    with pytest.raises(InvalidInputError, match="Unknown blendshape"):
        from_json('{"smile": 1}')
    with pytest.raises(InvalidInputError, match="must be a number"):
        from_json('{"jawOpen": "wide"}')
    with pytest.raises(InvalidInputError, match="52 values"):
        Blendshapes.from_array([0.1] * 10)
