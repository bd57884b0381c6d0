"""Turning, nodding and tilting a rigged head on its neck (``HeadPose``).

The head rotates about a pivot at the top of the spine (behind and below the ears); the neck
bends over its length, so the collar stays where it is and the skin between stretches instead
of tearing: each vertex turns by the pose's rotation scaled by its ``neck_blend`` (0 at the
base of the neck, 1 from the jaw's hinge up). Eyes and mouth inside turn with the head.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from emo_app.blendshapes.pose import HeadPose
from emo_app.face.rig import per_rig

# From the eyes' centre, in the rig's centimetres: where the head turns on the spine, and
# where the neck's bend begins and ends (the jaw's hinge sits about 4 cm below the eyes).
PIVOT_BELOW_EYES = 7.0
PIVOT_BEHIND_EYES = 8.0
BEND_TOP_BELOW_EYES = 5.0
COLLAR_ABOVE_BASE = 1.0  # the lowest centimetre of the neck never moves


@dataclass(frozen=True)
class NeckFrame:
    """Where a rig's head turns: ``pivot`` (3,) and each vertex's share of the turn (V,)."""

    pivot: np.ndarray
    blend: np.ndarray


@per_rig
def neck_frame(rig: Any) -> NeckFrame:
    """The rig's pivot and per-vertex blend, made once per rig (see the module doc)."""
    neutral = np.asarray(rig.neutral, np.float64)
    eyes = neutral[rig.part("eyes").start : rig.part("eyes").stop]
    eye_centre = eyes.mean(axis=0)
    front = float(eyes[:, 2].max())
    pivot = np.array([0.0, eye_centre[1] - PIVOT_BELOW_EYES, front - PIVOT_BEHIND_EYES])
    base = float(neutral[:, 1].min()) + COLLAR_ABOVE_BASE
    top = eye_centre[1] - BEND_TOP_BELOW_EYES
    t = np.clip((neutral[:, 1] - base) / max(top - base, 1e-6), 0.0, 1.0)
    return NeckFrame(pivot, t * t * (3.0 - 2.0 * t))


def pose_vertices(rig: Any, vertices: np.ndarray, pose: HeadPose | None) -> np.ndarray:
    """``vertices`` (V, 3) of ``rig`` with the head turned by ``pose`` (the same array when the
    head is at rest)."""
    if pose is None or pose.is_rest:
        return vertices
    from scipy.spatial.transform import Rotation

    frame = neck_frame(rig)
    turns = Rotation.from_rotvec(frame.blend[:, None] * pose.rotation_vector()[None, :])
    posed = turns.apply(np.asarray(vertices, np.float64) - frame.pivot) + frame.pivot
    return posed.astype(np.asarray(vertices).dtype, copy=False)
