"""The face walk as a person gets it from the Walks tab, the API and the CLI: one labelled frame
per step, file names that tell walks apart, and walks that would show one face refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from emo_app import services
from emo_app.errors import InvalidInputError


@pytest.fixture(autouse=True)
def _scratch_data(tmp_path, monkeypatch):
    monkeypatch.setenv("EMO_DATA_DIR", str(tmp_path))


def test_the_walk_gif_has_one_labelled_frame_per_step():
    """Happy -> Sad in 30 steps gave a GIF of fewer frames: the face holds still near each class,
    Pillow merges identical frames, and the grid's labels read "Happy r=1.00" all along."""
    result = services.walk("classes", emotion="Happy", other="Sad", steps=30, size=48)
    with Image.open(result.files["gif"]) as gif:
        assert gif.n_frames == 30
        assert gif.height > 48  # the label strip under the face
    assert len(set(result.labels)) == 30
    assert result.labels[0] == "1/30 Happy" and result.labels[-1] == "30/30 Sad"
    axis = services.walk("axis", emotion="Angry", steps=5, size=32)
    assert axis.labels == ["Angry 0.00", "Angry 0.25", "Angry 0.50", "Angry 0.75", "Angry 1.00"]


def test_walks_that_differ_get_file_names_that_differ():
    """Every circle was "circle-walk.gif" and the straight Happy -> Sad line had the great
    circle's name: a second download became "circle-walk (1).gif", which says nothing."""
    def gif_name(kind: str, **params) -> str:
        return services.walk(kind, size=32, **params).files["gif"].name

    assert gif_name("axis", emotion="Happy", steps=3) == "happy-axis-walk-3-steps.gif"
    assert gif_name("classes", emotion="Happy", other="Sad", steps=2) == "happy-to-sad-walk-2-steps.gif"
    assert (gif_name("classes", emotion="Happy", other="Sad", steps=2, spherical=False)
            == "happy-to-sad-straight-walk-2-steps.gif")
    assert (gif_name("circle", tilt=0.5236, start_angle=-0.7854, r=0.8, steps=4)
            == "circle-walk-tilt-30-start-315-r-0-80-4-steps.gif")


@pytest.mark.parametrize(("kind", "params", "sentence"), [
    ("axis", {"emotion": "Neutral"}, "Neutral is the centre itself"),
    ("circle", {"r": 0.0}, "radius r must be from 0.05"),
    ("circle", {"r": 5.0}, "radius r must be from 0.05 .* to 1.0"),
])
def test_a_walk_that_would_show_one_face_throughout_is_refused(kind, params, sentence):
    """The CLI rendered a Neutral axis walk and a circle of radius 0 (every face the same) and a
    circle of radius 5 (the same faces as radius 1, labelled otherwise); the page's r slider
    stops at 0.05 and 1, so the API refused what the CLI drew."""
    with pytest.raises(InvalidInputError, match=sentence):
        services.walk(kind, steps=3, size=32, **params)


def test_the_pages_radius_slider_spans_what_the_walk_accepts():
    import gradio as gr

    from emo_app.config import Settings
    from emo_app.emotion.walks import CIRCLE_RADIUS_RANGE
    from emo_app.ui.tabs.walks import build_walks_tab

    with gr.Blocks() as demo:
        build_walks_tab(Settings())
    (radius,) = [b for b in demo.blocks.values() if isinstance(b, gr.Slider) and b.label.startswith("r:")]
    assert (radius.minimum, radius.maximum) == CIRCLE_RADIUS_RANGE


def test_the_walks_tab_says_what_a_walk_is_and_what_each_control_does():
    """A new user met "Walk", "θ: tilt of the circle towards +Z" and "Steps" with no word on what
    a walk is, which way 0 degrees points or what comes out."""
    import gradio as gr

    from emo_app.config import Settings
    from emo_app.ui.tabs.walks import build_walks_tab

    with gr.Blocks() as demo:
        build_walks_tab(Settings())
    blocks = list(demo.blocks.values())
    intro = " ".join(b.value for b in blocks if isinstance(b, gr.Markdown) and b.elem_id == "walks-intro")
    for promise in ("one face per step", "neutral centre", "GIF", "MP4", "GLB", "grid"):
        assert promise in intro
    controls = [b for b in blocks if isinstance(b, (gr.Slider, gr.Checkbox))]
    assert len(controls) == 5 and all(b.info for b in controls), [b.label for b in controls if not b.info]


def test_the_walks_tab_fills_itself_once(tmp_path, monkeypatch):
    """The first visit walks with the controls as set; a later visit keeps what is shown (a
    walk the user made is not replaced by the default one)."""
    import gradio as gr

    from emo_app.ui.tabs.walks import WALK_EXAMPLES, first_walk

    monkeypatch.setenv("EMO_DATA_DIR", str(tmp_path))
    defaults = WALK_EXAMPLES[0][1]  # Neutral -> Happy, 9 steps: the controls' first values
    gif, _, glb, _, files = first_walk(None, *defaults)
    assert gif.endswith("happy-axis-walk-9-steps.gif") and glb.endswith(".glb") and len(files) == 6
    assert first_walk(gif, *defaults) == tuple(gr.skip() for _ in range(5))


def test_the_walks_viewer_plays_the_rig_lit_as_the_gif_and_the_download_stays_the_rig(tmp_path, monkeypatch):
    """The page's viewer lit the walk's rigged GLB with its own environment (a pinker, flatter
    face than the GIF beside it); it now gets the same animation in unlit materials whose vertex
    colours carry the render's light, and the download stays the plain rig for animators."""
    import pygltflib

    from emo_app.ui.tabs.walks import WALK_EXAMPLES, first_walk

    monkeypatch.setenv("EMO_DATA_DIR", str(tmp_path))
    _, _, viewer, _, files = first_walk(None, *WALK_EXAMPLES[0][1])
    assert viewer not in files and viewer.endswith("-viewer.glb")
    (download,) = [f for f in files if f.endswith(".glb")]
    shown, rig = pygltflib.GLTF2().load(viewer), pygltflib.GLTF2().load(download)
    assert all(m.extensions == {"KHR_materials_unlit": {}} for m in shown.materials)
    assert not any(m.extensions for m in rig.materials)
    assert all(p.attributes.COLOR_0 is not None for mesh in shown.meshes for p in mesh.primitives)
    assert [len(p.targets) for mesh in shown.meshes for p in mesh.primitives] == [
        len(p.targets) for mesh in rig.meshes for p in mesh.primitives]
    assert len(shown.animations) == 1 and len(shown.animations[0].channels) == len(rig.animations[0].channels)
    # unlit normals shade nothing: the targets move positions and change the colours' light
    # (test_face_export: the creases deepen as the walk plays), 7.5 MB against the rig's 7.8
    targets = [t for mesh in shown.meshes for p in mesh.primitives for t in p.targets]
    assert all(t.get("NORMAL") is None and t.get("COLOR_0") is not None for t in targets)
    assert Path(viewer).stat().st_size < Path(download).stat().st_size


def test_the_cli_walk_makes_the_pages_walk(tmp_path, capsys):
    """The page walked 9 steps by default and the CLI 12; the CLI's angles are radians (the
    paper's figures), the page's degrees: the same walk now gives the same files either way."""
    from emo_app.cli import main
    from emo_app.ui.tabs.walks import walk as page_walk

    circle = ["circle", "--theta", "0.5236", "--phi=-0.7854", "--r", "0.5", "--steps", "4"]  # 30, -45 degrees
    for page_args, cli_args in [(("axis", "Happy", "Sad", 0, 0, 0.8, 9, False), ["axis"]),
                                (("circle", "Happy", "Sad", 30, -45, 0.5, 4, False), circle)]:
        gif, *_ = page_walk(*page_args)
        out = tmp_path / cli_args[0]
        assert main(["walk", *cli_args, "--size", "256", "--out-dir", str(out)]) == 0
        written = out / Path(gif).name
        assert written.exists(), sorted(p.name for p in out.iterdir())
        with Image.open(gif) as from_page, Image.open(written) as from_cli:
            assert from_page.n_frames == from_cli.n_frames == page_args[6]
    assert "(gif)" in capsys.readouterr().out


def test_a_fractional_step_count_from_the_api_gets_a_sentence():
    """/walk with steps 4.5 (the slider only sends whole numbers) rendered 4 faces without a word."""
    import gradio as gr

    from emo_app.ui.tabs.walks import generate_walk, walk

    with pytest.raises(gr.Error, match="Steps must be a whole number from 2 to 60; got 4.5"):
        walk("axis", "Happy", "Sad", 0, 0, 0.8, 4.5, False)
    with pytest.raises(gr.Error, match="Steps must be a whole number"):
        generate_walk("axis", "Happy", "Sad", 0, 0, 0.8, 4.5, False, 0)


@pytest.mark.parametrize(("argv", "sentence"), [
    (["between", "--a", "Happy", "--b", "Happy"], "two different classes; both are 'Happy'"),
    (["axis", "--a", "Neutral"], "Neutral is the centre itself"),
    (["circle", "--r", "0"], "r must be above 0"),
])
def test_the_image_walk_command_names_a_bad_walk_before_the_gpu(argv, sentence, capsys):
    """walk-c2a2 answered Happy -> Happy with "needs a CUDA GPU"; on a GPU it would have drawn
    nine identical images. It now gives the face walk's sentence on any machine."""
    from emo_app.cli import main

    assert main(["walk-c2a2", *argv]) == 2
    assert sentence in capsys.readouterr().err


def test_a_walk_reports_each_stage_so_the_page_can_show_progress():
    """The page said "Rendering 60 faces - 10%" for the whole walk: the GLB, GIF, MP4 and grid
    that take most of its seconds were never reported."""
    heard: list[tuple[float, str]] = []
    result = services.walk("axis", steps=3, size=32,
                           progress=lambda fraction, stage: heard.append((fraction, stage)))
    assert [stage for _, stage in heard] == ["Rendering 3 faces", "Writing the GLB",
                                            "Writing the Live Link Face CSV and JSON", "Writing the GIF",
                                            "Writing the MP4", "Writing the grid"]
    assert [fraction for fraction, _ in heard] == sorted(fraction for fraction, _ in heard)
    assert all(path.exists() for path in result.files.values())


def test_every_walks_example_makes_its_walk():
    """The tab had no examples: a new user had to guess a first walk (the paper's circle among them)."""
    from emo_app.ui.tabs.walks import WALK_EXAMPLES, walk

    assert len(WALK_EXAMPLES) >= 4 and {row[0] for _, row in WALK_EXAMPLES} == {"axis", "circle", "classes"}
    for _, row in WALK_EXAMPLES:
        gif, *_ = walk(*row)
        with Image.open(gif) as animation:
            assert animation.n_frames == row[6]


def test_a_walk_comes_as_a_live_link_take_and_a_json_an_animator_can_use():
    """A walk had only pictures and a GLB: Unreal's Live Link Face importer and a script that
    wants each step's point had nothing. The CSV is the GLB's animation sampled at 60 fps (Live
    Link Face's rate), the JSON each step's label, point and 52 weights; the GIF lasts as long."""
    import json

    from emo_app.blendshapes.io import read_live_link_csv

    result = services.walk("axis", emotion="Surprised", steps=5, size=32)  # 5 steps at 6 fps: 0.67 s
    take = read_live_link_csv(result.files["csv"].read_bytes())
    assert len(take.frames) == 41  # 0 .. 4/6 s at 60 fps
    jaw = [frame.to_dict()["jawOpen"] for frame in take.frames]
    keys = [shape.to_dict()["jawOpen"] for shape in result.shapes]
    assert jaw[0] == pytest.approx(keys[0], abs=1e-5) and jaw[-1] == pytest.approx(keys[-1], abs=1e-5)
    assert jaw[5] == pytest.approx((keys[0] + keys[1]) / 2, abs=1e-5)  # halfway between steps 1 and 2
    assert keys[-1] > keys[0] + 0.2  # the walk opens the mouth
    data = json.loads(result.files["json"].read_text())
    assert data["walk"] == {"kind": "axis", "emotion": "Surprised", "steps": 5} and data["fps"] == 6.0
    assert [step["label"] for step in data["steps"]] == result.labels
    assert data["steps"][-1]["blendshapes"] == result.shapes[-1].to_dict()
    assert data["steps"][-1]["point"]["valence"] == pytest.approx(result.points[-1].valence)
    with Image.open(result.files["gif"]) as gif:
        durations = []
        for frame in range(gif.n_frames):
            gif.seek(frame)
            durations.append(gif.info["duration"])
    assert sum(durations) == pytest.approx(5 / 6 * 1000, abs=10)  # 6 fps, not 6.25
