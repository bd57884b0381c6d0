"""A take: the face on screen makes its expression over a few seconds (rest, onset, hold with a
blink, offset), as a video, an animated GLB, a 60 fps Live Link Face CSV and a JSON of each frame."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from emo_app.blendshapes import ARKIT_NAMES, GROUPS, Blendshapes
from emo_app.blendshapes.pose import HeadPose
from emo_app.blendshapes.take import TakeTiming, perform, take_seconds
from emo_app.errors import InvalidInputError

SMILE = Blendshapes.from_dict({"mouthSmileLeft": 0.9, "mouthSmileRight": 0.9, "cheekSquintLeft": 0.5,
                               "cheekSquintRight": 0.5, "browInnerUp": 0.3, "jawOpen": 0.2})
BOWED = HeadPose(yaw=10, pitch=-20, roll=5)
BLINKS = [ARKIT_NAMES.index("eyeBlinkLeft"), ARKIT_NAMES.index("eyeBlinkRight")]


def _floats(gltf, index: int) -> np.ndarray:
    """A float accessor's values (rows of its type's width), as a glTF reader sees them."""
    accessor = gltf.accessors[index]
    view = gltf.bufferViews[accessor.bufferView]
    width = {"SCALAR": 1, "VEC4": 4}[accessor.type]
    start = view.byteOffset + (accessor.byteOffset or 0)
    return np.frombuffer(gltf.binary_blob(), np.float32, accessor.count * width, start).reshape(-1, width)


def _phase_frames(timing: TakeTiming, start: float, end: float, times: np.ndarray) -> np.ndarray:
    return np.flatnonzero((times >= start - 1e-9) & (times <= end + 1e-9))


def test_a_take_rises_from_rest_holds_the_expression_and_returns_to_rest():
    timing = TakeTiming()
    take = perform(SMILE, BOWED, timing)
    assert len(take) == math.floor(timing.seconds * timing.fps) + 1 and take.fps == timing.fps
    assert not take.weights[0].any() and not take.weights[-1].any()  # loops: rest at both ends
    assert not take.poses[0].any() and not take.poses[-1].any()
    held = _phase_frames(timing, timing.rest + timing.onset * 1.25, timing.rest + timing.onset + timing.hold,
                         take.times)
    assert len(held) > 40
    others = [k for k in range(52) if k not in BLINKS]
    for frame in held:  # the whole expression and the whole turn, exactly, outside the blink
        np.testing.assert_allclose(take.weights[frame, others], SMILE.values[others], atol=1e-6)
        np.testing.assert_allclose(take.poses[frame], [10, -20, 5], atol=1e-9)
    # never past the expression: each weight and angle moves one way to it and one way back
    assert (take.weights[:, others] <= SMILE.values[others] + 1e-6).all()
    peak = held[0]
    for series in (take.weights[:, others], take.poses * np.sign([10, -20, 5])):
        assert (np.diff(series[: peak + 1], axis=0) >= -1e-6).all()
        assert (np.diff(series[held[-1]:], axis=0) <= 1e-6).all()


def test_the_brows_lead_and_the_mouth_follows_as_real_onsets_do():
    timing = TakeTiming()
    take = perform(SMILE, None, timing)
    early = int(round((timing.rest + timing.onset * 0.3) * timing.fps))
    brow = take.weights[early, ARKIT_NAMES.index("browInnerUp")] / 0.3
    mouth = take.weights[early, ARKIT_NAMES.index("mouthSmileLeft")] / 0.9
    assert brow > mouth + 0.05 and mouth > 0
    assert set(GROUPS) == {"brows", "eyes", "jaw", "mouth", "cheeks", "nose", "tongue"}  # each has a lead


def test_open_eyes_blink_once_in_the_hold_and_closed_eyes_do_not():
    timing = TakeTiming()
    open_eyes = perform(SMILE, None, timing).weights[:, BLINKS]
    closed = np.flatnonzero(open_eyes.min(axis=1) > 0.95)
    assert len(closed) >= 1 and np.ptp(closed) <= 3  # one blink, a tenth of a second shut
    hold_starts = (timing.rest + timing.onset) * timing.fps
    assert hold_starts < closed[0] < hold_starts + timing.hold * timing.fps
    asleep = Blendshapes.from_dict({"eyeBlinkLeft": 0.8, "eyeBlinkRight": 0.8})
    lids = perform(asleep, None, timing).weights[:, BLINKS]
    assert lids.max() == pytest.approx(0.8)  # no blink of eyes already shut
    assert not perform(SMILE, None, TakeTiming(blink=False)).weights[:, BLINKS].any()


def test_without_an_offset_the_take_ends_on_the_expression_and_without_rest_it_starts_moving():
    take = perform(SMILE, BOWED, TakeTiming(rest=0, offset=0, blink=False))
    np.testing.assert_allclose(take.weights[-1], SMILE.values, atol=1e-6)
    np.testing.assert_allclose(take.poses[-1], [10, -20, 5])
    assert take.weights[1].any()  # the first frame after 0 has moved already
    step = perform(SMILE, None, TakeTiming(rest=0.2, onset=0, hold=0.5, offset=0, blink=False))
    assert not step.weights[5].any() and np.allclose(step.weights[6], SMILE.values, atol=1e-6)


def test_a_change_of_feeling_plays_the_earlier_one_first_then_the_last():
    fear = Blendshapes.from_dict({"eyeWideLeft": 0.8, "eyeWideRight": 0.8, "browInnerUp": 0.7,
                                  "jawOpen": 0.3})
    timing = TakeTiming(blink=False)
    take = perform(SMILE, None, timing, earlier=[(fear, HeadPose(pitch=-10))])
    assert len(take) == round(take_seconds(timing, 2) * timing.fps) + 1 == 178  # 5.9 s, both ends kept
    beat = timing.onset + timing.hold
    first = _phase_frames(timing, timing.rest + timing.onset * 1.25, timing.rest + beat, take.times)
    last = _phase_frames(timing, timing.rest + beat + timing.onset * 1.25, timing.rest + 2 * beat, take.times)
    for frames, shapes, pitch in ((first, fear, -10), (last, SMILE, 0)):
        assert len(frames) > 40
        np.testing.assert_allclose(take.weights[frames], np.tile(shapes.values, (len(frames), 1)), atol=1e-6)
        np.testing.assert_allclose(take.poses[frames, 1], pitch, atol=1e-9)
    between = take.weights[first[-1]:last[0] + 1]  # each shape on its way from one to the other
    steps = np.diff(between, axis=0)
    assert ((steps >= -1e-6).all(axis=0) | (steps <= 1e-6).all(axis=0)).all()
    assert not take.weights[-1].any() and not take.poses[-1].any()
    with pytest.raises(InvalidInputError, match="12 seconds; 2 expressions with this timing take 12.3"):
        perform(SMILE, None, TakeTiming(hold=5), earlier=[(fear, None)])


@pytest.mark.parametrize(("text", "earlier"), [
    ("Shocked at first, then delighted.", "Shocked at first"),
    ("He used to be angry, now he is calm.", "He used to be angry"),
    ("She was happy, then she became sad.", "She was happy, then she"),
    ("She stopped crying and smiled.", "crying"),
    ("From joy to sorrow.", "joy"),
    ("A broad grin.", None),
    ("Not sad anymore, now happy.", None),  # a negated feeling is not shown first
    ("She smiled from ear to ear.", None),  # 'to' changes a feeling only after 'from' and one
    ("Then she smiled.", None),
])
def test_the_feeling_a_description_leaves_behind_is_found(text, earlier):
    from emo_app.text.beats import earlier_description

    assert earlier_description(text) == earlier


def test_surprise_moves_fastest_and_sadness_slowest_unless_told():
    quick, smile, slow = (TakeTiming.paced(e) for e in ("surprise", "happiness", "sadness"))
    assert quick.onset < smile.onset < slow.onset and quick.offset < smile.offset < slow.offset
    assert TakeTiming.paced("sadness", onset=0.2).onset == 0.2  # what a caller gives wins
    assert TakeTiming.paced(None) == TakeTiming.paced("no such emotion") == TakeTiming()
    twice = TakeTiming.paced("sadness", pace=2)
    assert (twice.onset, twice.offset) == (slow.onset / 2, slow.offset / 2) and twice.hold == slow.hold
    with pytest.raises(InvalidInputError, match=r"pace must be from 0.5 to 2 \(1: the emotion.s own\)"):
        TakeTiming.paced("sadness", pace=3)


@pytest.mark.parametrize(("timing", "sentence"), [
    ({"hold": -1}, "The take's hold must be from 0 to 6 seconds; got -1."),
    ({"onset": float("nan")}, "The take's onset must be from 0 to 6 seconds"),
    ({"rest": True}, "The take's rest must be from 0 to 6 seconds; got True."),
    ({"rest": "1"}, "The take's rest must be from 0 to 6 seconds; got '1'."),
    ({"hold": 6, "rest": 4, "offset": 3},
     "A take lasts at most 12 seconds; rest, onset, hold and offset add up to 13.6."),
    ({"fps": 0}, "A take's frames per second must be from 1 to 60; got 0."),
    ({"fps": 240}, "A take's frames per second must be from 1 to 60; got 240."),
    ({"onset": 0, "hold": 0, "offset": 0}, "A take needs some time to move"),
])
def test_an_impossible_timing_gets_a_sentence(timing, sentence):
    with pytest.raises(InvalidInputError) as raised:
        TakeTiming(**timing)
    assert str(raised.value).startswith(sentence)


def test_the_take_renders_as_the_still_face_and_writes_what_animators_import():
    """The hold's frames are the still render of the expression, the first the face at rest;
    the GLB keys the 52 weights and the skull; the CSV is 60 fps with the head's radians; the
    JSON is a face's JSON (the expression and its pose) with every frame."""
    import imageio.v3 as iio
    import pygltflib

    from emo_app.blendshapes.io import from_json, pose_from_json, read_live_link_csv
    from emo_app.face.export_skin import SKULL_JOINT, skull_quaternions
    from emo_app.face.looks import head_rig
    from emo_app.services import render_face
    from emo_app.services_take import play_take

    timing = TakeTiming(rest=0.2, onset=0.4, hold=0.8, offset=0.4, fps=10)
    result = play_take(SMILE, pose=BOWED, timing=timing, size=64, name="smile")
    still = render_face(SMILE, size=64, pose=BOWED).images["front"]
    rest = render_face(Blendshapes.zeros(), size=64).images["front"]
    assert np.array_equal(result.frames[0], rest) and np.array_equal(result.frames[-1], rest)
    held = int((timing.rest + timing.onset * 1.25) * timing.fps) + 1
    assert np.array_equal(result.frames[held], still)
    assert sorted(result.files) == ["csv", "glb", "json", "mp4"]
    assert {path.name for path in result.files.values()} == {
        "smile-take.mp4", "smile-take.glb", "smile-take-live-link-face.csv", "smile-take.json"}
    video = iio.imread(result.files["mp4"])
    assert len(video) == len(result.take) == 19  # 1.8 s at 10 fps, both ends kept

    gltf = pygltflib.GLTF2().load(str(result.files["glb"]))
    animation = gltf.animations[0]
    skull = next(i for i, node in enumerate(gltf.nodes) if node.name == SKULL_JOINT)
    turned = next(c for c in animation.channels if c.target.path == "rotation")
    assert turned.target.node == skull
    times = _floats(gltf, animation.samplers[turned.sampler].input)[:, 0]
    np.testing.assert_allclose(times, result.take.times, atol=1e-6)
    rotations = _floats(gltf, animation.samplers[turned.sampler].output)
    np.testing.assert_allclose(rotations, skull_quaternions(result.take.head_poses()), atol=1e-6)
    weights = _floats(gltf, animation.samplers[0].output).reshape(len(times), 52)
    rig = head_rig("full")
    np.testing.assert_allclose(weights[held], rig.effective_weights(SMILE.values), atol=1e-6)

    take = read_live_link_csv(result.files["csv"])
    assert len(take.frames) == math.floor(timing.seconds * 60) + 1
    assert take.timecodes[1].endswith(":01.000")
    hold_row = int((timing.rest + timing.onset * 1.25) * 60) + 2
    np.testing.assert_allclose(take.rotations[hold_row, :3], np.radians([10, -20, 5]), atol=1e-5)
    assert take.frames[hold_row]["mouthSmileLeft"] == pytest.approx(0.9, abs=1e-5)

    text = result.files["json"].read_text()
    assert from_json(text) == SMILE and pose_from_json(text) == BOWED
    stored = json.loads(text)["take"]
    assert stored["timing"]["hold"] == 0.8 and len(stored["frames"]) == len(result.take)
    assert stored["frames"][held]["head_pose"] == {"yaw": 10.0, "pitch": -20.0, "roll": 5.0}


def test_a_take_too_large_to_hold_is_refused_before_drawing_a_frame(monkeypatch):
    from emo_app.face import render
    from emo_app.services_take import play_take

    drawn = []
    monkeypatch.setattr(render.FaceRenderer, "render_batch", lambda *a, **k: drawn.append(1))
    with pytest.raises(InvalidInputError, match=r"211 frames at 1024 px is 221 megapixels; at most 200 fit"):
        play_take(SMILE, size=1024, timing={"fps": 60})
    assert drawn == []
    monkeypatch.undo()  # a size the renderer refuses gets the renderer's sentence, not this one
    with pytest.raises(InvalidInputError, match="Render size must be a whole number of pixels from 32"):
        play_take(SMILE, size=4096, timing={"fps": 60})


def test_a_take_of_a_description_turns_the_head_as_the_words_say():
    from emo_app.services_take import take_of_text

    prediction, result = take_of_text("Ashamed, he hangs his head.", size=48,
                                      timing={"rest": 0, "onset": 0.3, "hold": 0.3, "offset": 0, "fps": 10})
    assert prediction.pose.pitch < -10 and result.pose == prediction.pose
    surprised = take_of_text("Wide eyes and a mouth agape in sheer surprise.", size=48,
                             timing={"hold": 0.3, "fps": 5})[1]
    assert surprised.timing == TakeTiming.paced("surprise", hold=0.3, fps=5)
    assert result.files["json"].name == "ashamed-he-hangs-his-head-take.json"
    assert json.loads(result.files["json"].read_text())["text"] == "Ashamed, he hangs his head."
    _, turned = take_of_text("Ashamed, he hangs his head.", size=48, angles={"yaw": 20},
                             timing={"hold": 0.3, "fps": 5})
    assert turned.pose == HeadPose(yaw=20, pitch=prediction.pose.pitch)
    _, changed = take_of_text("Shocked at first, then delighted.", size=48, timing={"hold": 0.5, "fps": 5})
    played = json.loads(changed.files["json"].read_text())
    assert changed.expressions == 2 and len(played["take"]["earlier"]) == 1
    shocked, delighted = played["take"]["earlier"][0]["blendshapes"], played["blendshapes"]
    assert shocked["eyeWideLeft"] > 0.2 > delighted["eyeWideLeft"]
    assert delighted["mouthSmileLeft"] > 0.3 > shocked["mouthSmileLeft"]
    with pytest.raises(InvalidInputError, match="Unknown take timing speed"):
        take_of_text("happy", timing={"speed": 2})
    with pytest.raises(InvalidInputError, match="Unknown view 'top'"):
        take_of_text("happy", view="top")


def test_a_point_of_the_sphere_plays_its_face_paced_by_its_emotion():
    from emo_app.emotion.space import EmotionPoint
    from emo_app.services import point_stem, sphere_point
    from emo_app.services_take import take_of_point

    point = EmotionPoint.of_class("Surprised")
    result = take_of_point(point, size=48, timing={"hold": 0.6, "fps": 10, "blink": False})
    assert result.timing == TakeTiming.paced("surprise", hold=0.6, fps=10, blink=False)
    still = sphere_point(point, size=48).face.shapes
    held = int(round((result.timing.rest + result.timing.onset * 1.25) * 10)) + 1
    np.testing.assert_allclose(result.take.weights[held], still.values, atol=1e-6)
    assert result.files["mp4"].name == f"{point_stem(point)}-take.mp4"
    assert point_stem(point).startswith("surprised_v")


def test_a_captured_photo_plays_its_expression_and_head_pose_as_capture_draws_it():
    from emo_app import services
    from emo_app.services_take import take_of_photo
    from emo_app.ui.tabs.capture import sample_photo

    photo = str(sample_photo())
    captured = services.capture(photo, size=48)
    timing = {"hold": 0.6, "fps": 10, "blink": False}
    result = take_of_photo(photo, size=48, timing=timing)
    assert result.pose == captured.face.pose and not result.pose.is_rest  # her chin is down
    held = int(round((result.timing.rest + result.timing.onset * 1.25) * 10)) + 1
    np.testing.assert_allclose(result.take.weights[held], captured.shapes.values, atol=1e-6)
    assert np.array_equal(result.frames[held], services.capture(photo, size=48).face.images["front"])
    own = take_of_photo(photo, text="Shocked at first, then delighted.", use_photo_texture=True, size=48,
                        timing=timing)
    assert own.expressions == 2 and own.timing.onset == TakeTiming.paced("happiness").onset
    assert own.files["mp4"].name == "captured-shocked-at-first-then-delighted-take.mp4"


def test_the_take_command_writes_the_files_from_words_or_from_a_downloaded_face(tmp_path, capsys):
    from emo_app.cli import main

    out = tmp_path / "take"
    assert main(["take", "Proud, chin up.", "--hold", "0.4", "--fps", "8", "--size", "48",
                 "--out-dir", str(out)]) == 0
    names = sorted(path.name for path in out.iterdir())
    assert names == [f"proud-chin-up-take{end}" for end in ("-live-link-face.csv", ".glb", ".json", ".mp4")]
    said = capsys.readouterr().out
    assert "frames at 8 fps" in said and "chin up" in said
    pace = re.search(r"\(onset [0-9.]+ s, offset [0-9.]+ s\)", said).group()
    again = tmp_path / "again"
    assert main(["take", "--weights", str(out / "proud-chin-up-take.json"), "--yaw", "-15", "--fps", "8",
                 "--size", "48", "--no-blink", "--out-dir", str(again)]) == 0
    stored = json.loads((again / "proud-chin-up-take.json").read_text())["take"]["timing"]
    assert stored["blink"] is False
    assert (again / "proud-chin-up-take.mp4").exists()  # named after the face, not "...-take-take"
    said = capsys.readouterr().out
    assert "turned 15° to the right, chin up" in said
    assert pace in said  # the JSON's emotions pace it as the words did
    assert main(["take", "happy", "--weights", str(out / "proud-chin-up-take.json")]) == 2
    assert "error: Give a description or --weights" in capsys.readouterr().err
    assert main(["take", "happy", "--onset", "-1", "--out-dir", str(tmp_path / "no")]) == 2
    assert "error: The take's onset must be from 0 to 6 seconds; got -1.0." in capsys.readouterr().err
    assert not (tmp_path / "no").exists()
