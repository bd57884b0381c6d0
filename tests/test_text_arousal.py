"""Arousal from words: the text's C2A2 point sits low for calm, sleepy, bored descriptions and
high for excited, agitated, panicked ones, also when no basic emotion is named, while valence
still follows the emotions. Word lists here are ours; the held-out ones are not anchors."""

from __future__ import annotations

import numpy as np
import pytest

from emo_app.emotion.space import EmotionPoint
from emo_app.text import get_text_model
from emo_app.text.arousal import load_anchors, with_arousal

LOW = ["I feel so sleepy", "she is bored", "I am calm", "She is relaxed.", "he is content"]
HIGH = ["he is thrilled", "they panicked", "they are excited", "she is agitated"]
# state words that are not in the anchor list (words/arousal_anchors.json)
HELD_OUT_LOW = ["They were lounging.", "I am worn out.", "he is so laid-back"]
HELD_OUT_HIGH = ["I'm totally stoked!", "She is jumpy.", "they are fuming"]


@pytest.fixture(scope="module")
def model():
    return get_text_model("embedded")


def _arousal(model, texts: list[str]) -> np.ndarray:
    return np.array([p.point.arousal for p in model.predict_batch(texts)])


def test_calm_words_sit_low_and_excited_words_high(model):
    low, high = _arousal(model, LOW), _arousal(model, HIGH)
    assert (low < -0.15).all(), dict(zip(LOW, low.round(2)))
    assert (high > 0.3).all(), dict(zip(HIGH, high.round(2)))


def test_words_outside_the_anchor_list_move_arousal_too(model):
    anchors = set(load_anchors()[0])
    for text in HELD_OUT_LOW + HELD_OUT_HIGH:
        assert not anchors & set(text.lower().strip(".!").replace("'", " ").split()), text
    low, high = _arousal(model, HELD_OUT_LOW), _arousal(model, HELD_OUT_HIGH)
    assert (low < 0).all(), dict(zip(HELD_OUT_LOW, low.round(2)))
    assert (high > 0.2).all(), dict(zip(HELD_OUT_HIGH, high.round(2)))


def test_valence_still_follows_the_emotions(model):
    texts = ["she is happy", "she is sad", "he is thrilled", "he is content", "he is furious"]
    points = {text: prediction.point for text, prediction in zip(texts, model.predict_batch(texts))}
    assert points["she is happy"].valence > 0.5 and points["he is thrilled"].valence > 0.5
    assert points["he is content"].valence > 0.3
    assert points["she is sad"].valence < -0.2 and points["he is furious"].valence < -0.3
    assert points["he is thrilled"].arousal > points["he is content"].arousal + 0.4


def test_with_arousal_keeps_valence_and_the_unit_sphere():
    happy = EmotionPoint(0.9, 0.1, 0.0)
    calm = with_arousal(happy, -0.8, weight=0.85)
    assert calm.arousal == pytest.approx(0.15 * 0.1 + 0.85 * -0.8)
    assert calm.valence > 0.5 and calm.z == 0.0
    assert np.linalg.norm(calm.as_array()) <= 1.0 + 1e-9
    assert with_arousal(happy, -0.8, weight=0.0) == happy
