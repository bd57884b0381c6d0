"""Walks through C2A2 space rendered by a tiny random pipeline: grids, GIF, MP4, face column."""

from __future__ import annotations

import imageio.v2 as imageio
import numpy as np
import pytest
from PIL import Image

from emo_app.errors import InvalidInputError
from emo_app.generation import walks
from emo_app.generation.pipeline import C2A2Pipeline
from emo_app.generation.random_pipeline import build_random_sd_pipeline, clip_tokenizer

SIZE = 64


@pytest.fixture(scope="module")
def weights_root(tmp_path_factory):
    sd = build_random_sd_pipeline(seed=0, tokenizer=clip_tokenizer(tmp_path_factory.mktemp("vocab")))
    root = tmp_path_factory.mktemp("weights")
    C2A2Pipeline.with_new_number_encoder(sd, seed=0).save_pretrained(root / "c2a2-sd")
    return root


@pytest.fixture()
def tiny_generator(weights_root, monkeypatch):
    from emo_app.generation import api

    monkeypatch.setenv("EMO_WEIGHTS_DIR", str(weights_root))
    monkeypatch.setattr(api, "gpu_available", lambda: False)
    api.unload_generator()
    yield dict(allow_cpu_preview=True, size=SIZE, num_inference_steps=2)
    api.unload_generator()


def test_axis_walk_writes_grid_gif_and_mp4(tiny_generator, tmp_path, monkeypatch):
    monkeypatch.setattr(walks, "face_for_point", lambda point, size: None)  # no renderer: images only
    result = walks.axis_walk_images("happily-surprised", steps=3, out_dir=tmp_path, seed=4, **tiny_generator)
    assert result.labels == ["Happily surprised 0.00", "Happily surprised 0.50", "Happily surprised 1.00"]
    assert result.points[0].radius == 0.0 and result.points[-1].radius == pytest.approx(1.0, abs=1e-3)
    grid = Image.open(result.grid)
    assert grid.size == (3 * SIZE, SIZE + walks.label_height(SIZE))
    gif = imageio.mimread(result.gif)
    assert len(gif) == 3
    assert not np.array_equal(gif[0], gif[2])  # neutral and the full class are different frames
    assert result.mp4 is not None and result.mp4.stat().st_size > 0
    assert not result.faces and len(result.frames) == 3


def test_circle_and_between_walks_and_the_face_column(tiny_generator, tmp_path, monkeypatch):
    seen = []

    def fake_face(point, size):
        seen.append(point)
        return np.full((size, size, 3), 200, np.uint8)

    monkeypatch.setattr(walks, "face_for_point", fake_face)
    circle = walks.circle_walk_images(
        0.49, 0.98, 0.6, steps=3, out_dir=tmp_path / "c", formats=("png", "gif"), **tiny_generator
    )
    assert circle.faces and circle.mp4 is None and len(seen) == 3
    assert [p.radius for p in circle.points] == pytest.approx([0.6] * 3)
    assert Image.open(circle.grid).size == (3 * 2 * SIZE, SIZE + walks.label_height(2 * SIZE))  # image + face
    between = walks.class_walk_images(
        "Happy", "Sad", steps=2, out_dir=tmp_path / "b", formats=("png",), **tiny_generator
    )
    assert between.labels[0].startswith("Happy") and between.labels[-1].startswith("Sad")


def test_walk_arguments_are_checked(tmp_path):
    with pytest.raises(InvalidInputError, match="class"):
        walks.axis_walk_images("joyful", steps=3, out_dir=tmp_path)
    with pytest.raises(InvalidInputError, match="formats"):
        walks.render_walk(
            walks.space.axis_walk("Happy", 3),
            "x",
            out_dir=tmp_path,
            formats=("avi",),
            generate_fn=lambda points, seeds: [],
        )


def test_real_face_for_a_point():
    from emo_app.emotion.space import EmotionPoint

    happy, sad = (walks.face_for_point(EmotionPoint.of_class(c), SIZE) for c in ("Happy", "Sad"))
    if happy is None:
        pytest.skip("the face renderer cannot open an offscreen GL context here")
    assert happy.shape == (SIZE, SIZE, 3) and happy.dtype == np.uint8
    assert not np.array_equal(happy, sad)  # a different emotion poses a different face


@pytest.mark.parametrize("width", [128, 512])
def test_grid_labels_are_readable_at_the_cells_scale(width):
    """A label is drawn in a font scaled to its cell (the old 11 px bitmap font was a speck
    under a 512 px face once the grid was shown at page width), whole when it fits."""
    cell = Image.new("RGB", (width, width), "gray")
    grid = np.asarray(walks.image_grid([cell], ["Happily surprised 0.50"]))
    strip = grid[width:].min(axis=2) < 128  # the label's ink
    rows, columns = np.nonzero(strip)
    assert rows.max() - rows.min() >= width / 16  # the letters' height grows with the cell
    assert columns.min() > 0 and columns.max() < width - 1  # nothing runs off the cell


def test_the_face_walk_mp4_holds_every_frame_unstretched(tmp_path, monkeypatch):
    """The face walk's MP4 (imageio-ffmpeg; it used to try a PyAV that is not installed first
    and drop the video silently on any failure) has one frame per step, the face's own size
    padded to whole 16-pixel blocks, so the picture is not stretched."""
    from emo_app import services

    monkeypatch.setenv("EMO_DATA_DIR", str(tmp_path))
    result = services.walk("axis", emotion="Happy", steps=3, size=72)  # 72 is not a multiple of 16
    video = imageio.mimread(result.files["mp4"])
    labelled = 72 + walks.label_height(72)  # the face with its label underneath, as in the GIF
    assert len(video) == 3 and video[0].shape[:2] == (-(-labelled // 16) * 16, 80)
    gif = imageio.mimread(result.files["gif"])
    difference = np.abs(video[-1][:labelled, :72].astype(float) - gif[-1][..., :3].astype(float))
    assert difference.mean() < 6  # the same face, in place (H.264 and the GIF palette round it)
    assert video[-1][:, 72:].min() > 200 and video[-1][labelled:].min() > 200  # white padding, not stretched


def test_the_image_walk_checks_its_input_like_the_face_walk_on_any_machine(monkeypatch):
    """generate_walk takes walk_points' parameters (theta/phi too) and, without a generator,
    still answers a bad walk with the face walk's sentence, not 'no generator'."""
    from emo_app import services

    monkeypatch.setattr(services, "generation_status", lambda: {"can_generate": False, "message": "No GPU."})
    with pytest.raises(InvalidInputError, match="needs two different classes"):
        services.generate_walk("classes", emotion="Happy", other="Happy", steps=4)
    with pytest.raises(InvalidInputError, match="A walk has 2 to 60 steps; got 1"):
        services.generate_walk("axis", steps=1)
    assert services.generate_walk("circle", theta=0.3, phi=0.1, steps=4) == (None, "No GPU.")


def test_the_image_walk_forwards_the_walk_as_asked(monkeypatch):
    from emo_app import services

    calls = []
    monkeypatch.setattr(services, "generation_status", lambda: {"can_generate": True})
    for name in ("axis_walk_images", "circle_walk_images", "class_walk_images"):
        monkeypatch.setattr(walks, name,
                            lambda *args, _name=name, **kwargs: calls.append((_name, args, kwargs)))
    services.generate_walk("circle", theta=0.3, phi=0.1, r=0.5, steps=4, seed=7)
    services.generate_walk("classes", emotion="Happy", other="Sad", steps=5, spherical=False, seed=2)
    services.generate_walk("axis", emotion="Angry", steps=3)
    assert calls == [("circle_walk_images", (0.3, 0.1, 0.5, 4), {"seed": 7}),
                     ("class_walk_images", ("Happy", "Sad", 5), {"spherical": False, "seed": 2}),
                     ("axis_walk_images", ("Angry", 3), {"seed": 0})]
