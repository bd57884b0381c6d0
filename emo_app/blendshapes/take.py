"""A take: the face making one expression over time, from rest and back.

A still shows where a face ends up; an animator, a game and a viewer also need how it gets
there. Real expressions rise in about half a second (onset), hold, and fall more slowly
(offset); the brows and eyes lead and the mouth follows a little later; people blink while they
hold a look. A take plays the 52 weights and the head's pose that way, each region on a
minimum-jerk curve (the smooth start and stop of human movement), so a still expression from
any surface (the words, the sliders, a photo) becomes a few seconds of animation.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from emo_app.blendshapes.pose import HeadPose
from emo_app.blendshapes.schema import GROUPS, INDEX, Blendshapes
from emo_app.errors import InvalidInputError

PACING_FILE = Path(__file__).with_name("take_pacing.json")
MAX_TAKE_SECONDS = 12.0  # the longest take any surface renders (60 fps: 720 frames)
MAX_PHASE_SECONDS = 6.0
PACE_RANGE = (0.5, 2.0)  # how much slower or faster than the emotion's own pace a take may play

# When each region starts to move, as a share of the onset: the brows and eyes lead, the mouth
# and jaw follow; every region arrives at the end of the onset. The head settles last.
REGION_LEAD: dict[str, float] = {"brows": 0.0, "eyes": 0.0, "nose": 0.1, "cheeks": 0.15,
                                 "mouth": 0.2, "jaw": 0.2, "tongue": 0.3}
HEAD_LEAD = 0.1
HEAD_SETTLE = 1.25  # the head's turn takes this many onsets (a head is heavier than a brow)
# A blink in the hold: the lids close fast and open more slowly (about 0.1 s and 0.2 s).
BLINK_CLOSE, BLINK_OPEN, BLINK_AT = 0.09, 0.18, 0.4  # seconds, seconds, share of the hold
BLINK_SKIPPED_ABOVE = 0.5  # eyes already this closed (a laugh's squint, sleep) do not blink
_BLINKS = np.array([INDEX["eyeBlinkLeft"], INDEX["eyeBlinkRight"]])


def _real(value: Any) -> bool:
    """A finite real number (not a bool, a string or NaN)."""
    return (not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
            and math.isfinite(float(value)))


@dataclass(frozen=True)
class TakeTiming:
    """How a take is timed, in seconds: ``rest`` before the face moves, ``onset`` to the full
    expression, ``hold`` at it, ``offset`` back to rest; ``fps`` frames a second; ``blink`` once
    in the hold."""

    rest: float = 0.3
    onset: float = 0.6
    hold: float = 1.8
    offset: float = 0.8
    fps: float = 30.0
    blink: bool = True

    def __post_init__(self) -> None:
        for name in ("rest", "onset", "hold", "offset"):
            value = getattr(self, name)
            if not _real(value) or not 0 <= float(value) <= MAX_PHASE_SECONDS:
                raise InvalidInputError(f"The take's {name} must be from 0 to {MAX_PHASE_SECONDS:g} seconds; "
                                        f"got {value!r}.")
            object.__setattr__(self, name, float(value))
        fps = self.fps
        if not _real(fps) or not 1 <= float(fps) <= 60:
            raise InvalidInputError(f"A take's frames per second must be from 1 to 60; got {fps!r}.")
        object.__setattr__(self, "fps", float(fps))
        if self.seconds > MAX_TAKE_SECONDS:
            raise InvalidInputError(f"A take lasts at most {MAX_TAKE_SECONDS:g} seconds; rest, onset, hold "
                                    f"and offset add up to {self.seconds:g}.")
        if self.onset + self.hold + self.offset <= 0:
            raise InvalidInputError("A take needs some time to move: onset, hold and offset are all 0.")

    @property
    def seconds(self) -> float:
        return take_seconds(self)

    @classmethod
    def paced(cls, emotion: str | None = None, pace: float = 1.0, **given: Any) -> TakeTiming:
        """The timing for a face whose dominant ``emotion`` (an Emo3D name) sets how fast it
        moves (``take_pacing.json``: surprise rises in 0.3 s, sadness in 0.9 s), its onset and
        offset divided by ``pace`` (2: twice as fast); ``given`` fields win."""
        if not _real(pace) or not PACE_RANGE[0] <= float(pace) <= PACE_RANGE[1]:
            raise InvalidInputError(f"A take's pace must be from {PACE_RANGE[0]:g} to {PACE_RANGE[1]:g} "
                                    f"(1: the emotion's own); got {pace!r}.")
        defaults, table = cls(), _pacing()
        paced = {phase: table[phase].get(emotion, getattr(defaults, phase)) / float(pace)
                 for phase in ("onset", "offset")}
        return cls(**{**paced, **given})

    def to_dict(self) -> dict[str, float | bool]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@functools.cache
def _pacing() -> dict[str, dict[str, float]]:
    return json.loads(PACING_FILE.read_text(encoding="utf-8"))


def minimum_jerk(t: np.ndarray) -> np.ndarray:
    """0 -> 1 with zero speed and acceleration at both ends (Flash & Hogan's reaching curve)."""
    t = np.clip(t, 0.0, 1.0)
    return t * t * t * (10.0 - 15.0 * t + 6.0 * t * t)


@dataclass(frozen=True)
class Take:
    """One expression played over time: ``weights`` (frames x 52, ARKit order), ``poses``
    (frames x 3: yaw, pitch, roll in degrees) at ``fps``."""

    weights: np.ndarray
    poses: np.ndarray
    fps: float

    def __len__(self) -> int:
        return len(self.weights)

    @property
    def times(self) -> np.ndarray:
        return np.arange(len(self)) / self.fps

    def frames(self) -> list[Blendshapes]:
        return [Blendshapes.from_array(row) for row in self.weights]

    def head_poses(self) -> list[HeadPose]:
        return [HeadPose.clipped(*row) for row in self.poses]

    def live_link_rotations(self) -> np.ndarray:
        """(frames, 9) HeadYaw, HeadPitch, HeadRoll in radians, then the eyes' six (0: the
        eyeLook shapes carry the gaze)."""
        rotations = np.zeros((len(self), 9))
        rotations[:, :3] = np.radians(self.poses)
        return rotations


def _rise(times: np.ndarray, start: float, duration: float) -> np.ndarray:
    """0 before ``start``, 1 from ``start + duration``, minimum-jerk between (a step when 0 long)."""
    if duration <= 0:
        return (times >= start - 1e-9).astype(float)
    share = (times - start) / duration
    return minimum_jerk(np.where(np.abs(share - np.round(share)) < 1e-9, np.round(share), share))


Beat = tuple[Blendshapes, HeadPose | None]  # one expression a take reaches and holds


def _starts(timing: TakeTiming, beats: int) -> np.ndarray:
    """When each beat's onset starts: after the rest, one onset and hold per beat."""
    return timing.rest + np.arange(beats) * (timing.onset + timing.hold)


def _region_weights(timing: TakeTiming, times: np.ndarray, targets: np.ndarray,
                    fall: np.ndarray) -> np.ndarray:
    """(frames, 52): each region moves from one beat's weights to the next on its own curve
    (its lead into the onset), then all fall back to rest by ``fall``."""
    steps = np.diff(targets, axis=0, prepend=0.0)  # from rest to beat 1, beat 1 to beat 2, ...
    weights = np.zeros((len(times), targets.shape[1]))
    for region, names in GROUPS.items():
        columns = [INDEX[name] for name in names]
        lead = REGION_LEAD[region] * timing.onset
        for start, step in zip(_starts(timing, len(targets)), steps, strict=True):
            weights[:, columns] += _rise(times, start + lead, timing.onset - lead)[:, None] * step[columns]
    return weights - (1.0 - fall)[:, None] * targets[-1]


def _blink(timing: TakeTiming, times: np.ndarray, hold_from: float) -> np.ndarray:
    """How closed a blink in the hold from ``hold_from`` has the lids at each time (0 without one)."""
    if not timing.blink or timing.hold < BLINK_CLOSE + BLINK_OPEN + 0.2:
        return np.zeros_like(times)
    closed_at = hold_from + BLINK_AT * timing.hold
    closing = minimum_jerk((times - closed_at + BLINK_CLOSE) / BLINK_CLOSE)
    opening = 1.0 - minimum_jerk((times - closed_at) / BLINK_OPEN)
    return np.where(times < closed_at, closing, opening)


def take_seconds(timing: TakeTiming, beats: int = 1) -> float:
    """How long a take of ``beats`` expressions lasts: the rest, an onset and a hold each, the offset."""
    return timing.rest + beats * (timing.onset + timing.hold) + timing.offset


def perform(shapes: Blendshapes, pose: HeadPose | None = None, timing: TakeTiming | None = None,
            earlier: Sequence[Beat] = ()) -> Take:
    """The take of an expression (and head pose) timed by ``timing`` (default ``TakeTiming()``),
    after the ``earlier`` expressions a text went through ("shocked at first, then delighted"),
    each reached and held in turn. With a rest and an offset it starts and ends at rest, so it
    loops; with no offset it ends on the expression."""
    timing = timing or TakeTiming()
    beats = [*earlier, (shapes, pose)]
    for beat_shapes, _ in beats:
        if not isinstance(beat_shapes, Blendshapes):
            raise InvalidInputError(f"A take plays Blendshapes; got {type(beat_shapes).__name__}.")
    seconds = take_seconds(timing, len(beats))
    if seconds > MAX_TAKE_SECONDS:
        raise InvalidInputError(f"A take lasts at most {MAX_TAKE_SECONDS:g} seconds; {len(beats)} "
                                f"expressions with this timing take {seconds:g}.")
    times = np.arange(max(2, int(math.floor(seconds * timing.fps + 1e-9)) + 1)) / timing.fps
    fall = (1.0 - _rise(times, seconds - timing.offset, timing.offset)) if timing.offset > 0 else \
        np.ones_like(times)
    targets = np.stack([beat_shapes.values for beat_shapes, _ in beats]).astype(np.float64)
    weights = _region_weights(timing, times, targets, fall)
    for start, target in zip(_starts(timing, len(beats)), targets, strict=True):
        if target[_BLINKS].mean() < BLINK_SKIPPED_ABOVE:
            blink = _blink(timing, times, start + timing.onset)
            weights[:, _BLINKS] = np.maximum(weights[:, _BLINKS], blink[:, None])
    angles = np.array([[0.0] * 3 if turn is None else [turn.yaw, turn.pitch, turn.roll] for _, turn in beats])
    head_lead = HEAD_LEAD * timing.onset
    settle = min(timing.onset * HEAD_SETTLE, timing.onset + timing.hold) - head_lead
    poses = sum(_rise(times, start + head_lead, settle)[:, None] * step[None, :]
                for start, step in zip(_starts(timing, len(beats)), np.diff(angles, axis=0, prepend=0.0),
                                       strict=True))
    poses = poses - (1.0 - fall)[:, None] * angles[-1]
    return Take(np.clip(weights, 0.0, 1.0).astype(np.float32), poses, timing.fps)
