"""Training and evaluating the Emo3D baselines on 🤗 Accelerate: safetensors checkpoints + JSON config.

A checkpoint is a folder: ``config.json`` (the TrainConfig, the training state and the loss
history), ``model.safetensors`` (the trained weights, what inference loads; a frozen encoder is
referenced by name, a fine-tuned one is saved in ``encoder/``) and ``training/``, Accelerate's
``save_state`` (the optimizer and every process's RNG states, from which a run resumes exactly,
mid-epoch too). Checkpoints from before ``training/`` (``optimizer.safetensors``) still load;
they resume from their weights with a fresh optimizer (logged).

The same run works as one process or as N data-parallel ones under ``accelerate launch``:
``batch_size`` is the global batch, every process takes its share of each batch's rows and
weights its mean loss by its share, so the averaged gradient is the whole batch's. The order of
the rows and Emotion-XLM's teacher-forcing draws are seeded by epoch and step (the same on every
process); dropout and VAE-CLIP's noise come from each process's own RNG (seed + process index).
Only ``training/`` holds torch/pickle files (Accelerate's ``optimizer.bin`` and RNG states, which
Accelerate reads back itself); inference never reads them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from emo_app.blendshapes.schema import GROUPS, MEDIAPIPE_NAMES
from emo_app.config import Settings
from emo_app.emotion.emotions import EMO3D_EMOTIONS
from emo_app.errors import InvalidInputError, MissingWeightsError, ModelLoadError
from emo_app.models.training import frozen_heap, make_accelerator, save_training_state, saved_step
from emo_app.text.data import Emo3DSample, find_data_file, mirror_sample, stack

log = logging.getLogger(__name__)

KINDS = ("lm-mlp", "emotion-xlm", "clip-mlp", "vae-clip")
LM_KINDS = ("lm-mlp", "emotion-xlm")
CLIP_KINDS = ("clip-mlp", "vae-clip")
SHAPE_NAMES_51 = MEDIAPIPE_NAMES[1:]
CLIP_FEATURES = ("raw", "unit")


@dataclass
class TrainConfig:
    """Everything needed to rebuild and continue a training run (saved as config.json)."""

    kind: str = "lm-mlp"
    # transformers encoder: a known name, hf model id or folder; "" = the paper's (choose_encoder);
    # CLIP kinds: clip-vit-b-32
    encoder: str = ""
    epochs: int = 50  # the paper's
    batch_size: int = 32
    lr: float = 0.0  # 0 = the paper's default for the kind
    seed: int = 0
    train_encoder: bool = True  # fine-tune the language model too, as the paper does (slow on CPU)
    pooling: str = "mean"  # mean | cls
    teacher_forcing: float = 0.5  # Emotion-XLM: share of batches rows with ground-truth emotions
    # Emotion-XLM's l1 (blendshapes) and l2 (emotions): the paper gives no values; these are ours
    shape_weight: float = 1.0
    emotion_weight: float = 0.5
    kl_weight: float = 0.0  # VAE-CLIP: 0 = as released (no KL term)
    mirror: bool = True  # left/right mirror augmentation (added once, see train)
    use_images: bool = False  # CLIP kinds: also train on image embeddings (needs image_root)
    image_root: str = ""  # the CLI finds it next to the data (find_image_root)
    embed_dim: int = 512  # CLIP kinds: the CLIP embedding size (ViT-B/32: 512)
    clip_features: str = "raw"  # CLIP kinds: "raw" encode_text/encode_image output, as released; or "unit"
    description: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidInputError(f"Unknown model kind '{self.kind}'; choose one of {', '.join(KINDS)}.")
        if self.epochs < 1 or self.batch_size < 1:
            raise InvalidInputError("epochs and batch_size must be at least 1.")
        if self.clip_features not in CLIP_FEATURES:
            raise InvalidInputError(f"clip_features must be one of {', '.join(CLIP_FEATURES)}.")
        if self.kind in CLIP_KINDS and self.encoder in ("", "minilm"):
            self.encoder = "clip-vit-b-32"

    @property
    def learning_rate(self) -> float:
        if self.lr > 0:
            return self.lr
        return {"vae-clip": 1e-3, "clip-mlp": 1e-4}.get(self.kind, 2e-5 if self.train_encoder else 1e-3)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


PAPER_ENCODERS = {"lm-mlp": "bert-base-uncased", "emotion-xlm": "xlm-roberta-base"}
OFFLINE_ENCODER = "minilm"  # ships with the app (384-d); the paper never used it


def choose_encoder(kind: str, settings: Settings | None = None) -> tuple[str, str]:
    """(encoder, sentence saying why) for a language-model baseline given no encoder: the
    paper's 768-d encoder (BERT for LM+MLP, XLM-RoBERTa for Emotion-XLM) when its weights
    resolve (fetched when online), else MiniLM, the offline fallback."""
    from emo_app.models import resolve

    paper = PAPER_ENCODERS[kind]
    try:
        resolve(paper, settings)
    except MissingWeightsError as exc:
        return OFFLINE_ENCODER, (
            f"{kind}: the paper's encoder {paper} is not available ({exc}); falling back to "
            f"{OFFLINE_ENCODER} (384-d, not the paper's: numbers will not compare with Table 2)."
        )
    return paper, f"{kind}: encoder {paper} (768-d, as in the paper)."


def find_image_root(data: str | Path, samples: Sequence[Emo3DSample]) -> Path | None:
    """The folder the samples' published image paths are relative to, looked for next to the
    data (the file's folder and the ones above it, up to two levels); None unless every image
    is there (then the CLIP baselines train on text only)."""
    wanted = sorted({s.image for s in samples if s.image})
    if not wanted:
        return None
    folder = find_data_file(data).parent
    for root in (folder, folder.parent, folder.parent.parent):
        if all((root / image).is_file() for image in wanted):
            return root
    return None


def with_mirrors(samples: list[Emo3DSample]) -> list[Emo3DSample]:
    """The samples plus one mirror of each, unless they already hold mirrors
    (``load_samples(mirror=True)``): the augmentation is applied once."""
    if any(s.mirrored for s in samples):
        return list(samples)
    return list(samples) + [mirror_sample(s) for s in samples]


def encoder_folder(reference: str, settings: Settings | None = None, base: Path | None = None) -> Path:
    """A transformers encoder folder: relative to a checkpoint, a path, a known name or an hf id."""
    from emo_app.models import resolve
    from emo_app.models.registry import KNOWN_MODELS

    if base is not None and (base / reference).is_dir():
        return base / reference
    if Path(reference).expanduser().is_dir() or reference in KNOWN_MODELS:
        return resolve(reference, settings)
    return resolve(f"hf-hub:{reference}", settings)


def build_module(config: TrainConfig, settings: Settings | None = None, base: Path | None = None) -> Any:
    """The torch module for ``config`` (weights random except a pretrained encoder)."""
    import torch

    from emo_app.text import baselines as bl

    torch.manual_seed(config.seed)
    if config.kind in LM_KINDS:
        encoder = bl.TransformerTextEncoder(
            str(encoder_folder(config.encoder, settings, base)), config.pooling
        )
        module = bl.LMRegressor(encoder) if config.kind == "lm-mlp" else bl.EmotionXLM(encoder)
        if not config.train_encoder:
            for p in module.encoder.parameters():
                p.requires_grad_(False)
        return module
    if config.kind == "clip-mlp":
        return bl.Emo3DHead(config.embed_dim)
    return bl.VAEClip(latent=config.embed_dim)


TRAINING_STATE = "training"  # accelerator.save_state's folder inside a checkpoint
OLD_OPTIMIZER_FILES = ("optimizer.safetensors", "optimizer.json")  # the layout before Accelerate
DEVICES = ("auto", "cpu")


def _trainable_state(module: Any, config: TrainConfig) -> dict[str, Any]:
    state = module.state_dict()
    if config.kind in LM_KINDS:
        state = {k: v for k, v in state.items() if not k.startswith("encoder.")}
    return {k: v.detach().contiguous().cpu() for k, v in state.items()}


def save_checkpoint(
    folder: Path, accelerator: Any, module: Any, config: TrainConfig, state: dict[str, Any]
) -> None:
    """Write the checkpoint folder (module doc), called by every process: Accelerate's state
    first, then (main process) the weights of the unwrapped ``module`` and config.json, so a
    save cut short leaves a state whose step no config.json names (resumed from fresh)."""
    from safetensors.torch import save_file

    save_training_state(accelerator, folder / TRAINING_STATE, int(state["step"]))
    if accelerator.is_main_process:
        module = accelerator.unwrap_model(module)
        saved = asdict(config)
        if config.kind in LM_KINDS and config.train_encoder:
            module.encoder.save(str(folder / "encoder"))
            saved["encoder"] = "encoder"
        save_file(_trainable_state(module, config), str(folder / "model.safetensors"))
        for old in OLD_OPTIMIZER_FILES:
            (folder / old).unlink(missing_ok=True)
        payload = {"config": saved, "state": state, "format": "emo-app-text-checkpoint-1"}
        (folder / "config.json").write_text(json.dumps(payload, indent=2), encoding="utf-8")
    accelerator.wait_for_everyone()


def _restore_training_state(accelerator: Any, folder: Path, state: dict[str, Any]) -> None:
    """Load the optimizer and RNG states saved with the checkpoint's step; a checkpoint without
    them (from before Accelerate, or cut short while saving) resumes with fresh ones."""
    step = int(state.get("step", 0))
    if saved_step(folder / TRAINING_STATE) == step:
        accelerator.load_state(str(folder / TRAINING_STATE))
    elif step > 0:
        log.warning(
            "'%s' has no Accelerate training state for step %d (a checkpoint from before it?): "
            "training continues from its weights with a fresh optimizer state and RNG", folder, step
        )


def read_checkpoint_config(folder: Path) -> tuple[TrainConfig, dict[str, Any]]:
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise ModelLoadError(f"'{folder}' is not a text-model checkpoint (no config.json).")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        saved = dict(payload["config"])
        saved.setdefault("clip_features", "unit")  # checkpoints from before raw features trained on unit ones
        return TrainConfig.from_dict(saved), dict(payload.get("state", {}))
    except (KeyError, ValueError, TypeError) as exc:
        raise ModelLoadError(f"'{path}' is not a valid checkpoint config: {exc}.") from exc


def load_module(folder: Path, settings: Settings | None = None) -> tuple[Any, TrainConfig, dict[str, Any]]:
    """Rebuild the module of a checkpoint folder and load its weights strictly."""
    from emo_app.models import load_state_dict

    folder = Path(folder)
    config, state = read_checkpoint_config(folder)
    module = build_module(config, settings, base=folder)
    weights = load_state_dict(folder / "model.safetensors")
    strict = config.kind not in LM_KINDS
    missing, unexpected = module.load_state_dict(weights, strict=strict)
    missing = [k for k in missing if not k.startswith("encoder.")]
    if missing or unexpected:
        raise ModelLoadError(
            f"Checkpoint '{folder}' does not match its architecture: missing {missing[:4]}, "
            f"unexpected {unexpected[:4]}."
        )
    module.eval()
    return module, config, state


def _clip_features(
    samples: list[Emo3DSample], clip: Any, config: TrainConfig, batch: int = 64
) -> tuple[Any, Any]:
    """Text (and image) embeddings of the samples, computed once (CLIP stays frozen)."""
    import torch

    texts = [s.text for s in samples]
    normalise = config.clip_features == "unit"
    text_emb = torch.from_numpy(clip.encode_texts(texts, batch_size=batch, normalise=normalise))
    image_emb = None
    if config.use_images:
        from emo_app.validation import load_image

        root = Path(config.image_root)
        images = []
        for s in samples:
            if not s.image or not (root / s.image).is_file():
                raise InvalidInputError(f"Image '{s.image}' of sample {s.sample_id} is not under '{root}'.")
            img = load_image(root / s.image)
            images.append(img[:, ::-1].copy() if s.mirrored else img)
        image_emb = torch.from_numpy(clip.encode_images(images, batch_size=batch, normalise=normalise))
    return text_emb, image_emb


@dataclass
class _TrainingData:
    """The tensors one training run draws its batches from (``inputs`` only for clip-mlp, the
    embeddings only for the CLIP kinds)."""

    texts: list[str]
    emotions: Any
    targets: Any
    inputs: Any = None
    text_emb: Any = None
    image_emb: Any = None


@dataclass
class _TrainingRun:
    """What every step of a run uses: the module as Accelerate prepared it (the data-parallel
    wrapper under ``accelerate launch``), its optimizer and trainable parameters, the data."""

    config: TrainConfig
    accelerator: Any
    prepared: Any
    optimizer: Any
    trainable: list[Any]
    data: _TrainingData


def train(
    config: TrainConfig,
    samples: list[Emo3DSample],
    out: str | Path,
    *,
    resume: bool = True,
    settings: Settings | None = None,
    clip_encoder: Any = None,
    progress: bool = True,
    max_steps: int | None = None,
    on_step: Callable[[int, float], None] | None = None,
    device: str = "auto",
    mixed_precision: str = "auto",
    accelerator: Any = None,
) -> dict[str, Any]:
    """Train (or continue training) a baseline; saves a checkpoint at the end of every epoch and
    where ``max_steps`` stops it. ``device`` (auto | cpu) and ``mixed_precision`` (auto | no |
    fp16 | bf16) make the Accelerator unless one is given (a fresh one per call).

    Returns the training state: epoch, step and the mean loss of each epoch (the global batch's
    on every process)."""
    import torch
    from accelerate.utils import set_seed

    if accelerator is None:
        if device not in DEVICES:
            raise InvalidInputError(f"Unknown device '{device}'; choose one of {', '.join(DEVICES)}.")
        accelerator = make_accelerator(device, mixed_precision)
    out = Path(out)
    if config.mirror:
        samples = with_mirrors(samples)
    if not samples:
        raise InvalidInputError("No training samples.")
    if config.kind in LM_KINDS and not config.encoder and not (resume and (out / "config.json").is_file()):
        config.encoder, why = choose_encoder(config.kind, settings)
        log.info(why)
    module, config, state = _resumed_module(config, out, resume, settings)
    resumed = module is not None
    text_emb, image_emb = _clip_embeddings(config, samples, out, resumed, clip_encoder, settings)
    if module is None:
        module = build_module(config, settings)
    trainable = [p for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=config.learning_rate)
    set_seed(config.seed, device_specific=True)  # each process's dropout and noise; load_state restores it
    prepared, optimizer = accelerator.prepare(module, optimizer)
    if resumed:
        _restore_training_state(accelerator, out, state)
    run = _TrainingRun(config, accelerator, prepared, optimizer, trainable,
                       _training_data(config, samples, text_emb, image_emb))
    prepared.train()
    with frozen_heap():
        for epoch in range(int(state["epoch"]), config.epochs):
            if max_steps is not None and int(state["step"]) >= max_steps:
                break
            stop = _train_epoch(run, state, epoch, progress=progress, max_steps=max_steps, on_step=on_step)
            if not stop:
                state["epoch"] = epoch + 1
                epoch_mean = float(np.mean(state.pop("epoch_step_losses")))
                state["epoch_losses"] = list(state.get("epoch_losses", [])) + [epoch_mean]
            save_checkpoint(out, accelerator, prepared, config, state)
            if stop:
                break
    return state


def _resumed_module(
    config: TrainConfig, out: Path, resume: bool, settings: Settings | None
) -> tuple[Any, TrainConfig, dict[str, Any]]:
    """(module or None, config, training state): the checkpoint in ``out`` when resuming (its
    config, with the asked-for epoch count), otherwise nothing yet and a fresh state."""
    state: dict[str, Any] = {"epoch": 0, "step": 0, "epoch_losses": []}
    if not (resume and (out / "config.json").is_file()):
        return None, config, state
    module, saved_config, state = load_module(out, settings)
    if saved_config.kind != config.kind:
        raise InvalidInputError(f"'{out}' holds a {saved_config.kind} checkpoint, not {config.kind}.")
    saved_config.epochs = config.epochs
    module.train()
    if saved_config.kind in LM_KINDS and not saved_config.train_encoder:
        for p in module.encoder.parameters():
            p.requires_grad_(False)
    return module, saved_config, state


def _clip_embeddings(
    config: TrainConfig, samples: list[Emo3DSample], out: Path, resumed: bool,
    clip_encoder: Any, settings: Settings | None,
) -> tuple[Any, Any]:
    """(text, image) CLIP embeddings for the CLIP kinds, (None, None) otherwise; a fresh run
    takes its embedding size from CLIP, a resumed one must match the size it was trained on."""
    if config.kind not in CLIP_KINDS:
        return None, None
    from emo_app.models.clip import get_clip

    clip = clip_encoder or get_clip(settings=settings)
    text_emb, image_emb = _clip_features(samples, clip, config)
    if not resumed:
        config.embed_dim = int(text_emb.shape[1])
    elif int(text_emb.shape[1]) != config.embed_dim:
        raise InvalidInputError(
            f"'{out}' was trained on {config.embed_dim}-d CLIP embeddings, "
            f"this CLIP gives {text_emb.shape[1]}."
        )
    return text_emb, image_emb


def _training_data(
    config: TrainConfig, samples: list[Emo3DSample], text_emb: Any, image_emb: Any
) -> _TrainingData:
    """Stack the samples into tensors; clip-mlp with images learns from both modalities."""
    import torch

    texts, emotions, shapes = stack(samples)
    emotions_t, shapes_t = torch.from_numpy(emotions), torch.from_numpy(shapes)
    if config.kind == "clip-mlp" and config.use_images:
        inputs, targets = torch.cat([text_emb, image_emb]), torch.cat([shapes_t, shapes_t])  # both modalities
    elif config.kind == "clip-mlp":
        inputs, targets = text_emb, shapes_t
    else:
        inputs, targets = None, shapes_t
    return _TrainingData(texts, emotions_t, targets, inputs, text_emb, image_emb)


def _train_epoch(
    run: _TrainingRun, state: dict[str, Any], epoch: int, *, progress: bool,
    max_steps: int | None, on_step: Callable[[int, float], None] | None,
) -> bool:
    """One epoch in a seeded order (the same on every process), from the batch a resumed run
    stopped at; advances ``state["step"]`` and keeps the epoch's batch losses in
    ``state["epoch_step_losses"]``. Returns whether ``max_steps`` stopped it early."""
    from tqdm.auto import tqdm

    config = run.config
    n = len(run.data.targets)
    starts = range(0, n, config.batch_size)
    order = np.random.default_rng(config.seed + epoch).permutation(n)
    losses = state.setdefault("epoch_step_losses", [])
    bar = tqdm(
        total=len(starts), initial=len(losses), desc=f"{config.kind} epoch {epoch + 1}/{config.epochs}",
        disable=not (progress and run.accelerator.is_main_process), leave=False,
    )
    for start in starts[len(losses):]:
        if max_steps is not None and int(state["step"]) >= max_steps:
            bar.close()
            return True
        loss = _optimizer_step(run, order[start : start + config.batch_size], int(state["step"]))
        state["step"] = int(state["step"]) + 1
        losses.append(loss)
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.4f}")
        if on_step:
            on_step(int(state["step"]), loss)
    bar.close()
    return False


def _optimizer_step(run: _TrainingRun, batch: np.ndarray, step: int) -> float:
    """One optimizer step on the global ``batch`` (dataset rows). Each process takes its share
    of the rows and scales its mean loss by share x processes / batch, so the gradient average
    over processes is the whole batch's gradient; a process with no rows still runs forward
    and backward (loss 0) so that data parallel does not wait for it. Returns the batch's loss."""
    import torch

    accelerator = run.accelerator
    world, rank = accelerator.num_processes, accelerator.process_index
    draws = torch.Generator().manual_seed(run.config.seed * 1_000_003 + step)
    forced = torch.rand(len(batch), generator=draws)  # Emotion-XLM's teacher forcing, whole batch
    share = np.array_split(np.arange(len(batch)), world)[rank]
    with accelerator.autocast():
        if len(share):
            loss = _batch_loss(run, batch[share], forced[share]) * (len(share) * world / len(batch))
        else:
            loss = _batch_loss(run, batch[:1], forced[:1]) * 0.0
        # every trainable parameter in the graph, also ones the loss does not use (an encoder's
        # pooler): data parallel waits for a gradient of each
        loss = loss + 0.0 * sum(p.sum() for p in run.trainable)
    run.optimizer.zero_grad()
    accelerator.backward(loss)
    run.optimizer.step()
    return float(accelerator.gather(loss.detach().float()[None]).mean())


def _batch_loss(run: _TrainingRun, rows: np.ndarray, forced: Any) -> Any:
    """The mean loss over dataset ``rows`` for the baseline's kind; ``forced`` holds the rows'
    teacher-forcing draws (Emotion-XLM uses the ground-truth emotions where below the share)."""
    import torch

    from emo_app.text import baselines as bl

    config, data, module, device = run.config, run.data, run.prepared, run.accelerator.device
    rows_t = torch.from_numpy(rows)
    targets = data.targets[rows_t].to(device)
    if config.kind == "lm-mlp":
        return torch.nn.functional.mse_loss(module([data.texts[i] for i in rows]), targets)
    if config.kind == "emotion-xlm":
        emotions = data.emotions[rows_t].to(device)
        mask = (forced < config.teacher_forcing).to(device)
        pred, emo = module([data.texts[i] for i in rows], emotions, mask)
        return bl.emotion_xlm_loss(pred, emo, targets, emotions, config.shape_weight, config.emotion_weight)
    if config.kind == "clip-mlp":
        return torch.nn.functional.mse_loss(module(data.inputs[rows_t].to(device)), targets)
    image_emb = data.image_emb[rows_t].to(device) if data.image_emb is not None else None
    return bl.vae_clip_loss(
        module(targets), targets, data.text_emb[rows_t].to(device), image_emb, kl_weight=config.kl_weight
    )


def evaluation_report(predicted: np.ndarray, samples: Sequence[Emo3DSample]) -> dict[str, Any]:
    """MSE overall, per face region (GROUPS) and per dominant emotion of the samples."""
    target = np.stack([s.shapes for s in samples])
    predicted = np.asarray(predicted, dtype=np.float64)[:, :51]
    if predicted.shape != target.shape:
        raise InvalidInputError(f"Predictions {predicted.shape} do not match targets {target.shape}.")
    squared = (predicted - target) ** 2
    regions = {}
    for region, names in GROUPS.items():
        cols = [SHAPE_NAMES_51.index(n) for n in names if n in SHAPE_NAMES_51]
        if cols:
            regions[region] = float(squared[:, cols].mean())
    dominant = np.array([int(np.argmax(s.emotions)) for s in samples])
    per_emotion = {
        EMO3D_EMOTIONS[e]: {"mse": float(squared[dominant == e].mean()), "n": int((dominant == e).sum())}
        for e in range(len(EMO3D_EMOTIONS))
        if (dominant == e).any()
    }
    return {
        "n": len(samples),
        "mse": float(squared.mean()),
        "per_region": regions,
        "per_emotion": per_emotion,
    }


def evaluate(
    model: Any, samples: Sequence[Emo3DSample], batch_size: int = 32, progress: bool = True
) -> dict[str, Any]:
    """Run a TextModel over the samples' texts and report the errors (evaluation_report)."""
    from tqdm.auto import tqdm

    texts = [s.text for s in samples]
    rows = []
    for start in tqdm(range(0, len(texts), batch_size), desc="evaluate", disable=not progress, leave=False):
        for prediction in model.predict_batch(texts[start : start + batch_size]):
            rows.append(prediction.shapes.to_emo3d())
    report = evaluation_report(np.stack(rows), samples)
    report["model"] = getattr(model, "name", "")
    return report
