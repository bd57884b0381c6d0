"""A walk through the C2A2 space as a request: its kind, its parameters with their defaults, and
the checks that turn them into points (the face walk and the generated-image walk share it)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from emo_app.emotion.space import MAX_WALK_STEPS, EmotionPoint, axis_walk, circle_walk, class_walk
from emo_app.errors import InvalidInputError

WalkKind = Literal["axis", "circle", "classes"]
CIRCLE_RADIUS_RANGE = (0.05, 1.0)  # a smaller circle's faces are all neutral; past 1 they stop changing


@dataclass(frozen=True)
class WalkRequest:
    """One walk's kind and parameters, with their defaults and checks in one place: the face
    walk (``walk``) and the generated-image walk (``generate_walk``) take the same ones."""

    kind: WalkKind
    emotion: str = "Happy"  # the axis walk's class; the classes walk's start
    other: str = "Sad"  # the classes walk's end
    tilt: float = 0.0  # circle: tilt towards +Z (radians; the figures' theta)
    start_angle: float = 0.0  # circle: starting angle (radians; the figures' phi)
    r: float = 0.8  # circle: radius
    steps: int = 9  # as on the page and the CLI
    spherical: bool = True  # classes: along the great circle, else a straight line

    @classmethod
    def of(cls, kind: WalkKind, *, theta: float | None = None, phi: float | None = None,
           **params: Any) -> WalkRequest:
        """``theta``/``phi`` are the older names of the circle's ``tilt``/``start_angle`` (the
        paper's figure labels), still accepted."""
        if theta is not None:
            params["tilt"] = theta
        if phi is not None:
            params["start_angle"] = phi
        return cls(kind, **params)

    def to_dict(self) -> dict[str, Any]:
        """The kind and the parameters it uses (the circle's angles in radians), for the JSON."""
        used = {"axis": ("emotion",), "circle": ("tilt", "start_angle", "r"),
                "classes": ("emotion", "other", "spherical")}.get(self.kind, ())
        values = {name: getattr(self, name) for name in used}
        return {"kind": self.kind,
                **{name: v if isinstance(v, (str, bool)) else float(v) for name, v in values.items()},
                "steps": int(self.steps)}

    def points(self) -> list[EmotionPoint]:
        """The walk's points (see emo_app.emotion.space); bad parameters get a sentence."""
        steps = self.steps
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)):
            raise InvalidInputError(f"steps must be a whole number; got {steps!r}.")
        if not 2 <= steps <= MAX_WALK_STEPS:
            raise InvalidInputError(f"A walk has 2 to {MAX_WALK_STEPS} steps; got {steps}.")
        if self.kind == "axis":
            return axis_walk(self.emotion, steps)
        if self.kind == "circle":
            low, high = CIRCLE_RADIUS_RANGE
            if isinstance(self.r, (int, float)) and math.isfinite(self.r) and not low <= self.r <= high:
                raise InvalidInputError(f"The circle's radius r must be from {low} (near neutral) to {high} "
                                        f"(full intensity); got {self.r}.")
            return circle_walk(self.tilt, self.start_angle, self.r, steps)  # checks r is a number
        if self.kind == "classes":
            return class_walk(self.emotion, self.other, steps, spherical=self.spherical)
        raise InvalidInputError(f"Unknown walk '{self.kind}'; choose axis, circle or classes.")
