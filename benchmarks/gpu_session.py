"""Every number issue 23 asks for, in one run on the lent GPU (see benchmarks/gpu_session.sh).

Generator (SD 1.4-sized random weights, 512 px, guidance on): diffusers' default pipeline (fp32)
against ours uncompiled fp16 and compiled (UNet + VAE decoder, ``mode="reduce-overhead"``) in
fp16 and bf16, at DPM-Solver++ 25 steps batch 1 and 4 and DDIM 100 steps batch 1; the warm-up
(compile + first call per batch size); the largest pixel difference between the compiled and the
uncompiled fp16 images of the same seeds. C2A2 DreamBooth training at 512 px, batch 1 with prior
preservation (steps/s, peak memory) with AdamW and, where bitsandbytes is installed, 8-bit Adam.
GANmut-3D at 128 px batch 16 (ms per step). Results are rewritten to ``<out>/gpu_session.json``
after every case, so a run cut short keeps what it measured.

``--dry-run`` runs every case on CPU with tiny models (a check of this script, not a measurement).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

GOALS = {
    "dpmpp 25 steps, batch 1": "<= 350 ms and >= 2.5x the default",
    "ddim 100 steps, batch 1": "<= 1400 ms",
    "dpmpp 25 steps, batch 4": "<= 150 ms per image",
    "warm-up": "<= 90 s",
    "training": ">= 3 steps/s, peak <= 16 GB",
}


class Session:
    def __init__(self, out: Path, dry_run: bool, compile_cache: Path | None = None):
        import torch

        self.out, self.dry_run = out, dry_run
        # a fresh compile cache per run (outside $OUT, which comes back to the caller): the first
        # compile is cold, a second process started later reads what the first one kept
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        self.compile_cache = compile_cache or Path(tempfile.gettempdir()) / "emo_compile_cache" / stamp
        self.device = "cpu" if dry_run else "cuda"
        self.results: dict[str, Any] = {
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "gpu": "dry run on CPU" if dry_run else torch.cuda.get_device_name(0),
            "torch": torch.__version__,
            "goals": GOALS,
            "cases": {},
        }
        out.mkdir(parents=True, exist_ok=True)

    def record(self, name: str, value: Any) -> None:
        self.results["cases"][name] = value
        (self.out / "gpu_session.json").write_text(json.dumps(self.results, indent=2))
        print(name, json.dumps(value), flush=True)

    def error(self, name: str, exc: BaseException) -> None:
        self.record(name, {"error": repr(exc), "trace": traceback.format_exc()[-2000:]})

    def sync(self) -> None:
        import torch

        if self.device == "cuda":
            torch.cuda.synchronize()

    def timed(self, fn: Any, repeats: int) -> list[float]:
        """Milliseconds of ``repeats`` calls after a first one (kept in ``first_call_ms``: on a
        compiled pipeline a new shape or scheduler compiles and captures CUDA graphs there)."""
        start = time.perf_counter()
        fn()
        self.sync()
        self.first_call_ms = (time.perf_counter() - start) * 1000.0
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            self.sync()
            times.append((time.perf_counter() - start) * 1000.0)
        return times


def _pipelines(session: Session, dtype: Any) -> Any:
    import torch

    from emo_app.generation.pipeline import C2A2Pipeline, optimize_for_gpu
    from emo_app.generation.random_pipeline import RandomSDConfig, build_random_sd_pipeline

    config = RandomSDConfig.tiny() if session.dry_run else RandomSDConfig.sd14()
    sd = build_random_sd_pipeline(config, seed=0).to(session.device, dtype)
    sd.set_progress_bar_config(disable=True)
    if session.device == "cuda":
        optimize_for_gpu(sd)
    pipeline = C2A2Pipeline.with_new_number_encoder(sd, seed=0)
    pipeline.number_encoder.to(session.device, torch.float32)
    pipeline.cache_embeddings = True
    return pipeline


def _request(solver: str, steps: int, batch: int, size: int) -> Any:
    """``batch`` images of the same point (seeds 0..batch-1), guidance 10, in one batch."""
    from emo_app.emotion.space import EmotionPoint
    from emo_app.generation.pipeline import GenerationRequest
    from emo_app.generation.schedulers import SamplingPreset

    point = EmotionPoint.of_class("Happily surprised")
    return GenerationRequest([point] * batch, list(range(batch)), SamplingPreset(solver, solver, steps, 10.0),
                             negative_prompt="", height=size, width=size, max_batch=batch)


def generator_cases(session: Session, dtypes: list[str], repeats: int) -> None:
    import numpy as np
    import torch

    from emo_app.generation.random_pipeline import RandomSDConfig, build_random_sd_pipeline
    from emo_app.generation.schedulers import SamplingPreset, make_scheduler

    size = 64 if session.dry_run else 512
    cases = [("dpmpp", 25, 1), ("dpmpp", 25, 4), ("ddim", 100, 1)]
    if session.dry_run:
        cases = [(solver, 2, batch) for solver, _, batch in cases]

    # the reference: diffusers' defaults (fp32, as from_pretrained(...).to("cuda") gives)
    config = RandomSDConfig.tiny() if session.dry_run else RandomSDConfig.sd14()
    reference = build_random_sd_pipeline(config, seed=0).to(session.device)
    reference.set_progress_bar_config(disable=True)
    for solver, steps, batch in cases:

        def run_reference(solver: str = solver, steps: int = steps, batch: int = batch) -> None:
            reference.scheduler = make_scheduler(SamplingPreset(solver, solver, steps, 10.0),
                                                 dict(reference.scheduler.config))
            reference(["a photo of a person emotion: happily-surprised"] * batch, height=size, width=size,
                      num_inference_steps=steps, guidance_scale=10.0,
                      generator=[torch.Generator("cpu").manual_seed(s) for s in range(batch)])

        times = session.timed(run_reference, repeats)
        session.record(f"reference fp32: {solver} {steps} steps, batch {batch}",
                       {"median_ms": round(statistics.median(times), 1),
                        "all_ms": [round(t, 1) for t in times]})
    reference.to("cpu")  # frees the GPU for our pipelines
    if session.device == "cuda":
        torch.cuda.empty_cache()

    uncompiled_images: dict[tuple[str, int, int], list[np.ndarray]] = {}
    # fp16 uncompiled first (the images the compiled ones are checked against), the uncompiled
    # variants of other dtypes last: a run cut short loses the least important case
    variants = [(d, c) for d in dtypes for c in (False, True)]
    variants.sort(key=lambda v: (v[0] != "float16" and not v[1], v[0] != "float16", v[1]))
    for dtype_name, compiled in variants:
        dtype = getattr(torch, dtype_name)
        if compiled and session.dry_run:  # CPU: compile falls back (tests/test_generation_pipeline.py)
            warm_start_case(session, dtype_name)  # checks the second process's plumbing only
            continue
        label = f"ours {dtype_name} {'compiled' if compiled else 'uncompiled'}"
        try:
            pipeline = _pipelines(session, dtype)
            if compiled:
                warm = _compile_and_warm_up(session, pipeline)
                session.record(f"{label}: {'compile' if 'skipped' in warm else 'warm-up'}", warm)
                if "skipped" in warm:
                    continue
            for solver, steps, batch in cases:
                job = _request(solver, steps, batch, size)
                times = session.timed(lambda job=job, p=pipeline: p.generate(job), repeats)
                images = [np.asarray(i).astype(np.int16) for i in pipeline.generate(job)]
                row: dict[str, Any] = {"median_ms": round(statistics.median(times), 1),
                                       "ms_per_image": round(statistics.median(times) / batch, 1),
                                       "all_ms": [round(t, 1) for t in times],
                                       "first_call_ms": round(session.first_call_ms, 1)}
                key = (solver, steps, batch)
                if dtype_name == "float16" and not compiled:
                    uncompiled_images[key] = images
                elif dtype_name == "float16" and key in uncompiled_images:
                    diffs = [np.abs(a - b) for a, b in zip(images, uncompiled_images[key], strict=True)]
                    row["max_pixel_diff_vs_uncompiled_fp16"] = int(max(d.max() for d in diffs))
                    row["mean_pixel_diff_vs_uncompiled_fp16"] = round(float(np.mean(diffs)), 3)
                session.record(f"{label}: {solver} {steps} steps, batch {batch}", row)
            if compiled and dtype_name == "float16":
                warm_start_case(session, dtype_name)
            del pipeline
            if session.device == "cuda":
                torch.cuda.empty_cache()
        except Exception as exc:  # one failing case must not cost the others
            session.error(f"{label}: error", exc)


def _compile_and_warm_up(session: Session, pipeline: Any, decoder: bool = True) -> dict[str, Any]:
    """What a server does at start with EMO_COMPILE=1: compile (with the session's compile
    cache) and warm up batch 1 and 4. Returns the seconds, or why it did not compile."""
    from emo_app.generation.speed import use_compile_cache

    use_compile_cache(session.compile_cache)
    start = time.perf_counter()
    if not pipeline.compile(decoder=decoder):
        return {"skipped": pipeline.speed["reason"]}
    warm = pipeline.warm_up([1, 4], size=64 if session.dry_run else 512)
    return {"total_s": round(time.perf_counter() - start, 1), "per_batch_size_s": warm}


def compile_in_this_process(session: Session, dtype_name: str, decoder: bool, repeats: int) -> dict[str, Any]:
    """``_compile_and_warm_up`` on a fresh pipeline, then (``repeats`` > 0) the speed at 25
    steps. Runs in a process of its own (``compile_case``), so in-memory caches of earlier
    compiles cannot help."""
    import torch

    pipeline = _pipelines(session, getattr(torch, dtype_name))
    row = _compile_and_warm_up(session, pipeline, decoder)
    size, steps = (64, 2) if session.dry_run else (512, 25)
    for batch in (1, 4) if repeats and "skipped" not in row else ():
        job = _request("dpmpp", steps, batch, size)
        times = session.timed(lambda job=job: pipeline.generate(job), repeats)
        row[f"dpmpp {steps} steps, batch {batch}: median_ms"] = round(statistics.median(times), 1)
    return row


def compile_case(session: Session, label: str, dtype_name: str, decoder: bool, cache: Path,
                 repeats: int = 0) -> None:
    """``compile_in_this_process`` in a new process with the compile cache ``cache``: a fresh
    folder gives a cold start, the folder an earlier compile filled gives a server's restart."""
    child_out = session.out / "child"
    command = [sys.executable, "-m", "benchmarks.gpu_session", "--out", str(child_out), "--only", "",
               "--child-dtype", dtype_name, "--compile-cache", str(cache), "--repeats", str(repeats)]
    command += ([] if decoder else ["--child-unet-only"]) + (["--dry-run"] if session.dry_run else [])
    start = time.perf_counter()
    try:
        shutil.rmtree(child_out, ignore_errors=True)
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        result = child_out / "gpu_session.json"
        child = json.loads(result.read_text())["cases"].get("compile", {}) if result.exists() else {}
        if done.returncode:
            child = {**child, "error": f"exit {done.returncode}", "trace": done.stderr[-2000:]}
        session.record(label, {**child, "process_s": round(time.perf_counter() - start, 1)})
    except Exception as exc:
        session.error(label, exc)


def warm_start_case(session: Session, dtype_name: str) -> None:
    """The warm-up of a restarted server: a new process with the compile cache the first
    compile filled (Inductor's kernels and FX graphs, dynamo's record of which sizes vary)."""
    compile_case(session, f"ours {dtype_name} compiled: warm-up, second start (compile cache)",
                 dtype_name, decoder=True, cache=session.compile_cache)


class _GcPauses:
    """Seconds the garbage collector held a training run (``gc.callbacks``), counting the one full
    collection ``frozen_heap`` makes on purpose before the loop (about 0.3 s on an SD 1.4 run)."""

    def __init__(self) -> None:
        self.seconds, self._start = 0.0, 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._start

    def __enter__(self) -> _GcPauses:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        gc.callbacks.remove(self)


def _profiled_training(session: Session, train: Any, pipeline: Any, steps: int) -> dict[str, Any]:
    """torch.profiler over steps 3.. of a short run: the top operators by device and by host
    time (the full tables go to ``train_profile.txt``), to see where a step's time goes."""
    import torch
    from torch.profiler import ProfilerActivity, profile, schedule

    import emo_app.generation.train as train_module

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if session.device == "cuda" else [])
    original = train_module._optimizer_step
    active = max(1, steps - 3)
    with profile(activities=activities, schedule=schedule(wait=1, warmup=2, active=active)) as prof:
        def stepped(run: Any) -> Any:
            out = original(run)
            if session.device == "cuda":
                torch.cuda.synchronize()
            prof.step()
            return out

        train_module._optimizer_step = stepped
        try:
            train_module.train_c2a2(train, pipeline=pipeline)
        finally:
            train_module._optimizer_step = original
    events = prof.key_averages()
    device_key = "self_device_time_total" if session.device == "cuda" else "self_cpu_time_total"
    tables = [events.table(sort_by=key, row_limit=40) for key in (device_key, "cpu_time_total")]
    (session.out / "train_profile.txt").write_text("\n\n".join(tables))
    top = sorted(events, key=lambda e: getattr(e, device_key), reverse=True)[:15]
    return {"profiled_steps": active,
            "top_by_device_ms_per_step": [[e.key, round(getattr(e, device_key) / 1000 / active, 2), e.count]
                                          for e in top]}


def training_cases(session: Session, steps: int) -> None:
    import numpy as np
    import torch
    from PIL import Image

    from emo_app.emotion.space import EmotionPoint
    from emo_app.generation.pipeline import C2A2Pipeline
    from emo_app.generation.random_pipeline import RandomSDConfig, build_random_sd_pipeline
    from emo_app.generation.train import TrainConfig, train_c2a2

    size = 64 if session.dry_run else 512
    root = session.out / "train_data"
    rng = np.random.default_rng(0)
    for folder, count in (("faces", 6), ("classes", 6)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            pixels = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / folder / f"{i}.png")
    rows = ["file,valence,arousal,z"] + [
        f"{i}.png,{p.valence},{p.arousal},{p.z}"
        for i, p in enumerate(EmotionPoint.of_class(c) for c in ["Happy", "Sad", "Fearful"] * 2)
    ]
    (root / "faces" / "labels.csv").write_text("\n".join(rows) + "\n")
    variants = [("AdamW", False, True), ("AdamW, cuDNN search off", False, False)]
    try:
        import bitsandbytes  # noqa: F401  (optional; carried as a wheel when available)

        variants.append(("AdamW8bit", True, True))
    except ImportError:
        session.record("training: 8-bit Adam", {"skipped": "bitsandbytes is not installed"})
    variants.append(("AdamW, profiled", False, True))  # last: the profiler slows the steps it records

    def fresh_pipeline() -> Any:
        config = RandomSDConfig.tiny() if session.dry_run else RandomSDConfig.sd14()
        pipeline = C2A2Pipeline.with_new_number_encoder(build_random_sd_pipeline(config, seed=0), seed=0)
        if session.device == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        return pipeline

    for index, (name, eight_bit, cudnn_search) in enumerate(variants):
        out_dir = Path(tempfile.gettempdir()) / "emo_train" / f"run{index}"  # not $OUT: GBs of weights
        try:
            pipeline = fresh_pipeline()
            train = TrainConfig(data_dir=root / "faces", out_dir=out_dir,
                                class_images_dir=root / "classes", resolution=size, batch_size=1,
                                max_steps=steps, checkpoint_every=0, validate_every=0,
                                use_8bit_adam=eight_bit, cudnn_benchmark=cudnn_search, mixed_precision="auto",
                                device="cpu" if session.dry_run else "auto")
            if name.endswith("profiled"):
                train.max_steps = min(steps, 12)
                session.record(f"training C2A2 {size}px batch 1 + prior, {name}",
                               _profiled_training(session, train, pipeline, train.max_steps))
                continue
            with _GcPauses() as pauses:
                result = train_c2a2(train, pipeline=pipeline)
            timed = result.step_seconds[3:] or result.step_seconds  # the first steps allocate
            row = {"steps_per_s": round(1 / statistics.median(timed), 2), "steps": result.steps,
                   "step_ms": [round(t * 1000, 1) for t in result.step_seconds],
                   "gc_pause_s": round(pauses.seconds, 3),
                   "first_loss": round(result.losses[0], 4), "last_loss": round(result.losses[-1], 4),
                   "mixed_precision": "bf16 where supported (auto)", "gradient_checkpointing": True,
                   "cudnn_benchmark": cudnn_search}
            if session.device == "cuda":
                row["peak_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
            session.record(f"training C2A2 {size}px batch 1 + prior, {name}", row)
            del pipeline, result
        except Exception as exc:
            session.error(f"training {name}: error", exc)
        finally:
            shutil.rmtree(out_dir, ignore_errors=True)


def unet_only_case(session: Session, repeats: int) -> None:
    """The cold warm-up when only the UNet compiles (the VAE decoder runs once per image, so its
    launch overhead matters less than its compile time), and the speed then at batch 1 and 4."""
    compile_case(session, "ours float16 compiled, UNet only: cold start", "float16", decoder=False,
                 cache=session.compile_cache.with_name(session.compile_cache.name + "-unet-only"),
                 repeats=repeats)


def ganmut_case(session: Session, steps: int) -> None:
    import torch
    from accelerate.state import AcceleratorState

    from emo_app.ganmut.config import GanmutConfig
    from emo_app.ganmut.data import Batch
    from emo_app.ganmut.train import GanmutTrainer
    from emo_app.models.training import make_accelerator

    AcceleratorState._reset_state(True)  # the training case's Accelerator set bf16 for the process
    try:
        size, batch = (32, 4) if session.dry_run else (128, 16)
        extra = dict(g_conv_dim=8, d_conv_dim=8, g_repeat_num=1) if session.dry_run else {}
        trainer = GanmutTrainer(GanmutConfig(image_size=size, batch_size=batch, **extra),
                                accelerator=make_accelerator("cpu" if session.dry_run else "auto", "no"))
        g = torch.Generator().manual_seed(0)
        data = Batch(torch.rand(batch, 3, size, size, generator=g) * 2 - 1, torch.arange(batch) % 7,
                     torch.zeros(batch, 2), torch.ones(batch, dtype=torch.bool), torch.zeros(batch),
                     torch.zeros(batch, dtype=torch.bool))
        times = session.timed(lambda: trainer.train_step(data), steps)
        session.record(f"GANmut-3D {size}px batch {batch} (Accelerate)",
                       {"median_ms_per_step": round(statistics.median(times), 1), "reference_ms": 28.0})
    except Exception as exc:
        session.error("GANmut: error", exc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--dry-run", action="store_true", help="tiny models on CPU: checks the script only")
    parser.add_argument("--only", default="generator,training,ganmut")
    parser.add_argument("--dtypes", default="float16,bfloat16")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--train-steps", type=int, default=20)
    parser.add_argument("--compile-cache", type=Path, help="default: a new folder under the temp dir")
    parser.add_argument("--child-dtype", help=argparse.SUPPRESS)  # compile_case's own process
    parser.add_argument("--child-unet-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    session = Session(args.out, args.dry_run, args.compile_cache)
    parts = set(args.only.split(","))
    if args.child_dtype:
        session.record("compile", compile_in_this_process(session, args.child_dtype,
                                                          not args.child_unet_only, args.repeats))
    if "training" in parts:  # first: the training goal matters most and needs the GPU's full memory
        training_cases(session, 4 if args.dry_run else args.train_steps)
    if "ganmut" in parts:
        ganmut_case(session, 2 if args.dry_run else 20)
    if "unet_only" in parts:
        unet_only_case(session, 1 if args.dry_run else args.repeats)
    if "generator" in parts:
        generator_cases(session, args.dtypes.split(","), 1 if args.dry_run else args.repeats)
    print(json.dumps(session.results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
