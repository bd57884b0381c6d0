"""SD 1.4-sized generation speed: the C2A2 path (fp16, SDPA, channels-last, fused QKV, NumberEncoder
injection) against diffusers' default pipeline settings (fp32, as `from_pretrained(...).to("cuda")`
gives), same scheduler and step count, same run. Random weights with SD 1.4's exact shapes: speed
does not depend on the weights' values. Needs CUDA; on a CPU-only machine it reports a skip."""

from __future__ import annotations

import statistics
import time
from typing import Any

TITLE = "C2A2 generator: SD 1.4-sized UNet/VAE/text encoder at 512 px"
REFERENCE = "diffusers StableDiffusionPipeline default settings (fp32) with the same scheduler and steps"


def _time(fn: Any, repeats: int) -> list[float]:
    import torch

    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    fn()  # warm-up: kernels, cuDNN autotuning, allocator
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - start) * 1000.0)
    return times


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]


def run(quick: bool = False) -> dict:
    import torch

    if not torch.cuda.is_available():
        nan = float("nan")
        return {
            "title": TITLE,
            "rows": [{"case": "skipped: no GPU", "median_ms": nan, "p90_ms": nan}],
            "reference": REFERENCE,
            "notes": "CUDA is not available on this machine; run on a GPU to measure.",
        }

    from emo_app.generation.random_pipeline import RandomSDConfig

    repeats = 2 if quick else 5
    rows = measure("cuda", RandomSDConfig.sd14(), 512, repeats, steps=(100, 25))
    return {
        "title": TITLE,
        "rows": rows,
        "reference": REFERENCE,
        "notes": f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}, {repeats} timed runs after a "
        "warm-up; ours = fp16 + SDPA + channels-last + fused QKV through C2A2Pipeline.generate. Goal: "
        "25 steps <= 700 ms on an H100 and >= 1.5x the default.",
    }


def measure(device: str, config: Any, size: int, repeats: int, steps: tuple[int, int]) -> list[dict]:
    """Rows for DDIM ``steps[0]`` and DPM-Solver++ ``steps[1]`` at batch 1 and 4 (ours vs default)."""
    import torch

    from emo_app.emotion.space import EmotionPoint
    from emo_app.generation.pipeline import C2A2Pipeline, GenerationRequest, optimize_for_gpu
    from emo_app.generation.random_pipeline import build_random_sd_pipeline
    from emo_app.generation.schedulers import SamplingPreset, make_scheduler

    gpu = device.startswith("cuda")
    reference = build_random_sd_pipeline(config, seed=0).to(device)
    reference.set_progress_bar_config(disable=True)
    ours_sd = build_random_sd_pipeline(config, seed=0).to(device, torch.float16 if gpu else torch.float32)
    ours_sd.set_progress_bar_config(disable=True)
    if gpu:
        optimize_for_gpu(ours_sd)
    ours = C2A2Pipeline.with_new_number_encoder(ours_sd, seed=0)
    presets = [
        SamplingPreset("paper", "ddim", steps[0], 10.0),
        SamplingPreset("fast", "dpmpp", steps[1], 10.0),
    ]
    point = EmotionPoint.of_class("Happily surprised")
    rows = []
    for preset in presets:
        for batch in (1, 4):
            request = GenerationRequest(
                [point] * batch,
                list(range(batch)),
                preset,
                negative_prompt="",
                height=size,
                width=size,
                max_batch=batch,
            )

            def run_reference(preset: SamplingPreset = preset, batch: int = batch) -> None:
                reference.scheduler = make_scheduler(preset, dict(reference.scheduler.config))
                reference(
                    ["a photo of a sks person emotion: happily-surprised"] * batch,
                    height=size,
                    width=size,
                    num_inference_steps=preset.steps,
                    guidance_scale=preset.guidance_scale,
                    generator=[torch.Generator("cpu").manual_seed(s) for s in range(batch)],
                )

            ours_ms = _time(lambda request=request: ours.generate(request), repeats)
            ref_ms = _time(run_reference, repeats)
            median, ref_median = statistics.median(ours_ms), statistics.median(ref_ms)
            rows.append(
                {
                    "case": f"{preset.solver} {preset.steps} steps, batch {batch}",
                    "median_ms": round(median, 1),
                    "p90_ms": round(_p90(ours_ms), 1),
                    "reference_median_ms": round(ref_median, 1),
                    "ratio_vs_reference": round(ref_median / median, 2),
                    "ms_per_image": round(median / batch, 1),
                }
            )
    return rows
