"""Emo3D's 8 emotion intensities and their mapping to and from the C2A2 sphere.

Emo3D intensities are independent values in [0, 1] (a row may sum to more than 1), in the
order neutral, happiness, surprise, sadness, anger, disgust, fear, contempt.

To C2A2: each non-neutral emotion has a direction (its C2A2 class; contempt, which C2A2 lacks,
gets a direction of its own, documented below); the point is the intensity-weighted sum of
directions, its length clipped to 1. Neutral adds nothing: it is the origin.

Contempt: C2A2 has no contempt class. Contempt belongs with disgust and anger (Rozin's
CAD triad) at lower arousal and a cold, slightly lowered Z, so
``CONTEMPT_DIRECTION`` = normalize(-0.80, 0.52, -0.30). Its nearest C2A2 class is Disgusted
(0.30 away; Sadly fearful is 0.32), which is where contempt descriptions land on the sphere.

From C2A2: the class markers' directions are the corners of a triangulated sphere (the convex
hull of the 19 unit directions, which holds the origin, so every direction meets one of its
triangles). A point's direction blends the three classes of its triangle with barycentric
weights, each class bringing its emotions (a basic class is its emotion at 1, a compound both
of its parts at 1). The blend is exact on every class marker, which matters where classes
crowd (Sadly fearful lies 5.7 degrees from Disgusted), and moves at an even pace between
markers: a walk's face changes at every step instead of holding still near each class and
jumping between them, as inverse-distance weighting did. The blend is rescaled so its
strongest emotion is r (at most 1); neutral = 1 - r. Contempt never comes back from a C2A2
point (no class for it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from emo_app.emotion.space import C2A2_CLASSES, CLASS_COMPONENTS, CLASS_NAMES, EmotionPoint
from emo_app.errors import InvalidInputError

EMO3D_EMOTIONS: tuple[str, ...] = (
    "neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt",
)  # fmt: skip

EMOTION_TO_CLASS: dict[str, str] = {
    "happiness": "Happy",
    "surprise": "Surprised",
    "sadness": "Sad",
    "anger": "Angry",
    "disgust": "Disgusted",
    "fear": "Fearful",
}
CLASS_TO_EMOTION = {v: k for k, v in EMOTION_TO_CLASS.items()}

_CONTEMPT = np.array([-0.80, 0.52, -0.30])
CONTEMPT_DIRECTION = _CONTEMPT / np.linalg.norm(_CONTEMPT)

# C2A2 -> Emo3D (module doc): each non-neutral class's unit direction and its emotions
# (neutral..contempt without neutral: a basic class's emotion at 1, a compound's two parts at 1)
_POINT_CLASSES = [name for name in CLASS_NAMES if name != "Neutral"]
_CLASS_DIRECTIONS = np.array([C2A2_CLASSES[name] for name in _POINT_CLASSES], dtype=np.float64)
_CLASS_DIRECTIONS /= np.linalg.norm(_CLASS_DIRECTIONS, axis=1, keepdims=True)
_CLASS_EMOTIONS = np.array([
    [float(EMOTION_TO_CLASS.get(emotion) in CLASS_COMPONENTS[name]) for emotion in EMO3D_EMOTIONS[1:]]
    for name in _POINT_CLASSES
])


@cache
def _class_triangles() -> tuple[np.ndarray, np.ndarray]:
    """The sphere's triangles between class markers (corner indices, (T, 3)) and, per
    triangle, the inverse of its corner matrix: a direction's weights on the corners."""
    from scipy.spatial import ConvexHull

    hull = ConvexHull(_CLASS_DIRECTIONS)
    if not np.all(hull.equations[:, 3] < 0):  # the origin must be inside for full coverage
        raise ValueError("the C2A2 class directions do not surround the origin")
    corners = hull.simplices
    return corners, np.linalg.inv(_CLASS_DIRECTIONS[corners].transpose(0, 2, 1))


def class_blend(direction: np.ndarray) -> np.ndarray:
    """Weights over the 19 non-neutral classes for a direction (module doc): barycentric on the
    triangle the direction crosses, so at most three are non-zero and they sum to 1."""
    corners, inverses = _class_triangles()
    solved = inverses @ direction  # (T, 3): the direction in each triangle's corners
    triangle = int(np.argmax(solved.min(axis=1)))  # the one it crosses: no negative weight
    local = np.clip(solved[triangle], 0.0, None)
    weights = np.zeros(len(_CLASS_DIRECTIONS))
    weights[corners[triangle]] = local / local.sum()
    return weights

EMOTION_DIRECTIONS: dict[str, np.ndarray] = {
    **{e: np.array(C2A2_CLASSES[c]) for e, c in EMOTION_TO_CLASS.items()},
    "contempt": CONTEMPT_DIRECTION,
}


@dataclass(frozen=True)
class EmotionIntensities:
    """8 Emo3D intensities in [0, 1]; validated finite."""

    values: np.ndarray

    def __post_init__(self) -> None:
        try:
            array = np.asarray(self.values, dtype=np.float64).ravel()
        except (TypeError, ValueError) as exc:
            raise InvalidInputError("Emotion intensities must be 8 numbers.") from exc
        if array.shape != (8,):
            raise InvalidInputError(f"Emotion intensities need 8 values; got {array.size}.")
        if not np.isfinite(array).all():
            raise InvalidInputError("Emotion intensities must be finite (no NaN or infinity).")
        array = np.clip(array, 0.0, 1.0)
        array.setflags(write=False)
        object.__setattr__(self, "values", array)

    @classmethod
    def from_dict(cls, named: Mapping[str, float]) -> EmotionIntensities:
        unknown = set(named) - set(EMO3D_EMOTIONS)
        if unknown:
            raise InvalidInputError(f"Unknown emotions {sorted(unknown)}; use {EMO3D_EMOTIONS}.")
        return cls(np.array([float(named.get(e, 0.0)) for e in EMO3D_EMOTIONS]))

    def to_dict(self) -> dict[str, float]:
        return {e: round(float(v), 4) for e, v in zip(EMO3D_EMOTIONS, self.values)}

    def __getitem__(self, emotion: str) -> float:
        return float(self.values[EMO3D_EMOTIONS.index(emotion)])

    def distribution(self) -> np.ndarray:
        """Normalised to sum 1 (all-zero -> pure neutral), as the Emo3D metric uses."""
        total = self.values.sum()
        if total <= 0:
            out = np.zeros(8)
            out[0] = 1.0
            return out
        return self.values / total

    def dominant(self) -> str:
        return EMO3D_EMOTIONS[int(np.argmax(self.values))]

    def to_point(self) -> EmotionPoint:
        """The C2A2 point (module doc): weighted sum of emotion directions, length <= 1."""
        vector = np.zeros(3)
        for emotion, direction in EMOTION_DIRECTIONS.items():
            vector += self[emotion] * direction
        norm = np.linalg.norm(vector)
        if norm > 1.0:
            vector /= norm
        return EmotionPoint(*vector)

    @classmethod
    def from_point(cls, point: EmotionPoint) -> EmotionIntensities:
        """8 intensities for a C2A2 point (module doc)."""
        vector = point.as_array()
        r = float(np.linalg.norm(vector))
        values = np.zeros(8)
        if r < 1e-9:
            values[0] = 1.0
            return cls(values)
        blend = class_blend(vector / r) @ _CLASS_EMOTIONS
        values[1:] = blend / blend.max() * min(r, 1.0)
        values[0] = max(0.0, 1.0 - min(r, 1.0))
        return cls(values)


def as_intensities(value: EmotionIntensities | Mapping[str, float] | Sequence[float]) -> EmotionIntensities:
    """Accept the container, a name -> value mapping or 8 numbers."""
    if isinstance(value, EmotionIntensities):
        return value
    if isinstance(value, Mapping):
        return EmotionIntensities.from_dict(value)
    return EmotionIntensities(np.asarray(value, dtype=np.float64))
