"""The studio builds with every tab, without loading a model."""

from __future__ import annotations

import subprocess
import sys
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


def test_building_the_app_loads_no_model():
    code = (
        "from emo_app.ui.app import build_app; from emo_app.models import get_manager;"
        "build_app(); print([r['name'] for r in get_manager().status() if r['loaded']])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True,
                         timeout=300)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_describe_fills_the_52_sliders_in_the_page_only():
    """/describe returns the prediction; the page then copies its weights into the sliders."""
    from emo_app.blendshapes import ARKIT_NAMES
    from emo_app.ui.tabs.describe import sliders_from_state

    values = sliders_from_state({"blendshapes": {"jawOpen": 0.5, "mouthSmileLeft": 0.25}})
    assert len(values) == 52 and values[ARKIT_NAMES.index("jawOpen")] == 0.5
    assert values[ARKIT_NAMES.index("mouthSmileLeft")] == 0.25 and sliders_from_state(None) == [0.0] * 52
    demo = build_app()
    follow_ups = [d for d in demo.fns.values() if getattr(d.fn, "__name__", "") == "sliders_from_state"]
    assert len(follow_ups) == 1 and len(follow_ups[0].outputs) == 52
    describe = next(d for d in demo.fns.values() if d.api_name == "describe")
    assert len(describe.outputs) == 11
