"""Compound expressions (two emotions at once): the face a user sees shows both of them, and the
compound prototypes never touch a face that shows one emotion."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from emo_app.blendshapes import Blendshapes
from emo_app.emotion.emotions import EMO3D_EMOTIONS
from emo_app.text import facs

# what a viewer reads each emotion from, in ARKit weights (left side; the prior is symmetric here)
SIGNS: dict[str, Callable[[Blendshapes], bool]] = {
    "happiness": lambda f: f["mouthSmileLeft"] > 0.3,
    "sadness": lambda f: f["browInnerUp"] > 0.3,  # the inner brow corners raised
    "anger": lambda f: f["browDownLeft"] > 0.5 and f["browDownLeft"] > f["browInnerUp"],
    "surprise": lambda f: f["browOuterUpLeft"] > 0.3 or f["jawOpen"] > 0.3,
    "fear": lambda f: f["eyeWideLeft"] > 0.3 or f["mouthStretchLeft"] > 0.3,
    "disgust": lambda f: f["mouthUpperUpLeft"] > 0.3 or f["noseSneerLeft"] > 0.3,
}


def prior(levels: dict[str, float]) -> np.ndarray:
    intensities = np.zeros(len(EMO3D_EMOTIONS))
    for emotion, level in levels.items():
        intensities[EMO3D_EMOTIONS.index(emotion)] = level
    return facs.emotion_prior(intensities).values


def face(levels: dict[str, float]) -> Blendshapes:
    return Blendshapes.from_array(prior(levels))


@pytest.mark.parametrize("pair", sorted(sorted(p) for p in facs.COMPOUND_AUS), ids="+".join)
def test_every_compound_face_shows_both_emotions(pair):
    a, b = pair
    blend = face({a: 0.9, b: 0.9})
    assert SIGNS[a](blend), f"{a} does not show in {facs.COMPOUND_AUS[frozenset(pair)][0]}"
    assert SIGNS[b](blend), f"{b} does not show in {facs.COMPOUND_AUS[frozenset(pair)][0]}"


def test_sadly_angry_scowls_with_the_inner_brows_up_and_the_mouth_down():
    blend = face({"sadness": 0.9, "anger": 0.9})
    assert blend["browDownLeft"] > 0.8 and blend["eyeSquintLeft"] > 0.8  # the angry scowl
    assert 0.3 < blend["browInnerUp"] < blend["browDownLeft"]  # sad inner corners, the scowl kept
    assert blend["mouthFrownLeft"] > 0.8


def test_happily_sad_smiles_under_worried_not_knitted_brows():
    blend = face({"happiness": 0.9, "sadness": 0.9})
    assert blend["mouthSmileLeft"] > 0.8
    assert blend["browInnerUp"] > blend["browDownLeft"] + 0.3


def test_happily_fearful_smiles_with_wide_eyes_and_raised_brows():
    blend = face({"happiness": 0.8, "fear": 0.6})  # "happy and a little scared"
    assert blend["mouthSmileLeft"] > 0.5
    assert blend["eyeWideLeft"] > 0.5 and blend["browOuterUpLeft"] > 0.4
    assert blend["mouthSmileLeft"] > blend["mouthStretchLeft"]  # a grin, not a grimace


def test_angrily_disgusted_glares():
    blend = face({"anger": 0.8, "disgust": 0.9})
    assert blend["eyeSquintLeft"] > 0.5 and blend["mouthUpperUpLeft"] > 0.5


@pytest.mark.parametrize("emotion", [e for e in EMO3D_EMOTIONS if e != "neutral"])
def test_one_emotion_with_small_leftovers_gets_no_compound(emotion, monkeypatch):
    """Leftovers below ``MIN_COMPOUND`` (the text model gives a plain description a little of
    every emotion) leave a basic face exactly as the basic prototypes draw it."""
    levels = {e: 0.25 for e in EMO3D_EMOTIONS if e != "neutral"} | {emotion: 0.85}
    assert max(v for e, v in levels.items() if e != emotion) < facs.MIN_COMPOUND
    with_compounds = prior(levels)
    monkeypatch.setattr(facs, "COMPOUND_AUS", {})
    np.testing.assert_array_equal(with_compounds, prior(levels))


def test_sadly_surprised_drops_the_jaw_under_worried_brows_with_the_corners_down():
    blend = face({"sadness": 0.8, "surprise": 0.9})
    assert blend["jawOpen"] > 0.3
    assert blend["browInnerUp"] > blend["browDownLeft"] and blend["mouthFrownLeft"] > 0.5


@pytest.mark.parametrize("other", ["happiness", "fear"])
def test_a_surprised_compound_opens_the_mouth(other):
    """Happily and fearfully surprised gasp: Du et al.'s lists stop at lips part (AU25), which on
    the sphere's classes left the lips all but closed (jawOpen 0.07) under the raised brows."""
    blend = face({other: 1.0, "surprise": 1.0})
    assert blend["jawOpen"] > 0.4
    assert blend["browOuterUpLeft"] > 0.5
    sign = "mouthSmileLeft" if other == "happiness" else "mouthStretchLeft"
    assert blend[sign] > 0.5
