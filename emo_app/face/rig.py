"""The ARKit rig on the MediaPipe canonical face: one displacement field per shape.

Every field is authored from landmark semantics (lid margins, inner lips, mouth corners, brows,
nose wings, a jaw hinge) with smooth compact falloff, for the subject's LEFT side only; each
Right shape is the exact mirror of its Left twin through the mesh's symmetric vertex pairing,
and every unsided shape is symmetrised the same way. Weights combine linearly; a few
corrective limits (see ``effective_weights`` and ``_limit_overlaps``) keep combinations that
fight each other (eyeBlink + eyeWide, jawOpen + mouthClose) from tearing or interpenetrating.

The rigged model is more than the 468-vertex mask: eyeballs with iris and pupil (eyeLook*
rotates them), a mouth interior (dark cavity, teeth, tongue) that follows the jaw, and a skull
shell and neck sewn to the mask's border, so the face reads as a head from every view.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

from emo_app.blendshapes import ARKIT_NAMES, Blendshapes, mirror_name
from emo_app.face import mesh as fm

INDEX = {name: i for i, name in enumerate(ARKIT_NAMES)}
FLIP = np.array([-1.0, 1.0, 1.0], dtype=np.float64)

# One line per shape: what its displacement field does (the issue asks for this documentation).
SHAPE_DOCS: dict[str, str] = {
    "browDownLeft": "left brow lowers and draws toward the nose, most at its inner end",
    "browInnerUp": "inner ends of both brows rise",
    "browOuterUpLeft": "outer half of the left brow rises",
    "cheekPuff": "both cheeks bulge outwards along their normals",
    "cheekSquintLeft": "left cheek under the eye rises and pushes the lower lid up",
    "eyeBlinkLeft": "left upper lid closes onto the lower lid line, the lower lid meets it",
    "eyeLookDownLeft": "left eyeball turns 25 degrees down and the upper lid follows",
    "eyeLookInLeft": "left eyeball turns 42 degrees toward the nose",
    "eyeLookOutLeft": "left eyeball turns 42 degrees toward the ear",
    "eyeLookUpLeft": "left eyeball turns 25 degrees up and the upper lid lifts",
    "eyeSquintLeft": "left lower lid rises a third of the opening, the upper lid drops a little",
    "eyeWideLeft": "left upper lid lifts to bare the white above the iris",
    "jawForward": "lower jaw, lower teeth and tongue slide forward",
    "jawLeft": "lower jaw slides toward the subject's left",
    "jawOpen": "lower jaw rotates 18 degrees about the hinge in front of the ears",
    "mouthClose": "with the jaw open, the lower lip returns up to meet the upper lip; the chin stays down",
    "mouthDimpleLeft": "left mouth corner pulls straight back into the cheek",
    "mouthFrownLeft": "left mouth corner and the lips beside it pull down and out",
    "mouthFunnel": "lips push forward, the corners come in and the lips part into a round O",
    "mouthLeft": "whole mouth shifts toward the subject's left",
    "mouthLowerDownLeft": "left half of the lower lip pulls down",
    "mouthPressLeft": "left halves of the lips press together and thin",
    "mouthPucker": "lips push forward and the corners gather toward the middle into a bud",
    "mouthRollLower": "lower lip rolls in over the teeth: its outer edge rises and its red thins",
    "mouthRollUpper": "upper lip rolls in over the teeth",
    "mouthShrugLower": "the chin pushes the lower lip up against the upper lip; the lip line arches",
    "mouthShrugUpper": "upper lip pushes up",
    "mouthSmileLeft": "left mouth corner pulls up, out and back; the cheek rises",
    "mouthStretchLeft": "left mouth corner pulls out toward the ear and slightly down",
    "mouthUpperUpLeft": "left half of the upper lip rises",
    "noseSneerLeft": "left nose wing and the skin beside it rise",
    "tongueOut": "tongue slides out past the lips, which part to let it through",
}
for _name in list(SHAPE_DOCS):
    if _name.endswith("Left"):
        SHAPE_DOCS[mirror_name(_name)] = SHAPE_DOCS[_name].replace("left", "right")

SKIN_RGB = (0.80, 0.58, 0.47)
JAW_HINGE = np.array([0.0, 0.2, -2.8])
JAW_ANGLE_DEG = 18.0
EYE_RADIUS = 1.25
# eyeLookIn/Out at weight 1: near the end of the eyes' sideways range (about 45-50 degrees).
# With 30, one eye's eyeLookOutLeft read back as the other eye's eyeLookInRight (+0.20 each);
# with 42 it reads as itself (+0.43) and each eyeLookIn rises more (DEVELOPERS.md)
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


@dataclass(frozen=True)
class Part:
    """A slice of the rig's vertices drawn with one material."""

    name: str  # face | head | eyes | mouth
    start: int
    stop: int
    faces: np.ndarray  # (F, 3) int32, local to the part
    colors: np.ndarray  # (n, 4) float32 RGBA vertex colours (skin for the face when untextured)
    uvs: np.ndarray | None = None  # face only: canonical UVs

    @property
    def size(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class FaceRig:
    """Neutral vertices plus one delta field per ARKit shape; parts say how to draw them."""

    neutral: np.ndarray  # (V, 3) float32
    deltas: np.ndarray  # (52, V, 3) float32
    parts: tuple[Part, ...]
    mirror: np.ndarray  # (V,) mirror twin of every vertex
    eye_margins: tuple[tuple[np.ndarray, np.ndarray], ...] = ()  # (upper, lower) pairs, global idx
    lip_margins: tuple[np.ndarray, np.ndarray] | None = None
    seams: tuple[np.ndarray, np.ndarray] = field(default=(np.zeros(0, int), np.zeros(0, int)))
    names: tuple[str, ...] = ARKIT_NAMES
    head: str = "mediapipe"  # which head: "mediapipe" (this module) or "ict" (hd_head)
    weld: np.ndarray | None = None  # (V,) vertex -> the vertex it shares a position with (UV seams)

    def part(self, name: str) -> Part:
        return next(p for p in self.parts if p.name == name)

    @property
    def vertex_count(self) -> int:
        return int(self.neutral.shape[0])

    def effective_weights(self, weights: np.ndarray) -> np.ndarray:
        """Corrective limits on the weights themselves, and only these two: a blink overrides a
        wide eye (eyeWide is scaled by 1 - eyeBlink, per side), and mouthClose cannot close more
        than the jaw opened (mouthClose <= jawOpen). Every other weight, opposite pairs such as
        mouthLeft + mouthRight included, passes through unchanged and adds linearly."""
        w = np.asarray(weights, dtype=np.float32).copy()
        for side in ("Left", "Right"):
            w[INDEX["eyeWide" + side]] *= 1.0 - w[INDEX["eyeBlink" + side]]
        w[INDEX["mouthClose"]] = min(w[INDEX["mouthClose"]], w[INDEX["jawOpen"]])
        return w

    def linear_offsets(self, weights: np.ndarray) -> np.ndarray:
        """Pure linear combination of the delta fields: sum_k w_k * delta_k, shape (V, 3)."""
        w = np.asarray(weights, dtype=np.float32)
        sparse = _sparse_deltas(self.deltas)
        if sparse is not None:
            return (sparse @ w).reshape(-1, 3)
        return (w @ self.deltas.reshape(len(self.names), -1)).reshape(-1, 3)

    def deform(self, shapes: Blendshapes | np.ndarray) -> np.ndarray:
        """Posed vertices (V, 3): neutral + linear offsets of the corrected weights, then the
        lid and lip overlap limits."""
        values = shapes.values if isinstance(shapes, Blendshapes) else np.asarray(shapes, np.float32)
        vertices = self.neutral + self.linear_offsets(self.effective_weights(values))
        return self._limit_overlaps(vertices)

    def _limit_overlaps(self, vertices: np.ndarray) -> np.ndarray:
        pairs = list(self.eye_margins) + ([self.lip_margins] if self.lip_margins is not None else [])
        for upper, lower in pairs:
            upper_y = vertices[upper, 1]
            floor = vertices[lower, 1]
            vertices[upper, 1] = np.maximum(upper_y, floor)
        return vertices

    def mirror_vertices(self, vertices: np.ndarray) -> np.ndarray:
        """The pose seen in a mirror: vertex i takes its twin's position with x negated."""
        return vertices[self.mirror] * FLIP.astype(vertices.dtype)



SPARSE_DELTAS_MIN_VERTICES = 10_000
_SPARSE_DELTAS: dict[int, tuple[np.ndarray, object]] = {}


def _sparse_deltas(deltas: np.ndarray):
    """The delta fields of a large head as a sparse (3V, K) matrix, built once per array: most
    shapes move one region, so on the 25k-vertex full head (36% of entries non-zero) a pose
    costs a third of the dense product. None for small heads, which tuning rebuilds per trial
    and for which the dense product is already cheap."""
    if deltas.shape[1] < SPARSE_DELTAS_MIN_VERTICES:
        return None
    cached = _SPARSE_DELTAS.get(id(deltas))
    if cached is not None and cached[0] is deltas:
        return cached[1]
    from scipy.sparse import csr_matrix

    matrix = csr_matrix(np.ascontiguousarray(deltas.reshape(len(deltas), -1).T, np.float32))
    if len(_SPARSE_DELTAS) >= 4:  # a few heads per process; holding the array keeps its id unique
        _SPARSE_DELTAS.pop(next(iter(_SPARSE_DELTAS)))
    _SPARSE_DELTAS[id(deltas)] = (deltas, matrix)
    return matrix

# ----------------------------------------------------------------------------------------------
# authoring helpers


def _smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _falloff(distance: np.ndarray, radius: float) -> np.ndarray:
    """Smooth compact bump: 1 at the anchor, 0 with zero slope at ``radius``."""
    t = np.clip(distance / radius, 0.0, 1.0)
    return (1.0 - t * t) ** 3


def _near(points: np.ndarray, anchors: np.ndarray, radius: float) -> np.ndarray:
    d = np.linalg.norm(points[:, None, :] - np.atleast_2d(anchors)[None, :, :], axis=2)
    return _falloff(d, radius).max(axis=1)


def _blend_handles(points: np.ndarray, handles: np.ndarray, moves: np.ndarray, radius: float) -> np.ndarray:
    """Spread prescribed handle moves smoothly: falloff-weighted average of the handle moves,
    scaled by the nearest handle's falloff, so the field is smooth and fades out by ``radius``."""
    d = np.linalg.norm(points[:, None, :] - points[handles][None, :, :], axis=2)
    weights = _falloff(d, radius)
    total = weights.sum(axis=1, keepdims=True)
    average = (weights @ moves) / np.maximum(total, 1e-9)
    field_ = average * weights.max(axis=1, keepdims=True)
    field_[handles] = moves
    return field_


def _rotation(axis: str, degrees: float) -> np.ndarray:
    a = np.radians(degrees)
    c, s = np.cos(a), np.sin(a)
    if axis == "x":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def eyeball_turn(points: np.ndarray, centre: np.ndarray, direction: str, side: str) -> np.ndarray:
    """The delta that turns eyeball ``points`` about ``centre`` by the gaze shape's angle at
    weight 1 (``GAZE_TURNS``; ``side`` Left or Right). Linear blending makes it the chord of the
    turn, so half a weight turns the ball half as far and shrinks it by at most 4%."""
    axis, degrees = GAZE_TURNS[direction]
    if side == "Right" and axis == "y":
        degrees = -degrees
    rel = points - centre
    return rel @ _rotation(axis, degrees).T - rel


def _split_side(points: np.ndarray, upper: np.ndarray, lower: np.ndarray, width: float) -> np.ndarray:
    """0 above the opening's mid line, 1 below it, with a transition that widens past the corners."""
    mid_x = points[upper, 0]
    mid_y = (points[upper, 1] + points[lower, 1]) / 2.0
    order = np.argsort(mid_x)
    y_split = np.interp(points[:, 0], mid_x[order], mid_y[order])
    beyond = np.maximum(0.0, np.abs(points[:, 0] - mid_x.mean()) - np.ptp(mid_x) / 2.0)
    w = width + 0.5 * beyond
    return _smoothstep(w, -w, points[:, 1] - y_split)


# ----------------------------------------------------------------------------------------------
# geometry of the extra parts


def _eye_sphere(centre: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A sphere whose front pole looks down +z, with rings placed on the pupil and iris edges so
    the vertex colours draw crisp circles."""
    polar = np.radians([4, 9, 11.5, 13, 20, 26, 28.5, 30, 32, 45, 60, 80, 100, 125, 150, 170])
    segments = 32
    az = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    rings = [
        np.stack([np.sin(p) * np.cos(az), np.sin(p) * np.sin(az), np.full(segments, np.cos(p))], 1)
        for p in polar
    ]
    verts = np.concatenate([[[0, 0, 1.0]], *rings, [[0, 0, -1.0]]])
    faces = []
    for j in range(segments):
        k = (j + 1) % segments
        faces.append([0, 1 + j, 1 + k])
    for r in range(len(polar) - 1):
        a0, b0 = 1 + r * segments, 1 + (r + 1) * segments
        for j in range(segments):
            k = (j + 1) % segments
            faces += [[a0 + j, b0 + j, b0 + k], [a0 + j, b0 + k, a0 + k]]
    last = 1 + (len(polar) - 1) * segments
    back = len(verts) - 1
    for j in range(segments):
        k = (j + 1) % segments
        faces.append([last + j, back, last + k])
    angle = np.degrees(np.arccos(np.clip(verts[:, 2], -1, 1)))
    colors = np.empty((len(verts), 4))
    colors[:] = (0.93, 0.91, 0.88, 1.0)  # sclera
    iris = angle <= 29.5
    colors[iris] = (0.33, 0.45, 0.47, 1.0)
    colors[(angle > 26.5) & iris] = (0.17, 0.22, 0.24, 1.0)  # limbal ring
    colors[angle <= 12.0] = (0.03, 0.03, 0.03, 1.0)  # pupil
    colors[angle > 60] = (0.80, 0.70, 0.68, 1.0)
    return centre + verts * EYE_RADIUS, _outward(verts, np.asarray(faces, np.int32), np.zeros(3)), colors


def _ellipsoid(centre, radii, stacks=10, slices=20) -> tuple[np.ndarray, np.ndarray]:
    theta = np.linspace(0, np.pi, stacks + 1)[1:-1]
    phi = np.linspace(0, 2 * np.pi, slices, endpoint=False)
    verts = [[0, 1, 0]]
    for t in theta:
        verts += [[np.sin(t) * np.cos(p), np.cos(t), np.sin(t) * np.sin(p)] for p in phi]
    verts.append([0, -1, 0])
    verts = np.asarray(verts) * radii + centre
    faces = []
    for j in range(slices):
        faces.append([0, 1 + (j + 1) % slices, 1 + j])
    for r in range(len(theta) - 1):
        a, b = 1 + r * slices, 1 + (r + 1) * slices
        for j in range(slices):
            k = (j + 1) % slices
            faces += [[a + j, a + k, b + j], [a + k, b + k, b + j]]
    last, bottom = 1 + (len(theta) - 1) * slices, len(verts) - 1
    for j in range(slices):
        faces.append([last + j, last + (j + 1) % slices, bottom])
    return verts, _outward(verts, np.asarray(faces, np.int32), centre)


def _outward(verts: np.ndarray, faces: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Wind a closed convex part so its normals point away from ``centre`` (back faces are culled)."""
    tri = verts[faces]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    if np.sum(normals * (tri.mean(1) - centre)) < 0:
        return faces[:, [0, 2, 1]]
    return faces


def _teeth_arch(front_z: float, top: float, bottom: float, half_width: float, depth: float):
    """A row of teeth as a curved slab along a parabolic arch, darker at each tooth boundary."""
    ts = []
    n_teeth = 10
    for i in range(n_teeth + 1):
        edge = -1 + 2 * i / n_teeth
        ts += [edge - 0.012, edge + 0.012] if 0 < i < n_teeth else [edge]
        if i < n_teeth:
            ts.append(edge + 1.0 / n_teeth)
    ts = np.asarray(sorted(ts))
    x = half_width * ts
    z = front_z - depth * ts**2
    thickness = 0.3
    rows = []
    for y, inset in (
        (top, 0.0),
        (bottom, 0.0),
        (bottom + 0.05 * np.sign(top - bottom), thickness),
        (top, thickness),
    ):
        rows.append(np.stack([x * (1 - inset / 3), np.full_like(x, y), z - inset], 1))
    verts = np.concatenate(rows)
    n = len(ts)
    faces = []
    for r in range(3):
        for j in range(n - 1):
            a, b = r * n + j, (r + 1) * n + j
            faces += [[a, b, a + 1], [a + 1, b, b + 1]]
    faces = np.asarray(faces, np.int32)
    # front faces must point to +z: fix winding by the first triangle's normal
    tri = verts[faces[0]]
    if np.cross(tri[1] - tri[0], tri[2] - tri[0])[2] < 0:
        faces = faces[:, [0, 2, 1]]
    colors = np.tile([0.95, 0.93, 0.86, 1.0], (len(verts), 1))
    boundary = np.isin(np.round(np.abs(ts * n_teeth) % 1, 3), [0.012, 0.988])
    inner_edges = np.tile(boundary, 4)
    colors[inner_edges] = (0.62, 0.58, 0.52, 1.0)
    return verts, faces, colors


def _shell(face_vertices: np.ndarray, loop: np.ndarray, rings: int = 9):
    """The back of the head: rings swept from the mask's border over an ellipsoid skull to the
    back pole, so the mask is not a floating shell. Ring 0 duplicates the border vertices."""
    centre = np.array([0.0, 1.2, -3.2])
    radii = np.array([7.9, 10.2, 9.4])
    border = face_vertices[loop].astype(np.float64)
    u = (border - centre) / radii
    length = np.linalg.norm(u, axis=1, keepdims=True)
    start = u / length
    back = np.array([0.0, 0.0, -1.0])
    pts = [border]
    decay = [1.0]
    for r in range(1, rings + 1):
        t = r / (rings + 1)
        dots = np.clip(start @ back, -1, 1)[:, None]
        omega = np.arccos(dots)
        sin_o = np.maximum(np.sin(omega), 1e-6)
        direction = (np.sin((1 - t) * omega) * start + np.sin(t * omega) * back) / sin_o
        rho = length + (1 - length) * _smoothstep(0.0, 0.35, np.array(t))
        pts.append(centre + radii * direction * rho)
        decay.append(float(_smoothstep(0.45, 0.0, np.array(t))))
    pts.append((centre + radii * back)[None])
    decay.append(0.0)
    verts = np.concatenate(pts)
    n = len(loop)
    faces = []
    for r in range(rings):
        for j in range(n):
            k = (j + 1) % n
            a, b = r * n, (r + 1) * n
            faces += [[a + j, b + j, a + k], [a + k, b + j, b + k]]
    pole = len(verts) - 1
    for j in range(n):
        faces.append([rings * n + j, pole, rings * n + (j + 1) % n])
    faces = np.asarray(faces, np.int32)
    normals = fm.vertex_normals(verts.astype(np.float32), faces)
    if np.mean(np.sum(normals * (verts - centre), axis=1)) < 0:
        faces = faces[:, [0, 2, 1]]
    ring_decay = np.repeat(np.asarray(decay[:-1]), n)
    ring_decay = np.append(ring_decay, 0.0)
    source = np.append(np.tile(loop, rings + 1), -1)
    return verts, faces, ring_decay, source


def _neck() -> tuple[np.ndarray, np.ndarray]:
    slices, heights = 24, np.linspace(-3.0, -20.0, 6)
    phi = np.linspace(0, 2 * np.pi, slices, endpoint=False)
    verts = np.concatenate(
        [np.stack([5.3 * np.cos(phi), np.full(slices, h), -3.6 + 5.0 * np.sin(phi)], 1) for h in heights]
    )
    faces = []
    for r in range(len(heights) - 1):
        a, b = r * slices, (r + 1) * slices
        for j in range(slices):
            k = (j + 1) % slices
            faces += [[a + j, a + k, b + j], [a + k, b + k, b + j]]
    faces = np.asarray(faces, np.int32)
    return verts, _outward(verts, faces, np.array([0.0, -10.0, -3.6]))


def _mirror_map(vertices: np.ndarray, tolerance: float = 1e-3) -> np.ndarray:
    from scipy.spatial import cKDTree

    distance, index = cKDTree(vertices).query(vertices * FLIP)
    if distance.max() > tolerance:
        raise RuntimeError(f"rig geometry is not symmetric (worst pair {distance.max():.4f} cm)")
    return index


# ----------------------------------------------------------------------------------------------
# the rig


def _jaw_motion(points: np.ndarray, degrees: float = JAW_ANGLE_DEG) -> np.ndarray:
    """Displacement of a point carried rigidly by the jaw at jawOpen = 1: rotation about the
    hinge plus the small forward glide of the condyle."""
    rot = _rotation("x", degrees)
    moved = (points - JAW_HINGE) @ rot.T + JAW_HINGE
    return moved - points + np.array([0.0, -0.15, 0.45])


def _build_geometry():
    face = fm.load_canonical_mesh()
    fv = face.vertices.astype(np.float64)
    pieces: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = []
    skin = np.array([*SKIN_RGB, 1.0])
    face_colors = np.tile(skin, (len(fv), 1))
    lip_ring = np.concatenate(
        [
            fv[list(fm.LIP_UPPER_OUTER)],
            fv[list(fm.LIP_LOWER_OUTER)],
            fv[list(fm.LIP_UPPER_INNER)],
            fv[list(fm.LIP_LOWER_INNER)],
        ]
    )
    lip_tint = _near(fv, lip_ring, 0.45)[:, None]
    brow_pts = np.concatenate([fv[list(fm.LEFT_BROW)], fv[list(fm.LEFT_BROW)] * FLIP])
    brow_tint = 0.8 * _near(fv, brow_pts, 0.6)[:, None]
    face_colors = face_colors * (1 - lip_tint) + np.array([0.70, 0.36, 0.36, 1.0]) * lip_tint
    face_colors = face_colors * (1 - brow_tint) + np.array([0.36, 0.25, 0.19, 1.0]) * brow_tint
    pieces.append(("face", fv, face.faces, face_colors))

    shell_v, shell_f, shell_decay, shell_source = _shell(fv, face.outer_loop)
    neck_v, neck_f = _neck()
    head_v = np.concatenate([shell_v, neck_v])
    head_f = np.concatenate([shell_f, neck_f + len(shell_v)])
    pieces.append(("head", head_v, head_f, np.tile(skin, (len(head_v), 1))))

    eye_parts = []
    for side in ("left", "right"):
        upper, lower = face.eye_loops[side]
        ring = np.concatenate([upper, lower])
        centre = np.array([fv[ring, 0].mean(), fv[ring, 1].mean(), 0.0])
        centre[2] = (fv[upper[4], 2] + fv[lower[4], 2]) / 2.0 - EYE_RADIUS - 0.04
        eye_parts.append(_eye_sphere(centre))
    eyes_v = np.concatenate([eye_parts[0][0], eye_parts[1][0]])
    eyes_f = np.concatenate([eye_parts[0][1], eye_parts[1][1] + len(eye_parts[0][0])])
    eyes_c = np.concatenate([eye_parts[0][2], eye_parts[1][2]])
    pieces.append(("eyes", eyes_v, eyes_f, eyes_c))

    mouth_pieces = []
    cavity_v, cavity_f = _ellipsoid(np.array([0.0, -4.7, 1.7]), np.array([2.3, 1.6, 2.4]))
    # cheek pockets behind the mouth corners, which lie wider than the teeth; without them a
    # stretched, frowning or open mouth shows the skull shell through its corners
    for side in (1.0, -1.0):
        pocket_v, pocket_f = _ellipsoid(np.array([2.7 * side, -4.7, 1.8]), np.array([1.0, 1.5, 1.3]))
        cavity_f = np.concatenate([cavity_f, pocket_f + len(cavity_v)])
        cavity_v = np.concatenate([cavity_v, pocket_v])
    mouth_pieces.append(("cavity", cavity_v, cavity_f, np.tile([0.16, 0.04, 0.05, 1.0], (len(cavity_v), 1))))
    up_v, up_f, up_c = _teeth_arch(4.75, -3.55, -4.3, 2.1, 1.7)
    mouth_pieces.append(("upper_teeth", up_v, up_f, up_c))
    lo_v, lo_f, lo_c = _teeth_arch(4.55, -5.15, -4.5, 1.95, 1.7)
    mouth_pieces.append(("lower_teeth", lo_v, lo_f, lo_c))
    tongue_v, tongue_f = _ellipsoid(np.array([0.0, -4.95, 2.4]), np.array([1.45, 0.42, 1.9]), 8, 16)
    mouth_pieces.append(("tongue", tongue_v, tongue_f, np.tile([0.78, 0.36, 0.38, 1.0], (len(tongue_v), 1))))
    offset, verts, faces, colors, labels = 0, [], [], [], []
    for label, v, f, c in mouth_pieces:
        verts.append(v)
        faces.append(f + offset)
        colors.append(c)
        labels += [label] * len(v)
        offset += len(v)
    pieces.append(("mouth", np.concatenate(verts), np.concatenate(faces), np.concatenate(colors)))
    return face, pieces, (shell_decay, shell_source, len(shell_v)), np.asarray(labels)


def _author_left_and_centre(
    face: fm.FaceMesh, points: np.ndarray, face_n: int, offsets: dict, mouth_labels: np.ndarray, shell: tuple
) -> dict[str, np.ndarray]:
    """Delta fields for every unsided shape and every Left shape, over all rig vertices."""
    fv = points[:face_n]
    normals = fm.vertex_normals(fv.astype(np.float32), face.faces).astype(np.float64)
    x = fv[:, 0]
    left = _smoothstep(-0.4, 0.4, x)
    upper_in, lower_in = face.lip_loops
    lower_side = _split_side(fv, upper_in, lower_in, 0.12)
    corner = fv[fm.MOUTH_CORNER_LEFT]
    mouth_centre = (fv[13] + fv[14]) / 2.0
    lips = _near(fv, np.concatenate([fv[list(fm.LIP_UPPER_OUTER)], fv[list(fm.LIP_LOWER_OUTER)]]), 0.9)
    lips = np.maximum(lips, _near(fv, fv[np.concatenate([upper_in, lower_in])], 0.9))
    upper_lip = lips * (1 - lower_side)
    lower_lip = lips * lower_side
    eye_u, eye_l = face.eye_loops["left"]
    gap = fv[eye_u] - fv[eye_l]
    eye_lower_side = _split_side(fv, eye_u, eye_l, 0.05)
    brow = fv[list(fm.LEFT_BROW)]

    # the jaw: everything below the lip line, fading toward the ears
    jaw_weight = lower_side * _smoothstep(-7.5, -4.0, fv[:, 2] - 0.4 * np.abs(x))
    jaw_weight = np.maximum(jaw_weight, lower_side * _smoothstep(-0.5, -2.5, fv[:, 1]))
    jaw_weight = lower_side * np.clip(jaw_weight, 0, 1)

    mouth_slice = offsets["mouth"]
    mouth_pts = points[mouth_slice]
    lower_teeth = np.isin(mouth_labels, ["lower_teeth", "tongue"]).astype(float)
    cavity = (mouth_labels == "cavity") * _smoothstep(-4.2, -5.4, mouth_pts[:, 1])
    jaw_carried = np.maximum(lower_teeth, cavity)
    tongue = (mouth_labels == "tongue").astype(float)

    def full() -> np.ndarray:
        return np.zeros_like(points)

    fields: dict[str, np.ndarray] = {}

    def put(
        name: str,
        face_delta: np.ndarray,
        mouth_delta: np.ndarray | None = None,
        eyes_delta: np.ndarray | None = None,
    ) -> None:
        delta = full()
        delta[:face_n] = face_delta
        if mouth_delta is not None:
            delta[mouth_slice] = mouth_delta
        if eyes_delta is not None:
            delta[offsets["eyes"]] = eyes_delta
        fields[name] = delta

    # jaw -----------------------------------------------------------------------------------------
    # the chin's soft tissue drops a little further than the rotation carries it (the lower face
    # lengthens), which is what tells an open jaw from a lowered lip
    chin_drop = (lower_side * _smoothstep(-6.0, -8.5, fv[:, 1]))[:, None] * [0.0, -0.5, 0.0]
    put(
        "jawOpen",
        jaw_weight[:, None] * _jaw_motion(fv) + chin_drop,
        jaw_carried[:, None] * _jaw_motion(mouth_pts),
    )
    put("jawForward", jaw_weight[:, None] * [0, 0, 0.55], jaw_carried[:, None] * [0, 0, 0.55])
    put(
        "jawLeft",
        jaw_weight[:, None] * [0.6, 0, 0],
        jaw_carried[:, None] * [0.6, 0, 0],
    )
    # mouthClose takes the lips back up to meet the upper lip while the chin stays down: the
    # undoing fades smoothly from the lip line to the chin and past the mouth corners, so the
    # stretch spreads over the whole lower face (a mask on the lips alone left a pink V)
    beside_mouth = 1.0 - _smoothstep(2.3, 4.2, np.abs(x))
    lip_to_chin = lower_side * _smoothstep(-7.5, -4.6, fv[:, 1]) * beside_mouth
    put("mouthClose", -lip_to_chin[:, None] * fields["jawOpen"][:face_n])

    # eyes: lids ---------------------------------------------------------------------------------
    def lid_field(upper_moves: np.ndarray, lower_moves: np.ndarray, radius: float = 1.2) -> np.ndarray:
        handles = np.concatenate([eye_u[1:-1], eye_l[1:-1]])
        moves = np.concatenate([upper_moves[1:-1], lower_moves[1:-1]])
        up_field = _blend_handles(fv, eye_u[1:-1], upper_moves[1:-1], radius) * (1 - eye_lower_side)[:, None]
        low_field = _blend_handles(fv, eye_l[1:-1], lower_moves[1:-1], radius * 0.8) * eye_lower_side[:, None]
        out = up_field + low_field
        out[handles] = moves
        return out

    bulge = np.array([0.0, 0.0, 0.12])
    put("eyeBlinkLeft", lid_field(-0.86 * gap + bulge, 0.14 * gap))
    put(
        "eyeWideLeft",
        lid_field(
            np.tile([0.0, 0.45, 0.06], (9, 1)) * np.sin(np.linspace(0, np.pi, 9))[:, None],
            np.tile([0.0, -0.05, 0.0], (9, 1)),
        ),
    )
    squint = lid_field(-0.12 * gap, 0.38 * gap) + (
        _near(fv, fv[eye_l[[3, 4, 5]]] + [0, -0.9, 0], 1.6) * (1 - _near(fv, fv[eye_u], 0.5)) * eye_lower_side
    )[:, None] * [0, 0.18, 0.05]
    put("eyeSquintLeft", squint)

    # eyes: gaze -------------------------------------------------------------------------------
    eyes_pts = points[offsets["eyes"]]
    n_eye = len(eyes_pts) // 2
    left_eye_first = eyes_pts[:n_eye, 0].mean() > 0
    eye_sel = np.zeros(len(eyes_pts), bool)
    if left_eye_first:
        eye_sel[:n_eye] = True
    else:
        eye_sel[n_eye:] = True
    eye_centre = (eyes_pts[eye_sel].max(0) + eyes_pts[eye_sel].min(0)) / 2.0

    def gaze(direction: str) -> np.ndarray:
        return eyeball_turn(eyes_pts, eye_centre, direction, "Left") * eye_sel[:, None]

    lid_follow_down = lid_field(-0.3 * gap, -0.08 * gap)
    lid_follow_up = lid_field(0.12 * gap + [0, 0.05, 0], 0.05 * gap)
    put("eyeLookUpLeft", lid_follow_up, eyes_delta=gaze("Up"))
    put("eyeLookDownLeft", lid_follow_down, eyes_delta=gaze("Down"))
    put("eyeLookInLeft", np.zeros_like(fv), eyes_delta=gaze("In"))
    put("eyeLookOutLeft", np.zeros_like(fv), eyes_delta=gaze("Out"))

    # brows --------------------------------------------------------------------------------------
    above_eye = 1 - eye_lower_side
    inner = _smoothstep(4.8, 1.5, x)
    brow_zone = _near(fv, brow, 1.7) * above_eye * left
    brow_zone[list(fm.LEFT_BROW)] = 1.0
    put("browDownLeft", brow_zone[:, None] * np.stack([-0.22 * inner, -0.35 - 0.2 * inner, 0.04 * inner], 1))
    inner_anchor = np.concatenate([fv[list(fm.LEFT_BROW_INNER)], fv[list(fm.LEFT_BROW_INNER)] * FLIP])
    inner_zone = _near(fv, inner_anchor, 2.2) * (
        1 - eye_lower_side * (x > 0) - _mirror_field(eye_lower_side, face.mirror) * (x <= 0)
    ).clip(0, 1)
    put("browInnerUp", inner_zone[:, None] * [0, 0.6, 0.02])
    outer_zone = _near(fv, fv[list(fm.LEFT_BROW_OUTER)], 2.0) * above_eye * left
    put("browOuterUpLeft", outer_zone[:, None] * [0.02, 0.55, 0.0])

    # cheeks and nose -------------------------------------------------------------------------
    cheek_anchor = np.array(
        [[4.3, -2.6, fv[:, 2][np.argmin(np.linalg.norm(fv[:, :2] - [4.3, -2.6], axis=1))]]]
    )
    cheek = _near(fv, np.concatenate([cheek_anchor, cheek_anchor * FLIP]), 3.0) * (1 - 0.7 * lips)
    put("cheekPuff", cheek[:, None] * normals * 0.7)
    under_eye = fv[eye_l[4]] + [0.4, -1.3, 0]
    cheek_sq = _near(fv, under_eye[None], 2.0) * left
    put("cheekSquintLeft", cheek_sq[:, None] * [0.05, 0.3, 0.12] + lid_field(0 * gap, 0.15 * gap))
    ala = fv[list(fm.NOSE_ALA_LEFT)]
    sneer = _near(fv, ala, 1.3) * left
    sneer_brow = _near(fv, fv[[285, 8, 417]], 1.4) * 0.25
    put(
        "noseSneerLeft",
        sneer[:, None] * [-0.05, 0.3, 0.02]
        + sneer_brow[:, None] * [0, -0.25, 0]
        + (upper_lip * _near(fv, ala, 2.2) * left)[:, None] * [0, 0.12, 0],
    )

    # mouth corners ------------------------------------------------------------------------------
    def corner_field(move, radius: float) -> np.ndarray:
        zone = _near(fv, np.array([corner]), radius) * _smoothstep(-0.3, 1.2, x)
        return zone[:, None] * np.asarray(move, float)

    cheek_raise = _near(fv, np.array([[3.7, -1.4, 5.0]]), 2.4) * left
    put(
        "mouthSmileLeft",
        corner_field([0.45, 0.7, -0.3], 2.6)
        + cheek_raise[:, None] * [0.05, 0.22, 0.12]
        + lid_field(0 * gap, 0.12 * gap),
    )
    put("mouthFrownLeft", corner_field([0.3, -0.6, -0.05], 3.5))
    put("mouthDimpleLeft", corner_field([0.2, 0.02, -0.35], 1.5))
    put("mouthStretchLeft", corner_field([0.5, -0.2, -0.12], 2.2))

    lips_left = _smoothstep(-0.2, 0.8, x)
    put(
        "mouthPressLeft",
        (upper_lip * lips_left)[:, None] * [0, -0.1, -0.08]
        + (lower_lip * lips_left)[:, None] * [0, 0.14, -0.08],
    )
    put(
        "mouthLowerDownLeft",
        (lower_lip * lips_left * _smoothstep(-5.8, -4.3, fv[:, 1]))[:, None] * [0, -0.45, 0.06],
    )
    put("mouthUpperUpLeft", (upper_lip * lips_left)[:, None] * [0, 0.38, 0.05])

    # pucker and funnel narrow the whole mouth: full weight out to the corners (2.5 from the
    # centre), fading over the cheeks, so the corners themselves travel toward the middle
    toward_mid = -np.sign(x) * np.minimum(np.abs(x) / 2.5, 1.0)
    from_mouth = np.linalg.norm((fv[:, :2] - mouth_centre[:2]) * [1.0, 1.4], axis=1)
    mouth_ring = 1.0 - _smoothstep(2.6, 4.6, from_mouth)
    protrude = mouth_ring * np.maximum(lips, 0.5)
    put(
        "mouthPucker",
        (mouth_ring * 0.7 * toward_mid)[:, None] * [1, 0, 0]
        + protrude[:, None] * [0, 0, 0.6]
        + (upper_lip * 0.06)[:, None] * [0, -1, 0]
        + (lower_lip * 0.06)[:, None] * [0, 1, 0],
    )
    # the whole mouth, corners included, slides sideways; the nose tip barely follows
    put("mouthLeft", (mouth_ring * (1 - 0.4 * _near(fv, fv[[1]], 1.5)))[:, None] * [0.7, 0, 0])
    rounded = np.clip(1.0 - (x / 2.2) ** 2, 0.0, 1.0)  # the lips part most at the middle: an O
    put(
        "mouthFunnel",
        (mouth_ring * 0.5 * toward_mid)[:, None] * [1, 0, 0]
        + protrude[:, None] * [0, 0, 0.7]
        + (upper_lip * 0.5 * rounded)[:, None] * [0, 1, 0]
        + (lower_lip * 0.75 * rounded)[:, None] * [0, -1, 0],
    )
    inner_line = fv[np.concatenate([upper_in, lower_in])]
    near_inner = _near(fv, inner_line, 0.8)
    # rolling a lip in over the teeth hides its red: the outer edge travels up toward the inner
    # edge, which barely moves, and the skin just below follows
    outer_line = fv[list(fm.LIP_UPPER_OUTER) + list(fm.LIP_LOWER_OUTER)]
    to_inner = np.linalg.norm(fv[:, None] - inner_line[None], axis=2).min(axis=1)
    to_outer = np.linalg.norm(fv[:, None] - outer_line[None], axis=2).min(axis=1)
    # 0 on the inner edge, 1 on the outer edge; skin beyond the outer edge counts as outer
    outerness = np.maximum(np.where(to_inner > to_outer, 0.5, 0.0), to_inner / (to_inner + to_outer + 1e-9))
    below_lip = _near(fv, fv[list(fm.LIP_LOWER_OUTER[3:8])], 1.2) * lower_side
    put(
        "mouthRollLower",
        (lower_lip * (0.03 + 0.25 * outerness) + below_lip * 0.12)[:, None] * [0, 1, 0]
        + lower_lip[:, None] * [0, 0, -0.3],
    )
    put("mouthRollUpper", (upper_lip * near_inner)[:, None] * [0, -0.15, -0.35])
    # the chin muscle pushes the whole lower lip up against the upper one (the gap closes; a roll
    # would move the outer edge only), most at the middle, so the lip line arches and the
    # corners sink a little; the chin bulges forward
    arch = np.clip(1.0 - (x / 2.6) ** 2, 0.0, 1.0)
    chin = _near(fv, fv[[fm.LIP_LOWER_INNER[5], 18, 200, 199]], 2.4) * lower_side
    put(
        "mouthShrugLower",
        (lower_lip * 0.4 * arch)[:, None] * [0, 1, 0]
        + chin[:, None] * [0, 0.1, 0.2]
        + (upper_lip * near_inner * 0.08 * arch)[:, None] * [0, -1, 0]
        + _near(fv, fv[[fm.LIP_LOWER_OUTER[0], fm.LIP_LOWER_OUTER[-1]]], 1.2)[:, None] * [0, -0.05, 0],
    )
    put("mouthShrugUpper", upper_lip[:, None] * [0, 0.25, 0.05])

    tongue_face = (lower_lip * _smoothstep(-5.8, -4.3, fv[:, 1]))[:, None] * [0, -0.4, 0.15]
    tongue_move = tongue[:, None] * [0.0, -0.55, 2.3]
    put("tongueOut", tongue_face, tongue_move)

    # the skull shell inherits its border's motion, fading over the first rings
    decay, source, _ = shell
    head_slice = offsets["head"]
    for _name, delta in fields.items():
        inherited = np.zeros((head_slice.stop - head_slice.start, 3))
        valid = source >= 0
        inherited[: len(source)][valid] = delta[source[valid]] * decay[valid, None]
        delta[head_slice] = inherited
    return fields


def _mirror_field(values: np.ndarray, mirror: np.ndarray) -> np.ndarray:
    return values[mirror]


@lru_cache(maxsize=2)
def build_rig(tuned: bool = True) -> FaceRig:
    """The rigged canonical head, built once per process (~0.1 s). ``tuned`` applies the shipped
    MediaPipe tuning (``tuning.py``: small in-region corrections and one gain per shape);
    ``tuned=False`` is the rig exactly as authored here."""
    rig = _build_authored_rig()
    if tuned:
        from emo_app.face.tuning import load_tuning

        tuning = load_tuning()
        if tuning is not None:
            rig = replace(rig, deltas=tuned_deltas(rig, tuning))
    return rig


def tuned_deltas(rig: FaceRig, tuning: dict) -> np.ndarray:
    """The rig's delta fields with a tuning applied: each Left or unsided shape gets its face
    correction and gain (eyeball rotations keep their authored angle), the Right twin is
    re-derived as the exact mirror, unsided shapes are re-symmetrised, and the skull seam
    follows the face border so nothing cracks."""
    deltas = rig.deltas.astype(np.float64)
    flip = FLIP
    seam_head, seam_face = rig.seams
    names = set(tuning.get("corrections", {})) | set(tuning.get("gains", {}))
    for name in names:
        k = INDEX[name]
        field = deltas[k].copy()
        for vertex, move in tuning.get("corrections", {}).get(name, {}).items():
            field[int(vertex)] += move
        # the gain scales every part but the eyeballs: their deltas are rotations (eyeLook*),
        # and a scaled rotation delta would squash the ball instead of turning it further
        eyes = rig.part("eyes")
        turned = field[eyes.start : eyes.stop].copy()
        field *= float(tuning.get("gains", {}).get(name, 1.0))
        field[eyes.start : eyes.stop] = turned
        twin = mirror_name(name)
        if twin == name:
            field = (field + field[rig.mirror] * flip) / 2.0
        field[seam_head] = field[seam_face]
        deltas[k] = field
        if twin != name:
            deltas[INDEX[twin]] = field[rig.mirror] * flip
    return deltas.astype(np.float32)


def _build_authored_rig() -> FaceRig:
    face, pieces, shell, mouth_labels = _build_geometry()
    offsets, start = {}, 0
    for name, verts, _, _ in pieces:
        offsets[name] = slice(start, start + len(verts))
        start += len(verts)
    points = np.concatenate([p[1] for p in pieces]).astype(np.float64)
    mirror = np.empty(len(points), dtype=np.int64)
    for name, verts, _, _ in pieces:
        s = offsets[name]
        if name == "face":
            mirror[s] = face.mirror
        else:
            mirror[s] = _mirror_map(verts) + s.start
    points = (points + points[mirror] * FLIP) / 2.0  # exact symmetry everywhere
    face_n = len(face.vertices)
    authored = _author_left_and_centre(face, points, face_n, offsets, mouth_labels, shell)
    deltas = np.zeros((len(ARKIT_NAMES), len(points), 3), dtype=np.float64)
    for name in ARKIT_NAMES:
        twin = mirror_name(name)
        if name in authored and twin == name:
            d = authored[name]
            deltas[INDEX[name]] = (d + d[mirror] * FLIP) / 2.0
        elif name in authored:
            deltas[INDEX[name]] = authored[name]
        elif twin in authored:
            deltas[INDEX[name]] = authored[twin][mirror] * FLIP
        else:
            raise RuntimeError(f"no displacement field authored for {name}")
    parts = tuple(
        Part(
            name,
            offsets[name].start,
            offsets[name].stop,
            faces.astype(np.int32),
            colors.astype(np.float32),
            face.uvs if name == "face" else None,
        )
        for name, _, faces, colors in pieces
    )
    eye_margins = tuple((face.eye_loops[s][0][1:-1], face.eye_loops[s][1][1:-1]) for s in ("left", "right"))
    decay, source, _ = shell
    head_start = offsets["head"].start
    ring0 = np.flatnonzero(decay[: len(source)] >= 1.0)
    seams = (ring0 + head_start, source[ring0])
    neutral = points.astype(np.float32)
    return FaceRig(
        neutral=neutral,
        deltas=deltas.astype(np.float32),
        parts=parts,
        mirror=mirror,
        eye_margins=eye_margins,
        lip_margins=(face.lip_loops[0][1:-1], face.lip_loops[1][1:-1]),
        seams=seams,
    )
