"""What each ARKit shape does to the canonical head, as data: ``SHAPES`` lists, for every Left or
unsided shape, the terms its displacement field is the sum of; ``author_fields`` builds them.

A term is a *weight* (where on the face it acts: a product, left to right, of named regions and
numbers) times a *move* (a direction in cm, or a named per-vertex motion such as the jaw's
rotation), optionally scaled. ``Lids`` moves the lid margins of the left eye and spreads the
moves over the lids. The named regions come from landmark semantics (lid margins, inner lips,
mouth corners, brows, nose wings, a jaw hinge) in ``_face_regions``; each is smooth and
compact, so the fields are too. Right shapes are mirrored and unsided ones symmetrised by
``rig.build_rig``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emo_app.face import mesh as fm
from emo_app.face.fields import blend_handles, near, rotation, smoothstep, split_side
from emo_app.face.rig_geometry import FLIP

JAW_HINGE = np.array([0.0, 0.2, -2.8])
JAW_ANGLE_DEG = 18.0
# eyeLookIn/Out at weight 1: near the end of the eyes' sideways range (about 45-50 degrees).
# With 30, one eye's eyeLookOutLeft read back as the other eye's eyeLookInRight (+0.20 each);
# with 42 it reads as itself (+0.43) and each eyeLookIn rises more (lab/NOTES.md)
GAZE_SIDEWAYS_DEG = 42.0
GAZE_VERTICAL_DEG = 25.0  # eyeLookUp/Down at weight 1
# the left eyeball's turn per gaze direction (axis, degrees); the right eye's sideways turns are
# the negatives (its nose side is +x)
GAZE_TURNS = {
    "Up": ("x", -GAZE_VERTICAL_DEG),
    "Down": ("x", GAZE_VERTICAL_DEG),
    "In": ("y", -GAZE_SIDEWAYS_DEG),
    "Out": ("y", GAZE_SIDEWAYS_DEG),
}

Vector = tuple[float, float, float]
Factor = str | float | tuple[str, float]  # a region, a number, or (falloff, radius)


@dataclass(frozen=True)
class Term:
    """``weight`` (regions and numbers multiplied left to right) times ``move``, times ``scale``."""

    weight: tuple[Factor, ...]
    move: Vector | str  # a direction in cm, a named motion, or "@shape": that shape's field
    scale: float | None = None


@dataclass(frozen=True)
class LidMove:
    """Moves of one lid margin's vertices: ``gap`` times the opening (upper margin minus lower)
    plus ``add``; or, with ``arch``, ``arch`` scaled by a half sine from corner to corner."""

    gap: float = 0.0
    add: Vector | None = None
    arch: Vector | None = None


@dataclass(frozen=True)
class Lids:
    """The left eye's upper and lower lid margins moved and the moves spread over each lid."""

    upper: LidMove = LidMove()
    lower: LidMove = LidMove()


@dataclass(frozen=True)
class Shape:
    face: tuple[Term | Lids, ...] = ()
    mouth: tuple[Term, ...] = ()  # cavity, teeth and tongue
    eyes: tuple[Term, ...] = ()  # the eyeballs


def T(*weight: Factor, move: Vector | str, scale: float | None = None) -> Term:
    """A term, written as the table reads: T("upper_lip", 0.06, move=(0, -1, 0))."""
    return Term(weight, move, scale)


CORNER = "corner_side"  # the mouth corner's falloffs act on the left of the mid line only
SHAPES: dict[str, Shape] = {
    # the jaw rotates about the hinge; the chin's soft tissue drops a little further than the
    # rotation carries it (the lower face lengthens), which tells an open jaw from a lowered lip
    "jawOpen": Shape(
        face=(T("jaw", move="jaw_rotation"), T("lower_side", "below_chin", move=(0.0, -0.5, 0.0))),
        mouth=(T("jaw_carried", move="jaw_rotation"),),
    ),
    "jawForward": Shape(face=(T("jaw", move=(0, 0, 0.55)),), mouth=(T("jaw_carried", move=(0, 0, 0.55)),)),
    "jawLeft": Shape(face=(T("jaw", move=(0.6, 0, 0)),), mouth=(T("jaw_carried", move=(0.6, 0, 0)),)),
    # the lips go back up while the chin stays down: the undoing fades from the lip line to the
    # chin and past the corners, so the stretch spreads over the lower face (lips alone: a pink V)
    "mouthClose": Shape(face=(T("lower_side", "lip_to_chin", "beside_mouth", -1.0, move="@jawOpen"),)),
    # lids
    "eyeBlinkLeft": Shape(face=(Lids(LidMove(-0.86, add=(0.0, 0.0, 0.12)), LidMove(0.14)),)),
    "eyeWideLeft": Shape(face=(Lids(LidMove(arch=(0, 0.45, 0.06)), LidMove(add=(0, -0.05, 0))),)),
    "eyeSquintLeft": Shape(face=(
        Lids(LidMove(-0.12), LidMove(0.38)),
        T("under_lower_lid", "off_upper_lid", "eye_lower_side", move=(0, 0.18, 0.05)),
    )),
    # gaze: the eyeball turns, the lids follow it up and down
    "eyeLookUpLeft": Shape(face=(Lids(LidMove(0.12, add=(0, 0.05, 0)), LidMove(0.05)),),
                           eyes=(T("left_eye", move="gaze_Up"),)),
    "eyeLookDownLeft": Shape(face=(Lids(LidMove(-0.3), LidMove(-0.08)),),
                             eyes=(T("left_eye", move="gaze_Down"),)),
    "eyeLookInLeft": Shape(eyes=(T("left_eye", move="gaze_In"),)),
    "eyeLookOutLeft": Shape(eyes=(T("left_eye", move="gaze_Out"),)),
    # brows
    "browDownLeft": Shape(face=(T("brow", move="brow_down"),)),
    "browInnerUp": Shape(face=(T("inner_brows", move=(0, 0.6, 0.02)),)),
    "browOuterUpLeft": Shape(face=(T("outer_brow", "above_eye", "left", move=(0.02, 0.55, 0.0)),)),
    # cheeks and nose
    "cheekPuff": Shape(face=(T("cheeks", move="normals", scale=0.7),)),
    "cheekSquintLeft": Shape(face=(
        T("under_eye", "left", move=(0.05, 0.3, 0.12)),
        Lids(lower=LidMove(0.15)),
    )),
    "noseSneerLeft": Shape(face=(
        T("nose_wing", "left", move=(-0.05, 0.3, 0.02)),
        T("between_brows", 0.25, move=(0, -0.25, 0)),
        T("upper_lip", "around_nose_wing", "left", move=(0, 0.12, 0)),
    )),
    # mouth corners
    "mouthSmileLeft": Shape(face=(
        T(("near_corner", 2.6), CORNER, move=(0.45, 0.7, -0.3)),
        T("cheek_apple", "left", move=(0.05, 0.22, 0.12)),
        Lids(lower=LidMove(0.12)),
    )),
    "mouthFrownLeft": Shape(face=(T(("near_corner", 3.5), CORNER, move=(0.3, -0.6, -0.05)),)),
    "mouthDimpleLeft": Shape(face=(T(("near_corner", 1.5), CORNER, move=(0.2, 0.02, -0.35)),)),
    "mouthStretchLeft": Shape(face=(T(("near_corner", 2.2), CORNER, move=(0.5, -0.2, -0.12)),)),
    # lips, one side
    "mouthPressLeft": Shape(face=(
        T("upper_lip", "lips_left", move=(0, -0.1, -0.08)),
        T("lower_lip", "lips_left", move=(0, 0.14, -0.08)),
    )),
    "mouthLowerDownLeft": Shape(face=(T("lower_lip", "lips_left", "lip_drop", move=(0, -0.45, 0.06)),)),
    "mouthUpperUpLeft": Shape(face=(T("upper_lip", "lips_left", move=(0, 0.38, 0.05)),)),
    # pucker and funnel narrow the whole mouth, corners included (mouth_ring)
    "mouthPucker": Shape(face=(
        T("mouth_ring", 0.7, "toward_mid", move=(1, 0, 0)),
        T("protrude", move=(0, 0, 0.6)),
        T("upper_lip", 0.06, move=(0, -1, 0)),
        T("lower_lip", 0.06, move=(0, 1, 0)),
    )),
    # the whole mouth slides sideways; the nose tip barely follows
    "mouthLeft": Shape(face=(T("mouth_ring", "nose_tip_stays", move=(0.7, 0, 0)),)),
    # the lips part most at the middle: an O
    "mouthFunnel": Shape(face=(
        T("mouth_ring", 0.5, "toward_mid", move=(1, 0, 0)),
        T("protrude", move=(0, 0, 0.7)),
        T("upper_lip", 0.5, "rounded", move=(0, 1, 0)),
        T("lower_lip", 0.75, "rounded", move=(0, -1, 0)),
    )),
    # rolling a lip in over the teeth hides its red: the outer edge travels up toward the inner
    # edge, which barely moves, and the skin just below follows
    "mouthRollLower": Shape(face=(T("lower_lip_roll", move=(0, 1, 0)), T("lower_lip", move=(0, 0, -0.3)))),
    "mouthRollUpper": Shape(face=(T("upper_lip", "near_inner_lips", move=(0, -0.15, -0.35)),)),
    # the chin muscle pushes the whole lower lip up against the upper one (a roll would move the
    # outer edge only), most at the middle, so the lip line arches and the corners sink a little
    "mouthShrugLower": Shape(face=(
        T("lower_lip", 0.4, "arch", move=(0, 1, 0)),
        T("chin", move=(0, 0.1, 0.2)),
        T("upper_lip", "near_inner_lips", 0.08, "arch", move=(0, -1, 0)),
        T("outer_lip_corners", move=(0, -0.05, 0)),
    )),
    "mouthShrugUpper": Shape(face=(T("upper_lip", move=(0, 0.25, 0.05)),)),
    "tongueOut": Shape(
        face=(T("lower_lip", "lip_drop", move=(0, -0.4, 0.15)),),
        mouth=(T("tongue", move=(0.0, -0.55, 2.3)),),
    ),
}


def jaw_motion(points: np.ndarray, degrees: float = JAW_ANGLE_DEG) -> np.ndarray:
    """Displacement of a point carried rigidly by the jaw at jawOpen = 1: rotation about the
    hinge plus the small forward glide of the condyle."""
    rot = rotation("x", degrees)
    moved = (points - JAW_HINGE) @ rot.T + JAW_HINGE
    return moved - points + np.array([0.0, -0.15, 0.45])


def eyeball_turn(points: np.ndarray, centre: np.ndarray, direction: str, side: str) -> np.ndarray:
    """The delta that turns eyeball ``points`` about ``centre`` by the gaze shape's angle at
    weight 1 (``GAZE_TURNS``; ``side`` Left or Right). Linear blending makes it the chord of the
    turn, so half a weight turns the ball half as far and shrinks it by at most 4%."""
    axis, degrees = GAZE_TURNS[direction]
    if side == "Right" and axis == "y":
        degrees = -degrees
    rel = points - centre
    return rel @ rotation(axis, degrees).T - rel


# ----------------------------------------------------------------------------------------------
# the named regions and motions


@dataclass
class _Domain:
    """One part's named regions (per-vertex weights) and motions (per-vertex moves)."""

    regions: dict[str, np.ndarray]
    motions: dict[str, np.ndarray]
    parametric: dict[str, object]  # falloffs with a radius: name -> function(radius)


def _lip_regions(face: fm.FaceMesh, fv: np.ndarray) -> dict[str, np.ndarray]:
    x = fv[:, 0]
    upper_in, lower_in = face.lip_loops
    lower_side = split_side(fv, upper_in, lower_in, 0.12)
    lips = near(fv, np.concatenate([fv[list(fm.LIP_UPPER_OUTER)], fv[list(fm.LIP_LOWER_OUTER)]]), 0.9)
    lips = np.maximum(lips, near(fv, fv[np.concatenate([upper_in, lower_in])], 0.9))
    upper_lip, lower_lip = lips * (1 - lower_side), lips * lower_side
    # the jaw: everything below the lip line, fading toward the ears
    jaw = lower_side * smoothstep(-7.5, -4.0, fv[:, 2] - 0.4 * np.abs(x))
    jaw = np.maximum(jaw, lower_side * smoothstep(-0.5, -2.5, fv[:, 1]))
    mouth_centre = (fv[13] + fv[14]) / 2.0
    from_mouth = np.linalg.norm((fv[:, :2] - mouth_centre[:2]) * [1.0, 1.4], axis=1)
    # full weight out to the mouth corners (2.5 from the centre), fading over the cheeks
    mouth_ring = 1.0 - smoothstep(2.6, 4.6, from_mouth)
    inner_line = fv[np.concatenate([upper_in, lower_in])]
    outer_line = fv[list(fm.LIP_UPPER_OUTER) + list(fm.LIP_LOWER_OUTER)]
    to_inner = np.linalg.norm(fv[:, None] - inner_line[None], axis=2).min(axis=1)
    to_outer = np.linalg.norm(fv[:, None] - outer_line[None], axis=2).min(axis=1)
    # 0 on the inner edge, 1 on the outer edge; skin beyond the outer edge counts as outer
    outerness = np.maximum(np.where(to_inner > to_outer, 0.5, 0.0), to_inner / (to_inner + to_outer + 1e-9))
    below_lip = near(fv, fv[list(fm.LIP_LOWER_OUTER[3:8])], 1.2) * lower_side
    return {
        "lower_side": lower_side, "upper_lip": upper_lip, "lower_lip": lower_lip,
        "jaw": lower_side * np.clip(jaw, 0, 1),
        "below_chin": smoothstep(-6.0, -8.5, fv[:, 1]),
        "lip_to_chin": smoothstep(-7.5, -4.6, fv[:, 1]),
        "beside_mouth": 1.0 - smoothstep(2.3, 4.2, np.abs(x)),
        "corner_side": smoothstep(-0.3, 1.2, x),
        "lips_left": smoothstep(-0.2, 0.8, x),
        "lip_drop": smoothstep(-5.8, -4.3, fv[:, 1]),
        "mouth_ring": mouth_ring,
        "toward_mid": -np.sign(x) * np.minimum(np.abs(x) / 2.5, 1.0),
        "protrude": mouth_ring * np.maximum(lips, 0.5),
        "nose_tip_stays": 1 - 0.4 * near(fv, fv[[1]], 1.5),
        "rounded": np.clip(1.0 - (x / 2.2) ** 2, 0.0, 1.0),
        "arch": np.clip(1.0 - (x / 2.6) ** 2, 0.0, 1.0),
        "near_inner_lips": near(fv, inner_line, 0.8),
        "lower_lip_roll": lower_lip * (0.03 + 0.25 * outerness) + below_lip * 0.12,
        "chin": near(fv, fv[[fm.LIP_LOWER_INNER[5], 18, 200, 199]], 2.4) * lower_side,
        "outer_lip_corners": near(fv, fv[[fm.LIP_LOWER_OUTER[0], fm.LIP_LOWER_OUTER[-1]]], 1.2),
    }


def _upper_face_regions(face: fm.FaceMesh, fv: np.ndarray) -> dict[str, np.ndarray]:
    x = fv[:, 0]
    left = smoothstep(-0.4, 0.4, x)
    eye_u, eye_l = face.eye_loops["left"]
    eye_lower_side = split_side(fv, eye_u, eye_l, 0.05)
    above_eye = 1 - eye_lower_side
    brow = near(fv, fv[list(fm.LEFT_BROW)], 1.7) * above_eye * left
    brow[list(fm.LEFT_BROW)] = 1.0
    inner_anchor = np.concatenate([fv[list(fm.LEFT_BROW_INNER)], fv[list(fm.LEFT_BROW_INNER)] * FLIP])
    cheek_anchor = np.array(
        [[4.3, -2.6, fv[:, 2][np.argmin(np.linalg.norm(fv[:, :2] - [4.3, -2.6], axis=1))]]]
    )
    ala = fv[list(fm.NOSE_ALA_LEFT)]
    lips = near(fv, np.concatenate([fv[list(fm.LIP_UPPER_OUTER)], fv[list(fm.LIP_LOWER_OUTER)]]), 0.9)
    upper_in, lower_in = face.lip_loops
    lips = np.maximum(lips, near(fv, fv[np.concatenate([upper_in, lower_in])], 0.9))
    return {
        "left": left, "eye_lower_side": eye_lower_side, "above_eye": above_eye, "brow": brow,
        # above either eye: each side's lid split mirrored to the other
        "inner_brows": near(fv, inner_anchor, 2.2)
        * (1 - eye_lower_side * (x > 0) - eye_lower_side[face.mirror] * (x <= 0)).clip(0, 1),
        "outer_brow": near(fv, fv[list(fm.LEFT_BROW_OUTER)], 2.0),
        "under_lower_lid": near(fv, fv[eye_l[[3, 4, 5]]] + [0, -0.9, 0], 1.6),
        "off_upper_lid": 1 - near(fv, fv[eye_u], 0.5),
        "cheeks": near(fv, np.concatenate([cheek_anchor, cheek_anchor * FLIP]), 3.0) * (1 - 0.7 * lips),
        "under_eye": near(fv, (fv[eye_l[4]] + [0.4, -1.3, 0])[None], 2.0),
        "nose_wing": near(fv, ala, 1.3),
        "around_nose_wing": near(fv, ala, 2.2),
        "between_brows": near(fv, fv[[285, 8, 417]], 1.4),
        "cheek_apple": near(fv, np.array([[3.7, -1.4, 5.0]]), 2.4),
    }


def _face_domain(face: fm.FaceMesh, fv: np.ndarray) -> _Domain:
    regions = _lip_regions(face, fv)
    regions.update(_upper_face_regions(face, fv))
    inner = smoothstep(4.8, 1.5, fv[:, 0])
    motions = {
        "jaw_rotation": jaw_motion(fv),
        "brow_down": np.stack([-0.22 * inner, -0.35 - 0.2 * inner, 0.04 * inner], 1),
        "normals": fm.vertex_normals(fv.astype(np.float32), face.faces).astype(np.float64),
    }
    corner = fv[fm.MOUTH_CORNER_LEFT]
    return _Domain(regions, motions, {"near_corner": lambda radius: near(fv, np.array([corner]), radius)})


def _mouth_domain(mouth_points: np.ndarray, labels: np.ndarray) -> _Domain:
    lower_teeth = np.isin(labels, ["lower_teeth", "tongue"]).astype(float)
    cavity = (labels == "cavity") * smoothstep(-4.2, -5.4, mouth_points[:, 1])
    regions = {"jaw_carried": np.maximum(lower_teeth, cavity), "tongue": (labels == "tongue").astype(float)}
    return _Domain(regions, {"jaw_rotation": jaw_motion(mouth_points)}, {})


def _eyes_domain(eye_points: np.ndarray) -> _Domain:
    n_eye = len(eye_points) // 2
    left_eye = np.zeros(len(eye_points), bool)
    if eye_points[:n_eye, 0].mean() > 0:
        left_eye[:n_eye] = True
    else:
        left_eye[n_eye:] = True
    centre = (eye_points[left_eye].max(0) + eye_points[left_eye].min(0)) / 2.0
    motions = {f"gaze_{d}": eyeball_turn(eye_points, centre, d, "Left") for d in GAZE_TURNS}
    return _Domain({"left_eye": left_eye}, motions, {})


# ----------------------------------------------------------------------------------------------
# the builder


def _term_field(term: Term, domain: _Domain, built: dict[str, np.ndarray]) -> np.ndarray:
    weight = None
    for factor in term.weight:
        if isinstance(factor, str):
            value = domain.regions[factor]
        elif isinstance(factor, tuple):
            value = domain.parametric[factor[0]](factor[1])
        else:
            value = factor
        weight = value if weight is None else weight * value
    if isinstance(term.move, str):
        move = built[term.move[1:]] if term.move.startswith("@") else domain.motions[term.move]
    else:
        move = np.asarray(term.move, dtype=np.float64)
    field = weight[:, None] * move
    return field if term.scale is None else field * term.scale


def _lid_moves(spec: LidMove, gap: np.ndarray) -> np.ndarray:
    if spec.arch is not None:
        return np.tile(spec.arch, (len(gap), 1)) * np.sin(np.linspace(0, np.pi, len(gap)))[:, None]
    moves = spec.gap * gap
    return moves if spec.add is None else moves + np.asarray(spec.add, dtype=np.float64)


def _lids_field(lids: Lids, face: fm.FaceMesh, fv: np.ndarray, eye_lower_side: np.ndarray) -> np.ndarray:
    """The left eye's lid margins moved as ``lids`` says, spread over each lid (radius 1.2 cm
    above the opening's mid line, 0.96 below)."""
    eye_u, eye_l = face.eye_loops["left"]
    gap = fv[eye_u] - fv[eye_l]
    upper, lower = _lid_moves(lids.upper, gap)[1:-1], _lid_moves(lids.lower, gap)[1:-1]
    up_field = blend_handles(fv, eye_u[1:-1], upper, 1.2) * (1 - eye_lower_side)[:, None]
    low_field = blend_handles(fv, eye_l[1:-1], lower, 1.2 * 0.8) * eye_lower_side[:, None]
    out = up_field + low_field
    out[np.concatenate([eye_u[1:-1], eye_l[1:-1]])] = np.concatenate([upper, lower])
    return out


def _sum(fields: list[np.ndarray], count: int) -> np.ndarray:
    total = None
    for field in fields:
        total = field if total is None else total + field
    return np.zeros((count, 3)) if total is None else total


def author_fields(
    face: fm.FaceMesh, points: np.ndarray, offsets: dict[str, slice], mouth_labels: np.ndarray
) -> dict[str, np.ndarray]:
    """Delta fields of every shape in ``SHAPES`` over all rig vertices (the skull shell is
    left still: ``rig`` makes it follow the mask's border)."""
    fv = points[: len(face.vertices)]
    domains = {
        "face": _face_domain(face, fv),
        "mouth": _mouth_domain(points[offsets["mouth"]], mouth_labels),
        "eyes": _eyes_domain(points[offsets["eyes"]]),
    }
    eye_lower_side = domains["face"].regions["eye_lower_side"]
    built: dict[str, dict[str, np.ndarray]] = {part: {} for part in domains}
    fields = {}
    for name, shape in SHAPES.items():
        delta = np.zeros_like(points)
        for part, terms in (("face", shape.face), ("mouth", shape.mouth), ("eyes", shape.eyes)):
            where = slice(0, len(fv)) if part == "face" else offsets[part]
            part_fields = [
                _lids_field(term, face, fv, eye_lower_side) if isinstance(term, Lids)
                else _term_field(term, domains[part], built[part])
                for term in terms
            ]
            built[part][name] = _sum(part_fields, where.stop - where.start)
            if terms:
                delta[where] = built[part][name]
        fields[name] = delta
    return fields
