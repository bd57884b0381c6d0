"""The lab's tests: offline, headless, deterministic, like the product's (``make lab``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

SHARED = Path(__file__).resolve().parents[3] / "shared"


@pytest.fixture
def shared_dir() -> Path:
    """The development-only ../shared folder; tests that need it skip without it."""
    if not SHARED.is_dir():
        pytest.skip("../shared is not present")
    return SHARED
