"""Training data for GANmut-3D: an image folder plus an AffectNet-style labels CSV
(``file,class,valence,arousal`` and optionally ``z``), loaded lazily one batch at a time so a
280k-image AffectNet folder does not have to fit in memory."""

from __future__ import annotations

import csv
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from emo_app.errors import InvalidInputError
from emo_app.ganmut.config import GANMUT_CLASSES

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")

_CLASS_ALIASES = {
    "neutral": 0, "happy": 1, "happiness": 1, "sad": 2, "sadness": 2, "surprise": 3,
    "surprised": 3, "fear": 4, "fearful": 4, "disgust": 5, "disgusted": 5, "anger": 6, "angry": 6,
}  # fmt: skip


def parse_class(value: str) -> int | None:
    """AffectNet id 0..6 or a class name -> index; None for the classes we skip (7 Contempt,
    8..10 None/Uncertain/No-face) and anything unknown."""
    text = str(value).strip().lower()
    if text.lstrip("-").isdigit():
        index = int(text)
        return index if 0 <= index < len(GANMUT_CLASSES) else None
    return _CLASS_ALIASES.get(text)


def _optional_float(value: str | None, low: float = -1.0, high: float = 1.0) -> float:
    """AffectNet writes -2 for 'no annotation'; anything outside [low, high] becomes NaN."""
    try:
        number = float(value) if value not in (None, "") else math.nan
    except ValueError:
        return math.nan
    return number if math.isfinite(number) and low <= number <= high else math.nan


@dataclass
class LabeledImage:
    file: str
    label: int
    valence: float
    arousal: float
    z: float = math.nan


@dataclass
class Batch:
    """A training batch; masks say which rows carry valence/arousal and Z supervision."""

    images: torch.Tensor  # (B, 3, H, W) in [-1, 1]
    label: torch.Tensor  # (B,) class index
    va: torch.Tensor  # (B, 2)
    va_mask: torch.Tensor  # (B,) bool
    z: torch.Tensor  # (B,)
    z_mask: torch.Tensor  # (B,) bool

    def to(self, device: str | torch.device) -> Batch:
        tensors = (self.images, self.label, self.va, self.va_mask, self.z, self.z_mask)
        return Batch(*(t.to(device) for t in tensors))


def read_labels(csv_path: str | Path) -> list[LabeledImage]:
    """Rows of ``file,class,valence,arousal[,z]``; rows of unused classes are skipped."""
    path = Path(csv_path)
    if not path.is_file():
        raise InvalidInputError(f"No labels CSV at '{path}'.")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = {c.strip().lower() for c in reader.fieldnames or []}
        missing = {"file", "class", "valence", "arousal"} - columns
        if missing:
            raise InvalidInputError(
                f"The labels CSV '{path.name}' lacks the column(s) {', '.join(sorted(missing))}; "
                "it needs a header 'file,class,valence,arousal' (AffectNet style, z optional)."
            )
        rows, skipped = [], 0
        for raw in reader:
            row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
            label = parse_class(row["class"])
            if label is None or not row["file"]:
                skipped += 1
                continue
            rows.append(
                LabeledImage(
                    row["file"], label, _optional_float(row["valence"]), _optional_float(row["arousal"]),
                    _optional_float(row.get("z")),
                )
            )
    if skipped:
        log.info("Skipped %d label rows with classes outside the 7 used ones", skipped)
    if not rows:
        raise InvalidInputError(
            f"The labels CSV '{path.name}' has no usable rows (classes 0..6 or names such as 'happy')."
        )
    return rows


def load_square(path: Path, size: int) -> np.ndarray:
    """Centre-crop to a square and resize: RGB uint8 (size, size, 3)."""
    from emo_app.validation import load_image

    image = load_image(path)
    return square_resize(image, size) if image.shape[:2] != (size, size) else image


def square_resize(image: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crop = Image.fromarray(image[top : top + side, left : left + side])
    return np.asarray(crop.resize((size, size), Image.Resampling.BICUBIC), dtype=np.uint8)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float (N, 3, H, W) in [-1, 1]."""
    return torch.from_numpy(np.array(images, dtype=np.float32)).permute(0, 3, 1, 2) / 127.5 - 1.0


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """float (N, 3, H, W) in [-1, 1] -> uint8 (N, H, W, 3)."""
    array = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round()
    return array.permute(0, 2, 3, 1).numpy().astype(np.uint8)


class ImageFolderDataset:
    """The labelled images of one folder at the model's resolution."""

    def __init__(self, folder: str | Path, labels_csv: str | Path, image_size: int):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise InvalidInputError(f"No image folder at '{self.folder}'.")
        self.image_size = image_size
        rows = read_labels(labels_csv)
        present = [r for r in rows if (self.folder / r.file).is_file()]
        if len(present) < len(rows):
            log.warning("%d labelled files are missing from %s", len(rows) - len(present), self.folder)
        if not present:
            raise InvalidInputError(
                f"None of the files named in the labels CSV exist under '{self.folder}'; the 'file' "
                "column must hold paths relative to the --data folder."
            )
        self.rows = present

    def __len__(self) -> int:
        return len(self.rows)

    def image(self, index: int) -> np.ndarray:
        return load_square(self.folder / self.rows[index].file, self.image_size)

    def set_z(self, values: dict[str, float]) -> None:
        """Fill Z targets (e.g. from action units) for rows whose CSV gave none."""
        for row in self.rows:
            if math.isnan(row.z) and row.file in values:
                row.z = float(values[row.file])

    def batch(self, indices: list[int] | torch.Tensor) -> Batch:
        indices = [int(i) for i in indices]
        rows = [self.rows[i] for i in indices]
        images = to_tensor(np.stack([self.image(i) for i in indices]))
        va = torch.tensor([[r.valence, r.arousal] for r in rows], dtype=torch.float32)
        z = torch.tensor([r.z for r in rows], dtype=torch.float32)
        return Batch(
            images,
            torch.tensor([r.label for r in rows], dtype=torch.long),
            torch.nan_to_num(va),
            ~torch.isnan(va).any(dim=1),
            torch.nan_to_num(z),
            ~torch.isnan(z),
        )


def list_images(folder: str | Path) -> list[str]:
    """Image files under ``folder`` (recursively), as sorted relative paths."""
    root = Path(folder)
    if not root.is_dir():
        raise InvalidInputError(f"No image folder at '{root}'.")
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
