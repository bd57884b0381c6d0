"""The generator's compile path, at the level of torch modules (the pipeline decides what to
compile; see ``C2A2Pipeline.compile``): when compile can help, one compiled graph per module
whatever the batch size, and a compile cache that outlives the process."""

from __future__ import annotations

import inspect
import logging
import os
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)

COMPILE_MODE = "reduce-overhead"  # Inductor kernels + CUDA graphs: no per-kernel Python launch cost
CACHE_ENV = "TORCHINDUCTOR_CACHE_DIR"  # Inductor's kernels, FX graphs and dynamo's shape profile


def compile_unavailable_reason(device: Any) -> str | None:
    """Why ``torch.compile`` with CUDA graphs cannot speed this device up (None: it can)."""
    device = torch.device(device)
    if device.type != "cuda":
        return f"torch.compile with CUDA graphs needs a CUDA GPU; on {device.type} it runs uncompiled"
    if os.environ.get("SPACES_ZERO_GPU"):  # ZeroGPU hands each call a fresh GPU context
        return "ZeroGPU Spaces attach the GPU per call; compiled CUDA graphs would not survive"
    major, minor = torch.cuda.get_device_capability(device)
    if major < 7:
        return f"GPU compute capability {major}.{minor} is older than Triton supports (7.0)"
    try:
        import triton  # noqa: F401  (ships with CUDA builds of torch, not with CPU ones)
    except ImportError:
        return "Triton is not installed, so torch.compile cannot build GPU kernels"
    return None


def compile_batch_dynamic(module: torch.nn.Module, batch_inputs: tuple[str, ...], **options: Any) -> None:
    """Compile ``module`` in place (it keeps its type, as with ``module.compile()``) with the
    first dimension of the named inputs dynamic from the first call. Left to itself, dynamo
    compiles a graph for the first batch size and a second, dynamic one when another arrives:
    on the H200 that recompile cost 114 s on top of the first compile's 86 s. Inputs are found
    by keyword or by their place in ``module.forward``'s signature."""
    parameters = list(inspect.signature(module.forward).parameters)
    places = {name: parameters.index(name) for name in batch_inputs}
    compiled = torch.compile(module._call_impl, **options)

    def call(*args: Any, **kwargs: Any) -> Any:
        for name, place in places.items():
            value = kwargs.get(name, args[place] if place < len(args) else None)
            if isinstance(value, torch.Tensor) and value.dim() > 0:
                torch._dynamo.maybe_mark_dynamic(value, 0)  # a size-1 batch stays specialised
        return compiled(*args, **kwargs)

    module._compiled_call_impl = call  # what nn.Module.compile sets; __call__ runs it


def use_compile_cache(folder: Path) -> Path:
    """Keep Inductor's caches in ``folder`` (unless ``TORCHINDUCTOR_CACHE_DIR`` names another
    place), so a restarted server reuses the kernels it compiled instead of compiling them
    again; the default place, /tmp, does not survive a Space's restart. Torch writes its
    default into the variable when it first looks, so that value counts as unset. Returns the
    folder in use."""
    from torch._inductor.runtime.cache_dir_utils import default_cache_dir

    current = os.environ.get(CACHE_ENV)
    if current is None or Path(current).resolve() == Path(default_cache_dir()).resolve():
        os.environ[CACHE_ENV] = str(folder)
    chosen = Path(os.environ[CACHE_ENV])
    chosen.mkdir(parents=True, exist_ok=True)
    log.info("Compile cache: %s", chosen)
    return chosen
