"""What every trainer shares: the 🤗 Accelerator of a run (device, mixed precision), so the
C2A2 and Emo3D trainers place processes and choose precision the same way."""

from __future__ import annotations

from typing import Any

from emo_app.errors import InvalidInputError

MIXED_PRECISIONS = ("auto", "no", "fp16", "bf16")


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


def end_process_group() -> None:
    """Tear down the data-parallel process group of a launched run (``accelerate launch``), if
    one was made. Left to the interpreter's exit, gloo's threads can abort a process ("terminate
    called without an active exception") after its work is done, failing the whole launch."""
    import sys

    distributed = sys.modules.get("torch.distributed")  # never imports torch for a plain command
    if distributed is not None and distributed.is_available() and distributed.is_initialized():
        distributed.destroy_process_group()
