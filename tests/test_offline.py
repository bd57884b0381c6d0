"""Offline guarantee: the embedded default (text -> emotions -> 52 weights -> a rendered face and its
files) never touches the network, even when nothing tells it to stay offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from emo_app.config import Settings

ROOT = Path(__file__).resolve().parents[1]

# Runs in a fresh interpreter: sockets are blocked BEFORE emo_app (or torch, transformers, gradio)
# is imported, so an import-time or load-time download attempt would be recorded too.
CHILD = r"""
import json, socket, sys
attempts = []

class Blocked(OSError):
    pass

def refuse(*args, **kwargs):
    attempts.append(repr(args[1:] if args and isinstance(args[0], socket.socket) else args)[:200])
    raise Blocked("network access attempted")

socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse

from emo_app import services
result = services.describe("Furious, with a furrowed brow and lips pressed tight.", size=128)
files = {kind: path.stat().st_size for kind, path in result.face.files.items()}
print("RESULT " + json.dumps({"attempts": attempts, "dominant": result.prediction.emotions.dominant(),
                             "std": float(result.face.images["front"].std()), "files": files}))
"""


def test_embedded_default_in_a_fresh_process_never_tries_the_network(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "EMO_OFFLINE", "HF_DATASETS_OFFLINE"}}
    env.update(PYOPENGL_PLATFORM="egl", GRADIO_ANALYTICS_ENABLED="False", TOKENIZERS_PARALLELISM="false",
               EMO_WEIGHTS_DIR=str(tmp_path / "weights"), EMO_DATA_DIR=str(tmp_path / "data"),
               HF_HOME=str(tmp_path / "hf"), TMPDIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("RESULT "))
    report = json.loads(line.removeprefix("RESULT "))
    assert report["attempts"] == []
    assert report["dominant"] == "anger"
    assert report["std"] > 5  # a face was drawn, not a blank frame
    assert {"glb", "json", "csv", "png"} <= set(report["files"]) and min(report["files"].values()) > 0


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
