"""The studio end to end: launched on loopback and driven with gradio_client, as API users do."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from conftest import running_studio
from PIL import Image

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client():
    from gradio_client import Client

    with running_studio() as url:
        yield Client(url, verbose=False)


def test_every_tab_exposes_named_endpoints(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    for endpoint in ("/describe", "/render_weights", "/score_face", "/sphere_point", "/sphere_point_xyz",
                     "/walk", "/capture", "/benchmark", "/generate"):
        assert endpoint in names, endpoint


def test_describe_returns_a_face_and_the_emotion(client):
    result = client.predict("Terrified, eyes wide with fear", "embedded", api_name="/describe")
    front = np.asarray(Image.open(result[0]))
    assert front.shape[0] >= 256 and front.std() > 10  # a picture, not a blank
    state = result[9]
    assert result[10] is not None  # the point on the sphere plot
    assert state["dominant_emotion"] == "fear"
    assert state["blendshapes"]["eyeWideLeft"] > 0.2
    assert any(str(path).endswith(".glb") for path in (f["path"] if isinstance(f, dict) else f
                                                       for f in result[8]))


def test_describe_draws_the_photo_look_by_default_and_clean_skin_on_request(client):
    """The face wears the default photo's skin unless the caller picks clean skin; the look
    changes the picture, never the prediction."""
    text = "A broad grin with eyes alight with cheer."
    photo = client.predict(text, "embedded", api_name="/describe")  # old two-argument callers
    skin = client.predict(text, "embedded", "skin", api_name="/describe")
    assert photo[9]["blendshapes"] == skin[9]["blendshapes"]
    photo_face = np.asarray(Image.open(photo[0]).convert("RGB"), float)
    skin_face = np.asarray(Image.open(skin[0]).convert("RGB"), float)
    # clean skin is one smooth colour; the photo brings freckles, brows and lips of its own
    middle = (slice(photo_face.shape[0] // 3, photo_face.shape[0] // 2),
              slice(photo_face.shape[1] // 3, 2 * photo_face.shape[1] // 3))
    def detail(face):
        return np.abs(np.diff(face[middle], axis=1)).mean()

    assert detail(photo_face) > 1.5 * detail(skin_face)


def test_describe_rejects_empty_text_with_a_sentence(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="empty"):
        client.predict("   ", "embedded", api_name="/describe")


def test_sphere_point_names_the_nearest_class(client):
    theta, phi, r = 2.25, 0.0, 1.0  # the direction of Angry
    result = client.predict(theta, phi, r, api_name="/sphere_point")
    assert "Nearest class: Angry" in result[1]
    assert os.path.exists(result[2])


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


def test_generation_says_why_it_cannot_run(client):
    _gallery, message = client.predict(0.1, 0.0, 1.0, 0, api_name="/generate")
    assert "weights" in message.lower() or "gpu" in message.lower()


def test_describe_files_are_served_in_place_from_the_pruned_folders(client):
    """One copy per download: the files the API hands out are the request folder's own files
    (pruned by services.output_dir), not copies piling up in Gradio's cache."""
    import urllib.request

    from gradio_client import Client

    from emo_app.services import output_root

    raw = Client(client.src, verbose=False, download_files=False)
    result = raw.predict("A broad grin", "embedded", api_name="/describe")
    files = [result[0], result[2], *result[8]]
    root = output_root().resolve()
    for entry in files:
        path = Path(entry["path"]).resolve()
        assert root in path.parents, path
        with urllib.request.urlopen(entry["url"], timeout=30) as response:
            assert response.read() == path.read_bytes()
