"""The ARKit rig on the MediaPipe canonical face: one displacement field per shape.

Every field is defined in ``rig_shapes.SHAPES`` from landmark semantics with smooth compact
falloff, for the subject's LEFT side only; each Right shape is the exact mirror of its Left
twin through the mesh's symmetric vertex pairing, and every unsided shape is symmetrised the
same way. Weights combine linearly; a few corrective limits (see ``effective_weights`` and
``_limit_overlaps``) keep combinations that fight each other (eyeBlink + eyeWide, jawOpen +
mouthClose) from tearing or interpenetrating. ``rig_tuning.json`` (shipped data, made by the
MediaPipe tuning in ``lab/``) adds small in-region corrections and one gain per shape.

The rigged model is more than the 468-vertex mask (``rig_geometry``): eyeballs with iris and
pupil (eyeLook* rotates them), a mouth interior that follows the jaw, and a skull shell and
neck sewn to the mask's border, so the face reads as a head from every view.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from emo_app.blendshapes import ARKIT_NAMES, Blendshapes, mirror_name
from emo_app.face.rig_geometry import FLIP, SKIN_RGB, build_geometry, mirror_map
from emo_app.face.rig_shapes import GAZE_TURNS, author_fields, eyeball_turn

__all__ = ["FLIP", "GAZE_TURNS", "INDEX", "SHAPE_DOCS", "SKIN_RGB", "FaceRig", "Part", "build_rig",
           "eyeball_turn", "load_tuning", "per_rig", "tuned_deltas"]

INDEX = {name: i for i, name in enumerate(ARKIT_NAMES)}
TUNING_PATH = Path(__file__).resolve().parent / "rig_tuning.json"

# One line per shape: what its displacement field does.
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



T = TypeVar("T")
RIGS_HELD = 8  # rigs a per-rig cache keeps (the heads, a photo's face, a test's rig)


def per_rig(build: Callable[[Any], T]) -> Callable[[Any], T]:
    """``build(rig)`` made once per rig object: rigs are unhashable arrays, so they are keyed by
    identity, and holding the rig keeps its id from being reused (at most ``RIGS_HELD``)."""
    made: dict[int, tuple[Any, T]] = {}

    @functools.wraps(build)
    def cached(rig: Any) -> T:
        hit = made.get(id(rig))
        if hit is None or hit[0] is not rig:
            if len(made) >= RIGS_HELD:
                made.pop(next(iter(made)))
            hit = made[id(rig)] = (rig, build(rig))
        return hit[1]

    return cached


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


@lru_cache(maxsize=2)
def build_rig(tuned: bool = True) -> FaceRig:
    """The rigged canonical head, built once per process (~0.1 s). ``tuned`` applies the shipped
    MediaPipe tuning (``rig_tuning.json``: small in-region corrections and one gain per shape);
    ``tuned=False`` is the rig exactly as ``rig_shapes`` defines it."""
    rig = _build_authored_rig()
    if tuned:
        tuning = load_tuning()
        if tuning is not None:
            rig = replace(rig, deltas=tuned_deltas(rig, tuning))
    return rig


def load_tuning(path: Path = TUNING_PATH) -> dict[str, Any] | None:
    """The shipped tuning, or None (the rig then uses its authored fields as they are)."""
    if not path.is_file():
        return None
    return json.loads(path.read_text())


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


def _follow_border(fields: dict[str, np.ndarray], head: slice, shell: tuple) -> dict[str, np.ndarray]:
    """The skull shell inherits its border's motion, fading over the first rings."""
    decay, source, _ = shell
    valid = source >= 0
    for delta in fields.values():
        inherited = np.zeros((head.stop - head.start, 3))
        inherited[: len(source)][valid] = delta[source[valid]] * decay[valid, None]
        delta[head] = inherited
    return fields


def _build_authored_rig() -> FaceRig:
    face, pieces, shell, mouth_labels = build_geometry()
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
            mirror[s] = mirror_map(verts) + s.start
    points = (points + points[mirror] * FLIP) / 2.0  # exact symmetry everywhere
    authored = _follow_border(author_fields(face, points, offsets, mouth_labels), offsets["head"], shell)
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
