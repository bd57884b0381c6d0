"""Arousal from words: how calm or keyed-up a description sounds, for the C2A2 point.

The 8 Emo3D emotions fix a point's valence well but say little about arousal: "calm", "sleepy"
and "bored" name no basic emotion, and "thrilled" and "content" both read as happiness. So the
embedded model also reads arousal from the words: our own anchor list
(``words/arousal_anchors.json``: about 170 state words, each rated by us from 1, very calm, to 9,
very keyed-up) is embedded with MiniLM once, in a few short templates; a text's arousal is the
similarity-weighted mean rating of its ``NEIGHBOURS`` nearest anchors (softmax over cosine,
temperature ``TEMPERATURE``), mapped to [-1, 1]. The neighbour mean generalises beyond the list:
on 105 other state words we rated beforehand, each in five sentence templates, the point's
arousal ranks them with Spearman 0.76 against our ratings (0.40 from the emotions alone).

``with_arousal`` then moves the point's arousal towards that value: by ``WEIGHT`` for a text
that names no facial movement, by ``WEIGHT_WITH_FACE_CUES`` for one that does (there the
described face, through its emotions, already places the arousal: raised brows and a dropped
jaw are surprise, high arousal, whatever the words' own arousal); valence and z are kept (they
shrink only if the point would leave the unit sphere). Negation is not read here ("not calm"
scores like "calm").
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from emo_app.emotion.space import EmotionPoint

ANCHORS_FILE = Path(__file__).with_name("words") / "arousal_anchors.json"
NEIGHBOURS = 30
TEMPERATURE = 0.1
WEIGHT = 0.85  # share of the point's arousal that comes from the words
WEIGHT_WITH_FACE_CUES = 0.4  # the same when the text also describes the face itself


@functools.cache
def load_anchors() -> tuple[tuple[str, ...], np.ndarray, tuple[str, ...], tuple[float, float]]:
    """(words, ratings, templates, (lowest, highest) of the rating scale) from the data file."""
    data = json.loads(ANCHORS_FILE.read_text(encoding="utf-8"))
    ratings = data["ratings"]
    low, high = (float(x) for x in data["scale"])
    values = np.array([float(v) for v in ratings.values()])
    return tuple(ratings), values, tuple(data["templates"]), (low, high)


class ArousalReader:
    """Arousal in [-1, 1] of texts from their (unit-length) sentence embeddings (module doc)."""

    def __init__(self, encode: Callable[[Sequence[str]], np.ndarray]):
        words, ratings, templates, (low, high) = load_anchors()
        summed = sum(np.asarray(encode([t.format(w) for w in words]), dtype=np.float64) for t in templates)
        self.anchor_embeddings = summed / np.linalg.norm(summed, axis=1, keepdims=True)
        centre, half = (low + high) / 2, (high - low) / 2
        self.anchor_arousal = (ratings - centre) / half

    def read(self, embeddings: np.ndarray) -> np.ndarray:
        """Arousal in [-1, 1] per text embedding."""
        sims = np.atleast_2d(embeddings) @ self.anchor_embeddings.T
        k = min(NEIGHBOURS, sims.shape[1])
        nearest = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        near_sims = np.take_along_axis(sims, nearest, axis=1)
        weights = np.exp((near_sims - near_sims.max(axis=1, keepdims=True)) / TEMPERATURE)
        arousal = (weights * self.anchor_arousal[nearest]).sum(axis=1) / weights.sum(axis=1)
        return np.clip(arousal, -1.0, 1.0)


def with_arousal(point: EmotionPoint, arousal: float, weight: float = WEIGHT) -> EmotionPoint:
    """``point`` with its arousal moved towards the words' ``arousal`` by ``weight`` (module doc).
    Outside the unit sphere, valence and z shrink (keeping their ratio) so that arousal stays."""
    weight = float(np.clip(weight, 0.0, 1.0))
    valence, old_arousal, z = point.as_array().astype(np.float64)
    new_arousal = float(np.clip((1 - weight) * old_arousal + weight * float(arousal), -1.0, 1.0))
    rest = float(np.hypot(valence, z))
    room = float(np.sqrt(1.0 - new_arousal**2))
    if rest > room:
        valence, z = valence * room / rest, z * room / rest
    return EmotionPoint(valence, new_arousal, z)
