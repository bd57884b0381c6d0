"""Shared test set-up: offline, headless, deterministic."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import configuration, settings

# the same examples on every run (a fixed seed per test) and no per-example time limit:
# the suite stays deterministic and has no timed assertions
# (no example database either: nothing is written into the tree)
settings.register_profile("deterministic", derandomize=True, deadline=None, print_blob=True, database=None)
settings.load_profile("deterministic")

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# Whatever the tests write (studies, reports, caches, Gradio's uploads and files) goes to a
# scratch folder removed at exit, never to the developer's ./data or the tree.
SCRATCH = Path(tempfile.mkdtemp(prefix="emo-tests-"))
atexit.register(shutil.rmtree, SCRATCH, ignore_errors=True)
os.environ["EMO_DATA_DIR"] = str(SCRATCH / "data")
# request folders (outputs.output_root, under the temporary directory) too: each test process
# prunes only its own, and the developer's /tmp/emotion-studio is left alone
(SCRATCH / "tmp").mkdir()
tempfile.tempdir = str(SCRATCH / "tmp")
os.environ["TMPDIR"] = tempfile.tempdir
os.environ["GRADIO_TEMP_DIR"] = str(SCRATCH / "gradio")
os.environ["MPLCONFIGDIR"] = str(SCRATCH / "matplotlib")
configuration.set_hypothesis_home_dir(str(SCRATCH / "hypothesis"))  # its constants cache

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def _tree_state() -> str | None:
    """``git status`` of the checkout, untracked and ignored files included (None outside git)."""
    try:
        done = subprocess.run(["git", "status", "--porcelain", "--ignored", "--untracked-files=all"],
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    # the virtualenv, bytecode and the linter's cache are not the tests' doing
    keep = [line for line in done.stdout.splitlines()
            if not any(part in line for part in (".venv/", "__pycache__", ".egg-info/", ".ruff_cache/"))]
    return "\n".join(keep)


@pytest.fixture(scope="session", autouse=True)
def tree_stays_clean():
    """A test run leaves the checkout as it found it: nothing written, changed or removed
    (except `make screenshots`, whose point is to rewrite docs/: it sets EMO_SCREENSHOTS)."""
    before = _tree_state()
    yield
    after = _tree_state()
    if os.environ.get("EMO_SCREENSHOTS"):
        return
    if before is not None and after is not None and after != before:
        changed = sorted(set(after.splitlines()) ^ set(before.splitlines()))
        pytest.fail(f"the tests changed the checkout: {changed[:20]}")


@pytest.fixture
def shared_dir() -> Path:
    """The development-only ../shared folder; tests that need it skip without it."""
    if not SHARED.is_dir():
        pytest.skip("../shared is not present")
    return SHARED


class NetworkAttempt(AssertionError):
    pass


@pytest.fixture
def no_network(monkeypatch):
    """Block every socket connection and record attempts (so a test can assert none)."""
    attempts: list[object] = []

    def refuse(self, address, *args, **kwargs):
        attempts.append(address)
        raise NetworkAttempt(f"network access attempted: {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", lambda address, *a, **k: refuse(None, address))
    monkeypatch.setattr(
        socket, "getaddrinfo", lambda host, *a, **k: (_ for _ in ()).throw(NetworkAttempt(host))
    )
    return attempts


# A cold start in a fresh interpreter: sockets are blocked BEFORE emo_app (or torch, transformers,
# gradio) is imported, so an import-time or load-time download attempt is recorded too. It does
# what a launch does first (build the studio, noting which models that loaded; the warm-up
# describe, which loads the embedded default, then freezes the heap), describes a face, then
# warms up once more with a failing describe.
COLD_START = r"""
import gc, json, socket, sys
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

from emo_app.ui import app
from emo_app import services
from emo_app.models import get_manager
app.build_app()
loaded_by_build = [r["name"] for r in get_manager().status() if r["loaded"]]
warmed = app.warm_up_and_freeze()
frozen = gc.get_freeze_count()
result = services.describe("Furious, with a furrowed brow and lips pressed tight.", size=128)
files = {kind: path.stat().st_size for kind, path in result.face.files.items()}
report = {"attempts": attempts, "dominant": result.prediction.emotions.dominant(),
          "std": float(result.face.images["front"].std()), "files": files}
services.describe = lambda text: (_ for _ in ()).throw(RuntimeError("no weights"))
report["warm_up"] = [warmed, frozen > 100_000, app.warm_up_and_freeze()]
report["loaded_by_build"] = loaded_by_build
print("RESULT " + json.dumps(report))
"""


_COLD_START: subprocess.Popen | None = None


def _start_cold_start() -> subprocess.Popen:
    """The COLD_START interpreter, started in the background with nothing telling it to stay
    offline (its own folders under the scratch folder)."""
    import sys

    folder = SCRATCH / "cold-start"
    folder.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if k not in {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "EMO_OFFLINE", "HF_DATASETS_OFFLINE"}}
    env.update(PYOPENGL_PLATFORM="egl", GRADIO_ANALYTICS_ENABLED="False", TOKENIZERS_PARALLELISM="false",
               EMO_WEIGHTS_DIR=str(folder / "weights"), EMO_DATA_DIR=str(folder / "data"),
               HF_HOME=str(folder / "hf"), TMPDIR=str(folder))
    return subprocess.Popen([sys.executable, "-c", COLD_START], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.hookimpl(trylast=True)  # after -k and -m have deselected what will not run
def pytest_collection_modifyitems(session, config, items) -> None:
    """When a test that will run reads ``cold_start``, its interpreter starts now, so its 20 s
    of imports and model loading overlap the tests before it instead of waiting in line."""
    global _COLD_START
    if _COLD_START is None and any("cold_start" in getattr(item, "fixturenames", ()) for item in items):
        _COLD_START = _start_cold_start()


def pytest_sessionfinish(session, exitstatus) -> None:
    """A cold start no test waited for (the run stopped early) does not outlive the session."""
    if _COLD_START is not None and _COLD_START.poll() is None:
        _COLD_START.kill()
        _COLD_START.communicate()


@pytest.fixture(scope="session")
def cold_start() -> dict:
    """What the COLD_START interpreter reports, run once for the tests that read it (each
    interpreter start and model load is seconds)."""
    global _COLD_START
    process, _COLD_START = _COLD_START or _start_cold_start(), None
    try:
        stdout, stderr = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    assert process.returncode == 0, stderr[-3000:]
    line = next(ln for ln in stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def run_python(script: str):
    """Run ``script`` in a fresh interpreter (what a process does from start to exit, which a
    test inside this one cannot see); fails with the tail of its stderr unless it exits 0."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


@contextlib.contextmanager
def running_studio(**launch_options):
    """The studio launched on a free loopback port; yields its URL and closes it afterwards."""
    from emo_app.ui.app import build_app, launch_kwargs

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    demo = build_app()
    demo.queue(max_size=32)
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                **launch_kwargs(), **launch_options)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


def tiny_clip_encoder(embed_dim: int, seed: int, model_id: str):
    """A tiny randomly initialised open_clip CLIP (``embed_dim``-d embeddings, seeded) with the
    real BPE tokenizer, wrapped as the app's ClipEncoder."""
    import open_clip
    import torch

    from emo_app.models.clip import ClipEncoder

    torch.manual_seed(seed)
    model = open_clip.CLIP(
        embed_dim=embed_dim,
        vision_cfg=open_clip.CLIPVisionCfg(layers=1, width=32, head_width=16, patch_size=8, image_size=32),
        text_cfg=open_clip.CLIPTextCfg(context_length=77, vocab_size=49408, width=32, heads=2, layers=1),
    )
    return ClipEncoder(model, open_clip.get_tokenizer("ViT-B-32-quickgelu"), model_id=model_id)


@pytest.fixture(scope="module")
def tiny_clip():
    """A tiny randomly initialised open_clip CLIP with the real BPE tokenizer (seeded)."""
    return tiny_clip_encoder(32, seed=0, model_id="tiny-random-seed0")
