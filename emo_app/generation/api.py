"""Plain functions the UI, the API and the CLI call: generate images for C2A2 points, and say
whether generation is possible here. The ModelManager owns the loaded pipeline.

On a machine without a GPU, SD 1.4 needs minutes per 512 px image, so ``generate_*`` refuse
with a clear message unless the caller asks for the small low-step preview explicitly."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from emo_app.config import Settings, _env_bool
from emo_app.emotion.space import EmotionPoint
from emo_app.errors import EmoAppError, InvalidInputError, MissingWeightsError
from emo_app.generation.pipeline import (
    DEFAULT_NEGATIVE_PROMPT,
    DEFAULT_TEMPLATE,
    C2A2Pipeline,
    GenerationRequest,
    ProgressFn,
    optimize_for_gpu,
    prepare_for_serving,
    validate_seeds,
    validate_template,
)
from emo_app.generation.schedulers import DEFAULT_PRESET, PRESETS, get_preset

log = logging.getLogger(__name__)

NUMBER_MODEL = "c2a2-sd"  # resolver name of the fine-tuned pipeline folder
PROMPT_MODEL = "sd-1.4"  # resolver name of vanilla SD 1.4
MANAGER_KEYS = {"number": "c2a2-pipeline", "prompt": "sd14-prompt-pipeline"}
MODES = ("auto", "number", "prompt")
PREVIEW_MAX_SIZE = 256
PREVIEW_MAX_STEPS = 8
# Below this much free GPU memory the pipeline is loaded with model CPU offload (fp16 SD 1.4
# weighs ~2.2 GB; 512 px batch-4 sampling needs a few GB more).
OFFLOAD_BELOW_FREE_BYTES = 6 * 2**30

NEEDS_GPU_MESSAGE = (
    "Image generation with Stable Diffusion needs a CUDA GPU, and none is available here "
    "(a 512 px image would take many minutes on this CPU). Run the app on a GPU machine, or ask "
    "for the small CPU preview (256 px, 8 steps)."
)


def gpu_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _weights_present(name: str) -> Path | None:
    from emo_app.models.registry import get_spec
    from emo_app.models.resolver import find_local

    return find_local(get_spec(name), Settings.from_env())


def compile_requested() -> bool:
    """EMO_COMPILE=1: compile the UNet and VAE decoder at load (CUDA only; see pipeline.compile)."""
    return _env_bool("EMO_COMPILE", False)


def _load_pipeline(model_name: str, device: str, dtype: Any) -> C2A2Pipeline:
    """Manager loader: resolve the folder, load fp16 on GPU (EMO_DTYPE=bfloat16 for bf16),
    offload to CPU when memory is short, then the speed path (embedding cache, compile)."""
    import torch

    from emo_app.models import resolve

    folder = resolve(model_name, allow_download=False)
    pipeline = C2A2Pipeline.from_pretrained(
        folder, torch_dtype=dtype, require_number_encoder=model_name == NUMBER_MODEL
    )
    if device.startswith("cuda"):
        free, _total = torch.cuda.mem_get_info(torch.device(device))
        if free < OFFLOAD_BELOW_FREE_BYTES:
            log.info("Only %.1f GB GPU memory free: using model CPU offload", free / 2**30)
            pipeline.sd.enable_model_cpu_offload(device=device)
            return pipeline
        pipeline.to(device)
        optimize_for_gpu(pipeline.sd)
        return prepare_for_serving(pipeline, compile_requested(), size=PRESETS[DEFAULT_PRESET].size,
                                   cache_dir=Settings.from_env().data_dir / "cache" / "compile")
    return prepare_for_serving(pipeline.to(device), compile_requested())


def _ensure_registered() -> Any:
    from emo_app.models import get_manager

    manager = get_manager()
    for mode, key in MANAGER_KEYS.items():
        if not manager.is_registered(key):
            model_name = NUMBER_MODEL if mode == "number" else PROMPT_MODEL
            manager.register(key, lambda device, dtype, _m=model_name: _load_pipeline(_m, device, dtype))
    return manager


def resolve_mode(mode: str = "auto") -> str:
    """'number' when fine-tuned C2A2 weights are present, else 'prompt' (vanilla SD 1.4)."""
    mode = str(mode).strip().lower()
    if mode not in MODES:
        raise InvalidInputError(f"mode must be one of {', '.join(MODES)}; got '{mode}'.")
    if mode != "auto":
        return mode
    return "number" if _weights_present(NUMBER_MODEL) is not None else "prompt"


def get_pipeline(mode: str = "auto") -> C2A2Pipeline:
    """The loaded pipeline for ``mode`` (loads it on first use through the ModelManager)."""
    mode = resolve_mode(mode)
    return _ensure_registered().get(MANAGER_KEYS[mode])


def unload_generator() -> None:
    """Free the generator's memory (GPU and CPU) now; the next call loads it again."""
    manager = _ensure_registered()
    for key in MANAGER_KEYS.values():
        manager.unload(key)


def generator_status() -> dict[str, Any]:
    """What the UI should show: weights present, GPU present, which mode, and a sentence."""
    import torch

    number_path = _weights_present(NUMBER_MODEL)
    prompt_path = _weights_present(PROMPT_MODEL)
    gpu = gpu_available()
    mode = "number" if number_path else "prompt" if prompt_path else None
    status: dict[str, Any] = {
        "gpu": gpu,
        "gpu_name": torch.cuda.get_device_name(0) if gpu else "",
        "c2a2_weights": str(number_path or ""),
        "sd14_weights": str(prompt_path or ""),
        "mode": mode,
        "can_generate": bool(gpu and mode),
        "cpu_preview": bool(mode and not gpu),
        "presets": {name: p.description for name, p in PRESETS.items()},
    }
    manager = _ensure_registered()
    status["loaded"] = [k for k in MANAGER_KEYS.values() if manager.is_loaded(k)]
    status["speed"] = {k: manager.get(k).speed for k in status["loaded"]}  # compiled?, warm-up
    if mode is None:
        status["message"] = (
            "No generator weights: train C2A2 weights with `python -m emo_app train-c2a2` (saved to "
            "weights/c2a2-sd), or fetch vanilla SD 1.4 with `python -m emo_app weights fetch sd-1.4` "
            "for prompt mode."
        )
    elif not gpu:
        status["message"] = NEEDS_GPU_MESSAGE
    elif mode == "number":
        status["message"] = "C2A2 generator ready (NumberEncoder conditioning)."
    else:
        status["message"] = (
            "Prompt mode: vanilla SD 1.4 with the nearest emotion class written into the prompt "
            "(train C2A2 weights for continuous control)."
        )
    return status


def generate_for_points(
    points: Sequence[EmotionPoint],
    *,
    seeds: Sequence[int] | int = 0,
    preset: str = DEFAULT_PRESET,
    template: str = DEFAULT_TEMPLATE,
    negative_prompt: str = DEFAULT_NEGATIVE_PROMPT,
    mode: str = "auto",
    progress: ProgressFn | None = None,
    allow_cpu_preview: bool = False,
    size: int | None = None,
    num_inference_steps: int | None = None,
    guidance_scale: float | None = None,
    blend: bool = True,
) -> list[Any]:
    """One image per point. ``seeds`` is one seed for every point (walks keep the person fixed)
    or one seed per point. Raises ``EmoAppError`` on a CPU-only machine unless
    ``allow_cpu_preview`` (then at most 256 px and 8 steps)."""
    points = list(points)
    if not points:
        raise InvalidInputError("Give at least one emotion point.")
    if not all(isinstance(p, EmotionPoint) for p in points):
        raise InvalidInputError("Points must be EmotionPoint values (valence, arousal, z).")
    seed_list = validate_seeds(seeds)
    if len(seed_list) == 1:
        seed_list = seed_list * len(points)
    if len(seed_list) != len(points):
        raise InvalidInputError(f"Give one seed, or one per point ({len(points)}); got {len(seed_list)}.")
    sampling = get_preset(preset)
    mode = resolve_mode(mode)
    validate_template(template, needs_placeholder=mode == "number")
    if not isinstance(negative_prompt, str):
        raise InvalidInputError("The negative prompt must be text (it may be empty).")
    if not gpu_available():
        if not allow_cpu_preview:
            raise EmoAppError(NEEDS_GPU_MESSAGE)
        preview = PRESETS["preview"]
        sampling = preview
        size = min(int(size or preview.size), PREVIEW_MAX_SIZE)
        num_inference_steps = min(int(num_inference_steps or preview.steps), PREVIEW_MAX_STEPS)
    model_name = NUMBER_MODEL if mode == "number" else PROMPT_MODEL
    if _weights_present(model_name) is None:
        from emo_app.models import resolve

        resolve(model_name, allow_download=False)  # raises MissingWeightsError with the fix
        raise MissingWeightsError(model_name, model_name, [], "Put the pipeline folder in weights/.")
    pipeline = get_pipeline(mode)
    request = GenerationRequest(
        points=points,
        seeds=seed_list,
        preset=sampling,
        template=template,
        negative_prompt=negative_prompt,
        mode=mode,
        height=size,
        width=size,
        steps=num_inference_steps,
        guidance_scale=guidance_scale,
        blend=blend,
    )
    return pipeline.generate(request, progress=progress)


def generate_for_point(
    point: EmotionPoint,
    *,
    seeds: Sequence[int] | int = (0,),
    preset: str = DEFAULT_PRESET,
    template: str = DEFAULT_TEMPLATE,
    negative_prompt: str = DEFAULT_NEGATIVE_PROMPT,
    mode: str = "auto",
    progress: ProgressFn | None = None,
    allow_cpu_preview: bool = False,
    size: int | None = None,
    num_inference_steps: int | None = None,
) -> list[Any]:
    """Images of one emotion point, one per seed (several seeds run as one batch)."""
    seed_list = validate_seeds(seeds)
    return generate_for_points(
        [point] * len(seed_list),
        seeds=seed_list,
        preset=preset,
        template=template,
        negative_prompt=negative_prompt,
        mode=mode,
        progress=progress,
        allow_cpu_preview=allow_cpu_preview,
        size=size,
        num_inference_steps=num_inference_steps,
    )
