"""The studio builds with every tab, without loading a model."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from emo_app.ui.app import TABS, build_app

ROOT = Path(__file__).resolve().parents[1]


def test_app_builds_with_all_tabs():
    demo = build_app()
    assert isinstance(demo, gr.Blocks)
    labels = [block.label for block in demo.blocks.values() if isinstance(block, gr.Tab)]
    for label, _, _ in TABS:
        assert label in labels


def test_building_the_app_loads_no_model(cold_start):
    """In a fresh interpreter (conftest's COLD_START) building the studio loads no model."""
    assert cold_start["loaded_by_build"] == []


def test_describe_sends_11_outputs_and_the_page_fills_the_55_sliders_itself():
    """/describe does not carry 52 slider values and the head's pose (the prediction JSON has
    them); a browser-only step copies them into the sliders (the browser test checks it on a
    real page)."""
    from emo_app.blendshapes import ARKIT_NAMES
    from emo_app.ui.tabs.describe import POSE_LABELS, SLIDERS_FROM_STATE_JS

    demo = build_app()
    describe = next(d for d in demo.fns.values() if d.api_name == "describe")
    assert len(describe.outputs) == 11
    follow_ups = [d for d in demo.fns.values() if d.js == SLIDERS_FROM_STATE_JS]
    assert len(follow_ups) == 1 and follow_ups[0].fn is None and len(follow_ups[0].outputs) == 55
    labels = [slider.label for slider in follow_ups[0].outputs]
    assert labels == [*ARKIT_NAMES, POSE_LABELS["yaw"], POSE_LABELS["pitch"], POSE_LABELS["roll"]]


def test_launch_warm_up_loads_the_describe_path_and_freezes_it_out_of_the_collector(cold_start):
    """In a fresh interpreter (conftest's COLD_START) the warm-up describes, freezes the heap
    and returns True; with describe failing it returns False instead of raising."""
    assert cold_start["warm_up"] == [True, True, False]


def test_the_terminal_says_what_the_first_description_waits_for(monkeypatch, caplog):
    """`make demo` prints the URL long before the first face can be made: the log says the
    models are loading, then that they are ready (and how long it took)."""
    import gc

    from emo_app import services
    from emo_app.ui import app

    monkeypatch.setattr(services, "describe", lambda text: None)
    monkeypatch.setattr(gc, "freeze", lambda: None)  # keep this test process's collector as it is
    with caplog.at_level("INFO", logger="emo_app.ui.app"):
        assert app.warm_up_and_freeze()
    lines = [r.getMessage() for r in caplog.records if r.levelname == "INFO"]
    assert lines[0].startswith("Loading the text model and the face") and lines[-1].startswith("Ready")


def test_the_examples_table_shows_only_the_description():
    demo = build_app()
    examples = [b for b in demo.blocks.values() if isinstance(b, gr.Dataset)]
    config = examples[0].get_config()
    assert [c["name"] for c in config["components"]] == ["textbox"]  # no column repeating "embedded"
    assert all(len(sample) == 1 for sample in config["samples"])


def test_handlers_use_no_private_gradio_names():
    """The UI uses Gradio's public API only (no ``_data``, ``Context``, ``PlotData``)."""
    for path in (ROOT / "emo_app" / "ui").rglob("*.py"):
        source = path.read_text()
        for name in ("._data", "gr.context", "gradio.context", "PlotData", "gradio.components.plot"):
            assert name not in source, f"{path.name} uses {name}"


def test_the_sphere_labels_only_the_seven_basic_classes_and_names_compounds_on_hover():
    from emo_app.emotion.space import BASIC_CLASSES, COMPOUND_CLASSES
    from emo_app.ui.sphere_plot import sphere_figure

    traces = [t for t in sphere_figure(None)["data"] if t.get("type") == "scatter3d"]
    labelled = [t for t in traces if "text" in t.get("mode", "")]
    assert len(labelled) == 1 and list(labelled[0]["text"]) == list(BASIC_CLASSES)
    hover_only = [t for t in traces if t is not labelled[0]]
    assert [list(t["text"]) for t in hover_only] == [list(COMPOUND_CLASSES)]
    assert all("%{text}" in t["hovertemplate"] for t in traces)
