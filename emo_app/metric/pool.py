"""Prompt pools: the texts the Emo3D metric retrieves among, each with its 8 intensities.

Three sources, one loader (``load_pool``): the pool shipped in ``assets/prompt_pool.csv``
(written for this project, balanced over the 8 emotions and common compounds), any CSV with a
``text`` column and the 8 emotion columns, and the Emo3D dataset's split files (``text_1`` ..
``text_3``, the emotions, ``blenshape_score_1..4``), whose blendshapes give the ground truth
the benchmark's MSE needs. The pool's hashes key the on-disk caches, so editing a pool file
invalidates exactly what depends on it.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emo_app.config import PROJECT_ROOT
from emo_app.emotion.emotions import EMO3D_EMOTIONS
from emo_app.errors import InvalidInputError

SHIPPED_POOL = PROJECT_ROOT / "assets" / "prompt_pool.csv"
EMO3D_TEXT_COLUMNS = ("text_1", "text_2", "text_3")
EMO3D_SCORE_COLUMNS = tuple(f"blenshape_score_{j}" for j in range(1, 5))


@dataclass(frozen=True)
class PromptPool:
    """N texts with (N, 8) intensities; ``ground_truth[i]`` is an (m, 52) array or None."""

    texts: tuple[str, ...]
    intensities: np.ndarray = field(repr=False)
    ids: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    ground_truth: tuple[np.ndarray | None, ...] = field(default=(), repr=False)
    name: str = "pool"

    def __post_init__(self) -> None:
        matrix = np.asarray(self.intensities, dtype=np.float64)
        n = len(self.texts)
        if n == 0:
            raise InvalidInputError(f"The prompt pool '{self.name}' has no prompts.")
        if matrix.shape != (n, 8):
            raise InvalidInputError(
                f"The prompt pool '{self.name}' needs 8 intensities per text; got shape {matrix.shape}."
            )
        matrix.setflags(write=False)
        object.__setattr__(self, "intensities", matrix)
        if not self.ids:
            object.__setattr__(self, "ids", tuple(str(i) for i in range(n)))
        if not self.categories:
            object.__setattr__(self, "categories", tuple(EMO3D_EMOTIONS[int(np.argmax(r))] for r in matrix))
        if not self.ground_truth:
            object.__setattr__(self, "ground_truth", (None,) * n)

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def text_hash(self) -> str:
        """Hash of the texts alone: what CLIP text embeddings depend on."""
        digest = hashlib.sha256()
        for text in self.texts:
            digest.update(text.encode("utf-8") + b"\0")
        return digest.hexdigest()

    @property
    def content_hash(self) -> str:
        """Hash of texts and intensities: what per-prompt benchmark results depend on."""
        digest = hashlib.sha256(self.text_hash.encode())
        digest.update(np.round(self.intensities, 6).astype("<f8").tobytes())
        return digest.hexdigest()

    @property
    def has_ground_truth(self) -> bool:
        return any(g is not None for g in self.ground_truth)

    def subset(self, limit: int | None) -> PromptPool:
        """The first ``limit`` prompts (all when None): quick runs keep the same retrieval pool
        only if you pass the full pool to the metric; this is for smoke tests and previews."""
        if limit is None or limit >= len(self):
            return self
        if limit < 1:
            raise InvalidInputError(f"A pool subset needs at least 1 prompt; got {limit}.")
        return PromptPool(
            texts=self.texts[:limit],
            intensities=self.intensities[:limit],
            ids=self.ids[:limit],
            categories=self.categories[:limit],
            ground_truth=self.ground_truth[:limit],
            name=f"{self.name}[:{limit}]",
        )


def _read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    if not path.exists():
        raise InvalidInputError(f"Prompt pool file '{path}' does not exist.")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            header = [h.strip() for h in (reader.fieldnames or [])]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InvalidInputError(f"Could not read '{path}' as a UTF-8 CSV file: {exc}.") from exc
    rows = [{(k or "").strip(): (v or "") for k, v in row.items()} for row in rows]
    return header, rows


def _intensities(row: dict[str, str], line: int, path: Path) -> list[float]:
    values = []
    for emotion in EMO3D_EMOTIONS:
        raw = row.get(emotion, "").strip()
        try:
            value = float(raw) if raw else 0.0
        except ValueError as exc:
            raise InvalidInputError(
                f"{path.name} line {line}: '{emotion}' = {raw!r} is not a number."
            ) from exc
        if not np.isfinite(value) or not 0.0 <= value <= 1.0:
            raise InvalidInputError(
                f"{path.name} line {line}: '{emotion}' = {raw} must be a number between 0 and 1."
            )
        values.append(value)
    return values


def load_pool(path: str | Path | None = None, *, text_column: str = "text_1") -> PromptPool:
    """Load a pool: None -> the shipped one; an Emo3D split file or a plain pool CSV."""
    path = Path(path) if path is not None else SHIPPED_POOL
    header, rows = _read_rows(path)
    missing = [e for e in EMO3D_EMOTIONS if e not in header]
    if missing:
        raise InvalidInputError(
            f"'{path.name}' lacks the emotion column(s) {', '.join(missing)}. A pool CSV needs a "
            f"'text' column and the 8 columns {', '.join(EMO3D_EMOTIONS)}."
        )
    if "text" not in header and text_column in header:
        return _load_emo3d_rows(path, rows, text_column)
    if "text" not in header:
        raise InvalidInputError(
            f"'{path.name}' has no 'text' column (nor Emo3D's 'text_1'); name the description column 'text'."
        )
    texts, matrix, ids, categories = [], [], [], []
    for line, row in enumerate(rows, start=2):
        text = row.get("text", "").strip()
        if not text:
            raise InvalidInputError(f"{path.name} line {line}: the text is empty.")
        texts.append(text)
        matrix.append(_intensities(row, line, path))
        ids.append(row.get("id", "").strip() or str(line - 2))
        categories.append(row.get("category", "").strip())
    if not texts:
        raise InvalidInputError(f"'{path.name}' has a header but no prompts.")
    return PromptPool(
        texts=tuple(texts),
        intensities=np.array(matrix),
        ids=tuple(ids),
        categories=tuple(categories) if all(categories) else (),
        name=path.stem,
    )


def _load_emo3d_rows(path: Path, rows: list[dict[str, str]], text_column: str) -> PromptPool:
    """Emo3D split: one prompt per row (``text_column``); ground truth = every valid score."""
    from emo_app.blendshapes import Blendshapes

    texts, matrix, ids, truth = [], [], [], []
    for line, row in enumerate(rows, start=2):
        text = row.get(text_column, "").strip()
        if not text:
            continue  # a row without this paraphrase cannot be a prompt
        scores = []
        for column in EMO3D_SCORE_COLUMNS:
            shapes = Blendshapes.from_emo3d_string(row.get(column, ""))
            if shapes is not None:
                scores.append(shapes.values)
        texts.append(text)
        matrix.append(_intensities(row, line, path))
        ids.append(row.get("sample_id", "").strip() or str(line - 2))
        truth.append(np.stack(scores) if scores else None)
    if not texts:
        raise InvalidInputError(f"'{path.name}' has no rows with a '{text_column}' text.")
    return PromptPool(
        texts=tuple(texts), intensities=np.array(matrix), ids=tuple(ids),
        ground_truth=tuple(truth), name=f"{path.stem}:{text_column}",
    )


def write_pool(pool: PromptPool, path: str | Path) -> Path:
    """Save a pool as a plain pool CSV (id, category, text, the 8 intensities)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "category", "text", *EMO3D_EMOTIONS])
        for pid, category, text, row in zip(pool.ids, pool.categories, pool.texts, pool.intensities):
            writer.writerow([pid, category, text, *(f"{v:.2f}".rstrip("0").rstrip(".") for v in row)])
    return path
