"""The model manager: named models loaded lazily, once, on the right device, within a budget.

Callers register a loader (a function that builds the model on a device) and ask for it by
name; the first ``get`` loads it under a per-name lock, later calls reuse it. When the sum
of loaded sizes exceeds the memory budget, the least recently used models are evicted (GPU
models may instead be offloaded to CPU). Nothing loads at import time.
"""

from __future__ import annotations

import gc
import logging
import os
import re
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from emo_app.config import Settings
from emo_app.errors import EmoAppError, ModelLoadError

log = logging.getLogger(__name__)

Loader = Callable[[str, Any], Any]  # (device, dtype) -> model


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """While a shipped model loads: no per-tensor "Loading weights" bar and no config chatter
    from transformers (every CLI call printed both before its answer); the library's own
    settings come back afterwards, so a user's verbosity choice still holds elsewhere."""
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


# What native libraries print while a model opens: glog lines (MediaPipe's graph, its XNNPACK
# choice) and LiteRT's delegate notice. A user of the CLI saw five of them before every answer.
NATIVE_NOISE = re.compile(
    r"WARNING: Logging before InitGoogle|[IWE]\d{4} [\d:. ]+\d+ \S+:\d+\] "
    r"|INFO: Created TensorFlow Lite"
)
_STDERR_LOCK = threading.Lock()


@contextmanager
def quiet_native_logs(noise: re.Pattern[str] = NATIVE_NOISE) -> Iterator[None]:
    """While a native model (MediaPipe, LiteRT) opens: its C++ log lines, written straight to
    file descriptor 2 where no Python setting reaches, are held back and dropped; every other
    line written meanwhile (any thread) follows afterwards, and when opening fails all of it
    does, so a real fault keeps its native explanation. Keep the window short: the descriptor
    is the process's."""
    with _STDERR_LOCK:
        sys.stderr.flush()
        saved = os.dup(2)
        failed = False
        with tempfile.TemporaryFile() as held:
            os.dup2(held.fileno(), 2)
            try:
                yield
            except BaseException:
                failed = True
                raise
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
                os.close(saved)
                held.seek(0)
                lines = held.read().decode(errors="replace").splitlines(keepends=True)
                kept = lines if failed else [line for line in lines if not noise.match(line)]
                if kept:
                    sys.stderr.write("".join(kept))
                    sys.stderr.flush()


def pick_device(requested: str = "auto") -> str:
    """cuda, then mps, then cpu; an explicit request wins when that device exists."""
    import torch

    requested = (requested or "auto").lower()
    if requested != "auto":
        if requested.startswith("cuda") and not torch.cuda.is_available():
            raise EmoAppError(f"EMO_DEVICE={requested} but no CUDA GPU is visible to PyTorch.")
        if requested == "mps" and not torch.backends.mps.is_available():
            raise EmoAppError("EMO_DEVICE=mps but Apple's Metal backend is not available.")
        return requested
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def accelerate_cpu(requested: str = "auto") -> bool:
    """Accelerate's ``cpu`` flag for a device request: True for 'cpu', and for 'auto' where
    pick_device finds no GPU (without it, processes started by ``accelerate launch`` on a
    CPU-only machine would not join one gloo group)."""
    return pick_device(requested) == "cpu"


def pick_dtype(device: str, requested: str = "auto") -> Any:
    """fp16 on GPU, fp32 on CPU, unless a dtype is named."""
    import torch

    if requested and requested != "auto":
        return getattr(torch, requested)
    return torch.float16 if device.startswith(("cuda", "mps")) else torch.float32


def estimate_bytes(model: Any) -> int:
    """Bytes of parameters and buffers for torch modules (and pipelines of them); 0 otherwise."""
    total = 0
    modules = []
    if hasattr(model, "parameters") and callable(model.parameters):
        modules.append(model)
    elif hasattr(model, "components"):  # diffusers pipelines
        modules.extend(c for c in model.components.values() if hasattr(c, "parameters"))
    for module in modules:
        for tensor in list(module.parameters()) + list(getattr(module, "buffers", list)()):
            total += tensor.numel() * tensor.element_size()
    if not modules and hasattr(model, "nbytes"):
        total = int(model.nbytes)
    return total


@dataclass
class _Entry:
    model: Any
    device: str
    nbytes: int
    loaded_at: float
    last_used: float
    load_seconds: float


class ModelManager:
    """Thread-safe registry of lazily loaded models with LRU eviction under a byte budget."""

    def __init__(self, settings: Settings | None = None, budget_bytes: int | None = None):
        self.settings = settings or Settings.from_env()
        if budget_bytes is None:
            budget_bytes = self.settings.memory_budget_mb * 1024 * 1024
        self.budget_bytes = budget_bytes  # 0 = unlimited
        self._loaders: dict[str, tuple[Loader, bool]] = {}
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._errors: dict[str, str] = {}
        self._lock = threading.RLock()
        self._name_locks: dict[str, threading.Lock] = {}
        self._device: str | None = None

    @property
    def device(self) -> str:
        if self._device is None:
            self._device = pick_device(self.settings.device)
        return self._device

    def register(self, name: str, loader: Loader, *, gpu: bool = True) -> None:
        """Tell the manager how to build ``name``; ``gpu=False`` keeps it on CPU always."""
        with self._lock:
            self._loaders[name] = (loader, gpu)

    def is_registered(self, name: str) -> bool:
        return name in self._loaders

    def is_loaded(self, name: str) -> bool:
        return name in self._entries

    def get(self, name: str) -> Any:
        """The model, loading it on first use. A failed load raises ``ModelLoadError``."""
        with self._lock:
            entry = self._entries.get(name)
            if entry is not None:
                entry.last_used = time.monotonic()
                self._entries.move_to_end(name)
                return entry.model
            if name not in self._loaders:
                raise ModelLoadError(f"No model named '{name}' is registered.")
            name_lock = self._name_locks.setdefault(name, threading.Lock())
        with name_lock:  # one thread loads; the others wait for it and reuse the result
            with self._lock:
                if name in self._entries:
                    return self.get(name)
                loader, wants_gpu = self._loaders[name]
            device = self.device if wants_gpu else "cpu"
            dtype = pick_dtype(device, self.settings.dtype) if wants_gpu else None
            start = time.perf_counter()
            try:
                model = loader(device, dtype)
            except EmoAppError as exc:
                self._errors[name] = str(exc)
                raise
            except Exception as exc:
                self._errors[name] = f"{type(exc).__name__}: {exc}"
                raise ModelLoadError(f"Loading '{name}' failed: {exc}") from exc
            seconds = time.perf_counter() - start
            now = time.monotonic()
            with self._lock:
                self._errors.pop(name, None)
                self._entries[name] = _Entry(
                    model, device, estimate_bytes(model), now, now, seconds
                )
                self._enforce_budget(keep=name)
            return model

    def _enforce_budget(self, keep: str) -> None:
        if not self.budget_bytes:
            return
        while self.used_bytes() > self.budget_bytes:
            victims = [n for n in self._entries if n != keep]  # oldest first
            if not victims:
                log.warning("Model '%s' alone exceeds the memory budget", keep)
                return
            self._evict(victims[0])

    def _evict(self, name: str) -> None:
        entry = self._entries.pop(name)
        log.info("Evicting model '%s' (%d MB)", name, entry.nbytes // 2**20)
        del entry
        gc.collect()
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def offload(self, name: str) -> None:
        """Move a loaded GPU model to CPU to free GPU memory without forgetting it."""
        with self._lock:
            entry = self._entries.get(name)
            if entry is None or entry.device == "cpu":
                return
            if hasattr(entry.model, "to"):
                entry.model = entry.model.to("cpu")
                entry.device = "cpu"

    def unload(self, name: str | None = None) -> None:
        """Forget one model, or all of them with ``name=None``."""
        with self._lock:
            for victim in [name] if name else list(self._entries):
                if victim in self._entries:
                    self._evict(victim)

    def used_bytes(self) -> int:
        with self._lock:
            return sum(e.nbytes for e in self._entries.values())

    def warm_up(self, names: list[str]) -> dict[str, str]:
        """Load the named models now (e.g. at app start); returns name -> 'ok' or the error."""
        results = {}
        for name in names:
            try:
                self.get(name)
                results[name] = "ok"
            except EmoAppError as exc:
                results[name] = str(exc)
        return results

    def status(self) -> list[dict[str, Any]]:
        """What is registered, what is loaded, where, and how much memory it holds."""
        with self._lock:
            rows = []
            for name in self._loaders:
                entry = self._entries.get(name)
                rows.append(
                    {
                        "name": name,
                        "loaded": entry is not None,
                        "device": entry.device if entry else "",
                        "memory_mb": round(entry.nbytes / 2**20, 1) if entry else 0.0,
                        "load_seconds": round(entry.load_seconds, 2) if entry else 0.0,
                        "error": self._errors.get(name, ""),
                    }
                )
            return rows


_MANAGER: ModelManager | None = None
_MANAGER_LOCK = threading.Lock()


def get_manager() -> ModelManager:
    """The process-wide manager (created on first call, never at import)."""
    global _MANAGER
    with _MANAGER_LOCK:
        if _MANAGER is None:
            _MANAGER = ModelManager()
        return _MANAGER
