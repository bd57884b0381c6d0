"""Where downloadable files go and what they are called: a fresh folder per request under the
system temp dir (``emotion-studio/``), of which only the newest ``MAX_OUTPUT_DIRS`` are kept so
a long-running server stays bounded on disk, and file names that say what they show."""

from __future__ import annotations

import collections
import re
import shutil
import tempfile
import threading
import unicodedata
import uuid
from pathlib import Path

MAX_OUTPUT_DIRS = 512
MAX_FILE_STEM = 48  # characters of a download's name taken from what it shows
_OUTPUT_LOCK = threading.Lock()
_OUTPUT_DIRS: dict[Path, collections.deque[Path]] = {}  # root -> its folders, oldest first


def output_root() -> Path:
    """Where every request's folder goes (the UI serves these files in place, uncopied)."""
    return Path(tempfile.gettempdir()) / "emotion-studio"


def output_dir(kind: str) -> Path:
    """A new folder for one request's files; prunes the oldest beyond ``MAX_OUTPUT_DIRS``.
    The root is listed once per process (leftovers of earlier runs); after that the folders
    are tracked in memory, so a request costs no directory scan."""
    root = output_root()
    with _OUTPUT_LOCK:
        made = _OUTPUT_DIRS.get(root)
        if made is None or not root.is_dir():
            root.mkdir(parents=True, exist_ok=True)
            existing = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
            made = _OUTPUT_DIRS[root] = collections.deque(existing)
        while len(made) >= MAX_OUTPUT_DIRS:
            shutil.rmtree(made.popleft(), ignore_errors=True)
        path = root / f"{kind}-{uuid.uuid4().hex[:12]}"
        path.mkdir()
        made.append(path)
    return path


def file_stem(*words: str, fallback: str = "face") -> str:
    """A download's name from what it shows ("Quietly furious!" -> "quietly-furious"): ASCII,
    lower case, cut at a word within ``MAX_FILE_STEM`` characters, so a second download is not
    "face (1).glb"; ``fallback`` when no Latin letter or digit is left."""
    text = unicodedata.normalize("NFKD", " ".join(map(str, words))).encode("ascii", "ignore").decode()
    stem = ""
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        if stem and len(stem) + 1 + len(word) > MAX_FILE_STEM:
            break
        stem = f"{stem}-{word}" if stem else word[:MAX_FILE_STEM]
    return stem or fallback
