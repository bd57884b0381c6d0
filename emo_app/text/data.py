"""Reading the Emo3D dataset as published on the Hub (``llm-lab/Emo3D``, files under ``data/``).

Schema (21 columns): sample_id, prompt_type, text_1..text_3 (three paraphrases), the 8 emotion
intensities in the order neutral, happiness, surprise, sadness, anger, disgust, fear, contempt
(fear BEFORE contempt), img_1..img_4 and ``blenshape_score_1..4`` (sic) - numpy-printed strings
of 52 MediaPipe values ("[0.    0.271 ...]"), empty where no face was found. Score j belongs to
image j, and each text pairs with every valid score, so one row gives up to 3 x 4 samples.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from emo_app.blendshapes import Blendshapes
from emo_app.blendshapes.schema import MIRROR_PERMUTATION
from emo_app.emotion.emotions import EMO3D_EMOTIONS
from emo_app.errors import InvalidInputError
from emo_app.text.mirror import mirror_text

TEXT_COLUMNS = ("text_1", "text_2", "text_3")
IMAGE_COLUMNS = ("img_1", "img_2", "img_3", "img_4")
SCORE_COLUMNS = ("blenshape_score_1", "blenshape_score_2", "blenshape_score_3", "blenshape_score_4")
COLUMNS = ("sample_id", "prompt_type", *TEXT_COLUMNS, *EMO3D_EMOTIONS, *IMAGE_COLUMNS, *SCORE_COLUMNS)
SPLIT_FILES = {"train": "train_data.csv", "val": "val_data.csv", "test": "test_data.csv"}
WHOLE_FILE = "emo3d_data.parquet"
_MIRROR_51 = MIRROR_PERMUTATION[:51]  # the 51 Emo3D values never include tongueOut


@dataclass(frozen=True)
class Emo3DSample:
    """One training pair: a text, its 8 intensities and one face's 51 blendshapes."""

    text: str
    emotions: np.ndarray  # (8,) Emo3D order
    shapes: np.ndarray  # (51,) MediaPipe order without _neutral
    sample_id: str = ""
    image: str | None = None  # relative image path as published
    mirrored: bool = False


def _float(value: object) -> float:
    text = "" if value is None else str(value).strip()
    if not text or text.lower() == "nan":
        return 0.0
    return float(text)


def _rows_from_csv(path: Path) -> list[dict[str, str]]:
    """Emo3D's splits have long fields; the process-wide field limit is raised only while one
    is read (the Live Link CSV import relies on the default to refuse a giant field)."""
    previous = csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    finally:
        csv.field_size_limit(previous)


def _rows_from_parquet(path: Path) -> list[dict[str, object]]:
    try:
        import pandas as pd

        frame = pd.read_parquet(path)
    except ImportError as exc:
        raise InvalidInputError(
            f"Reading '{path.name}' needs pyarrow (`pip install pyarrow`); or use the CSV splits."
        ) from exc
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def find_data_file(path: str | Path, split: str | None = None) -> Path:
    """A CSV/parquet file, or a dataset folder (the Hub layout, with or without ``data/``)."""
    path = Path(path).expanduser()
    if path.is_file():
        return path
    if not path.is_dir():
        raise InvalidInputError(
            f"No Emo3D data at '{path}'. Give a CSV, a parquet file or the dataset folder."
        )
    names = [SPLIT_FILES[split]] if split in SPLIT_FILES else []
    names.append(WHOLE_FILE)
    if split is None:
        names.append(SPLIT_FILES["train"])
    for folder in (path, path / "data"):
        for name in names:
            if (folder / name).is_file():
                return folder / name
    raise InvalidInputError(
        f"'{path}' has none of {', '.join(names)}. Download the dataset with "
        "`hf download llm-lab/Emo3D --repo-type dataset --local-dir FOLDER`."
    )


def read_emo3d(path: str | Path, split: str | None = None) -> list[dict[str, object]]:
    """The raw rows (column -> value) of one file, checked against the published schema."""
    file = find_data_file(path, split)
    rows = _rows_from_parquet(file) if file.suffix == ".parquet" else _rows_from_csv(file)
    if not rows:
        raise InvalidInputError(f"'{file}' has no rows.")
    missing = [c for c in COLUMNS if c not in rows[0]]
    if missing:
        raise InvalidInputError(
            f"'{file.name}' is not in the Emo3D schema: missing columns {missing[:6]}. "
            f"Expected {len(COLUMNS)} columns: sample_id, prompt_type, text_1..3, 8 emotions, "
            "img_1..4, blenshape_score_1..4."
        )
    return rows


def row_samples(row: dict[str, object]) -> list[Emo3DSample]:
    """Every (text, valid score) pair of one row."""
    emotions = np.array([_float(row.get(e)) for e in EMO3D_EMOTIONS], dtype=np.float32)
    faces = []
    for image_col, score_col in zip(IMAGE_COLUMNS, SCORE_COLUMNS):
        raw = row.get(score_col)
        shapes = Blendshapes.from_emo3d_string(raw if isinstance(raw, str) else None) if raw else None
        if shapes is not None:
            image = row.get(image_col)
            faces.append((shapes.to_emo3d().astype(np.float32), str(image) if image else None))
    samples = []
    for text_col in TEXT_COLUMNS:
        text = str(row.get(text_col) or "").strip()
        if not text:
            continue
        for shapes, image in faces:
            samples.append(Emo3DSample(text, emotions, shapes, str(row.get("sample_id", "")), image))
    return samples


def mirror_sample(sample: Emo3DSample) -> Emo3DSample:
    """Left/right mirror: swap Left/Right shapes and the directions left/right in the text
    (``mirror.mirror_text``: "She left the room" stays); images flip at load."""
    return replace(sample, text=mirror_text(sample.text), shapes=sample.shapes[_MIRROR_51], mirrored=True)


def load_samples(path: str | Path, split: str | None = None, mirror: bool = False) -> list[Emo3DSample]:
    """All pairs of a split, plus their mirror images when ``mirror`` (the CLIP baseline's
    augmentation; ``train`` then adds no second copy)."""
    samples = [s for row in read_emo3d(path, split) for s in row_samples(row)]
    if not samples:
        raise InvalidInputError(f"No usable (text, blendshape) pairs in '{path}': every score is empty.")
    if mirror:
        samples += [mirror_sample(s) for s in samples]
    return samples


def write_emo3d_csv(path: str | Path, rows: Iterable[dict[str, object]]) -> Path:
    """Write rows in the published column order (tests and tools make small datasets with it)."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS))
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in COLUMNS})
    return path


def stack(samples: list[Emo3DSample]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """texts, (n, 8) emotions, (n, 51) shapes."""
    return (
        [s.text for s in samples],
        np.stack([s.emotions for s in samples]).astype(np.float32),
        np.stack([s.shapes for s in samples]).astype(np.float32),
    )
