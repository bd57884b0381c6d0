"""Smooth scalar and vector fields over a mesh's vertices: the vocabulary the rig's shapes are
written in (compact bumps around anchors, soft steps, handle moves spread to their neighbours)."""

from __future__ import annotations

import numpy as np


def smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    """0 before ``edge0``, 1 after ``edge1``, a smooth cubic between (either order)."""
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def falloff(distance: np.ndarray, radius: float) -> np.ndarray:
    """Smooth compact bump: 1 at the anchor, 0 with zero slope at ``radius``."""
    t = np.clip(distance / radius, 0.0, 1.0)
    return (1.0 - t * t) ** 3


def near(points: np.ndarray, anchors: np.ndarray, radius: float) -> np.ndarray:
    """How close each point is to the nearest anchor: the largest bump of radius ``radius``."""
    d = np.linalg.norm(points[:, None, :] - np.atleast_2d(anchors)[None, :, :], axis=2)
    return falloff(d, radius).max(axis=1)


def blend_handles(points: np.ndarray, handles: np.ndarray, moves: np.ndarray, radius: float) -> np.ndarray:
    """Spread prescribed handle moves smoothly: falloff-weighted average of the handle moves,
    scaled by the nearest handle's falloff, so the field is smooth and fades out by ``radius``."""
    d = np.linalg.norm(points[:, None, :] - points[handles][None, :, :], axis=2)
    weights = falloff(d, radius)
    total = weights.sum(axis=1, keepdims=True)
    average = (weights @ moves) / np.maximum(total, 1e-9)
    field = average * weights.max(axis=1, keepdims=True)
    field[handles] = moves
    return field


def rotation(axis: str, degrees: float) -> np.ndarray:
    """The 3x3 rotation about the x or y axis."""
    a = np.radians(degrees)
    c, s = np.cos(a), np.sin(a)
    if axis == "x":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def split_side(points: np.ndarray, upper: np.ndarray, lower: np.ndarray, width: float) -> np.ndarray:
    """0 above an opening's mid line (lips, lids), 1 below it, with a transition that widens past
    the corners."""
    mid_x = points[upper, 0]
    mid_y = (points[upper, 1] + points[lower, 1]) / 2.0
    order = np.argsort(mid_x)
    y_split = np.interp(points[:, 0], mid_x[order], mid_y[order])
    beyond = np.maximum(0.0, np.abs(points[:, 0] - mid_x.mean()) - np.ptp(mid_x) / 2.0)
    w = width + 0.5 * beyond
    return smoothstep(w, -w, points[:, 1] - y_split)
