"""The studio builds with every tab, without loading a model."""

from __future__ import annotations

import gradio as gr

from emo_app.models import get_manager
from emo_app.ui.app import TABS, build_app


def test_app_builds_with_all_tabs_and_loads_nothing():
    demo = build_app()
    assert isinstance(demo, gr.Blocks)
    labels = [block.label for block in demo.blocks.values() if isinstance(block, gr.Tab)]
    for label, _, _ in TABS:
        assert label in labels
    assert not any(row["loaded"] for row in get_manager().status())
