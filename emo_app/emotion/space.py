"""The C2A2 emotion space: 7 basic and 13 compound classes on a sphere in (valence, arousal, Z).

Coordinates are cartesian ``(x, y, z) = (valence, arousal, Z)``; the origin is Neutral and
every other class lies on the unit sphere. The table was written from the coordinates the
authors published (AffectNet-C2A2 ``emotions.csv``, whose header mislabels valence as arousal).

Spherical convention (used by the sliders and the API):
  * ``theta`` - azimuth in the valence/arousal plane, radians, from +valence towards +arousal,
    in (-pi, pi]: Happy ~ 0.10, Surprised ~ 1.32, Angry ~ 2.25.
  * ``phi`` - elevation above that plane, radians, in [-pi/2, pi/2]: Fearful +pi/3, Sad -pi/3.
  * ``r`` - radius, 0 = neutral, 1 = full intensity on the sphere.
  x = r cos(phi) cos(theta), y = r cos(phi) sin(theta), z = r sin(phi).

Circle walk convention (the supplementary's "Circle theta, phi, r" figures): the figure
labels reuse the letters theta and phi, but there they are NOT the azimuth and elevation above,
so the walk names its angles ``tilt`` and ``start_angle``. The walk runs on the circle of
radius ``r`` about the origin in the plane spanned by the valence axis and the arousal axis
tilted by ``tilt`` towards +Z, i.e. e1 = (1, 0, 0), e2 = (0, cos tilt, sin tilt);
``start_angle`` is where the walk starts on that circle (any real; it goes towards e2).
tilt = 0 walks the classic valence/arousal wheel; tilt = pi/3 passes near Fearful. The figure
"Circle theta=0.4901 phi=0.9801 r=0.6" is ``circle_walk(tilt=0.4901, start_angle=0.9801, r=0.6)``.

The 2D AV model (the paper's baseline, used by its 2D study) has no Z: each class sits at its
valence/arousal direction on the unit circle (Fear and Sad at the direction they are lifted
from, every compound at its own azimuth) and Neutral at the origin (``AV_CLASSES``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from emo_app.errors import InvalidInputError

BASIC_CLASSES: tuple[str, ...] = (
    "Happy", "Surprised", "Fearful", "Angry", "Disgusted", "Sad", "Neutral",
)  # fmt: skip

# name -> (valence, arousal, z); written from the published figures.
C2A2_CLASSES: dict[str, tuple[float, float, float]] = {
    "Happy": (0.9946, 0.1037, 0.0),
    "Surprised": (0.2462, 0.9692, 0.0),
    "Fearful": (-0.0872, 0.4923, 0.8660),
    "Angry": (-0.6249, 0.7807, 0.0),
    "Disgusted": (-0.8298, 0.5581, 0.0),
    "Sad": (-0.4563, -0.2044, -0.8660),
    "Neutral": (0.0, 0.0, 0.0),
    "Happily surprised": (0.7564, 0.6541, 0.0),
    "Angrily surprised": (-0.2115, 0.9774, 0.0),
    "Angrily disgusted": (-0.7358, 0.6772, 0.0),
    "Sadly fearful": (-0.8836, 0.4682, 0.0),
    "Sadly angry": (-0.6555, 0.1585, -0.7384),
    "Sadly surprised": (-0.3437, 0.2891, -0.8935),
    "Sadly disgusted": (-0.7079, 0.0606, -0.7037),
    "Fearfully angry": (-0.3075, 0.6792, 0.6664),
    "Fearfully surprised": (0.0275, 0.7480, 0.6631),
    "Fearfully disgusted": (-0.3973, 0.6104, 0.6853),
    "Happily disgusted": (-0.2416, -0.9704, 0.0),
    "Happily sad": (0.0889, -0.3310, -0.9394),
    "Happily fearful": (0.5080, 0.6740, 0.5363),
}

CLASS_NAMES: tuple[str, ...] = tuple(C2A2_CLASSES)
COMPOUND_CLASSES: tuple[str, ...] = tuple(n for n in CLASS_NAMES if n not in BASIC_CLASSES)
CLASS_MATRIX = np.array([C2A2_CLASSES[n] for n in CLASS_NAMES], dtype=np.float64)


def _av_direction(xyz: tuple[float, float, float]) -> tuple[float, float, float]:
    length = math.hypot(xyz[0], xyz[1])
    return (0.0, 0.0, 0.0) if length == 0.0 else (xyz[0] / length, xyz[1] / length, 0.0)


# The 2D AV model's layout (module doc): each class's valence/arousal direction on the unit
# circle, Neutral at the origin. Used to assign 2D items, whose Z the 2D model cannot show.
AV_CLASSES: dict[str, tuple[float, float, float]] = {
    name: _av_direction(xyz) for name, xyz in C2A2_CLASSES.items()
}
MODEL_LAYOUTS: dict[str, dict[str, tuple[float, float, float]]] = {"3d": C2A2_CLASSES, "2d": AV_CLASSES}

# Which basic emotions each class is made of (compound "Happily sad" = Happy + Sad).
CLASS_COMPONENTS: dict[str, tuple[str, ...]] = {
    name: (name,) if name in BASIC_CLASSES else tuple(
        {"Happily": "Happy", "Sadly": "Sad", "Angrily": "Angry", "Fearfully": "Fearful"}[
            name.split()[0]
        ] if i == 0 else name.split()[1].capitalize()
        for i in range(2)
    )
    for name in CLASS_NAMES
}

MAX_ABS_COORDINATE = 10.0
MAX_WALK_STEPS = 60  # longest walk any surface (UI, API, CLI, generator) accepts


def signed_coordinate(value: float) -> str:
    """A coordinate to two places with its sign: "+0.94", "-0.38", and "+0.00", never "-0.00"
    (a tiny negative number rounded to zero read as a real negative value)."""
    return f"{round(float(value), 2) + 0.0:+.2f}"


def canonical_class(name: str) -> str:
    """Accept 'happily-surprised', 'Happily Surprised', 'HAPPY' -> the table's spelling."""
    key = str(name).strip().replace("-", " ").replace("_", " ").lower()
    key = " ".join(key.split())
    for cls in CLASS_NAMES:
        if cls.lower() == key:
            return cls
    raise InvalidInputError(f"Unknown C2A2 class '{name}'. Known: {', '.join(CLASS_NAMES)}.")


def _finite(value: object, what: str) -> float:
    if isinstance(value, bool):
        raise InvalidInputError(f"{what} must be a number, not a boolean.")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{what} must be a number; got {value!r}.") from exc
    if not math.isfinite(number):
        raise InvalidInputError(f"{what} must be a finite number; got {number}.")
    return number


@dataclass(frozen=True)
class EmotionPoint:
    """A point in C2A2 space; validated finite and within |coordinate| <= 10."""

    valence: float
    arousal: float
    z: float

    def __post_init__(self) -> None:
        for axis in ("valence", "arousal", "z"):
            value = _finite(getattr(self, axis), axis)
            if abs(value) > MAX_ABS_COORDINATE:
                raise InvalidInputError(
                    f"{axis} = {value} is far outside the emotion sphere (|value| <= 1 is the "
                    "sphere; up to 10 is accepted)."
                )
            object.__setattr__(self, axis, value)

    @classmethod
    def from_array(cls, xyz: Sequence[float] | np.ndarray) -> EmotionPoint:
        values = list(np.asarray(xyz, dtype=object).ravel()) if not isinstance(xyz, str) else []
        if len(values) != 3:
            raise InvalidInputError("An emotion point needs exactly 3 numbers: valence, arousal, z.")
        return cls(*values)

    @classmethod
    def from_spherical(cls, theta: float, phi: float, r: float) -> EmotionPoint:
        """From azimuth ``theta``, elevation ``phi`` (radians) and radius ``r`` (module doc)."""
        theta = _finite(theta, "theta")
        phi = _finite(phi, "phi")
        r = _finite(r, "r")
        if r < 0:
            raise InvalidInputError(f"r must be >= 0 (0 is neutral, 1 the sphere); got {r}.")
        cos_phi = math.cos(phi)
        return cls(r * cos_phi * math.cos(theta), r * cos_phi * math.sin(theta), r * math.sin(phi))

    @classmethod
    def of_class(cls, name: str, intensity: float = 1.0) -> EmotionPoint:
        """The class's point scaled by ``intensity`` (0 = neutral, 1 = the class)."""
        return cls(*(np.array(C2A2_CLASSES[canonical_class(name)]) * _finite(intensity, "intensity")))

    def as_array(self) -> np.ndarray:
        return np.array([self.valence, self.arousal, self.z], dtype=np.float64)

    def to_spherical(self) -> tuple[float, float, float]:
        """(theta, phi, r) with theta in (-pi, pi], phi in [-pi/2, pi/2]; the origin -> (0, 0, 0)."""
        x, y, z = self.valence, self.arousal, self.z
        r = math.sqrt(x * x + y * y + z * z)
        if r == 0.0:
            return 0.0, 0.0, 0.0
        # atan2 for the elevation too: asin(z / r) loses the tiny horizontal part near the poles
        return math.atan2(y, x), math.atan2(z, math.hypot(x, y)), r

    @property
    def radius(self) -> float:
        return float(np.linalg.norm(self.as_array()))

    def coordinates_text(self) -> str:
        """"valence +0.94, arousal +0.13, Z +0.00": how the pages write a point."""
        return (f"valence {signed_coordinate(self.valence)}, arousal {signed_coordinate(self.arousal)}, "
                f"Z {signed_coordinate(self.z)}")

    def flattened(self) -> EmotionPoint:
        """The 2D valence/arousal version (z = 0), as in the paper's 2D study."""
        return EmotionPoint(self.valence, self.arousal, 0.0)


def nearest_classes(
    point: EmotionPoint, n: int = 3, classes: Sequence[str] | None = None, model: str = "3d"
) -> list[tuple[str, float]]:
    """The ``n`` nearest classes by euclidean distance, nearest first, with their distances.

    ``model="2d"`` measures in the 2D AV model's own layout (``AV_CLASSES``): the point's Z is
    ignored and each class sits at its valence/arousal direction on the unit circle."""
    if model not in MODEL_LAYOUTS:
        raise InvalidInputError(f"model must be one of {', '.join(MODEL_LAYOUTS)}; got '{model}'.")
    layout = MODEL_LAYOUTS[model]
    names = list(classes) if classes is not None else list(CLASS_NAMES)
    matrix = np.array([layout[canonical_class(c)] for c in names])
    xyz = point.as_array()
    if model == "2d":
        xyz[2] = 0.0
    distances = np.linalg.norm(matrix - xyz, axis=1)
    order = np.argsort(distances, kind="stable")[: max(1, n)]
    return [(names[i], float(distances[i])) for i in order]


def nearest_class(point: EmotionPoint, model: str = "3d") -> str:
    """The nearest class in the 3D C2A2 table, or in the 2D AV layout with ``model="2d"``."""
    return nearest_classes(point, 1, model=model)[0][0]


def _check_steps(steps: int, limit: int = 1000) -> int:
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)):
        raise InvalidInputError(f"steps must be a whole number; got {steps!r}.")
    if not 2 <= steps <= limit:
        raise InvalidInputError(f"steps must be between 2 and {limit}; got {steps}.")
    return int(steps)


def axis_walk(name: str, steps: int = 9) -> list[EmotionPoint]:
    """Neutral -> class at intensity 0..1 in ``steps`` points (the supplementary's axis figures)."""
    steps = _check_steps(steps)
    if canonical_class(name) == "Neutral":  # its axis never leaves the centre
        raise InvalidInputError("An axis walk goes from neutral out to a class; Neutral is the "
                                "centre itself, so every face would be the same. Pick another class.")
    return [EmotionPoint.of_class(name, t) for t in np.linspace(0.0, 1.0, steps)]


def circle_walk(tilt: float, start_angle: float, r: float, steps: int = 16) -> list[EmotionPoint]:
    """``steps`` points around the circle of radius ``r`` tilted by ``tilt`` towards +Z, starting
    at ``start_angle`` on it (module doc; the paper's figures label these theta and phi)."""
    steps = _check_steps(steps)
    tilt, start_angle, r = (
        _finite(v, k) for v, k in ((tilt, "tilt"), (start_angle, "start_angle"), (r, "r"))
    )
    if r <= 0:  # radius 0 is the neutral point: every step the same
        raise InvalidInputError(f"r must be above 0 (0 is neutral, the same at every step); got {r}.")
    e1 = np.array([1.0, 0.0, 0.0])
    e2 = np.array([0.0, math.cos(tilt), math.sin(tilt)])
    angles = start_angle + np.linspace(0.0, 2 * math.pi, steps, endpoint=False)
    return [EmotionPoint(*(r * (math.cos(a) * e1 + math.sin(a) * e2))) for a in angles]


def slerp(a: EmotionPoint, b: EmotionPoint, t: float) -> EmotionPoint:
    """Spherical interpolation: direction along the great circle, radius linearly."""
    va, vb = a.as_array(), b.as_array()
    ra, rb = np.linalg.norm(va), np.linalg.norm(vb)
    radius = (1 - t) * ra + t * rb
    if ra == 0 or rb == 0:
        return lerp(a, b, t)
    ua, ub = va / ra, vb / rb
    omega = math.acos(float(np.clip(ua @ ub, -1.0, 1.0)))
    if omega < 1e-6:
        direction = ua
    elif abs(omega - math.pi) < 1e-6:  # antipodal: go over +Z, any great circle is valid
        ortho = np.cross(ua, [0.0, 0.0, 1.0])
        if np.linalg.norm(ortho) < 1e-6:
            ortho = np.cross(ua, [0.0, 1.0, 0.0])
        ortho /= np.linalg.norm(ortho)
        direction = math.cos(t * math.pi) * ua + math.sin(t * math.pi) * np.cross(ortho, ua)
    else:
        direction = (math.sin((1 - t) * omega) * ua + math.sin(t * omega) * ub) / math.sin(omega)
    return EmotionPoint(*(radius * direction / np.linalg.norm(direction)))


def lerp(a: EmotionPoint, b: EmotionPoint, t: float) -> EmotionPoint:
    """Straight-line interpolation (cuts through the sphere, towards neutral)."""
    return EmotionPoint(*((1 - t) * a.as_array() + t * b.as_array()))


def class_walk(a: str, b: str, steps: int = 9, spherical: bool = True) -> list[EmotionPoint]:
    """From class ``a`` to class ``b``: slerp on the sphere, or a straight line."""
    steps = _check_steps(steps)
    if canonical_class(a) == canonical_class(b):  # else ``steps`` identical points
        raise InvalidInputError(f"A walk between two classes needs two different classes; both are "
                                f"'{canonical_class(a)}'.")
    pa, pb = EmotionPoint.of_class(a), EmotionPoint.of_class(b)
    blend = slerp if spherical else lerp
    return [blend(pa, pb, float(t)) for t in np.linspace(0.0, 1.0, steps)]
