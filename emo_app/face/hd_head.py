"""The full head, the default face: ICT-FaceKit's ARKit head (MIT, USC ICT; shipped in
assets/) behind the same rig interface as the MediaPipe mask head, so the renderer and the
exports take either. It adds what the scans leave to an engine: eyeballs that turn with the
gaze shapes, a painted iris, pupil and catchlight, and a mouth that darkens with depth.

The npz layout (``vertices``, ``faces``/``face_uvs`` quads with -1 padding, ``uvs``,
``face_material`` into ``materials``, ``expression_names`` with _L/_R, float16
``expression_deltas``) is what ``emo_app.models.ict_facekit`` packs from the repository's OBJ
files (``python -m emo_app weights fetch ict-facekit``).
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from emo_app.blendshapes import ARKIT_NAMES
from emo_app.config import Settings
from emo_app.errors import InvalidInputError, ModelLoadError
from emo_app.face.rig import FLIP, GAZE_TURNS, SKIN_RGB, FaceRig, Part, eyeball_turn

# material -> (part, RGBA); materials not listed (transparent overlays) are not drawn.
MATERIAL_PARTS = {
    "M_Face": ("face", (*SKIN_RGB, 1.0)),
    "M_BackHead": ("head", (*SKIN_RGB, 1.0)),
    "M_GumsTongue": ("mouth", (0.62, 0.26, 0.28, 1.0)),
    "M_Teeth": ("mouth", (0.95, 0.93, 0.86, 1.0)),
    "M_ScleraLeft": ("eyes", (0.93, 0.91, 0.88, 1.0)),
    "M_ScleraRight": ("eyes", (0.93, 0.91, 0.88, 1.0)),
}
# M_IrisLeft/Right sit behind the cornea, which is drawn opaque with the iris painted on it.
SKIN_PARTS = ("face", "head")  # drawn with the skin atlas: tile 0 the face, tile 1 the scalp
# M_EyeLashes is left out too: its cards need an alpha texture, and drawn opaque the lower lashes
# read as a dark crescent under each eye.


ICT_LANDMARKS = Path(__file__).resolve().parents[2] / "assets" / "ict_landmarks.npz"


@lru_cache(maxsize=2)
def _load_cached(path: str) -> FaceRig:
    return load_hd_head(path)


def load_default_head(settings: Settings | None = None) -> FaceRig:
    """The default full head (ICT-FaceKit, shipped in assets/), loaded once per process."""
    from emo_app.models import resolve

    return _load_cached(str(resolve("ict-facekit", settings, allow_download=False)))


@lru_cache(maxsize=1)
def landmark_surface() -> tuple[np.ndarray, np.ndarray]:
    """MediaPipe's 478 landmarks on the default head's face part: (478, 3) triangle corners
    (face-part vertex indices) and barycentric weights (written by ``lab/ict_landmarks.py``)."""
    with np.load(ICT_LANDMARKS, allow_pickle=False) as data:
        return data["corners"].astype(np.int64), data["weights"].astype(np.float64)


def landmark_points(rig: FaceRig, vertices: np.ndarray | None = None) -> np.ndarray:
    """(478, 3) positions of MediaPipe's landmarks on the head, posed by ``vertices`` (default:
    neutral): where a feature of the face is, without detecting anything."""
    corners, weights = landmark_surface()
    face = rig.part("face")
    points = (rig.neutral if vertices is None else vertices)[face.start : face.stop]
    return (points[corners] * weights[..., None]).sum(axis=1)


HEAD_GAINS = Path(__file__).resolve().parent / "data" / "head_gains.json"


def shape_gains() -> np.ndarray:
    """(52,) gains on the ICT head's ARKit deltas, ARKIT_NAMES order, from ``data/head_gains.json``
    (why each: the file's note; unlisted shapes 1). Read where the head loads, nowhere else."""
    table = json.loads(HEAD_GAINS.read_text())["ict"]
    unknown = set(table) - set(ARKIT_NAMES)
    if unknown:
        raise ModelLoadError(f"{HEAD_GAINS.name} names shapes ARKit does not have: {sorted(unknown)}.")
    return np.array([float(table.get(name, 1.0)) for name in ARKIT_NAMES], np.float32)


def arkit_name(ict_name: str) -> str:
    """browDown_L -> browDownLeft; browInnerUp_L and _R both map to browInnerUp (summed)."""
    base, _, side = ict_name.partition("_")
    if base in ("browInnerUp", "cheekPuff"):
        return base
    return base + {"L": "Left", "R": "Right", "": ""}[side]


def load_hd_head(path: str | os.PathLike[str], target_width: float = 15.5) -> FaceRig:
    """The ICT head as a ``FaceRig``: split L/R shapes merged where ARKit has one name, a
    tongueOut sculpted here (ICT has none), scaled and centred onto the canonical face's frame so
    the same cameras frame it. Face and scalp vertices are split where their UVs are (one UV each, in a
    two-tile skin atlas: face left, scalp right; ``weld`` keeps their normals smooth)."""
    mesh = _read_npz(path)
    deltas = _arkit_deltas(mesh["expression_names"], mesh["expression_deltas"], len(mesh["vertices"]))
    vertices, scale = _fit_frame(mesh, target_width)
    deltas *= scale
    deltas *= shape_gains()[:, None, None]  # THE place the per-shape gains apply (head_gains.json)

    parts, sources, start = [], [], 0
    for part_name in ("face", "head", "mouth", "eyes"):
        built = _build_part(mesh, vertices, part_name, start)
        if built is None:
            continue
        parts.append(built[0])
        sources.append(built[1])
        start = built[0].stop
    source = np.concatenate(sources)
    neutral = vertices[source].astype(np.float32)
    deltas = np.ascontiguousarray(deltas[:, source])
    mouth = next((part for part in parts if part.name == "mouth"), None)
    if mouth is not None:
        dorsum, edge = (mask[source[mouth.start : mouth.stop]] for mask in _tongue_dorsum(mesh, vertices))
        _add_tongue_out(neutral, deltas, mouth, dorsum, edge)
    neutral, deltas, parts[-1] = _refine_eye_fronts(neutral, deltas, parts[-1])
    _paint_irises(neutral[parts[-1].start :], parts[-1].colors)
    _add_eyeball_turns(neutral, deltas, parts[-1])
    source = np.concatenate([source, np.full(len(neutral) - len(source), -1)])
    from scipy.spatial import cKDTree

    mirror = cKDTree(neutral).query(neutral * FLIP)[1]
    return FaceRig(neutral=neutral, deltas=deltas, parts=tuple(parts), mirror=mirror, head="ict",
                   weld=_weld_map(parts, source))


def _read_npz(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The packed head's arrays (see the module docstring), with clear errors for a bad file."""
    try:
        with np.load(Path(path), allow_pickle=False) as data:
            return {
                "vertices": data["vertices"].astype(np.float64),
                "faces": data["faces"].astype(np.int64),
                "face_uvs": data["face_uvs"].astype(np.int64),
                "uvs": data["uvs"].astype(np.float64),
                "materials": [str(m) for m in data["materials"]],
                "face_material": data["face_material"].astype(np.int64),
                "expression_names": [str(n) for n in data["expression_names"]],
                "expression_deltas": data["expression_deltas"].astype(np.float32),
            }
    except FileNotFoundError as exc:
        raise InvalidInputError(f"No HD head file at '{path}'.") from exc
    except (KeyError, ValueError, OSError) as exc:
        raise ModelLoadError(f"'{path}' is not an ICT-FaceKit npz ({exc}).") from exc


def _arkit_deltas(names: list[str], raw: np.ndarray, count: int) -> np.ndarray:
    """ICT's 53 expressions as the 52 ARKit fields (split halves summed where ARKit has one name)."""
    deltas = np.zeros((len(ARKIT_NAMES), count, 3), np.float32)
    index = {n: i for i, n in enumerate(ARKIT_NAMES)}
    for k, name in enumerate(names):
        target = arkit_name(name)
        if target in index:
            deltas[index[target]] += raw[k]
    return deltas


def _face_materials(mesh: dict[str, Any]) -> np.ndarray:
    """(faces,) the material name of each face of the mesh."""
    return np.asarray(mesh["materials"])[mesh["face_material"]]


def _fit_frame(mesh: dict[str, Any], target_width: float) -> tuple[np.ndarray, np.float64]:
    """Vertices scaled so the face is ``target_width`` wide and moved onto the mask head's frame."""
    vertices, faces = mesh["vertices"], mesh["faces"]
    face_mask = _face_materials(mesh) == "M_Face"
    face_vertices = np.unique(faces[face_mask][faces[face_mask] >= 0])
    lo, hi = vertices[face_vertices].min(0), vertices[face_vertices].max(0)
    scale = target_width / (hi[0] - lo[0])
    centre = np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, hi[2]])
    return (vertices - centre) * scale + np.array([0.0, -0.6, 7.6]), scale


def _build_part(mesh: dict[str, Any], vertices: np.ndarray, part_name: str, start: int):
    """(Part, source mesh vertex of each part vertex) for one part, or None when no material
    draws it. Skin parts get one vertex per (mesh vertex, uv) corner, the others one per vertex."""
    materials, face_material, uv_table = mesh["materials"], mesh["face_material"], mesh["uvs"]
    chosen = [i for i, m in enumerate(materials) if MATERIAL_PARTS.get(m, ("", ()))[0] == part_name]
    mask = np.isin(face_material, chosen)
    if not mask.any():
        return None
    quads, quad_uvs = mesh["faces"][mask], mesh["face_uvs"][mask]
    textured = part_name in SKIN_PARTS
    corner_keys = quads * len(uv_table) + quad_uvs if textured else quads.copy()
    corner_keys[quads < 0] = -1
    keys, inverse = np.unique(corner_keys[corner_keys >= 0], return_inverse=True)
    local = np.full(quads.shape, -1, np.int64)
    local[corner_keys >= 0] = inverse
    source = keys // len(uv_table) if textured else keys
    tris = np.concatenate([local[:, [0, 1, 2]], local[local[:, 3] >= 0][:, [0, 2, 3]]])
    colors = np.zeros((len(source), 4), np.float32)
    corner_material = np.repeat(face_material[mask], 4).reshape(quads.shape)
    for mat_index in chosen:
        at = (corner_material == mat_index) & (local >= 0)
        colors[local[at]] = MATERIAL_PARTS[materials[mat_index]][1]
    if part_name == "mouth":
        _shade_mouth(vertices[source], colors)
    uvs = None
    if textured:
        raw = uv_table[keys % len(uv_table)]
        uvs = np.column_stack([raw[:, 0] / len(SKIN_PARTS), 1.0 - raw[:, 1]]).astype(np.float32)
    return Part(part_name, start, start + len(source), tris.astype(np.int32), colors, uvs), source


def _weld_map(parts: list[Part], source: np.ndarray) -> np.ndarray:
    """Each vertex -> the first skin vertex made from the same mesh vertex (itself elsewhere)."""
    weld = np.arange(len(source))
    first: dict[int, int] = {}
    for part in parts:
        if part.name in SKIN_PARTS:
            for i in range(part.start, part.stop):
                weld[i] = first.setdefault(int(source[i]), i)
    return weld


def _eyeball_centre(ball: np.ndarray) -> np.ndarray:
    """The centre of an eyeball's sphere, from its points: one radius behind its front (+z) pole."""
    centre = (ball.max(0) + ball.min(0)) / 2.0
    centre[2] = ball[:, 2].max() - (ball.max(0) - ball.min(0)).max() / 2.0
    return centre


def _add_eyeball_turns(neutral: np.ndarray, deltas: np.ndarray, eyes: Part | None) -> None:
    """ICT's eyeLook shapes move only the lids (its eyeballs are turned by the engine); add the
    same eyeball turn the canonical rig makes, so the HD head's gaze shapes turn the eyes."""
    if eyes is None:
        return
    points = neutral[eyes.start : eyes.stop]
    for side, chosen in (("Left", points[:, 0] > 0), ("Right", points[:, 0] <= 0)):
        if not chosen.any():
            continue
        centre = _eyeball_centre(points[chosen])
        rows = eyes.start + np.flatnonzero(chosen)
        for direction in GAZE_TURNS:
            turn = eyeball_turn(neutral[rows], centre, direction, side)
            deltas[ARKIT_NAMES.index(f"eyeLook{direction}{side}"), rows] += turn


# tongueOut on the ICT head, in the fitted frame (the face 15.5 units wide; chosen by eye on the
# front, three-quarter and profile renders at 0.5 and 1, where the tongue passes the teeth and
# rests on the lower lip without piercing it)
TONGUE_JAW = 0.4  # of jawOpen, so the tongue passes between the teeth
TONGUE_REACH = 3.2  # forward, at the tip
TONGUE_LIFT, TONGUE_DROOP = 0.5, 0.8  # the tip rises over the lower teeth, then hangs over the lip
TONGUE_NARROW = 0.1  # the stretched tongue is a little narrower
TONGUE_RIGID_FROM, TONGUE_RIGID_TO = 1.0, 3.0  # z: behind FROM the tongue stays, in front of TO all moves
TONGUE_EDGE_FADE = 0.6  # the dorsum's edge stays put and the motion fades in over this distance


def _tongue_dorsum(mesh: dict[str, Any], vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two (mesh vertices,) masks: the tongue's upper surface and tip, and its edge (the vertices
    faces off the dorsum share). ICT's gums, palate, floor and tongue are one mesh cut into UV
    islands; the tongue's are those the jaw carries (jawOpen moves their median vertex over half
    the most) that lie away from the teeth (median gap over 0.4 units; the gums' is under 0.2),
    and the dorsum is the one that reaches highest (the other is the floor under the tongue,
    which, moved with it, stuck out below it as a flap)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    materials = _face_materials(mesh)
    inside_mouth = materials == "M_GumsTongue"
    quads, quad_uvs = mesh["faces"][inside_mouth], mesh["face_uvs"][inside_mouth]
    pairs = [(quad_uvs[:, a], quad_uvs[:, b]) for a, b in ((0, 1), (1, 2), (2, 3), (3, 0))]
    rows = np.concatenate([a[(a >= 0) & (b >= 0)] for a, b in pairs])
    cols = np.concatenate([b[(a >= 0) & (b >= 0)] for a, b in pairs])
    count = len(mesh["uvs"])
    uv_graph = coo_matrix((np.ones(len(rows)), (rows, cols)), (count, count))
    _, island = connected_components(uv_graph, directed=False)
    quad_island = island[quad_uvs[:, 0]]
    jaw = np.linalg.norm(mesh["expression_deltas"][mesh["expression_names"].index("jawOpen")], axis=1)
    teeth = cKDTree(vertices[np.unique(mesh["faces"][materials == "M_Teeth"])])
    best, best_top = None, -np.inf
    for label in np.unique(quad_island):
        chosen = quads[quad_island == label]
        points = np.unique(chosen[chosen >= 0])
        carried = np.median(jaw[points]) > 0.5 * jaw.max()
        apart = np.median(teeth.query(vertices[points])[0]) > 0.4
        if carried and apart and vertices[points, 1].max() > best_top:
            best, best_top = points, vertices[points, 1].max()
    dorsum, edge = np.zeros(len(vertices), bool), np.zeros(len(vertices), bool)
    if best is None:
        return dorsum, edge
    dorsum[best] = True
    faces = mesh["faces"]
    beyond = faces[~np.all(dorsum[faces] | (faces < 0), axis=1)]  # faces not all on the dorsum
    edge[beyond[beyond >= 0]] = True
    return dorsum, dorsum & edge


def _add_tongue_out(neutral: np.ndarray, deltas: np.ndarray, mouth: Part, dorsum: np.ndarray,
                    edge: np.ndarray) -> None:
    """Sculpt tongueOut: the jaw opens part way and the dorsum slides out over the lower teeth
    and lip. Its front moves as one piece (the tip keeps its round shape), its back stretches,
    and its edge, which the floor and gums share, stays put so no face of theirs is dragged."""
    if not dorsum.any() or not edge.any():
        return
    from scipy.spatial import cKDTree

    points = neutral[mouth.start : mouth.stop]
    along = np.clip((points[:, 2] - TONGUE_RIGID_FROM) / (TONGUE_RIGID_TO - TONGUE_RIGID_FROM), 0.0, 1.0)
    inside = np.clip(cKDTree(points[edge]).query(points)[0] / TONGUE_EDGE_FADE, 0.0, 1.0)
    weight = np.where(dorsum, along * along * (3.0 - 2.0 * along) * inside, 0.0)
    moved = np.zeros_like(points)
    moved[:, 0] = -TONGUE_NARROW * weight * points[:, 0]
    moved[:, 1] = TONGUE_LIFT * weight - TONGUE_DROOP * weight**3
    moved[:, 2] = TONGUE_REACH * weight
    tongue_out = ARKIT_NAMES.index("tongueOut")
    deltas[tongue_out] = TONGUE_JAW * deltas[ARKIT_NAMES.index("jawOpen")]
    deltas[tongue_out, mouth.start : mouth.stop] += moved


IRIS_RGB = (0.34, 0.23, 0.14)  # brown, the commonest eye colour
IRIS_DEG, PUPIL_DEG = 29.5, 11.0  # angular radii from the eyeball's front pole
CATCHLIGHT = np.array([-0.24, 0.22, 1.0]) / np.linalg.norm([-0.24, 0.22, 1.0])  # toward the key


def _angles_from_front(points: np.ndarray) -> np.ndarray:
    """Degrees between each point of one eyeball and its front pole, seen from the centre."""
    rel = points - _eyeball_centre(points)
    return np.degrees(np.arccos(np.clip(rel[:, 2] / np.linalg.norm(rel, axis=1), -1, 1)))


def _refine_eye_fronts(neutral: np.ndarray, deltas: np.ndarray, eyes: Part, within_deg: float = 34.0):
    """Split every eye triangle near the front pole into four (edge midpoints, which stay on the
    unsplit neighbours' edges, so nothing cracks): the painted iris and pupil get round edges.
    New vertices are appended after the eye part, which comes last."""
    points = neutral[eyes.start : eyes.stop]
    angle = np.empty(len(points))
    for side in (points[:, 0] > 0, points[:, 0] <= 0):
        angle[side] = _angles_from_front(points[side])
    tris = eyes.faces.astype(np.int64)
    front = (angle[tris] < within_deg).all(axis=1)
    chosen = tris[front]
    edges = np.sort(np.concatenate([chosen[:, [0, 1]], chosen[:, [1, 2]], chosen[:, [2, 0]]]), axis=1)
    edges, inverse = np.unique(edges, axis=0, return_inverse=True)
    mids = len(points) + np.arange(len(edges))
    m01, m12, m20 = inverse.reshape(3, -1)
    a, b, c = tris[front].T
    split = np.column_stack([a, mids[m01], mids[m20], mids[m01], b, mids[m12], mids[m20], mids[m12], c,
                             mids[m01], mids[m12], mids[m20]]).reshape(-1, 3)
    faces = np.concatenate([tris[~front], split]).astype(np.int32)
    glob = edges + eyes.start
    neutral = np.concatenate([neutral, (neutral[glob[:, 0]] + neutral[glob[:, 1]]) / 2]).astype(np.float32)
    deltas = np.concatenate([deltas, (deltas[:, glob[:, 0]] + deltas[:, glob[:, 1]]) / 2], axis=1)
    colors = np.concatenate([eyes.colors, (eyes.colors[edges[:, 0]] + eyes.colors[edges[:, 1]]) / 2])
    part = Part(eyes.name, eyes.start, eyes.stop + len(edges), faces, colors.astype(np.float32), None)
    return neutral, deltas, part


def _paint_irises(points: np.ndarray, colors: np.ndarray) -> None:
    """ICT's iris sits behind a cornea that only a transparent material shows; paint the iris
    (darker at its rim, lighter streaks toward the pupil), the pupil and a catchlight toward the
    key light onto the front of each eyeball, with soft edges."""
    for side in (points[:, 0] > 0, points[:, 0] <= 0):
        if not side.any():
            continue
        ball = points[side]
        angle = _angles_from_front(ball)
        rel = ball - _eyeball_centre(ball)
        direction = rel / np.linalg.norm(rel, axis=1, keepdims=True)
        sclera = colors[side, :3]

        def ramp(edge: float, width: float, angle: np.ndarray = angle) -> np.ndarray:
            t = np.clip((edge - angle) / width + 0.5, 0, 1)
            return (t * t * (3 - 2 * t))[:, None]

        spokes = 0.85 + 0.15 * np.cos(np.radians(np.degrees(np.arctan2(rel[:, 1], rel[:, 0])) * 9))[:, None]
        iris = np.asarray(IRIS_RGB) * (0.55 + 0.45 * np.clip((IRIS_DEG - angle) / 8, 0, 1))[:, None] * spokes
        rgb = sclera * (1 - ramp(IRIS_DEG, 3.0)) + iris * ramp(IRIS_DEG, 3.0)
        rgb = rgb * (1 - ramp(PUPIL_DEG, 2.5)) + 0.02 * ramp(PUPIL_DEG, 2.5)
        from_glint = np.degrees(np.arccos(np.clip(direction @ CATCHLIGHT, -1, 1)))
        glint = np.clip((3.5 - from_glint) / 2.0 + 1, 0, 1)
        rgb = rgb * (1 - glint[:, None]) + glint[:, None]
        colors[side, :3] = rgb


def mouth_depth_shade(points: np.ndarray, front: float) -> np.ndarray:
    """(n,) light left at each point of the mouth's inside, by its depth behind ``front`` (the
    front teeth's z): the tongue and back teeth sit in the mouth's shadow, as in a real open
    mouth, and a tongue stuck out past the teeth is in full light."""
    depth = front - points[:, 2]
    return 0.18 + 0.82 * np.clip(1.0 - depth / 3.0, 0, 1) ** 1.5


# exponents of the mouth's deep shadow per channel (R, G, B): light bounced off the gums and
# tongue warms it, so the back teeth in it look ivory (a plain grey shadow made them grey-blue).
# It sets in below TINT_FROM of the light and is whole at TINT_FULL: the front teeth keep their
# colour (warming them too by 1-2 levels flipped FER's reading of 4 disgusted faces to angry).
MOUTH_SHADOW_TINT = np.array([0.9, 1.0, 1.12])
TINT_FROM, TINT_FULL = 0.7, 0.2


def _shade_mouth(points: np.ndarray, colors: np.ndarray) -> None:
    """Bake the neutral pose's mouth shadow into the colours (the renderer relights the parts
    that move out of it, ``render.cavity_shading``)."""
    shade = mouth_depth_shade(points, points[:, 2].max())[:, None]
    deep = np.clip((TINT_FROM - shade) / (TINT_FROM - TINT_FULL), 0.0, 1.0)
    colors[:, :3] *= shade ** (1.0 + (MOUTH_SHADOW_TINT - 1.0) * deep)
