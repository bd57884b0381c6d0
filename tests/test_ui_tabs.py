"""What the Walks, Capture and Benchmark tabs show, through their handlers (no browser)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def astronaut() -> object:
    """skimage's public-domain astronaut photo (one smiling face)."""
    from skimage.data import astronaut

    return astronaut()


def test_capture_says_whose_weights_the_chart_shows(astronaut, tmp_path, monkeypatch):
    """With a description the face performs the text's weights: the chart must not be titled
    as the photo's captured expression (the astronaut smiles; "I am furious" frowns)."""
    from emo_app.ui.tabs import capture

    monkeypatch.setenv("EMO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("EMO_RENDER_SIZE", "128")
    photo_only = capture.capture(astronaut, "", False)[3]
    performed = capture.capture(astronaut, "I am furious", False)
    assert photo_only.label == capture.PHOTO_WEIGHTS
    assert performed[3].label == capture.DESCRIPTION_WEIGHTS and "description" in performed[3].label
    assert "Your face performs: anger" in performed[4]
    assert performed[6]["browDownLeft"] > 0.5  # the chart's numbers are the frown's
