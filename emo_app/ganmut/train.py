"""Training GANmut-3D: alternating WGAN-GP updates with the losses of eqs. (1)-(8) on 🤗
Accelerate (device placement, optional mixed precision, data parallel under ``accelerate
launch``, ``save_state``/``load_state`` checkpoints that restore every RNG, so a resumed run
continues exactly), sample grids, and the export of (valence, arousal, z) pseudo-labels for real
images, the input of the C2A2 Stable Diffusion training: Z is read by D_coor, valence and
arousal stay the human annotation wherever the labels CSV has one (the paper recovers
pseudo-labels "along Z" only). Pseudo-labelling shards the image list over the processes and
gathers the rows on the main process.

Every random number of training comes from torch's global CPU RNG, seeded ``seed + process
index`` (each data-parallel process draws its own batches and codes), which ``save_state``
stores per process.

Checkpoint layout in the output folder:
  ganmut-c2a2.safetensors           G, D and the class directions (config also in its metadata)
  ganmut-c2a2.json                  the GanmutConfig, the step and the class names
  ganmut-c2a2.training/             accelerator.save_state: modules, both Adam states, RNG states
  samples/step_XXXXXX.png           rows: input, neutral, then each class direction at rho = 1
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from emo_app.errors import InvalidInputError, ModelLoadError
from emo_app.ganmut import losses as L
from emo_app.ganmut.codes import ClassDirections, SampledCodes, estimate_strength, sample_codes
from emo_app.ganmut.config import GANMUT_CLASSES, GanmutConfig
from emo_app.ganmut.data import Batch, ImageFolderDataset, list_images, load_square, to_tensor, to_uint8
from emo_app.ganmut.models import Discriminator, Generator
from emo_app.models.training import frozen_heap, make_accelerator

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "ganmut-c2a2"


def checkpoint_paths(location: str | Path) -> tuple[Path, Path, Path]:
    """(weights, config JSON, training-state folder) for a folder or a ``.safetensors`` file."""
    path = Path(location)
    weights = path if path.suffix == ".safetensors" else path / f"{CHECKPOINT_NAME}.safetensors"
    stem = weights.with_suffix("")
    return weights, stem.with_suffix(".json"), Path(f"{stem}.training")


class GanmutTrainer:
    """The networks and their optimisers, prepared by an Accelerator (one is made for
    ``device`` unless given; ``inference=True`` skips it for labelling and editing)."""

    def __init__(
        self, config: GanmutConfig, device: str = "cpu", accelerator: Any = None, inference: bool = False
    ):
        from accelerate.utils import set_seed

        self.config = config
        self.accelerator = None if inference else accelerator or make_accelerator(device, "no")
        self.device = self.accelerator.device if self.accelerator is not None else torch.device(device)
        torch.manual_seed(config.seed)  # network initialisation, the same on every process
        self.G = Generator(config).to(self.device)
        self.D = Discriminator(config).to(self.device)
        self.directions = ClassDirections(config).to(self.device)
        betas = (config.beta1, config.beta2)
        self.g_opt = torch.optim.Adam(
            list(self.G.parameters()) + list(self.directions.parameters()), config.g_lr, betas
        )
        self.d_opt = torch.optim.Adam(self.D.parameters(), config.d_lr, betas)
        # What backward goes through: the data-parallel wrappers under `accelerate launch`, the
        # modules themselves in one process. Forwards that no backward follows use the modules.
        self.G_train, self.D_train, self.directions_train = self.G, self.D, self.directions
        if self.accelerator is not None:
            acc = self.accelerator
            self.G_train, self.D_train, self.directions_train, self.g_opt, self.d_opt = acc.prepare(
                self.G, self.D, self.directions, self.g_opt, self.d_opt
            )
            set_seed(config.seed, device_specific=True)  # seed + process index: own batches
        self.step = 0

    def _backward(self, loss: torch.Tensor) -> None:
        if self.accelerator is not None:
            self.accelerator.backward(loss)
        else:
            loss.backward()

    # ----------------------------------------------------------------- losses
    def sample_codes(self, batch_size: int, train_directions: bool = True) -> SampledCodes:
        if train_directions:
            return sample_codes(self.directions_train(), batch_size, self.config)
        with torch.no_grad():
            return sample_codes(self.directions(), batch_size, self.config)

    def discriminator_loss(
        self, batch: Batch, codes: SampledCodes, gp_rng: torch.Generator | None = None
    ) -> L.LossTerms:
        """Eq. (7) on one batch with given target codes (the generator is not trained here)."""
        cfg = self.config
        x = batch.images
        code = codes.code.detach()
        with torch.no_grad():
            fake = self.G(x, code)
        real_out = self.D_train(x)
        fake_out = self.D_train(fake)
        penalty = L.gradient_penalty(lambda t: self.D_train(t).src, x, fake, gp_rng)
        adv = L.adversarial_loss(real_out.src, fake_out.src, penalty, cfg.lambda_gp)
        return L.discriminator_objective(
            adv=adv,
            cls_real=L.classification_real_loss(real_out.cls, batch.label),
            info=L.info_loss(fake_out.coor, code),
            av=L.valence_arousal_loss(real_out.coor, batch.va, batch.va_mask),
            au_z=L.au_z_loss(real_out.coor, batch.z, batch.z_mask),
            config=cfg,
        )

    def generator_loss(self, batch: Batch, codes: SampledCodes) -> L.LossTerms:
        """Eq. (8); the codes keep their graph to the class directions, which learn here."""
        x = batch.images
        fake = self.G_train(x, codes.code)
        fake_out = self.D(fake)  # D is frozen here: its module, not its data-parallel wrapper
        with torch.no_grad():
            cycle_code = self.D(x).coor  # D_coor(x): where the input sits in the space
        reconstructed = self.G_train(fake, cycle_code)
        rho_hat = estimate_strength(fake_out.cls)
        return L.generator_objective(
            adv=-fake_out.src.mean(),  # the part of eq. (1) that depends on G
            cls_fake=L.classification_fake_loss(fake_out.cls, codes.target, codes.on_axis),
            rec=L.reconstruction_loss(x, reconstructed),
            info=L.info_loss(fake_out.coor, codes.code),
            rho=L.strength_loss(rho_hat, codes.rho, self.config.rho_min),
            config=self.config,
        )

    # ----------------------------------------------------------------- steps
    def train_step(self, batch: Batch) -> dict[str, float]:
        """One discriminator update; every ``n_critic``-th step also a generator update."""
        batch = batch.to(self.device)
        self.G.train()
        self.D.train()
        codes = self.sample_codes(batch.images.size(0), train_directions=False)
        d_terms = self.discriminator_loss(batch, codes)
        self.d_opt.zero_grad(set_to_none=True)
        self._backward(d_terms.total)
        self.d_opt.step()
        logs = dict(d_terms.parts)
        if (self.step + 1) % self.config.n_critic == 0:
            self.D.requires_grad_(False)
            try:
                g_terms = self.generator_loss(batch, self.sample_codes(batch.images.size(0)))
                self.g_opt.zero_grad(set_to_none=True)
                self._backward(g_terms.total)
                self.g_opt.step()
            finally:
                self.D.requires_grad_(True)
            logs.update(g_terms.parts)
        self.step += 1
        return logs

    def random_indices(self, count: int, size: int) -> list[int]:
        return torch.randint(0, count, (size,)).tolist()

    # ----------------------------------------------------------------- inference
    @torch.no_grad()
    def translate(self, images: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        self.G.eval()
        return self.G(images.to(self.device), codes.to(self.device).float())

    @torch.no_grad()
    def coordinates(self, images: torch.Tensor) -> torch.Tensor:
        """D_coor: (valence, arousal, Z) of real images (the pseudo-labels)."""
        self.D.eval()
        return self.D(images.to(self.device)).coor

    @torch.no_grad()
    def sample_grid(self, images: torch.Tensor) -> np.ndarray:
        """Rows = input images; columns: the input, neutral, then each class at rho = 1."""
        directions = self.directions().detach()
        columns = [images.to(self.device)]
        for code in directions:  # the Neutral row of directions is zero: the neutral code
            columns.append(self.translate(images, code.expand(images.size(0), 3)))
        tiles = np.stack([to_uint8(c) for c in columns], axis=1)  # (N, C, H, W, 3)
        n, c, h, w, _ = tiles.shape
        return tiles.transpose(0, 2, 1, 3, 4).reshape(n * h, c * w, 3)

    # ----------------------------------------------------------------- checkpoints
    def model_state(self) -> dict[str, torch.Tensor]:
        state = {f"G.{k}": v for k, v in self.G.state_dict().items()}
        state |= {f"D.{k}": v for k, v in self.D.state_dict().items()}
        state |= {f"directions.{k}": v for k, v in self.directions.state_dict().items()}
        return {k: v.detach().cpu().contiguous() for k, v in state.items()}

    def save(self, location: str | Path) -> Path:
        """Write weights and config JSON (main process) and, when training, the Accelerate state
        of every process; returns the weights path."""
        from safetensors.torch import save_file

        weights, config_path, training = checkpoint_paths(location)
        main = self.accelerator is None or self.accelerator.is_main_process
        if main:
            weights.parent.mkdir(parents=True, exist_ok=True)
            meta = {"config": json.dumps(self.config.to_dict()), "step": str(self.step)}
            save_file(self.model_state(), str(weights), metadata=meta)
            self.config.save(config_path, step=self.step, classes=list(GANMUT_CLASSES))
        if self.accelerator is not None:
            self.accelerator.wait_for_everyone()
            self.accelerator.save_state(str(training))
            self.accelerator.wait_for_everyone()
        return weights

    def load_model_state(self, state: dict[str, torch.Tensor]) -> None:
        try:
            for prefix, module in (("G.", self.G), ("D.", self.D), ("directions.", self.directions)):
                part = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
                module.load_state_dict(part)
        except RuntimeError as exc:
            raise ModelLoadError(f"The GANmut checkpoint does not match its config: {exc}") from exc

    @classmethod
    def from_checkpoint(
        cls,
        location: str | Path,
        device: str = "cpu",
        with_training_state: bool = True,
        accelerator: Any = None,
    ) -> GanmutTrainer:
        """Rebuild from ``save``'s files; the config comes from the JSON beside the weights or,
        for a lone weights file, from its safetensors metadata. ``with_training_state=False``
        gives an inference-only trainer (no Accelerator, no optimiser state)."""
        from safetensors import safe_open

        from emo_app.models import load_state_dict

        weights, config_path, training = checkpoint_paths(location)
        if not weights.is_file():
            raise InvalidInputError(f"No GANmut checkpoint at '{weights}'.")
        if config_path.is_file():
            saved = json.loads(config_path.read_text())
        else:
            with safe_open(str(weights), framework="pt") as handle:
                meta = handle.metadata() or {}
            if "config" not in meta:
                raise ModelLoadError(f"'{weights.name}' has no config beside it or in its metadata.")
            saved = json.loads(meta["config"]) | {"step": int(meta.get("step", 0))}
        trainer = cls(GanmutConfig.from_dict(saved), device, accelerator, inference=not with_training_state)
        trainer.load_model_state(load_state_dict(weights))
        trainer.step = int(saved.get("step", 0))
        if with_training_state and training.is_dir():
            trainer.accelerator.load_state(str(training))  # also the modules: the same weights
        return trainer


# --------------------------------------------------------------------- the training loop
@dataclass
class TrainOptions:
    steps: int = 100_000
    save_every: int = 1000
    sample_every: int = 1000
    # "mediapipe", "none", or any callable RGB uint8 image -> {AU: intensity} | None
    au_estimator: str | Callable[[np.ndarray], Mapping[int, float] | None] = "mediapipe"
    device: str = "auto"  # cpu forces CPU; otherwise Accelerate's (launcher-assigned) device
    mixed_precision: str = "no"  # no | fp16 | bf16 | auto (Accelerate's autocast; always no on CPU)


def _au_z_cache(
    dataset: ImageFolderDataset, out: Path, estimator: Callable[[np.ndarray], Mapping[int, float] | None]
) -> None:
    """Z from action units for every image without a CSV z, cached in ``out/au_z.csv`` (the
    landmarker runs once per image, not once per step)."""
    from tqdm.auto import tqdm

    from emo_app.ganmut.au import z_from_action_units

    cache = out / "au_z.csv"
    values: dict[str, float] = {}
    if cache.is_file():
        with cache.open(newline="") as handle:
            values = {r["file"]: float(r["z"]) for r in csv.DictReader(handle)}
    todo = [i for i, r in enumerate(dataset.rows) if np.isnan(r.z) and r.file not in values]
    if todo:
        for index in tqdm(todo, desc="action units -> Z", unit="img"):
            image = load_square(dataset.folder / dataset.rows[index].file, 256)
            aus = estimator(image)
            values[dataset.rows[index].file] = float("nan") if aus is None else z_from_action_units(aus)
        with cache.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["file", "z"])
            writer.writerows(sorted(values.items()))
    dataset.set_z(values)


def train(
    data: str | Path,
    labels: str | Path,
    out: str | Path,
    config: GanmutConfig | None = None,
    options: TrainOptions | None = None,
    progress: bool = True,
) -> Path:
    """Train (or resume, when ``out`` holds a checkpoint) and return the weights path."""
    from PIL import Image
    from tqdm.auto import tqdm

    options = options or TrainOptions()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    weights, _, _ = checkpoint_paths(out)
    accelerator = make_accelerator(options.device, options.mixed_precision)
    if weights.is_file():
        trainer = GanmutTrainer.from_checkpoint(out, accelerator=accelerator)
        log.info("Resuming from step %d", trainer.step)
        if not checkpoint_paths(out)[2].is_dir():
            log.warning("No Accelerate training state in '%s' (a checkpoint from before it?): the "
                        "optimisers and RNG start afresh from the saved weights", out)
    else:
        trainer = GanmutTrainer(config or GanmutConfig(), accelerator=accelerator)
    cfg = trainer.config
    dataset = ImageFolderDataset(data, labels, cfg.image_size)
    with accelerator.main_process_first():  # the main process fills the AU cache, the others read it
        if callable(options.au_estimator):
            _au_z_cache(dataset, out, options.au_estimator)
        elif options.au_estimator == "mediapipe":
            from emo_app.ganmut.au import MediaPipeAUEstimator

            estimator = MediaPipeAUEstimator()
            try:
                _au_z_cache(dataset, out, estimator)
            finally:
                estimator.close()
        elif options.au_estimator != "none":
            raise InvalidInputError(f"Unknown AU estimator '{options.au_estimator}'; use mediapipe or none.")
    fixed = dataset.batch(list(range(min(8, len(dataset))))).images
    (out / "samples").mkdir(exist_ok=True)
    main = accelerator.is_main_process
    bar = tqdm(
        total=options.steps, initial=min(trainer.step, options.steps), desc="GANmut-3D",
        disable=not (progress and main),
    )
    with frozen_heap():
        while trainer.step < options.steps:
            batch = dataset.batch(trainer.random_indices(len(dataset), cfg.batch_size))
            logs = trainer.train_step(batch)
            bar.update(1)
            bar.set_postfix({k: f"{v:.3f}" for k, v in logs.items() if k in ("D/total", "G/total", "D/info")})
            if main and (trainer.step % options.sample_every == 0 or trainer.step == options.steps):
                sample = out / "samples" / f"step_{trainer.step:06d}.png"
                Image.fromarray(trainer.sample_grid(fixed)).save(sample)
            if trainer.step % options.save_every == 0 or trainer.step == options.steps:
                trainer.save(out)
    bar.close()
    if not weights.is_file():
        trainer.save(out)
    return weights


def export_pseudo_labels(
    checkpoint: str | Path,
    data: str | Path,
    out_csv: str | Path,
    files: list[str] | None = None,
    batch_size: int = 32,
    device: str = "cpu",
    progress: bool = True,
    labels: str | Path | None = None,
) -> int:
    """Write ``file,valence,arousal,z``; returns the row count. Z is D_coor's; valence and
    arousal are the annotation in ``labels`` (``file,class,valence,arousal``) where it has one,
    else D_coor's estimate (logged, since an annotation is better than our regressor)."""
    from accelerate import PartialState
    from accelerate.utils import gather_object
    from tqdm.auto import tqdm

    from emo_app.ganmut.data import read_labels

    if labels is not None:
        read_labels(labels)  # a bad CSV fails on every process before any work

    from emo_app.models.manager import accelerate_cpu

    state = PartialState(cpu=accelerate_cpu(str(device)))
    if state.num_processes > 1:
        device = str(state.device)  # each process on its launcher-assigned device
    trainer = GanmutTrainer.from_checkpoint(checkpoint, device, with_training_state=False)
    root = Path(data)
    names = files if files is not None else list_images(root)
    if not names:
        raise InvalidInputError(f"No images (png, jpg, webp, bmp) under '{root}'.")
    mine: list[tuple[str, float, float, float]] = []
    with state.split_between_processes(names) as shard:  # contiguous, in order
        for start in tqdm(range(0, len(shard), batch_size), desc="pseudo-labels",
                          disable=not (progress and state.is_main_process)):
            chunk = shard[start : start + batch_size]
            images = to_tensor(np.stack([load_square(root / n, trainer.config.image_size) for n in chunk]))
            coords = trainer.coordinates(images).cpu().numpy()
            mine += [(n, float(v), float(a), float(z)) for n, (v, a, z) in zip(chunk, coords, strict=True)]
    rows = gather_object(mine)  # every shard, in process order: the original order
    if state.is_main_process:
        write_pseudo_labels(rows, out_csv, labels)
    state.wait_for_everyone()
    return len(rows)


def write_pseudo_labels(
    rows: list[tuple[str, float, float, float]], out_csv: str | Path, labels: str | Path | None = None
) -> None:
    """``file,valence,arousal,z``: annotated valence/arousal replace D_coor's where present."""
    from emo_app.ganmut.data import read_labels

    annotated = {
        row.file: (row.valence, row.arousal)
        for row in (read_labels(labels) if labels is not None else [])
        if np.isfinite(row.valence) and np.isfinite(row.arousal)
    }
    estimated = 0
    out_csv = Path(out_csv)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    with out_csv.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "valence", "arousal", "z"])
        for name, v, a, z in rows:
            if name in annotated:
                v, a = annotated[name]
            else:
                estimated += 1
            writer.writerow([name, f"{v:.5f}", f"{a:.5f}", f"{z:.5f}"])
    if estimated:
        log.warning("%d of %d images have no valence/arousal annotation; D_coor estimated them",
                    estimated, len(rows))
