"""The lab's tests: offline, headless, deterministic, like the product's (``make lab``)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# caches and reports go to a scratch folder, never to the developer's ./data
SCRATCH = Path(tempfile.mkdtemp(prefix="emo-lab-tests-"))
atexit.register(shutil.rmtree, SCRATCH, ignore_errors=True)
os.environ["EMO_DATA_DIR"] = str(SCRATCH / "data")
