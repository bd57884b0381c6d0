"""The expressions lab's framing check moves the face, not the picture's edge colour."""

from __future__ import annotations

import numpy as np

from lab.expressions.evaluate import moved


def test_a_moved_render_keeps_the_face_and_fills_the_uncovered_edge_with_background():
    image = np.full((20, 30, 3), 250, np.uint8)
    image[5:10, 8:12] = (10, 20, 30)  # the "face"
    down_left = moved(image, 3, -4)
    assert (down_left[8:13, 4:8] == (10, 20, 30)).all()
    assert (down_left[:3] == 250).all() and (down_left[:, -4:] == 250).all()
    assert (down_left == (10, 20, 30)).all(axis=2).sum() == 20  # nothing else moved in
