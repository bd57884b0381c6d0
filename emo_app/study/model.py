"""Plain records of a rating study, read from the database; no behaviour beyond conversions."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from emo_app.emotion.space import EmotionPoint

MODELS: tuple[str, ...] = ("3d", "2d")
MODEL_LABELS: dict[str, str] = {"3d": "3D C2A2", "2d": "2D AV"}
MIN_SCORE, MAX_SCORE = 1, 5


@dataclass(frozen=True)
class Study:
    id: int
    name: str
    description: str
    open_enrollment: bool
    created_at: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Study:
        return cls(row["id"], row["name"], row["description"], bool(row["open_enrollment"]),
                   row["created_at"])


@dataclass(frozen=True)
class Item:
    """One face to rate: its C2A2 point, the class it is scored under, and where its image is."""

    id: int
    study_id: int
    model: str
    part: int
    position: int
    valence: float
    arousal: float
    z: float
    nearest_class: str
    image_path: str | None
    point_id: int | None = None

    @property
    def point(self) -> EmotionPoint:
        return EmotionPoint(self.valence, self.arousal, self.z)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Item:
        return cls(row["id"], row["study_id"], row["model"], row["part"], row["position"],
                   row["valence"], row["arousal"], row["z"], row["nearest_class"],
                   row["image_path"], row["point_id"])


@dataclass(frozen=True)
class Rater:
    id: int
    study_id: int
    name: str
    created_at: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Rater:
        return cls(row["id"], row["study_id"], row["name"], row["created_at"])


@dataclass(frozen=True)
class Vote:
    id: int
    item_id: int
    rater_id: int
    score: int
    created_at: str
    updated_at: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Vote:
        return cls(row["id"], row["item_id"], row["rater_id"], row["score"], row["created_at"],
                   row["updated_at"])
