"""DreamBooth fine-tuning of SD 1.4 jointly with the NumberEncoder (``python -m emo_app train-c2a2``).

Instance images are faces labelled with their C2A2 point (CSV ``file,valence,arousal,z``),
captioned "a photo of a <emo> person" with the point's embedding injected at <emo>. Prior
preservation keeps SD's general notion of a person: class images captioned "a photo of a person"
(given as a folder, or generated once by the base pipeline with the paper's sampler: DDIM,
eta 0, 100 steps, guidance 10, as in the DreamBooth reference code) add their own denoising
loss, weighted 1.0 as in the supplementary. The class caption's embedding is computed once per
run (the text encoder is frozen by default; when it trains, it is re-encoded every step). The
UNet (and optionally the text encoder) train at the paper's learning rate 1e-6; the
NumberEncoder starts from scratch, so it gets its own, larger rate (1e-4 by default; set it
equal to reproduce a single-rate run).

Training runs on 🤗 Accelerate: device placement, mixed precision, gradient accumulation,
data parallel over processes (``accelerate launch -m emo_app train-c2a2 ...``) and checkpoints
through ``save_state``/``load_state`` (weights as safetensors, optimizer, RNG states of every
process), so a resumed run continues exactly. Validation grids at fixed points every N steps
show whether the emotion control is being learnt.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from emo_app.emotion.space import EmotionPoint
from emo_app.errors import InvalidInputError
from emo_app.generation.pipeline import (
    CLASS_PROMPT,
    DEFAULT_TEMPLATE,
    C2A2Pipeline,
    GenerationRequest,
    validate_template,
)
from emo_app.generation.schedulers import get_preset
from emo_app.models.training import frozen_heap, make_accelerator, save_training_state, saved_step

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
REQUIRED_COLUMNS = ("file", "valence", "arousal", "z")
DEFAULT_VALIDATION_CLASSES = ("Neutral", "Happy", "Sad", "Fearful", "Surprised", "Angry")


@dataclass
class TrainConfig:
    """One training run. Paths may be resolver names (``base_model``) or folders."""

    data_dir: Path
    out_dir: Path
    base_model: str = "sd-1.4"
    labels_csv: Path | None = None  # default: <data_dir>/labels.csv, or the only CSV there
    class_images_dir: Path | None = None  # None: generate num_class_images with the base model
    num_class_images: int = 200
    class_image_preset: str = "paper"  # DDIM eta 0, guidance 10 (the paper); "fast" is a choice
    class_image_steps: int | None = None  # None: the preset's (100 for "paper")
    class_prompt: str = CLASS_PROMPT
    template: str = DEFAULT_TEMPLATE
    resolution: int = 512
    batch_size: int = 1
    max_steps: int = 800
    learning_rate: float = 1e-6
    number_encoder_lr: float = 1e-4
    prior_loss_weight: float = 1.0
    train_text_encoder: bool = False
    mixed_precision: str = "auto"  # auto | no | fp16 | bf16
    gradient_checkpointing: bool = True
    gradient_accumulation_steps: int = 1
    use_8bit_adam: bool = False
    cudnn_benchmark: bool = True  # CUDA: time the conv algorithms once (the shapes never change)
    max_grad_norm: float = 1.0
    checkpoint_every: int = 200
    keep_checkpoints: int = 2
    validate_every: int = 100
    validation_classes: tuple[str, ...] = DEFAULT_VALIDATION_CLASSES
    validation_steps: int = 25
    validation_seed: int = 0
    seed: int = 0
    resume: bool = True
    device: str = "auto"
    log_every: int = 10

    def __post_init__(self) -> None:
        self.data_dir, self.out_dir = Path(self.data_dir), Path(self.out_dir)
        if self.resolution % 8 or self.resolution < 64:
            raise InvalidInputError("resolution must be a multiple of 8 and at least 64.")
        if self.max_steps < 1 or self.batch_size < 1 or self.gradient_accumulation_steps < 1:
            raise InvalidInputError(
                "max_steps, batch_size and gradient_accumulation_steps must be at least 1."
            )
        if self.mixed_precision not in ("auto", "no", "fp16", "bf16"):
            raise InvalidInputError("mixed_precision must be auto, no, fp16 or bf16.")
        if not (self.learning_rate > 0 and self.number_encoder_lr > 0):
            raise InvalidInputError("Learning rates must be positive.")
        get_preset(self.class_image_preset)  # an unknown name fails here, not after model loading
        if self.class_image_steps is not None and not 1 <= self.class_image_steps <= 500:
            raise InvalidInputError("class_image_steps must be between 1 and 500.")


@dataclass
class TrainResult:
    out_dir: Path
    steps: int
    losses: list[float] = field(default_factory=list)
    checkpoints: list[Path] = field(default_factory=list)
    validation_images: list[Path] = field(default_factory=list)
    resumed_from: int = 0
    pipeline: C2A2Pipeline | None = None  # the trained pipeline, still in memory
    main_process: bool = True  # False on the other processes of a data-parallel run
    step_seconds: list[float] = field(default_factory=list)  # wall time of each optimizer step


# ----- data ------------------------------------------------------------------------------------
def _find_labels(config: TrainConfig) -> Path:
    if config.labels_csv is not None:
        path = Path(config.labels_csv)
        if not path.is_file():
            raise InvalidInputError(f"The labels file '{path}' does not exist.")
        return path
    default = config.data_dir / "labels.csv"
    if default.is_file():
        return default
    found = sorted(config.data_dir.glob("*.csv"))
    if len(found) == 1:
        return found[0]
    raise InvalidInputError(
        f"Put a labels.csv with columns {','.join(REQUIRED_COLUMNS)} in '{config.data_dir}' "
        "(or pass --labels)."
    )


def read_labels(data_dir: Path, labels_csv: Path) -> list[tuple[Path, EmotionPoint]]:
    """(image path, point) rows; every problem is reported with its CSV line number."""
    data_dir = Path(data_dir).resolve()
    rows: list[tuple[Path, EmotionPoint]] = []
    with open(labels_csv, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise InvalidInputError(
                f"{labels_csv} lacks the column(s) {', '.join(missing)}; the header must be "
                f"{','.join(REQUIRED_COLUMNS)}."
            )
        for line, record in enumerate(reader, start=2):
            path = (data_dir / str(record["file"]).strip()).resolve()
            if data_dir not in path.parents:
                raise InvalidInputError(
                    f"{labels_csv} line {line}: '{record['file']}' is outside the folder."
                )
            if not path.is_file():
                raise InvalidInputError(f"{labels_csv} line {line}: image '{record['file']}' not found.")
            try:
                point = EmotionPoint(record["valence"], record["arousal"], record["z"])
            except InvalidInputError as exc:
                raise InvalidInputError(f"{labels_csv} line {line}: {exc}") from exc
            rows.append((path, point))
    if not rows:
        raise InvalidInputError(f"{labels_csv} has no rows; label at least one face image.")
    return rows


def image_tensor(path: Path, resolution: int) -> torch.Tensor:
    """Resize the short side, centre-crop, scale to [-1, 1] (the VAE's input range)."""
    from PIL import Image

    from emo_app.validation import load_image

    image = Image.fromarray(load_image(path))
    scale = resolution / min(image.size)
    image = image.resize(
        (max(resolution, round(image.width * scale)), max(resolution, round(image.height * scale))),
        Image.Resampling.BICUBIC,
    )
    left, top = (image.width - resolution) // 2, (image.height - resolution) // 2
    image = image.crop((left, top, left + resolution, top + resolution))
    array = np.asarray(image, dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(array).permute(2, 0, 1)


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def prepare_class_images(config: TrainConfig, pipeline: C2A2Pipeline) -> list[Path]:
    """The prior-preservation images: the given folder, or generated once and kept for reuse."""
    if config.class_images_dir is not None:
        images = list_images(config.class_images_dir)
        if not images:
            raise InvalidInputError(f"No class images (PNG/JPEG) in '{config.class_images_dir}'.")
        return images
    folder = config.out_dir / "class_images"
    folder.mkdir(parents=True, exist_ok=True)
    images = list_images(folder)
    missing = config.num_class_images - len(images)
    if missing <= 0:
        return images[: config.num_class_images]
    preset = get_preset(config.class_image_preset)
    steps = config.class_image_steps or preset.steps
    log.info("Generating %d class images with '%s' (%s, %d steps, eta %g, guidance %g)", missing,
             config.class_prompt, preset.solver, steps, preset.eta, preset.guidance_scale)
    with torch.no_grad(), pipeline.using_scheduler(preset):
        embeds = pipeline.encode_text([config.class_prompt])
        negative = pipeline.encode_text([""])  # unconditional branch of classifier-free guidance
        for index in range(len(images), config.num_class_images):
            out = pipeline.sd(
                prompt_embeds=embeds,
                negative_prompt_embeds=negative,
                height=config.resolution,
                width=config.resolution,
                num_inference_steps=steps,
                guidance_scale=preset.guidance_scale,
                eta=preset.eta,
                generator=torch.Generator("cpu").manual_seed(10_000 + index),
            )
            out.images[0].save(folder / f"class_{index:05d}.png")
    return list_images(folder)[: config.num_class_images]


# ----- checkpoints -----------------------------------------------------------------------------
# A checkpoint is ``accelerator.save_state``'s folder (the trained modules as safetensors, the
# optimizer, the grad scaler and every process's RNG states) plus the marker written last
# (emo_app.models.training.save_training_state). The product stays the safetensors pipeline folder in out_dir.
def latest_checkpoint(out_dir: Path) -> Path | None:
    folders = sorted((out_dir / "checkpoints").glob("step-*[0-9]"))
    complete = [f for f in folders if saved_step(f) is not None]
    usable = [f for f in complete if (f / "model.safetensors").exists()]  # Accelerate's layout
    if len(usable) < len(complete):
        log.warning("Ignoring %d checkpoint(s) in the layout before Accelerate (unet.safetensors); "
                    "they cannot resume exactly", len(complete) - len(usable))
    return usable[-1] if usable else None


def save_checkpoint(accelerator: Any, folder: Path, step: int) -> Path:
    """Everything needed to resume exactly; a crash mid-save never leaves a marked folder."""
    if accelerator.is_main_process:
        shutil.rmtree(folder, ignore_errors=True)
    save_training_state(accelerator, folder, step)
    return folder


def load_checkpoint(accelerator: Any, folder: Path) -> int:
    """Restore modules, optimizer and RNG states saved by ``save_checkpoint``; returns the step."""
    accelerator.load_state(str(folder))
    return int(saved_step(folder))


# ----- training --------------------------------------------------------------------------------
def _make_optimizer(groups: list[dict[str, Any]], use_8bit: bool, on_cuda: bool) -> torch.optim.Optimizer:
    """AdamW; on CUDA the fused kernel (one launch per step, and none of the foreach version's
    parameter-sized temporaries, which set the run's peak memory)."""
    if use_8bit:
        try:
            import bitsandbytes as bnb  # optional: only when the user installed it

            return bnb.optim.AdamW8bit(groups, weight_decay=1e-2)
        except ImportError:
            log.warning("8-bit Adam needs the bitsandbytes package, which is not installed; using AdamW.")
    return torch.optim.AdamW(groups, weight_decay=1e-2, fused=on_cuda or None)


def load_base_pipeline(config: TrainConfig) -> C2A2Pipeline:
    """The base model as a C2A2 pipeline: a saved C2A2 folder continues; plain SD gets a new encoder."""
    from emo_app.models import resolve

    folder = resolve(config.base_model, allow_download=False)
    pipeline = C2A2Pipeline.from_pretrained(folder, torch_dtype=torch.float32)
    if pipeline.number_encoder is None:
        pipeline = C2A2Pipeline.with_new_number_encoder(pipeline.sd, seed=config.seed)
    return pipeline


def save_validation_grid(pipeline: C2A2Pipeline, config: TrainConfig, step: int) -> Path:
    from emo_app.generation.walks import image_grid

    points = [EmotionPoint.of_class(name) for name in config.validation_classes]
    request = GenerationRequest(
        points=points,
        seeds=[config.validation_seed] * len(points),
        preset=get_preset("fast"),
        template=config.template,
        negative_prompt="",
        mode="number",
        height=config.resolution,
        width=config.resolution,
        steps=config.validation_steps,
    )
    images = pipeline.generate(request)
    folder = config.out_dir / "validation"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"step-{step:06d}.png"
    image_grid(images, list(config.validation_classes)).save(path)
    return path


def _encode_batch(
    pipeline: C2A2Pipeline, text_encoder: Any, prompts: list[str], vectors: torch.Tensor, device: Any
) -> torch.Tensor:
    """One text-encoder pass (a data-parallel module may run forward once per step) in which
    the rows with ``<emo>`` read ``vectors`` (rows without it ignore theirs)."""
    ids = pipeline.token_ids(prompts).to(device)
    with pipeline.injecting(vectors):
        return text_encoder(ids)[0]


@dataclass
class _StepDraws:
    """Every random number of one optimizer step, drawn for the whole global batch (micro-batches
    x processes x batch size) from the CPU RNG, which is seeded alike on every process: each
    process then keeps its rows, so N processes and gradient accumulation see exactly the
    samples one process sees with the same global batch, and a resume restores them."""

    picks: torch.Tensor  # (G,) instance rows
    class_picks: torch.Tensor  # (G,) class images
    eps: torch.Tensor  # (kinds, G, C, h, w) the VAE posterior's sample
    noise: torch.Tensor  # (kinds, G, C, h, w)
    timesteps: torch.Tensor  # (kinds, G)

    @classmethod
    def draw(
        cls, total: int, rows: int, class_images: int, latent: tuple[int, ...], steps: int
    ) -> _StepDraws:
        kinds = 2 if class_images else 1
        return cls(
            torch.randint(rows, (total,)),
            torch.randint(class_images, (total,)) if class_images else torch.zeros(0, dtype=torch.long),
            torch.randn((kinds, total, *latent)),
            torch.randn((kinds, total, *latent)),
            torch.randint(steps, (kinds, total)),
        )


@dataclass
class _TrainingRun:
    """What every step of one run uses: the modules as Accelerate prepared them (``prepared``:
    UNet, NumberEncoder, and the text encoder when it trains), the optimizer and fixed pieces."""

    config: TrainConfig
    accelerator: Any
    pipeline: C2A2Pipeline
    rows: list[tuple[Path, EmotionPoint]]
    class_paths: list[Path]
    noise_scheduler: Any
    prepared: list[Any]
    optimizer: Any
    trainable: list[torch.nn.Parameter]
    class_embeds: torch.Tensor | None = None  # the fixed class caption's, while the text encoder is frozen
    # each image's VAE posterior (mean, std) on the CPU, ~130 KB per 512 px image: the VAE is
    # frozen and the crop fixed, so encoding an image again would give the same numbers
    posteriors: dict[Path, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)

    @property
    def text_encoder(self) -> Any:
        return self.prepared[2] if self.config.train_text_encoder else self.pipeline.sd.text_encoder

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        vae, resolution = self.pipeline.sd.vae.config, self.config.resolution
        down = 2 ** (len(vae.block_out_channels) - 1)
        return int(vae.latent_channels), resolution // down, resolution // down


def train_c2a2(config: TrainConfig, pipeline: C2A2Pipeline | None = None) -> TrainResult:
    """Run (or resume) training and save a pipeline folder to ``config.out_dir``. Runs as one
    process or as N data-parallel ones under ``accelerate launch`` (``batch_size`` is per
    process; the global batch is batch_size x processes x gradient_accumulation_steps)."""
    from accelerate.utils import set_seed

    accelerator = make_accelerator(config.device, config.mixed_precision, config.gradient_accumulation_steps)
    rows = read_labels(config.data_dir, _find_labels(config))
    config.out_dir.mkdir(parents=True, exist_ok=True)
    set_seed(config.seed)  # the same on every process: the draws below are shared, then sliced
    pipeline = pipeline or load_base_pipeline(config)
    if pipeline.number_encoder is None:
        pipeline = C2A2Pipeline.with_new_number_encoder(pipeline.sd, seed=config.seed)
    pipeline.sd.set_progress_bar_config(disable=True)
    pipeline.to(accelerator.device)
    class_paths: list[Path] = []
    if config.prior_loss_weight > 0:
        with accelerator.main_process_first():  # the main process generates, the others reuse
            class_paths = prepare_class_images(config, pipeline)
    run = _prepare_run(config, accelerator, pipeline, rows, class_paths)
    result = TrainResult(out_dir=config.out_dir, steps=0, main_process=accelerator.is_main_process)
    step = 0
    checkpoint = latest_checkpoint(config.out_dir) if config.resume else None
    if checkpoint is not None:
        step = load_checkpoint(accelerator, checkpoint)
        result.resumed_from = step
        log.info("Resumed from %s (step %d)", checkpoint, step)
    validate_template(config.template, needs_placeholder=True)
    if class_paths and not config.train_text_encoder:  # once per run while the text encoder is frozen
        with torch.no_grad():
            run.class_embeds = pipeline.encode_text([config.class_prompt]).expand(config.batch_size, -1, -1)
    with _steady_steps(config.cudnn_benchmark):
        while step < config.max_steps:
            step_loss, started = _optimizer_step(run)
            if not math.isfinite(step_loss):
                raise FloatingPointError(
                    f"Training diverged at step {step + 1} (loss {step_loss}); lower the rate."
                )
            step += 1
            result.losses.append(step_loss)  # (the gather in the step synchronised the device)
            result.step_seconds.append(time.perf_counter() - started)
            _after_step(run, result, step, step_loss)
    _finish_run(run, result, step)
    return result


@contextmanager
def _steady_steps(cudnn_benchmark: bool) -> Iterator[None]:
    """While the loop runs: cuDNN's algorithm search for its convolutions (the shapes never
    change) and a heap frozen out of the collector's full scans; then the process's settings."""
    before = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = cudnn_benchmark
    try:
        with frozen_heap():
            yield
    finally:
        torch.backends.cudnn.benchmark = before


def _prepare_run(config: TrainConfig, accelerator: Any, pipeline: C2A2Pipeline,
                 rows: list[tuple[Path, EmotionPoint]], class_paths: list[Path]) -> _TrainingRun:
    """Freeze the VAE (and the text encoder unless it trains), give the NumberEncoder its own
    learning rate and let Accelerate wrap the trained modules and the optimizer."""
    from diffusers import DDPMScheduler

    sd = pipeline.sd
    noise_scheduler = DDPMScheduler.from_config(dict(sd.scheduler.config))
    sd.vae.requires_grad_(False)
    sd.unet.requires_grad_(True)
    sd.text_encoder.requires_grad_(config.train_text_encoder)
    if config.gradient_checkpointing:
        sd.unet.enable_gradient_checkpointing()
        if config.train_text_encoder:
            sd.text_encoder.gradient_checkpointing_enable()
    groups = [{"params": list(sd.unet.parameters()), "lr": config.learning_rate}]
    if config.train_text_encoder:
        groups.append({"params": list(sd.text_encoder.parameters()), "lr": config.learning_rate})
    groups.append({"params": list(pipeline.number_encoder.parameters()), "lr": config.number_encoder_lr})
    optimizer = _make_optimizer(groups, config.use_8bit_adam, accelerator.device.type == "cuda")
    trainable = [p for g in groups for p in g["params"]]
    modules = [sd.unet, pipeline.number_encoder] + ([sd.text_encoder] if config.train_text_encoder else [])
    *prepared, optimizer = accelerator.prepare(*modules, optimizer)
    return _TrainingRun(config, accelerator, pipeline, rows, class_paths, noise_scheduler,
                        prepared, optimizer, trainable)


def _optimizer_step(run: _TrainingRun) -> tuple[float, float]:
    """One optimizer step over the global batch: this process's micro-batches, accumulated.
    Returns (the global batch's loss, the same number on every process; when the step began)."""
    config, accelerator, sd = run.config, run.accelerator, run.pipeline.sd
    n, world, rank = config.batch_size, accelerator.num_processes, accelerator.process_index
    sd.unet.train()
    sd.text_encoder.train(config.train_text_encoder)
    run.pipeline.number_encoder.train()
    micro_losses = []
    started = time.perf_counter()
    draws = _StepDraws.draw(
        n * world * config.gradient_accumulation_steps, len(run.rows), len(run.class_paths),
        run.latent_shape, run.noise_scheduler.config.num_train_timesteps,
    )
    for micro in range(config.gradient_accumulation_steps):
        start = (micro * world + rank) * n
        with accelerator.accumulate(*run.prepared):
            loss = _micro_step(run, draws, slice(start, start + n))
            accelerator.backward(loss)
            if accelerator.sync_gradients:
                accelerator.clip_grad_norm_(run.trainable, config.max_grad_norm)
            run.optimizer.step()
            run.optimizer.zero_grad(set_to_none=True)
        micro_losses.append(loss.detach())
    return float(accelerator.gather(torch.stack(micro_losses).mean()[None]).mean()), started


def _micro_step(run: _TrainingRun, draws: _StepDraws, rows_of_mine: slice) -> torch.Tensor:
    """The denoising loss of this process's rows of one micro-batch (plus the weighted prior
    preservation loss on their class images)."""
    config, accelerator, pipeline, device = run.config, run.accelerator, run.pipeline, run.accelerator.device
    sd, n, class_paths, noise_scheduler = pipeline.sd, config.batch_size, run.class_paths, run.noise_scheduler
    picks = draws.picks[rows_of_mine].tolist()
    paths = [run.rows[i][0] for i in picks]
    xyz = torch.from_numpy(np.stack([run.rows[i][1].as_array() for i in picks])).float()
    if class_paths:
        paths += [class_paths[i] for i in draws.class_picks[rows_of_mine].tolist()]
    mean, std = _posteriors(run, paths)
    eps = draws.eps[:, rows_of_mine].flatten(0, 1).to(device)
    scaling = float(getattr(sd.vae.config, "scaling_factor", 0.18215))
    latents = (mean + std * eps) * scaling  # the posterior's sample
    noise = draws.noise[:, rows_of_mine].flatten(0, 1).to(device)
    timesteps = draws.timesteps[:, rows_of_mine].flatten().to(device)
    noisy = noise_scheduler.add_noise(latents, noise, timesteps)
    vectors = run.prepared[1](xyz.to(device))  # the prepared NumberEncoder
    if config.train_text_encoder:  # one pass for the instance and the class captions
        prompts = [config.template] * n + [config.class_prompt] * (n if class_paths else 0)
        padded = torch.cat([vectors, vectors.new_zeros(len(prompts) - n, vectors.shape[1])])
        embeds = _encode_batch(pipeline, run.text_encoder, prompts, padded, device)
    else:
        embeds = pipeline.encode_text([config.template] * n, vectors)
        if run.class_embeds is not None:
            embeds = torch.cat([embeds, run.class_embeds.to(embeds.dtype)])
    with accelerator.autocast():
        prediction = run.prepared[0](noisy, timesteps, encoder_hidden_states=embeds).sample  # the UNet
    target = noise
    if noise_scheduler.config.prediction_type == "v_prediction":
        target = noise_scheduler.get_velocity(latents, noise, timesteps)
    loss = F.mse_loss(prediction[:n].float(), target[:n].float())
    if class_paths:
        loss = loss + config.prior_loss_weight * F.mse_loss(prediction[n:].float(), target[n:].float())
    return loss


def _posteriors(run: _TrainingRun, paths: list[Path]) -> tuple[torch.Tensor, torch.Tensor]:
    """The VAE posterior's (mean, std) of each image on the device, float32; an image not seen
    before in this run is encoded, alone (so its numbers never depend on which batch it came
    in, and a resumed run stays exact), and kept (``_TrainingRun.posteriors``)."""
    accelerator, sd = run.accelerator, run.pipeline.sd
    for path in dict.fromkeys(p for p in paths if p not in run.posteriors):
        pixels = image_tensor(path, run.config.resolution)[None].to(accelerator.device)
        with torch.no_grad(), accelerator.autocast():
            posterior = sd.vae.encode(pixels).latent_dist
        run.posteriors[path] = (posterior.mean[0].float().cpu(), posterior.std[0].float().cpu())
    means, stds = zip(*(run.posteriors[p] for p in paths), strict=True)
    return torch.stack(means).to(accelerator.device), torch.stack(stds).to(accelerator.device)


def _after_step(run: _TrainingRun, result: TrainResult, step: int, step_loss: float) -> None:
    """Log, save a checkpoint (pruning old ones) and a validation grid when their turn comes."""
    config, accelerator = run.config, run.accelerator
    if step % max(1, config.log_every) == 0 or step == config.max_steps:
        log.info("step %d/%d loss %.4f", step, config.max_steps, step_loss)
    if config.checkpoint_every and step % config.checkpoint_every == 0:
        folder = config.out_dir / "checkpoints" / f"step-{step:06d}"
        result.checkpoints.append(save_checkpoint(accelerator, folder, step))
        if accelerator.is_main_process:
            _prune_checkpoints(config.out_dir, config.keep_checkpoints)
    if config.validate_every and step % config.validate_every == 0:
        if accelerator.is_main_process:
            run.pipeline.sd.unet.eval()
            run.pipeline.number_encoder.eval()
            result.validation_images.append(save_validation_grid(run.pipeline, config, step))
        accelerator.wait_for_everyone()


def _finish_run(run: _TrainingRun, result: TrainResult, step: int) -> None:
    """Unwrap the modules, put them in eval mode and save the pipeline (main process only)."""
    config, accelerator, pipeline = run.config, run.accelerator, run.pipeline
    result.steps = step
    for module in run.prepared:  # drop Accelerate's wrappers (DDP, autocast forward) from the modules
        accelerator.unwrap_model(module, keep_fp32_wrapper=False)
    accelerator.free_memory()
    pipeline.sd.unet.eval()
    pipeline.sd.text_encoder.eval()
    pipeline.number_encoder.eval()
    if config.gradient_checkpointing:
        pipeline.sd.unet.disable_gradient_checkpointing()
    if accelerator.is_main_process:
        meta = {"trained_steps": step, "train_config": json.loads(json.dumps(asdict(config), default=str))}
        pipeline.save_pretrained(config.out_dir, extra=meta)
    accelerator.wait_for_everyone()
    result.pipeline = pipeline


def _prune_checkpoints(out_dir: Path, keep: int) -> None:
    folders = sorted((out_dir / "checkpoints").glob("step-*[0-9]"))
    for old in folders[: max(0, len(folders) - max(1, keep))]:
        shutil.rmtree(old, ignore_errors=True)
