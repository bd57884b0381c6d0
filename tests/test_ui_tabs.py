"""What the Walks, Capture and Benchmark tabs show, through their handlers (no browser)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def astronaut() -> object:
    """skimage's public-domain astronaut photo (one smiling face)."""
    from skimage.data import astronaut

    return astronaut()


def _title(plot) -> str:
    import json

    return json.loads(plot.to_json())["layout"]["title"]["text"]


def test_capture_says_whose_weights_the_chart_shows(astronaut, tmp_path, monkeypatch):
    """With a description the face performs the text's weights: the chart must not be titled
    as the photo's captured expression (the astronaut smiles; "I am furious" frowns)."""
    from emo_app.ui.tabs import capture

    monkeypatch.setenv("EMO_DATA_DIR", str(tmp_path))
    photo_only = capture.capture(astronaut, "", False)[3]
    performed = capture.capture(astronaut, "I am furious", False)
    assert _title(photo_only) == capture.PHOTO_WEIGHTS
    assert _title(performed[3]) == capture.DESCRIPTION_WEIGHTS and "description" in _title(performed[3])
    assert "Your face performs: anger" in performed[4]
    assert performed[6]["browDownLeft"] > 0.5  # the chart's numbers are the frown's


def test_a_refused_photo_is_named_on_the_message_line_not_only_in_a_toast(tmp_path, monkeypatch):
    """After a photo with no face the page kept "1 face found." beside that photo once the toast
    was gone; the message line now says why, the last capture stays on screen."""
    from types import SimpleNamespace

    import numpy as np

    from emo_app.ui.common import PAGE_HEADER, RefusedInput
    from emo_app.ui.tabs import capture

    monkeypatch.setenv("EMO_DATA_DIR", str(tmp_path))
    page = SimpleNamespace(headers={PAGE_HEADER: "app"})
    sky = np.full((300, 300, 3), (200, 200, 255), np.uint8)
    refused = RefusedInput("The file is not an image.")  # refuse_bad_payloads' stand-in
    for photo, why in ((sky, "No face was found"), (refused, "not an image")):
        answer = capture.capture(photo, "", False, request=page)
        assert answer[4].startswith("⚠️ ") and why in answer[4] and "last photo that worked" in answer[4]
        kept = [value for i, value in enumerate(answer) if i != 4]
        assert all(isinstance(value, dict) and value.get("__type__") == "update" and len(value) == 1
                   for value in kept), kept  # gr.skip(): the last face, chart and files stay


def test_the_capture_tab_names_its_3d_viewer_as_describe_does():
    """The Capture tab's viewer was labelled just "GLB"."""
    import gradio as gr

    from emo_app.config import Settings
    from emo_app.ui.common import VIEWER_LABEL
    from emo_app.ui.tabs.capture import build_capture_tab
    from emo_app.ui.tabs.describe import build_describe_tab

    labels = [{block.label for block in _built_tab(builder, Settings()).blocks.values()
               if isinstance(block, gr.Model3D)} for builder in (build_capture_tab, build_describe_tab)]
    assert labels[0] == labels[1] == {VIEWER_LABEL}


def test_the_first_visit_to_capture_captures_the_sample_once_and_keeps_the_photo_box_free():
    import gradio as gr

    from emo_app.ui.tabs.capture import SAMPLE_NOTE, first_capture

    front, three_quarter, viewer, _, message, files, weights = first_capture(None, None, "", False)
    assert front.shape[2] >= 3 and three_quarter.shape == front.shape and viewer.endswith(".glb")
    assert message.startswith(SAMPLE_NOTE) and "1 face found." in message
    assert len(files) == 4 and len(weights) == 52
    skipped = tuple(gr.skip() for _ in range(7))
    assert first_capture(None, front, "", False) == skipped  # a later visit keeps the face shown
    assert first_capture("/tmp/mine.png", None, "", False) == skipped  # and a photo of the user's


def _built_tab(builder, settings):
    import gradio as gr

    with gr.Blocks() as demo:
        builder(settings)
    return demo


def test_benchmark_tab_says_why_a_model_is_unavailable_before_a_run(tmp_path):
    """The checkboxes said "(unavailable)"; the reason and the fix only came as a toast after
    a failed run."""
    import gradio as gr

    from emo_app.config import Settings
    from emo_app.ui.tabs.benchmark import build_benchmark_tab

    demo = _built_tab(build_benchmark_tab, Settings(weights_dir=tmp_path))
    notes = [block.value for block in demo.blocks.values() if isinstance(block, gr.Markdown)]
    reason = next(note for note in notes if "emo3d-clip-baseline" in note)
    assert "CLIP_Baseline.pth" in reason and "weights fetch emo3d-clip-baseline" in reason


def test_benchmark_tab_says_what_a_pool_holds_and_what_each_number_means(tmp_path):
    """The pool upload named no format (the columns came only in a refusal after a run), and the
    table's "FER judge KL" or "MediaPipe judge r" said neither what they measure nor which way is
    better (nor did the chart's panels)."""
    import json

    import gradio as gr

    from emo_app.config import Settings
    from emo_app.metric.benchmark import ModelScores
    from emo_app.ui.tabs.benchmark import build_benchmark_tab, report_chart, report_table

    demo = _built_tab(build_benchmark_tab, Settings(weights_dir=tmp_path))
    notes = " ".join(block.value or "" for block in demo.blocks.values() if isinstance(block, gr.Markdown))
    assert "`text` column" in notes and "`contempt`" in notes
    assert "Offline MediaPipe judge: Pearson r (higher is better)" in notes
    row = ModelScores("m", 5, emotion_mae=0.1, fer_agreement=0.5, mediapipe_r=0.4)
    headers, _ = report_table([row], k=10)
    assert headers[2:] == ["emotion MAE ↓", "FER judge agreement ↑", "MediaPipe judge r ↑"]
    chart = report_chart([ModelScores("m", 5, fer_kl=1.2, mediapipe_r=0.4)], k=10)
    titles = [note["text"] for note in json.loads(chart.to_json())["layout"]["annotations"]]
    assert titles == ["FER judge KL ↓", "MediaPipe judge r ↑"]


def test_benchmark_table_is_hidden_until_a_run_fills_it(tmp_path, monkeypatch):
    """Empty, the table showed the column titles "1 2 3"; after a run it shows the scores with
    every column title wrapped into view."""
    import gradio as gr
    import pandas as pd

    from emo_app.config import Settings
    from emo_app.ui.tabs import benchmark

    monkeypatch.setenv("EMO_DATA_DIR", str(tmp_path))
    demo = _built_tab(benchmark.build_benchmark_tab, Settings(weights_dir=tmp_path))
    (table,) = [block for block in demo.blocks.values() if isinstance(block, gr.Dataframe)]
    assert table.visible is False and table.wrap is True
    (show,) = [fn.fn for fn in demo.fns.values() if fn.outputs == [table] and fn.inputs == [table]]
    empty = pd.DataFrame(table.value["data"], columns=table.value["headers"])  # what the page sends
    assert show(empty).visible is False  # a refused first run leaves it hidden
    notes, filled, _, files = benchmark.benchmark(["embedded"], None, 2, 3)
    assert list(filled.columns[:2]) == ["model", "prompts"] and filled.iloc[0, :2].tolist() == ["embedded", 2]
    assert "Pool `prompt_pool`" in notes and files
    assert show(filled).visible is True


def test_the_first_visit_to_benchmark_runs_the_controls_once(tmp_path, monkeypatch):
    """Benchmark opened on an empty chart and an empty file box: the first visit shows the run
    its controls set, saying so; a later visit keeps the report on screen."""
    import gradio as gr

    from emo_app.ui.tabs.benchmark import FIRST_RUN_NOTE, first_benchmark

    monkeypatch.setenv("EMO_DATA_DIR", str(tmp_path))
    notes, table, chart, files = first_benchmark(None, ["embedded"], None, 5, 3)
    assert notes.startswith(FIRST_RUN_NOTE) and "Pool `prompt_pool`" in notes
    assert table.iloc[0, :2].tolist() == ["embedded", 5] and chart is not None
    assert sorted(Path(f).suffix for f in files) == [".csv", ".md", ".png"]
    assert first_benchmark(files, ["embedded"], None, 5, 3) == tuple(gr.skip() for _ in range(4))


def test_walks_show_only_the_controls_the_chosen_walk_reads():
    """θ, φ and r did nothing for an axis walk, End class nothing for a circle: a user moved
    them and saw no change. Each walk now shows only what it reads."""
    import gradio as gr

    from emo_app.config import Settings
    from emo_app.ui.tabs.walks import build_walks_tab

    demo = _built_tab(build_walks_tab, Settings())
    (kind,) = [b for b in demo.blocks.values() if isinstance(b, gr.Radio)]
    (toggle,) = [fn for fn in demo.fns.values() if (kind._id, "change") in fn.targets]
    labels = [block.label for block in toggle.outputs]

    def shown(updates) -> set[str]:
        return {label for label, update in zip(labels, updates) if update["visible"]}

    assert {block.label for block in toggle.outputs if block.visible} == {"Class at the end of the axis"}
    assert shown(toggle.fn("axis")) == {"Class at the end of the axis"}
    assert shown(toggle.fn("circle")) == {label for label in labels if label[0] in "θφr"}
    between = toggle.fn("classes")
    assert between[0]["label"] == "Start class"
    assert shown(between) == {labels[0], "End class", "Straight line instead of the great circle"}


def test_the_axis_walk_offers_no_neutral_end_and_the_walk_between_classes_does():
    """The axis's class list offered Neutral, and choosing it gave only a refusal."""
    import gradio as gr

    from emo_app.config import Settings
    from emo_app.ui.tabs.walks import build_walks_tab

    demo = _built_tab(build_walks_tab, Settings())
    (kind,) = [b for b in demo.blocks.values() if isinstance(b, gr.Radio)]
    (toggle,) = [fn for fn in demo.fns.values() if (kind._id, "change") in fn.targets]
    dropdowns = [b for b in demo.blocks.values() if isinstance(b, gr.Dropdown)]
    (first,) = [b for b in dropdowns if b.label.startswith("Class at")]

    def names(choices) -> set[str]:
        return {c[0] if isinstance(c, (list, tuple)) else c for c in choices}

    assert "Neutral" not in names(first.choices) and "Sad" in names(first.choices)
    between = toggle.fn("classes", "Happy")[0]
    assert "Neutral" in names(between["choices"]) and "value" not in between  # the choice is kept
    back = toggle.fn("axis", "Neutral")[0]  # Neutral chosen as a start, then back to the axis
    assert "Neutral" not in names(back["choices"]) and back["value"] == "Happy"
    assert "value" not in toggle.fn("axis", "Sad")[0]


def test_a_cleared_seed_box_gets_a_sentence_not_a_type_error():
    import gradio as gr

    from emo_app.ui.tabs.walks import generate_walk

    with pytest.raises(gr.Error, match="Enter a seed"):
        generate_walk("axis", "Happy", "Sad", 0, 0, 0.8, 5, False, None)


@pytest.mark.parametrize("ready", [False, True])
def test_the_image_walk_says_up_front_whether_it_can_run(ready, monkeypatch):
    """The accordion offered a live button; only a press revealed "No generator weights"."""
    import gradio as gr

    from emo_app import services
    from emo_app.config import Settings
    from emo_app.ui.tabs.walks import build_walks_tab

    message = "C2A2 generator ready." if ready else "No generator weights: train C2A2 weights with ..."
    monkeypatch.setattr(services, "generation_status", lambda: {"can_generate": ready, "message": message})
    demo = _built_tab(build_walks_tab, Settings())
    (button,) = [b for b in demo.blocks.values() if isinstance(b, gr.Button) and "image walk" in b.value]
    assert button.interactive is ready
    assert message in [b.value for b in demo.blocks.values() if isinstance(b, gr.Markdown)]


def test_the_faces_found_column_reads_as_a_share_of_the_prompts():
    """The judge found a face in every one of 40 renders; the table said "faces found: 1"."""
    from emo_app.metric.benchmark import ModelScores
    from emo_app.ui.tabs.benchmark import report_table

    headers, rows = report_table([ModelScores("embedded", 40, fer_kl=1.26761, mediapipe_detected=1.0),
                                  ModelScores("other", 40, mediapipe_detected=0.375)], k=10)
    assert headers == ["model", "prompts", "FER judge KL ↓", "faces found"]
    assert rows == [["embedded", 40, 1.2676, "100%"], ["other", 40, "", "38%"]]


def test_a_walk_from_a_class_to_itself_is_refused_before_rendering():
    """Happy -> Happy rendered nine identical faces without a word."""
    import gradio as gr

    from emo_app import services
    from emo_app.ui.tabs.walks import walk

    with pytest.raises(gr.Error, match="two different classes; both are 'Happy'"):
        walk("classes", "Happy", "happy ", 0, 0, 0.8, 5, False)
    assert len(services.walk_points("classes", emotion="Happy", other="Sad", steps=3)) == 3


@pytest.mark.parametrize(("steps", "columns", "rows"), [(9, 5, 2), (8, 8, 1), (17, 6, 3)])
def test_the_walk_grid_fills_its_rows_evenly(steps, columns, rows, tmp_path, monkeypatch):
    """The default 9-step walk put 8 faces on a row and one alone below."""
    from PIL import Image

    from emo_app import services
    from emo_app.generation.walks import label_height

    monkeypatch.setenv("EMO_DATA_DIR", str(tmp_path))
    result = services.walk("axis", emotion="Happy", steps=steps, size=32)
    with Image.open(result.files["grid"]) as grid:
        assert grid.size == (columns * 32, rows * (32 + label_height(32)))


def _example_click_chain(demo):
    """The events a click on the Describe examples runs, in order."""
    import gradio as gr

    (dataset,) = [b for b in demo.blocks.values() if isinstance(b, gr.Dataset)]
    chain = [fn for fn in demo.fns.values() if (dataset._id, "click") in fn.targets and fn.fn is not None]
    while (after := [fn for fn in demo.fns.values() if fn.trigger_after == chain[-1]._id]):
        chain.append(after[0])
    return chain


def test_an_example_makes_its_face_with_the_chosen_look_not_the_default_one():
    """With the mask head, photo skin and a dark background chosen, a click on an example showed
    a cached face on the full head, in generated skin, on a light background, while the
    controls still said otherwise."""
    import numpy as np
    from PIL import Image

    from emo_app.config import Settings
    from emo_app.ui.tabs.describe import EXAMPLES, build_describe_tab

    demo = _built_tab(build_describe_tab, Settings())
    makes_the_face = _example_click_chain(demo)[-1]
    (public,) = [fn for fn in demo.fns.values() if fn.api_name == "describe"]  # /describe keeps its name
    assert public is not makes_the_face and public.inputs == makes_the_face.inputs
    ids = [getattr(block, "elem_id", None) or block.label for block in makes_the_face.inputs]
    assert ids == ["describe-text", "Text model", "describe-look", "describe-head", "describe-tone",
                   "describe-background"]
    chosen = {"Text model": "embedded", "describe-look": "photo", "describe-head": "mediapipe",
              "describe-tone": "deep", "describe-background": "dark"}
    outputs = makes_the_face.fn(EXAMPLES[3], *[chosen[i] for i in ids[1:]])
    with Image.open(outputs[0]) as front:
        corner = np.asarray(front.convert("RGB"))[2, 2]
    assert corner.max() < 80  # the dark background, not the light one
    assert outputs[9]["text"] == EXAMPLES[3]


def test_a_coordinate_that_rounds_to_zero_reads_plus_zero_not_minus_zero():
    """The first face's point read "Z -0.00" (its Z was -0.004): a zero shown as negative."""
    from emo_app.emotion.space import EmotionPoint, signed_coordinate
    from emo_app.ui.tabs.describe import point_text

    assert "Z +0.00 " in point_text(EmotionPoint(0.94, 0.13, -0.004))
    shown = [signed_coordinate(v) for v in (-0.004, -0.38, 0.005 + 1e-9, 0.0)]
    assert shown == ["+0.00", "-0.38", "+0.01", "+0.00"]


def test_the_summary_names_each_cue_once_and_gives_each_note_its_own_line():
    """A pasted paragraph listed "smiles, smiles, smiles, ..." 120 times, and the notes (phrases
    without full stops) ran together: "...the facial cues in the text C2A2 arousal leans..."."""
    from emo_app.ui.tabs.describe import describe

    outputs = describe("She smiles. " * 12 + "She frowns.", "embedded")
    summary, prediction = outputs[6], outputs[9]
    assert prediction["cues"].count("smiles") == 12
    assert "**facial cues found:** smiles, frowns" in summary and summary.count("smiles") == 1
    lines = summary.splitlines()
    assert len(prediction["notes"]) >= 2 and all(f"- {note}" in lines for note in prediction["notes"])


def test_at_the_neutral_centre_the_heading_keeps_the_sliders_direction():
    """With r at 0 the heading said θ 0°, φ 0° while the sliders held θ 90°, φ 30° (the centre
    has no direction of its own); raising r then went to 90°, as the sliders said."""
    from emo_app.ui.tabs.sphere import sphere_point

    heading = sphere_point(90, 30, 0)[1]
    assert "Nearest class: Neutral" in heading and "θ 90°, φ 30°, r 0.00" in heading


def test_the_describe_tabs_small_sphere_is_drawn_from_further_back_than_the_big_one():
    """At 300 px high, with the 460 px sphere's camera, the cube's lower corner and the valence
    and arousal axis names were cut off (screenshots at 400 and 1400 px)."""
    import json
    import math

    from emo_app.emotion.space import EmotionPoint
    from emo_app.ui.sphere_plot import sphere_figure
    from emo_app.ui.tabs.describe import sphere_plot

    def distance(layout) -> float:
        return math.dist((0, 0, 0), layout["scene"]["camera"]["eye"].values())

    small = json.loads(sphere_plot(EmotionPoint(0.9, 0.1, 0.0)).to_json())["layout"]
    big = sphere_figure(None)["layout"]
    assert small["height"] == 300 and distance(small) >= 1.2 * distance(big)


def test_the_tongue_slider_moves_the_tongue_on_both_heads():
    """Moving tongueOut on the default full head changed nothing on screen (ICT-FaceKit has no
    tongue shape; the head now sculpts one), and the slider said it worked on the mask head only."""
    import gradio as gr
    import numpy as np

    from emo_app.config import Settings
    from emo_app.services import render_face
    from emo_app.ui.tabs.describe import build_describe_tab

    def tongue_moves(head: str) -> bool:
        still, out = (render_face({"jawOpen": 0.6, "tongueOut": t}, size=96, head=head).images["front"]
                      for t in (0.0, 1.0))
        return bool(np.abs(still.astype(int) - out.astype(int)).max() > 30)

    assert tongue_moves("full") and tongue_moves("mediapipe")
    demo = _built_tab(build_describe_tab, Settings())
    (slider,) = [b for b in demo.blocks.values() if isinstance(b, gr.Slider) and b.label == "tongueOut"]
    assert not slider.info


def test_every_3d_viewer_starts_level_with_the_face_as_the_front_render_does():
    """Babylon.js's default camera looked down on the head, and an open mouth hid behind the
    upper lip (the renders look level): each viewer's camera starts at beta 90 degrees, in front."""
    import gradio as gr

    from emo_app.ui.app import build_app

    viewers = [block for block in build_app().blocks.values() if isinstance(block, gr.Model3D)]
    assert len(viewers) >= 3  # Describe, Capture, Walks
    for viewer in viewers:
        alpha, beta, _ = viewer.camera_position
        assert (alpha, beta) == (90, 90), viewer.label


def test_the_score_tables_show_once_a_score_fills_them():
    """Before any score, Describe showed two tables of bare column titles under the button (and
    the top-k prompts stay empty without CLIP)."""
    import gradio as gr
    import pandas as pd

    from emo_app.config import Settings
    from emo_app.ui.common import show_when_filled
    from emo_app.ui.tabs.describe import build_describe_tab, score_tables

    demo = _built_tab(build_describe_tab, Settings())
    tables = {block.elem_id: block for block in demo.blocks.values() if isinstance(block, gr.Dataframe)}
    score, top = tables["describe-score-table"], tables["describe-score-top"]
    assert score.visible is False and top.visible is False
    # what the page sends for an empty table
    empty = [pd.DataFrame(t.value["data"], columns=t.value["headers"]) for t in (score, top)]
    assert [show_when_filled(table).visible for table in empty] == [False, False]
    rows, _, top_rows = score_tables({"emo3d": None, "emo3d_unavailable": "no CLIP",
                                      "offline_judges": {"mediapipe": {"detected": False}}})
    filled = pd.DataFrame(rows, columns=score.value["headers"])
    top_filled = pd.DataFrame(top_rows, columns=top.value["headers"])
    shown = [show_when_filled(table) for table in (filled, top_filled)]
    assert [update.visible for update in shown] == [True, False]  # no CLIP: no prompts to show
