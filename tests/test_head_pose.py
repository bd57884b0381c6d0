"""The head turns, nods and tilts on its neck: read from the words, drawn by the renderer, read
back from a photo by MediaPipe, and written into the JSON, the Live Link CSV and the viewer's GLB."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from emo_app.blendshapes import Blendshapes
from emo_app.blendshapes.pose import HeadPose
from emo_app.errors import InvalidInputError
from emo_app.text.head_pose import read_head_pose

SIZE = 192


@pytest.mark.parametrize(("text", "axis", "sign"), [
    ("Ashamed, head bowed, looking at the floor.", "pitch", -1),
    ("Not sad, head bowed.", "pitch", -1),  # the 'not' belongs to the clause before
    ("Hanging his head in shame.", "pitch", -1),
    ("She stared at her feet.", "pitch", -1),
    ("Proud, chin up.", "pitch", 1),
    ("Throws her head back and laughs.", "pitch", 1),
    ("Looks down his nose at them.", "pitch", 1),  # the chin rises for contempt
    ("Tilts her head, puzzled.", "roll", 1),
    ("He tilts his head to the right.", "roll", -1),
    ("Looks away to the left.", "yaw", 1),
    ("He turns his head to the right and smiles.", "yaw", -1),
    ("Shaking his head in disbelief.", "yaw", 1),
    ("He looks over his left shoulder.", "yaw", 1),  # the side inside the words
    ("He glances over his right shoulder.", "yaw", -1),
    ("He turns his head to the left.", "yaw", 1),
    ("Turns her face away in disgust.", "yaw", -1),
    ("With a tilt of the head, she smiles.", "roll", 1),
    ("He buries his face in his hands.", "pitch", -1),
    ("Head in hands.", "pitch", -1),
    ("She throws back her head and laughs.", "pitch", 1),
    ("He juts out his chin.", "pitch", 1),
    ("A proud lift of the chin.", "pitch", 1),
])
def test_words_turn_the_head_the_way_they_say(text, axis, sign):
    reading = read_head_pose(text)
    pose, notes = reading.pose, reading.notes
    assert math.copysign(1, getattr(pose, axis)) == sign and abs(getattr(pose, axis)) >= 10
    others = [getattr(pose, a) for a in ("yaw", "pitch", "roll") if a != axis]
    assert others == [0.0, 0.0]
    assert notes and notes[0].startswith("'")  # the note quotes the user's words


@pytest.mark.parametrize("text", [
    "She does not look away.",  # negated
    "Shaking with fear.",  # shaking is not a head shake
    "He is heading home.",  # 'head' inside another word
    "She looks heartbroken, eyes downcast and lips trembling.",  # the eyes look down, not the head
    "She turns her head back to the screen.",  # back to the front
    "A broad grin with eyes alight with cheer.",
])
def test_words_that_do_not_move_the_head_leave_it_straight(text):
    reading = read_head_pose(text)
    assert reading.pose.is_rest and reading.notes == []


@pytest.mark.parametrize(("text", "pitch"), [
    ("Ashamed.", -12),  # shame's display: the head goes down (it stayed level)
    ("He feels guilty about the lie.", -12),
    ("Embarrassed, blushing.", -8),  # embarrassment: less
    ("The shy intern gapes at the prize.", 0),  # a trait, not a display: FER read it as sad
    ("Proud.", 10),  # pride's: the chin comes up
    ("A haughty look.", 10),
    ("Ashamed, he hangs his head.", -22),  # words that say how far take over
    ("Proud, chin up.", 14),
    ("He is not ashamed of it.", 0),  # negated
    ("What a shame the picnic was cancelled.", 0),  # a pity, not shame
])
def test_feelings_shown_by_the_heads_posture_move_it_a_little(text, pitch):
    reading = read_head_pose(text)
    assert reading.pose.pitch == pitch and reading.pose.yaw == reading.pose.roll == 0, reading


def test_a_proud_face_is_drawn_chin_up_looking_at_you_and_an_ashamed_one_head_down_looking_down():
    from emo_app.text import get_text_model

    model = get_text_model("embedded")
    proud, ashamed = model.predict("Proud."), model.predict("Ashamed.")
    assert proud.pose.pitch > 0 and proud.shapes["eyeLookDownLeft"] == pytest.approx(10 / 25, abs=1e-3)
    assert ashamed.pose.pitch < 0 and ashamed.shapes["eyeLookUpLeft"] < 0.05
    assert any("'ashamed': chin down 12" in note for note in ashamed.notes), ashamed.notes


def test_two_words_for_one_bow_bow_the_head_once():
    both = read_head_pose("Head bowed, looking at the floor.").pose
    one = read_head_pose("Head bowed.").pose
    assert both.pitch == one.pitch < 0


@pytest.mark.parametrize(("text", "eyes_down"), [
    ("Proud, chin up.", 14 / 25),  # the eyes turn down by the chin's 14 degrees (25 at weight 1)
    ("Defiant, chin raised, glaring.", 14 / 25),
    ("Head held high.", 12 / 25),
    ("Throws her head back and laughs.", 0.0),  # a laugh's eyes go with the head
    ("Chin up, he looks up at the sky.", 0.0),  # the words turn the eyes themselves: they win
    ("Ashamed, he hangs his head.", 0.0),  # a bowed head looks down, not at you
])
def test_a_raised_chin_still_looks_at_the_viewer(text, eyes_down):
    """Proud and defiant faces look down their nose AT you: the eyes turn down as far as the chin
    rose (the face had looked over the viewer's head), and the reasons say why."""
    from emo_app.text import get_text_model

    prediction = get_text_model("embedded").predict(text)
    weights = prediction.shapes.to_dict()
    reasons = [why for rows in prediction.explanation.values() for why, _ in rows]
    if eyes_down:
        assert weights["eyeLookDownLeft"] == weights["eyeLookDownRight"] == pytest.approx(eyes_down, abs=1e-3)
        assert any("keep the viewer" in why for why in reasons)
    else:
        assert not any("keep the viewer" in why for why in reasons)


@pytest.mark.parametrize(("angles", "message"), [
    ({"yaw": 90}, "Head yaw must be from -45 to 45 degrees; got 90."),
    ({"pitch": float("nan")}, "Head pitch must be from -30 to 30 degrees; got nan."),
    ({"roll": "left"}, "Head roll must be a number of degrees; got 'left'."),
])
def test_an_impossible_pose_is_refused_with_a_sentence(angles, message):
    with pytest.raises(InvalidInputError) as caught:
        HeadPose(**angles)
    assert str(caught.value) == message
    with pytest.raises(InvalidInputError, match="Unknown head pose angle"):
        HeadPose.from_dict({"twist": 3})


@pytest.fixture(scope="module")
def full_head():
    from emo_app.face.looks import head_rig, look_texture

    return head_rig("full"), look_texture("skin", head="full")


def _front(rig, texture, pose, size=SIZE, renderer=None):
    from emo_app.face import get_face_renderer

    renderer = renderer or get_face_renderer()
    return renderer.render(Blendshapes.zeros(), size=size, rig=rig, texture=texture, pose=pose)


def test_a_turned_head_keeps_its_shoulders_and_neither_tears_nor_squashes(full_head):
    """The collar stays where it is; between it and the jaw the neck bends: no edge of the
    head's mesh stretches or shrinks by more than half, even at the limits."""
    from emo_app.face.head_pose import pose_vertices

    rig, texture = full_head
    rest = rig.deform(Blendshapes.zeros())
    faces = np.concatenate([p.faces + p.start for p in rig.parts])
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])

    def lengths(v):
        return np.linalg.norm(v[edges[:, 0]] - v[edges[:, 1]], axis=1)

    before = lengths(rest)
    collar = rest[:, 1] < rest[:, 1].min() + 0.5
    for pose in (HeadPose(yaw=45), HeadPose(pitch=-30), HeadPose(pitch=30), HeadPose(roll=30)):
        posed = pose_vertices(rig, rest, pose)
        assert np.allclose(posed[collar], rest[collar])
        ratio = lengths(posed) / np.maximum(before, 1e-6)
        assert 0.5 < ratio.min() and ratio.max() < 1.5, (pose, ratio.min(), ratio.max())
    image_rest, image_bowed = _front(rig, texture, None), _front(rig, texture, HeadPose(pitch=-25))
    changed = np.abs(image_rest.astype(int) - image_bowed.astype(int)).sum(axis=2) > 40
    assert changed[-SIZE // 24:].mean() < 0.01  # the shirt and shoulders at the picture's foot stay
    assert changed.mean() > 0.1  # while the head moved


@pytest.mark.parametrize("pose", [HeadPose(yaw=25), HeadPose(yaw=-25), HeadPose(pitch=-20),
                                  HeadPose(pitch=15), HeadPose(roll=15), HeadPose(-20, -10, 10)])
def test_mediapipe_reads_the_drawn_pose_back_from_the_picture(full_head, pose):
    """An outside judge: MediaPipe's landmarks on the rendered face give back the pose it was
    drawn with, each angle within 5 degrees (measured: within 3.4)."""
    from emo_app.face.capture import capture_blendshapes
    from emo_app.face.photo_mesh import head_pose_from_landmarks

    rig, texture = full_head
    captured = capture_blendshapes(_front(rig, texture, pose, size=512))
    read = head_pose_from_landmarks(captured.landmarks, captured.image_size, captured.shapes)
    for axis in ("yaw", "pitch", "roll"):
        assert abs(getattr(read, axis) - getattr(pose, axis)) < 5, (axis, read, pose)


def test_describe_turns_the_head_and_writes_the_pose_into_every_download():
    from emo_app import services
    from emo_app.blendshapes.io import read_live_link_csv

    bowed = services.describe("Ashamed, hanging his head.", size=128)
    assert bowed.prediction.pose.pitch < -10
    assert any(note.startswith("'hanging his head'") for note in bowed.prediction.notes)
    saved = json.loads(bowed.face.files["json"].read_text())
    assert saved["head_pose"]["pitch"] == bowed.prediction.to_dict()["head_pose"]["pitch"] < -10
    rotations = read_live_link_csv(bowed.face.files["csv"]).rotations
    assert np.allclose(rotations[:, 1], math.radians(bowed.prediction.pose.pitch), atol=1e-5)
    assert np.allclose(rotations[:, [0, 2]], 0.0)
    upright = services.render_face(bowed.prediction.shapes, size=128, exports=True)
    assert np.abs(bowed.face.images["front"].astype(int) - upright.images["front"].astype(int)).mean() > 3
    # the page's 3D viewer shows the bowed head too: its nose sits lower than the upright one's
    import trimesh

    def eye_height(glb):
        return float(trimesh.load(glb, force="scene").geometry["eyeLeft"].vertices[:, 1].mean())

    assert eye_height(bowed.face.viewer_glb()) < eye_height(upright.viewer_glb()) - 0.01  # metres


def test_capture_turns_our_face_as_the_photo_is_turned(full_head):
    from emo_app import services

    rig, texture = full_head
    photo = _front(rig, texture, HeadPose(yaw=-25), size=512)
    outcome = services.capture(photo, size=128)
    assert outcome.face.pose.yaw < -15 and "turned" in outcome.message and "to the right" in outcome.message


def test_the_rigged_glb_turns_its_skull_joint_as_the_render_turns_the_head(full_head):
    """An engine skins the downloaded GLB's meshes to its neck and skull joints: with the skull
    turned as stored, the left eye lands where the render put it (within a millimetre) and the
    collar stays."""
    import pygltflib
    from scipy.spatial.transform import Rotation
    from test_face_export import _read

    from emo_app.face.export import build_glb
    from emo_app.face.head_pose import pose_vertices

    rig, texture = full_head
    pose = HeadPose(yaw=30, pitch=-20, roll=10)
    glb = build_glb(Blendshapes.zeros(), texture=texture, rig=rig, pose=pose)
    gltf = pygltflib.GLTF2.load_from_bytes(glb)
    skin = gltf.skins[0]
    neck, skull = (gltf.nodes[i] for i in skin.joints)
    assert (neck.name, skull.name, neck.rotation) == ("neck", "skull", None)

    def moved(translation, rotation=None):
        matrix = np.eye(4)
        matrix[:3, 3] = translation
        if rotation is not None:
            matrix[:3, :3] = Rotation.from_quat(rotation).as_matrix()
        return matrix

    world = [moved(neck.translation), moved(neck.translation) @ moved(skull.translation, skull.rotation)]
    binds = _read(gltf, skin.inverseBindMatrices).reshape(-1, 4, 4).transpose(0, 2, 1)
    joints = [w @ b for w, b in zip(world, binds)]

    def skinned(mesh_name):
        """Every vertex of the mesh as the engine places it, in the rig's centimetres."""
        out = []
        for primitive in gltf.meshes[next(n.mesh for n in gltf.nodes if n.name == mesh_name)].primitives:
            attributes = primitive.attributes
            points = _read(gltf, attributes.POSITION)
            points = np.column_stack([points, np.ones(len(points))])
            index, weight = _read(gltf, attributes.JOINTS_0), _read(gltf, attributes.WEIGHTS_0)
            placed = [weight[:, [k]] * (index[:, [k]] == k) * (points @ joints[k].T)[:, :3] for k in range(2)]
            out.append(sum(placed) * 100.0)
        return np.concatenate(out)

    posed = pose_vertices(rig, rig.neutral.astype(np.float64), pose)
    eyes = rig.part("eyes")
    left_eye = posed[eyes.start : eyes.stop][rig.neutral[eyes.start : eyes.stop, 0] > 0]
    assert np.linalg.norm(skinned("eyeLeft").mean(0) - left_eye.mean(0)) < 0.1
    head = skinned("head")
    assert np.isclose(head[:, 1].min(), rig.neutral[:, 1].min(), atol=0.05)  # the collar stays


def test_a_downloaded_faces_json_renders_and_exports_with_its_head_pose_on_the_command_line(tmp_path, capsys):
    """`face render|export --weights <a describe's JSON>` keeps the head bowed as it was
    downloaded; --pitch replaces the stored angle, and an impossible one is refused."""
    from PIL import Image

    from emo_app import services
    from emo_app.blendshapes.io import pose_from_json
    from emo_app.cli import main

    saved = services.describe("Hanging his head.", size=96).face.files["json"]
    pitch = pose_from_json(saved.read_text()).pitch
    assert pitch < -10

    def render(*extra):
        out = tmp_path / f"face{len(extra)}.png"
        command = ["face", "render", "--weights", str(saved), "--out", str(out), "--size", "96", *extra]
        assert main(command) == 0
        return np.asarray(Image.open(out)).astype(int)

    stored, upright = render(), render("--pitch", "0")
    assert np.abs(stored - upright).mean() > 3
    assert np.array_equal(stored, render("--pitch", str(pitch), "--yaw", "0"))
    obj = tmp_path / "face.obj"
    assert main(["face", "export", "--weights", str(saved), "--out", str(obj)]) == 0
    upright_obj = tmp_path / "upright.obj"
    assert main(["face", "export", "--weights", str(saved), "--pitch", "0", "--out", str(upright_obj)]) == 0
    assert obj.read_text() != upright_obj.read_text()
    capsys.readouterr()
    refused = ["face", "render", "--weights", str(saved), "--out", str(tmp_path / "x.png"), "--pitch", "-80"]
    assert main(refused) == 2
    assert "error: Head pitch must be from -30 to 30 degrees; got -80." in capsys.readouterr().err


def test_turning_the_head_leaves_the_creases_and_the_mouths_shadow_as_the_expression_made_them(full_head):
    """The mouth's light reads how far its points came forward; measured after the turn, a head
    thrown back moved the teeth 'back' into shadow and a bowed one lit the throat. The shade is
    measured before the head turns."""
    from emo_app.face.head_pose import pose_vertices
    from emo_app.face.render import cavity_shading, posed_normals, turned_head

    rig, _ = full_head
    gasp = Blendshapes.from_dict({"jawOpen": 0.7, "tongueOut": 0.6, "browInnerUp": 0.8})
    upright = turned_head(rig, gasp, None)
    for pose in (HeadPose(pitch=24), HeadPose(pitch=-22), HeadPose(yaw=40)):
        vertices, normals, cavity = turned_head(rig, gasp, pose)
        assert np.array_equal(cavity, upright[2])
        assert np.allclose(vertices, pose_vertices(rig, upright[0], pose))
        after = cavity_shading(rig, vertices, posed_normals(rig, vertices))
        mouth = rig.part("mouth")
        assert np.abs(after - cavity)[mouth.start : mouth.stop].max() > 0.05  # what it used to draw
