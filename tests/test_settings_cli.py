"""Settings from the environment, the CLI, and nothing heavy at import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from emo_app.cli import main
from emo_app.config import ENV_VARS, Settings

ROOT = Path(__file__).resolve().parents[1]


def test_settings_read_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("EMO_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setenv("EMO_PORT", "8080")
    monkeypatch.setenv("EMO_OFFLINE", "yes")
    monkeypatch.setenv("EMO_DTYPE", "float16")
    settings = Settings.from_env()
    assert settings.weights_dir == tmp_path and settings.port == 8080
    assert settings.offline and settings.dtype == "float16"


@pytest.mark.parametrize(
    "name, value, message",
    [("EMO_PORT", "eighty", "not an integer"), ("EMO_PORT", "70000", "outside"),
     ("EMO_OFFLINE", "maybe", "not a boolean"), ("EMO_DTYPE", "int8", "must be one of")],
)
def test_bad_settings_say_what_is_wrong(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        Settings.from_env()


def test_every_setting_is_documented_in_readme():
    readme = (ROOT / "README.md").read_text()
    for name in ENV_VARS:
        assert name in readme, name


def test_weights_list_json(capsys):
    assert main(["weights", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} >= {"minilm", "face-landmarker", "clip-vit-b-32", "sd-1.4"}


def test_weights_fetch_offline_is_a_clear_error(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("EMO_OFFLINE", "1")
    monkeypatch.setenv("EMO_WEIGHTS_DIR", str(tmp_path))
    assert main(["weights", "fetch", "clip-vit-b-32"]) == 2
    assert "offline" in capsys.readouterr().err


def test_import_loads_no_model_and_no_torch():
    code = (
        "import sys, emo_app, emo_app.cli, emo_app.models, emo_app.blendshapes, emo_app.emotion;"
        "emo_app.cli.build_parser();"
        "print(sorted(m for m in ('torch', 'diffusers', 'open_clip', 'mediapipe') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"
