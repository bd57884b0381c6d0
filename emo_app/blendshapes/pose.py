"""The head's pose beside the 52 shapes: how far the head turns, nods and tilts.

ARKit reports a face as its blendshapes plus the head's transform, and Live Link Face records
both (HeadYaw, HeadPitch, HeadRoll). A bowed head says shame or grief, a raised chin pride or
defiance, a tilted one curiosity; the shapes alone cannot.

Angles are degrees in the subject's own terms: ``yaw`` > 0 turns the face toward the subject's
left, ``pitch`` > 0 raises the chin, ``roll`` > 0 tilts the head toward the left shoulder. The
rig's axes: x to the subject's left, y up, z out of the face.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from emo_app.errors import InvalidInputError

# How far each angle may go, in degrees: as far as a head turns on the neck without the
# shoulders, and as far as the renderer's neck bends without tearing.
POSE_LIMITS: dict[str, float] = {"yaw": 45.0, "pitch": 30.0, "roll": 30.0}


@dataclass(frozen=True)
class HeadPose:
    """Yaw, pitch and roll of the head in degrees (see the module docstring for the signs)."""

    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0

    def __post_init__(self) -> None:
        for axis, limit in POSE_LIMITS.items():
            value = getattr(self, axis)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
                raise InvalidInputError(f"Head {axis} must be a number of degrees; got {value!r}.")
            if not math.isfinite(float(value)) or abs(float(value)) > limit + 1e-9:
                raise InvalidInputError(
                    f"Head {axis} must be from {-limit:g} to {limit:g} degrees; got {float(value):g}.")
            object.__setattr__(self, axis, float(value))

    @classmethod
    def clipped(cls, yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0) -> HeadPose:
        """A pose with each angle brought inside its limit (for poses added up from words)."""
        values = {"yaw": yaw, "pitch": pitch, "roll": roll}
        return cls(**{axis: max(-limit, min(limit, float(values[axis])))
                      for axis, limit in POSE_LIMITS.items()})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> HeadPose:
        """From {"yaw": .., "pitch": .., "roll": ..} (missing angles are 0; None is no turn)."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise InvalidInputError(
                f"A head pose is yaw, pitch and roll in degrees; got {type(data).__name__}.")
        unknown = sorted(set(data) - set(POSE_LIMITS))
        if unknown:
            raise InvalidInputError(f"Unknown head pose angle(s) {', '.join(map(str, unknown))}: "
                                    f"use yaw, pitch and roll in degrees.")
        return cls(**{axis: data.get(axis) or 0.0 for axis in POSE_LIMITS})

    def to_dict(self) -> dict[str, float]:
        return {"yaw": round(self.yaw, 2), "pitch": round(self.pitch, 2), "roll": round(self.roll, 2)}

    @property
    def is_rest(self) -> bool:
        """True when the head looks straight ahead (every angle under a hundredth of a degree)."""
        return max(abs(self.yaw), abs(self.pitch), abs(self.roll)) < 0.01

    def rotation_vector(self) -> np.ndarray:
        """(3,) axis times angle in radians, in the rig's axes: turn, then nod, then tilt. Scaling
        it bends a vertex part of the way (the neck's blend in ``face.head_pose``)."""
        from scipy.spatial.transform import Rotation

        return Rotation.from_euler("YXZ", [self.yaw, -self.pitch, -self.roll], degrees=True).as_rotvec()

    def live_link(self) -> tuple[float, float, float]:
        """(HeadYaw, HeadPitch, HeadRoll) in radians, the signs as in this class."""
        return math.radians(self.yaw), math.radians(self.pitch), math.radians(self.roll)

    def describe(self) -> str:
        """'turned 20° to the left, chin down 15°' (angles under 2° go unsaid; empty at rest)."""
        parts = []
        if abs(self.yaw) >= 2:
            parts.append(f"turned {abs(self.yaw):.0f}° to the {'left' if self.yaw > 0 else 'right'}")
        if abs(self.pitch) >= 2:
            parts.append(f"chin {'up' if self.pitch > 0 else 'down'} {abs(self.pitch):.0f}°")
        if abs(self.roll) >= 2:
            parts.append(f"tilted {abs(self.roll):.0f}° to the {'left' if self.roll > 0 else 'right'}")
        return ", ".join(parts)
