"""Blendshape names and a validated 52-value container.

Internally the 52 values follow ``ARKIT_NAMES``: MediaPipe's 51 ARKit names (alphabetical)
followed by ``tongueOut``. MediaPipe vectors put ``_neutral`` first instead of ``tongueOut``
last; Emo3D's models predict MediaPipe's 51 values after ``_neutral``.

Clamp policy: NaN and infinity are always rejected. With ``policy="clip"`` (the default)
finite values outside [0, 1] are clipped into it (engines and sliders produce -0.001 or 1.02);
with ``policy="strict"`` they raise ``InvalidInputError``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from emo_app.errors import InvalidInputError

MEDIAPIPE_NAMES: tuple[str, ...] = (
    "_neutral",
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight",
    "eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight",
    "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight",
    "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight",
    "jawForward", "jawLeft", "jawOpen", "jawRight", "mouthClose",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthPressLeft", "mouthPressRight", "mouthPucker", "mouthRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthUpperUpLeft", "mouthUpperUpRight", "noseSneerLeft", "noseSneerRight",
)  # fmt: skip

ARKIT_NAMES: tuple[str, ...] = MEDIAPIPE_NAMES[1:] + ("tongueOut",)

INDEX: dict[str, int] = {name: i for i, name in enumerate(ARKIT_NAMES)}

LIVE_LINK_COLUMNS: tuple[str, ...] = (
    "Timecode", "BlendShapeCount",
    "EyeBlinkLeft", "EyeLookDownLeft", "EyeLookInLeft", "EyeLookOutLeft", "EyeLookUpLeft",
    "EyeSquintLeft", "EyeWideLeft", "EyeBlinkRight", "EyeLookDownRight", "EyeLookInRight",
    "EyeLookOutRight", "EyeLookUpRight", "EyeSquintRight", "EyeWideRight",
    "JawForward", "JawRight", "JawLeft", "JawOpen", "MouthClose", "MouthFunnel",
    "MouthPucker", "MouthRight", "MouthLeft", "MouthSmileLeft", "MouthSmileRight",
    "MouthFrownLeft", "MouthFrownRight", "MouthDimpleLeft", "MouthDimpleRight",
    "MouthStretchLeft", "MouthStretchRight", "MouthRollLower", "MouthRollUpper",
    "MouthShrugLower", "MouthShrugUpper", "MouthPressLeft", "MouthPressRight",
    "MouthLowerDownLeft", "MouthLowerDownRight", "MouthUpperUpLeft", "MouthUpperUpRight",
    "BrowDownLeft", "BrowDownRight", "BrowInnerUp", "BrowOuterUpLeft", "BrowOuterUpRight",
    "CheekPuff", "CheekSquintLeft", "CheekSquintRight", "NoseSneerLeft", "NoseSneerRight",
    "TongueOut", "HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch",
    "LeftEyeRoll", "RightEyeYaw", "RightEyePitch", "RightEyeRoll",
)  # fmt: skip

LIVE_LINK_ROTATIONS: tuple[str, ...] = LIVE_LINK_COLUMNS[-9:]

# Face regions, for grouped plots, sliders and per-region errors.
GROUPS: dict[str, tuple[str, ...]] = {
    "brows": tuple(n for n in ARKIT_NAMES if n.startswith("brow")),
    "eyes": tuple(n for n in ARKIT_NAMES if n.startswith("eye")),
    "jaw": tuple(n for n in ARKIT_NAMES if n.startswith("jaw")),
    "mouth": tuple(n for n in ARKIT_NAMES if n.startswith("mouth")),
    "cheeks": tuple(n for n in ARKIT_NAMES if n.startswith("cheek")),
    "nose": tuple(n for n in ARKIT_NAMES if n.startswith("nose")),
    "tongue": ("tongueOut",),
}


def mirror_name(name: str) -> str:
    """browDownLeft <-> browDownRight, jawLeft <-> jawRight; names without a side are kept."""
    if name.endswith("Left"):
        return name[:-4] + "Right"
    if name.endswith("Right"):
        return name[:-5] + "Left"
    return name


MIRROR_PERMUTATION = np.array([INDEX[mirror_name(n)] for n in ARKIT_NAMES])

_LOWER = {n.lower(): n for n in ARKIT_NAMES}
_LOWER.update({"_neutral": "_neutral"})

Policy = Literal["clip", "strict"]


def _as_float_array(values: Iterable[float] | np.ndarray, expected: int, what: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{what} must be numbers; got {type(values).__name__}.") from exc
    if array.ndim != 1 or array.shape[0] != expected:
        raise InvalidInputError(f"{what} must have {expected} values; got shape {array.shape}.")
    return array


def _validate(array: np.ndarray, policy: Policy, what: str) -> np.ndarray:
    bad = ~np.isfinite(array)
    if bad.any():
        names = [ARKIT_NAMES[i] for i in np.flatnonzero(bad)[:5]] if array.size == 52 else []
        where = f" ({', '.join(names)})" if names else ""
        raise InvalidInputError(f"{what} contain NaN or infinity{where}; every value must be finite.")
    if policy == "strict":
        out = (array < 0) | (array > 1)
        if out.any():
            i = int(np.flatnonzero(out)[0])
            raise InvalidInputError(
                f"{what}: {ARKIT_NAMES[i]} = {array[i]:.4g} is outside [0, 1]."
            )
    return np.clip(array, 0.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class Blendshapes:
    """52 ARKit weights in ``ARKIT_NAMES`` order, each finite and in [0, 1]."""

    values: np.ndarray

    def __post_init__(self) -> None:
        what = "Blendshape weights"
        array = _validate(_as_float_array(self.values, 52, what), "clip", what)
        array.setflags(write=False)
        object.__setattr__(self, "values", array)

    # construction ---------------------------------------------------------------------
    @classmethod
    def zeros(cls) -> Blendshapes:
        return cls(np.zeros(52, dtype=np.float32))

    @classmethod
    def from_array(cls, values: Iterable[float], policy: Policy = "clip") -> Blendshapes:
        """From 52 values in ARKIT_NAMES order."""
        array = _as_float_array(values, 52, "Blendshape weights")
        return cls(_validate(array, policy, "Blendshape weights"))

    @classmethod
    def from_dict(cls, weights: Mapping[str, float], policy: Policy = "clip") -> Blendshapes:
        """From names to weights; names are case-insensitive, PascalCase works, missing = 0."""
        if not isinstance(weights, Mapping):
            raise InvalidInputError(
                f"Blendshape weights must be a name -> number mapping; got {type(weights).__name__}."
            )
        array = np.zeros(52, dtype=np.float64)
        for key, value in weights.items():
            name = _LOWER.get(str(key).strip().lower())
            if name is None:
                raise InvalidInputError(
                    f"Unknown blendshape name '{key}'. Expected ARKit names such as "
                    "'jawOpen' or 'mouthSmileLeft'."
                )
            if name == "_neutral":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
                raise InvalidInputError(f"Blendshape '{key}' must be a number; got {value!r}.")
            array[INDEX[name]] = float(value)
        return cls(_validate(array, policy, "Blendshape weights"))

    @classmethod
    def from_mediapipe(cls, values: Iterable[float], policy: Policy = "clip") -> Blendshapes:
        """From MediaPipe's 52 (``_neutral`` first) or Emo3D's 51 (without ``_neutral``)."""
        array = np.asarray(list(values), dtype=np.float64)
        if array.shape == (52,):
            array = array[1:]
        if array.shape != (51,):
            raise InvalidInputError(
                f"A MediaPipe blendshape vector has 52 values (or 51 without _neutral); "
                f"got {array.shape[0] if array.ndim == 1 else array.shape}."
            )
        return cls(_validate(np.append(array, 0.0), policy, "MediaPipe blendshapes"))

    @classmethod
    def from_emo3d_string(cls, text: str, policy: Policy = "clip") -> Blendshapes | None:
        """Parse a numpy-printed string such as "[0.    0.271 ...]"; empty -> None."""
        if text is None or (isinstance(text, float) and np.isnan(text)):
            return None
        if not isinstance(text, str):
            raise InvalidInputError(f"An Emo3D blendshape score must be text; got {type(text).__name__}.")
        body = text.strip().strip("[]").strip()
        if not body:
            return None
        tokens = [t for t in re.split(r"[\s,]+", body) if t]
        try:
            numbers = [float(t) for t in tokens]
        except ValueError as exc:
            raise InvalidInputError(f"Could not read an Emo3D blendshape score: {exc}.") from exc
        return cls.from_mediapipe(numbers, policy)

    # conversion -----------------------------------------------------------------------
    def to_dict(self, include_zero: bool = True) -> dict[str, float]:
        return {
            n: round(float(v), 6) for n, v in zip(ARKIT_NAMES, self.values) if include_zero or v > 0
        }

    def to_mediapipe(self) -> np.ndarray:
        """52 values with ``_neutral`` (0) first and no tongueOut, MediaPipe's order."""
        return np.concatenate([[0.0], self.values[:51]]).astype(np.float32)

    def to_emo3d(self) -> np.ndarray:
        """The 51 values Emo3D's models predict."""
        return self.values[:51].copy()

    def to_emo3d_string(self) -> str:
        return np.array2string(self.to_mediapipe(), precision=3, max_line_width=10**6)

    def mirrored(self) -> Blendshapes:
        """Swap every Left/Right pair: the same expression seen in a mirror."""
        return Blendshapes(self.values[MIRROR_PERMUTATION])

    def __getitem__(self, name: str) -> float:
        return float(self.values[INDEX[name]])

    def replace(self, **weights: float) -> Blendshapes:
        """A copy with some weights set by name."""
        merged = self.to_dict()
        merged.update(weights)
        return Blendshapes.from_dict(merged)

    def group(self, name: str) -> dict[str, float]:
        return {n: self[n] for n in GROUPS[name]}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Blendshapes) and np.array_equal(self.values, other.values)

    def __hash__(self) -> int:
        return hash(self.values.tobytes())
