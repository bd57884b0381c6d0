"""lab/ict_landmarks.py: the shipped assets/ict_landmarks.npz is what its placement makes of
the detection stored in it, and its idea of the two lips is the jaw's."""

from __future__ import annotations

import numpy as np

from emo_app.blendshapes import ARKIT_NAMES
from emo_app.face.hd_head import ICT_LANDMARKS, load_default_head
from lab.ict_landmarks import LOWER_INNER_LIP, UPPER_INNER_LIP, lip_sides, locate, stored_detection


def test_shipped_landmarks_are_the_placement_of_their_stored_detection():
    rig = load_default_head()
    corners, weights = locate(rig, stored_detection(rig))
    with np.load(ICT_LANDMARKS) as shipped:
        np.testing.assert_array_equal(corners, shipped["corners"])
        np.testing.assert_allclose(weights, shipped["weights"], atol=1e-6)


def test_lip_sides_are_the_lips_the_jaw_does_and_does_not_carry():
    """The lower lip's side drops with jawOpen, the upper lip's barely; every inner-lip landmark
    is placed on a triangle of its own side."""
    rig = load_default_head()
    face = rig.part("face")
    sides = lip_sides(rig)
    drop = -rig.deltas[ARKIT_NAMES.index("jawOpen"), face.start : face.stop, 1]
    assert np.median(drop[sides < 0]) > 3 * np.median(drop[sides > 0]) > 0
    corners, _ = locate(rig, stored_detection(rig))
    assert (sides[corners[list(UPPER_INNER_LIP)]] > 0).all()
    assert (sides[corners[list(LOWER_INNER_LIP)]] < 0).all()
