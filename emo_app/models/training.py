"""What every trainer (C2A2, GANmut-3D, the Emo3D baselines) shares: the 🤗 Accelerator of a
run (device, mixed precision), the complete-checkpoint marker, the process group's teardown and
a training loop's frozen heap, so they place processes, save and run their steps the same way."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from emo_app.errors import InvalidInputError

MIXED_PRECISIONS = ("auto", "no", "fp16", "bf16")
STATE_MARKER = "trainer_state.json"  # written last into a training-state folder: it is complete


def resolve_mixed_precision(mixed_precision: str, on_cpu: bool) -> str:
    """Accelerate's setting: 'auto' is bf16 where the GPU has it, else fp16; always 'no' on CPU
    (CPU autocast is slower than fp32 for these models)."""
    import torch

    if mixed_precision not in MIXED_PRECISIONS:
        raise InvalidInputError(
            f"Unknown mixed precision '{mixed_precision}'; choose one of {', '.join(MIXED_PRECISIONS)}."
        )
    if on_cpu or not torch.cuda.is_available() or mixed_precision == "no":
        return "no"
    if mixed_precision == "auto":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return mixed_precision


def make_accelerator(device: str, mixed_precision: str, gradient_accumulation_steps: int = 1) -> Any:
    """The Accelerator of a training run. ``device='cpu'`` forces CPU (also under
    ``accelerate launch``, where it gives gloo data parallel); anything else lets Accelerate
    place each process on its launcher-assigned device."""
    from accelerate import Accelerator

    from emo_app.models.manager import accelerate_cpu

    on_cpu = accelerate_cpu(device)
    return Accelerator(
        cpu=on_cpu,
        mixed_precision=resolve_mixed_precision(mixed_precision, on_cpu),
        gradient_accumulation_steps=gradient_accumulation_steps,
    )


def save_training_state(accelerator: Any, folder: Path, step: int) -> None:
    """Every process's part of ``accelerator.save_state`` into ``folder`` (modules, optimizer,
    grad scaler, RNG states: a resumed run continues exactly), then a marker naming ``step``,
    written last by the main process, so a save cut short is never resumed from."""
    marker = Path(folder) / STATE_MARKER
    if accelerator.is_main_process:
        marker.unlink(missing_ok=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(folder))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        marker.write_text(json.dumps({"step": int(step)}), encoding="utf-8")
    accelerator.wait_for_everyone()


def saved_step(folder: Path) -> int | None:
    """The step of the complete training state in ``folder``; None when there is none."""
    marker = Path(folder) / STATE_MARKER
    if not marker.is_file():
        return None
    return int(json.loads(marker.read_text(encoding="utf-8"))["step"])


def end_process_group(finished: bool = True) -> None:
    """Tear down the data-parallel process group of a launched run (``accelerate launch``), if
    one was made. Left to the interpreter's exit, gloo's threads can abort a process ("terminate
    called without an active exception") after its work is done, failing the whole launch.
    ``finished``: every process got here (its work done), so all first wait for each other: no
    rank tears down while a peer's last collective (a gather of results) is still in flight,
    the likely cause of one such launch's abort (not reproduced since). A process leaving on an
    error does not wait (it would hang until the others time out)."""
    import sys

    distributed = sys.modules.get("torch.distributed")  # never imports torch for a plain command
    if distributed is not None and distributed.is_available() and distributed.is_initialized():
        if finished:
            distributed.barrier()
        distributed.destroy_process_group()


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Around a training loop: the objects alive before it (the libraries, the models, a
    tokenizer: about half a million) are frozen out of the garbage collector, whose full
    collection would otherwise rescan them all whenever it runs (about 0.3 s, a stalled step).
    A caller that froze objects itself keeps them frozen afterwards."""
    frozen_before = gc.get_freeze_count()
    gc.collect()  # garbage is freed now, not frozen
    gc.freeze()
    try:
        yield
    finally:
        if not frozen_before:
            gc.unfreeze()
