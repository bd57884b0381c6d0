"""The study's 315 points (5 parts of 63), generated deterministically from a seed.

Each part holds 3 points per C2A2 class (60) plus 3 points drawn uniformly in the unit ball
(63): every class is rated in every part, and the ball's interior is sampled too. A class point
is the class direction tilted by a small random angle at intensity 0.55..1 (Neutral: radius
< 0.3), redrawn until the class is still its nearest, so the class-wise table has every row.
The 2D version of a point keeps valence and arousal and sets z = 0, as in the paper; it is
scored under its nearest class in the 2D AV layout (``emo_app.study.results.item_class``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emo_app.emotion.space import C2A2_CLASSES, CLASS_NAMES, EmotionPoint, nearest_class
from emo_app.errors import InvalidInputError

PARTS = 5
PER_PART = 63
PER_CLASS_PER_PART = 3
ANGLE_JITTER_RAD = 0.12


@dataclass(frozen=True)
class StudyPoint:
    id: int
    part: int
    position: int
    valence: float
    arousal: float
    z: float

    def point(self, model: str = "3d") -> EmotionPoint:
        return EmotionPoint(self.valence, self.arousal, 0.0 if model == "2d" else self.z)


def _random_unit(rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=3)
    return v / np.linalg.norm(v)


def _class_point(name: str, rng: np.random.Generator) -> np.ndarray:
    for _ in range(1000):
        if name == "Neutral":
            candidate = _random_unit(rng) * rng.uniform(0.0, 0.3)
        else:
            direction = np.array(C2A2_CLASSES[name]) + rng.normal(scale=ANGLE_JITTER_RAD, size=3)
            candidate = direction / np.linalg.norm(direction) * rng.uniform(0.55, 1.0)
        if nearest_class(EmotionPoint(*candidate)) == name:
            return candidate
    raise RuntimeError(f"could not place a point nearest to {name}")  # pragma: no cover


def _ball_point(rng: np.random.Generator) -> np.ndarray:
    return _random_unit(rng) * rng.uniform() ** (1.0 / 3.0)


def generate_study_points(seed: int = 0, parts: int = PARTS, per_part: int = PER_PART) -> list[StudyPoint]:
    """``parts`` x ``per_part`` points; same seed -> same points, on any machine."""
    stratified = len(CLASS_NAMES) * PER_CLASS_PER_PART
    if parts < 1 or per_part < stratified:
        raise InvalidInputError(
            f"A study needs at least 1 part of at least {stratified} points (3 per class); "
            f"got {parts} parts of {per_part}."
        )
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InvalidInputError(f"The seed must be a whole number of 0 or more; got {seed!r}.")
    rng = np.random.default_rng(seed)
    points: list[StudyPoint] = []
    for part in range(1, parts + 1):
        coords = [_class_point(name, rng) for name in CLASS_NAMES for _ in range(PER_CLASS_PER_PART)]
        coords += [_ball_point(rng) for _ in range(per_part - stratified)]
        order = rng.permutation(len(coords))
        for position, index in enumerate(order, start=1):
            x, y, z = (round(float(v), 6) for v in coords[index])
            points.append(StudyPoint(len(points), part, position, x, y, z))
    return points
