"""The studio end to end: launched on loopback and driven with gradio_client, as API users do."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import running_studio
from PIL import Image

from emo_app.blendshapes import ARKIT_NAMES

pytestmark = pytest.mark.slow


ADMIN = "e2e-admin-token"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from gradio_client import Client

    with pytest.MonkeyPatch.context() as patch:  # a study database of its own, an admin secret
        patch.setenv("EMO_STUDY_DB", str(tmp_path_factory.mktemp("study") / "study.sqlite3"))
        patch.setenv("EMO_STUDY_ADMIN_TOKEN", ADMIN)
        with running_studio() as url:
            yield Client(url, verbose=False)


def test_every_tab_exposes_named_endpoints(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    for endpoint in ("/describe", "/render_weights", "/play_take", "/score_face", "/sphere_point",
                     "/sphere_point_xyz", "/play_point", "/walk", "/capture", "/play_capture", "/benchmark",
                     "/generate"):
        assert endpoint in names, endpoint


def test_the_api_turns_the_head_as_the_words_and_the_head_sliders_say(client):
    """/describe reads the head's pose from the words (the page copies it into the head
    sliders); /render_weights draws the weights with a pose given after the appearance."""
    state = client.predict("Proud, chin up.", "embedded", api_name="/describe")[9]
    assert state["head_pose"]["pitch"] > 10 and state["head_pose"]["yaw"] == state["head_pose"]["roll"] == 0
    weights = [state["blendshapes"][name] for name in ARKIT_NAMES]
    look = ("skin", "full", "light", "light")
    upright = client.predict(*weights, *look, 0, 0, 0, api_name="/render_weights")
    raised = client.predict(*weights, *look, 0, state["head_pose"]["pitch"], 0, api_name="/render_weights")
    same_as_before = client.predict(*weights, *look, api_name="/render_weights")  # callers of old
    front = [np.asarray(Image.open(result[0])).astype(int) for result in (upright, raised, same_as_before)]
    assert np.abs(front[0] - front[1]).mean() > 3 and np.array_equal(front[0], front[2])


def test_describe_returns_a_face_and_the_emotion(client):
    result = client.predict("Terrified, eyes wide with fear", "embedded", api_name="/describe")
    front = np.asarray(Image.open(result[0]))
    assert front.shape[0] >= 256 and front.std() > 10  # a picture, not a blank
    state = result[9]
    assert result[10] is not None  # the point on the sphere plot
    assert state["dominant_emotion"] == "fear"
    assert state["blendshapes"]["eyeWideLeft"] > 0.2
    downloads = {Path(f["path"] if isinstance(f, dict) else f).name for f in result[8]}
    stem = "terrified-eyes-wide-with-fear"  # named after the face, not "face (3).glb" on the 4th download
    ends = (".glb", ".png", "-blendshapes.json", "-live-link-face.csv")
    assert downloads == {stem + end for end in ends}


def test_the_readme_api_example_runs(client):
    """The README's gradio_client snippet, pointed at this server, gets the face and its emotion."""
    import re

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    snippet = re.search(r"```python\n(from gradio_client.*?)```", readme, re.S).group(1)
    names: dict = {}
    exec(snippet.replace("http://127.0.0.1:7860/", client.src), names)
    assert names["prediction"]["dominant_emotion"] == "happiness"
    assert Path(names["front"]).suffix == ".png" and Path(names["glb"]).suffix == ".glb"
    assert names["glb"] != names["posed"] and Path(names["posed"]).name.endswith("-posed.glb")


@pytest.mark.parametrize(("words", "stem"), [
    (("Quietly furious!",), "quietly-furious"),
    (("Er ist wütend",), "er-ist-wutend"),  # accents folded to ASCII
    (("我很生气",), "face"),  # nothing Latin left: the fallback
    (("She smiles from ear to ear, eyes narrowed with glee and so on",),
     "she-smiles-from-ear-to-ear-eyes-narrowed-with"),  # cut at a word, at most 48 characters
    (("Happy", "to", "Sadly fearful", "walk"), "happy-to-sadly-fearful-walk"),
])
def test_download_names_say_what_the_face_shows(words, stem):
    from emo_app.outputs import MAX_FILE_STEM, file_stem

    assert file_stem(*words) == stem and len(stem) <= MAX_FILE_STEM


def test_describe_appearance_changes_the_picture_never_the_prediction(client):
    """The default face is the full head in generated skin; a deep tone, the photo look, the
    mask head and a dark background each change the picture and none changes the prediction."""
    text = "A broad grin with eyes alight with cheer."
    default = client.predict(text, "embedded", api_name="/describe")  # old two-argument callers
    faces = {"default": default}
    for name, choice in {"deep": ("skin", "full", "deep", "light"),
                         "photo": ("photo", "full", "medium", "light"),
                         "mask": ("skin", "mediapipe", "medium", "light"),
                         "dark": ("skin", "full", "medium", "dark")}.items():
        faces[name] = client.predict(text, "embedded", *choice, api_name="/describe")
    pictures = {name: np.asarray(Image.open(r[0]).convert("RGB"), float) for name, r in faces.items()}
    for name, result in faces.items():
        assert result[9]["blendshapes"] == default[9]["blendshapes"], name
        if name != "default":
            assert np.abs(pictures[name] - pictures["default"]).mean() > 1, name
    middle = (slice(200, 300), slice(200, 312))
    assert pictures["deep"][middle].mean() < pictures["default"][middle].mean() - 30
    assert pictures["dark"][:8, :8].mean() < 60 < pictures["default"][:8, :8].mean()


def test_describe_rejects_empty_text_with_a_sentence(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="empty"):
        client.predict("   ", "embedded", api_name="/describe")


def test_sphere_point_names_the_nearest_class_and_offers_its_face_to_download(client):
    """The sphere showed a picture only: the point's face could not be taken to Blender or
    Unreal as Describe's can. It now comes with the same downloads, named after the point."""
    theta, phi, r = 129, 0, 1.0  # degrees: the direction of Angry
    result = client.predict(theta, phi, r, api_name="/sphere_point")
    assert "Nearest class: Angry" in result[1]
    assert os.path.exists(result[2])
    files = {Path(path).suffix: Path(path) for path in result[-1]}
    assert set(files) == {".glb", ".json", ".csv", ".png"}
    assert files[".glb"].name.startswith("angry_v")
    described = json.loads(files[".json"].read_text())
    assert described["nearest_classes"][0][0] == "Angry" and described["point"]["r"] == pytest.approx(1.0)


def test_a_sphere_point_plays_as_a_take(client):
    video, files = client.predict(129, 0, 1.0, api_name="/play_point")  # degrees: the direction of Angry
    assert Path(video["video"] if isinstance(video, dict) else video).name.startswith("angry_v")
    assert {Path(path).suffix for path in files} == {".mp4", ".glb", ".csv", ".json"}


def test_sphere_rejects_far_away_coordinates_and_keeps_serving(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="far outside the emotion sphere"):
        client.predict(1e6, 0.0, 0.0, api_name="/sphere_point_xyz")
    assert "Nearest class" in client.predict(0.0, 0.0, 1.0, api_name="/sphere_point")[1]


def test_walk_makes_an_animation(client):
    gif, _mp4, glb, grid, _files = client.predict("axis", "Sad", "Happy", 0.0, 0.0, 0.8, 4, False,
                                                  api_name="/walk")
    with Image.open(gif) as animation:
        assert animation.n_frames == 4
    assert glb.endswith(".glb") and os.path.exists(grid)


def test_the_face_on_screen_plays_as_a_take_with_the_sliders_edits(client):
    """/play_take plays the weights and the head's pose in the sliders (an edited jaw included),
    named after the description, after the feeling the words leave behind; a weight that is not
    a number gets a sentence."""
    from gradio_client.exceptions import AppError

    state = client.predict("Proud, chin up.", "embedded", api_name="/describe")[9]
    weights = [state["blendshapes"][name] for name in ARKIT_NAMES]
    weights[ARKIT_NAMES.index("jawOpen")] = 0.8
    look = ("skin", "full", "light", "light")
    video, files = client.predict(*weights, *look, 0, state["head_pose"]["pitch"], 0, state,
                                  2.0, 0.5, False, False, api_name="/play_take")  # pace, hold, back, blink
    video = Path(video["video"] if isinstance(video, dict) else video)
    assert video.name == "proud-chin-up-take.mp4" and video.stat().st_size > 10_000
    assert {Path(path).name for path in files} == {
        f"proud-chin-up-take{end}" for end in (".mp4", ".glb", "-live-link-face.csv", ".json")}
    played = json.loads(next(Path(path) for path in files if path.endswith(".json")).read_text())
    assert played["blendshapes"]["jawOpen"] == 0.8 and played["text"] == "Proud, chin up."
    assert played["head_pose"]["pitch"] == state["head_pose"]["pitch"] > 10 and not played["take"]["earlier"]
    from emo_app.blendshapes.take import TakeTiming

    own = TakeTiming.paced(state["dominant_emotion"])
    assert played["take"]["timing"] == {**own.to_dict(), "onset": own.onset / 2, "hold": 0.5, "offset": 0.0,
                                        "blink": False}
    changed = client.predict("Shocked at first, then delighted.", "embedded", api_name="/describe")[9]
    smile = [changed["blendshapes"][name] for name in ARKIT_NAMES]
    _, files = client.predict(*smile, *look, 0, 0, 0, changed, api_name="/play_take")  # default timing
    played = json.loads(next(Path(path) for path in files if path.endswith(".json")).read_text())
    assert played["take"]["earlier"][0]["blendshapes"]["eyeWideLeft"] > 0.2  # the shock plays first
    with pytest.raises(AppError, match="pace must be a number from 0.5 to 2; got 9"):
        client.predict(*weights, *look, 0, 0, 0, state, 9, api_name="/play_take")
    weights[0] = "wide"
    with pytest.raises(AppError, match="number"):
        client.predict(*weights, *look, 0, 0, 0, state, api_name="/play_take")


def test_generation_says_why_it_cannot_run(client):
    _gallery, message = client.predict(0.1, 0.0, 1.0, 0, api_name="/generate")
    assert "weights" in message.lower() or "gpu" in message.lower()


def test_describe_files_are_served_in_place_from_the_pruned_folders(client):
    """One copy per download: the files the API hands out are the request folder's own files
    (pruned by outputs.output_dir), not copies piling up in Gradio's cache."""
    import urllib.request

    from gradio_client import Client

    from emo_app.outputs import output_root

    raw = Client(client.src, verbose=False, download_files=False)
    result = raw.predict("A broad grin", "embedded", api_name="/describe")
    files = [result[0], result[2], *result[8]]
    root = output_root().resolve()
    for entry in files:
        path = Path(entry["path"]).resolve()
        assert root in path.parents, path
        with urllib.request.urlopen(entry["url"], timeout=30) as response:
            assert response.read() == path.read_bytes()


def test_every_api_output_and_input_has_a_name(client):
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    unnamed = {name: [v["label"] for v in (*info["parameters"], *info["returns"])
                      if v["label"].startswith("value_")] for name, info in api.items()}
    assert not {name: labels for name, labels in unnamed.items() if labels}


def test_study_links_and_sign_in_work_from_the_api(client):
    """An admin makes a study and a rater's link through the API; the link is the page itself;
    a rater signs in with the study's name (not only names the page loaded)."""
    import urllib.request

    created = client.predict(ADMIN, "api-study", "points", 0, "", "", "3d", api_name="/study_admin_create")
    assert "Created study 'api-study'" in created
    added = client.predict(ADMIN, "api-study", "Bo", api_name="/study_admin_add_rater")
    link = added.split("`")[1]
    assert link.startswith(client.src.rstrip("/") + "/?study=api-study&rater=")
    with urllib.request.urlopen(link, timeout=30) as page:  # a page, not a 405 from the queue
        assert page.status == 200 and "<html" in page.read(2000).decode().lower()
    welcome = client.predict("api-study", "Cy", "", api_name="/study_sign_in")
    assert "Welcome, **Cy**" in welcome
    assert f"{client.src.rstrip('/')}/?study=api-study&rater=" in welcome


def test_a_users_mistake_is_one_info_line_and_no_traceback(client, caplog, capfd):
    import logging

    from gradio_client.exceptions import AppError

    capfd.readouterr()
    with caplog.at_level(logging.INFO, logger="emo_app.ui"), pytest.raises(AppError, match="empty"):
        client.predict("   ", "embedded", api_name="/describe")
    lines = [r for r in caplog.records if r.name == "emo_app.ui"]
    assert len(lines) == 1 and lines[0].levelno == logging.INFO and "empty" in lines[0].getMessage()
    assert lines[0].exc_info is None and "Traceback" not in capfd.readouterr().err


def test_a_description_in_another_language_is_said_plainly(client):
    german = client.predict("Er ist wütend", "embedded", api_name="/describe")
    assert "Only English" in german[9]["language"] and "Only English" in german[6]
    english = client.predict("He is furious", "embedded", api_name="/describe")
    assert english[9]["language"] == "" and english[9]["dominant_emotion"] == "anger"


def test_the_why_column_reads_as_english(client):
    result = client.predict("Furious, with a furrowed brow and lips pressed tight.", "embedded",
                            api_name="/describe")
    reasons = {row[0]: row[2] for row in result[7]["data"]}
    assert "anger moves it through AU4, the brow lowerer" in reasons["browDownLeft"]
    assert all(why.endswith(".") and "via AU" not in why for why in reasons.values())


def test_the_benchmark_skips_a_model_without_weights_and_shows_only_computed_columns(client):
    notes, table, _plot, files = client.predict(["embedded", "emo3d-vae-clip"], None, 5, 3,
                                                api_name="/benchmark")
    assert "Skipped" in notes and "emo3d-vae-clip" in notes and "VAE_CLIP.pt" in notes
    assert [row[0] for row in table["data"]] == ["embedded"]
    for column, values in zip(table["headers"], zip(*table["data"])):
        assert all(v not in ("", None) for v in values), column
    assert any(str(f).endswith("report.csv") for f in files)


def test_the_neutral_point_of_the_sphere_is_a_neutral_face(client):
    from emo_app import services
    from emo_app.emotion.space import EmotionPoint

    result = client.predict(0.0, 0.0, 0.0, api_name="/sphere_point_xyz")
    assert result[2] == 0 and "Nearest class: Neutral" in result[4]
    assert services.sphere_point(EmotionPoint(0, 0, 0), size=64).face.shapes.values.max() == 0.0


def test_capture_message_reads_as_english(client, tmp_path):
    from gradio_client import handle_file
    from skimage.data import astronaut

    photo = tmp_path / "astronaut.png"
    Image.fromarray(astronaut()).save(photo)
    result = client.predict(handle_file(str(photo)), "He is furious.", False, api_name="/capture")
    assert result[4] == "1 face found. Your face performs: anger."
