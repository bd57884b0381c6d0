"""Offline guarantee: the embedded default (text -> emotions -> 52 weights -> a rendered face and its
files) never touches the network, even when nothing tells it to stay offline."""

from __future__ import annotations

import numpy as np

from emo_app.config import Settings


def test_embedded_default_in_a_fresh_process_never_tries_the_network(cold_start):
    """A fresh interpreter with sockets blocked before any import (conftest's COLD_START: the
    launch warm-up loads the embedded default, then a face is described) records no attempt."""
    assert cold_start["attempts"] == []
    assert cold_start["dominant"] == "anger"
    assert cold_start["std"] > 5  # a face was drawn, not a blank frame
    assert {"glb", "json", "csv", "png"} <= set(cold_start["files"]) and min(cold_start["files"].values()) > 0


def test_embedded_default_in_process_with_sockets_blocked(no_network, tmp_path):
    from emo_app import services

    settings = Settings(weights_dir=tmp_path, data_dir=tmp_path, offline=False)  # a fresh model load
    result = services.describe("A broad grin with eyes alight with cheer.", views=("front",), size=96,
                               exports=False, settings=settings)
    assert no_network == []
    assert result.prediction.emotions.dominant() == "happiness"
    assert result.face.images["front"].shape == (96, 96, 3) and np.std(result.face.images["front"]) > 5


def test_missing_optional_weights_fail_fast_offline_without_trying_the_network(no_network, tmp_path):
    from emo_app.errors import MissingWeightsError
    from emo_app.models import resolve

    try:
        resolve("clip-vit-b-32", Settings(weights_dir=tmp_path, data_dir=tmp_path, offline=True))
    except MissingWeightsError as exc:
        assert "clip-vit-b-32.safetensors" in str(exc)
    else:  # pragma: no cover - the weights folder is empty
        raise AssertionError("resolve() found weights in an empty folder")
    assert no_network == []
