"""Tuning the rig against MediaPipe's blendshape model, so FIDELITY.md's read-back improves
without giving up the authored, semantic fields.

Why it works: the rig's face is MediaPipe's own topology, so rig vertex *i* IS landmark *i*.
Projecting the posed rig (plus the iris centre and rim of each eyeball, landmarks 468-477) gives
exactly the input MediaPipe's blendshape model reads (146 landmarks in image pixels), with no
detector in between: ``direct_scores``. That is fast (< 1 ms) and exact, so it can steer tuning.

``python -m lab tune`` (``tune``) does six things and writes ``rig_tuning.json``:

1. **Ceiling**: for every output, how high MediaPipe's model can go when any landmark may move
   up to ``CEILING_PX`` pixels (gradient ascent on the model alone). Outputs that stay low
   (cheekPuff, cheekSquint*, jawForward, noseSneer*) are ones MediaPipe cannot see from
   landmarks; FIDELITY.md says so instead of tuning toward them.
2. **Corrections**: for each Left or unsided shape MediaPipe can see but the render read-back
   misses (the others stay exactly as authored), small in-plane moves
   (at most ``CORRECTION_PX`` pixels, about 0.3 cm) of the landmarks INSIDE the shape's own
   authored region, found by gradient ascent on log(own score) minus the largest rise of any
   other name; spread to neighbours with the rig's smooth falloff. The Right twin is the exact
   mirror, unsided shapes are symmetrised: symmetry and linearity are untouched.
3. **Gains**: one magnitude per shape (the same for both sides) from ``GAINS``, picked by the
   full render -> FaceLandmarker read-back (what FIDELITY.md measures): the detector shrinks
   small motions, so some shapes need a larger extreme to be seen. Eyeball rotations keep
   their authored angle.
4. **Refinement**: for shapes the detector still misses, the same kind of in-region moves (at
   most ``REFINE_PX`` more) searched on the render read-back itself, twice (finite
   differences, and a seeded evolution strategy, ``_evolve``: the read-back is too jumpy for
   either alone); the search that makes more sides read is kept, and only when it helps.
5. **Second pass, folds relaxed** (``second_pass``), for shapes a side of which still misses.
   Steps 3 and 4 refuse anything that folds a lip corner; here a fold is undone instead
   (``relax_folds``: the smallest in-plane slide of the folded triangles' vertices and their
   neighbours that unfolds them). First the smallest larger gain that makes more sides read
   (step 3 chose gains before step 4 reshaped the field); then step 4's evolution search again
   from the tuned field, reaching ``SECOND_PASS_PX``, its folding trials relaxed. Kept only when
   more sides read and nothing new folds. ``python -m lab tune --second-pass`` runs
   this step (and step 6) on the shipped tuning.
6. **No shape pays for the tuning** (``drop_harmful``): a shape with fewer sides read as their
   own name tuned than authored gets its authored field back. Steps 2 and 3 never compare with
   the uncorrected field, so without this a correction could cost a side that read as authored.
   Ranks alone do not count: where no side reads, the rises are a few hundredths and the rank
   is noise (mouthFunnel: rank 3 authored, 6 corrected, rises +0.03 and +0.02, while the
   correction takes its direct read-back from rank 4 to rank 1).

Two guards keep the face a face whatever MediaPipe would prefer: every correction is a smooth
blend of at most ``CONTROL_POINTS`` control points (neighbouring landmarks move alike, so lips
never zig-zag), and no correction, gain or refinement may flip more than ``FOLD_TOLERANCE``
extra face triangles (``fold_overs``: folds and tears).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from emo_app.blendshapes import ARKIT_NAMES, Blendshapes, mirror_name
from emo_app.face.rig import TUNING_PATH, load_tuning
from lab.readback import (
    BLENDSHAPE_LANDMARKS,
    CEILING_PX,
    READBACK_SIZE,
    VISIBLE_SCORE,
    blendshape_model,
    direct_scores,
    face_triangle_areas,
    fold_overs,
    is_visible,
    rig_landmarks,
    signed_areas,
)

CORRECTION_PX = 6.0
GAINS = (1.0, 1.5, 2.0, 2.5)
# step 5 searches finer: the smallest gain that reads is the least caricature
REGAINS = tuple(round(1.0 + 0.1 * i, 1) for i in range(1, 16))  # 1.1 ... 2.5
# step 5's relaxed search: each control point's reach (px) and the evolution's length
SECOND_PASS_PX = 20.0
SECOND_PASS_STEPS = 60
CONTROL_POINTS = 6  # corrections move at most this many smooth control points per shape
CONTROL_SIGMA_CM = 1.0
FOLD_TOLERANCE = 2
MIN_RISE = 0.05  # a rank-1 read-back must also rise this much over neutral to count
REFINE_PX = 14.0
# the refinement's two searches on the render read-back: finite-difference steps, and a seeded
# (1 + children) evolution strategy
REFINE_SEARCHES = ("gradient", "evolution")
REFINE_GRADIENT_STEPS = 40
REFINE_STEPS = 80
REFINE_CHILDREN = 12
REFINE_SIGMA_PX = 4.0
# fold relaxation (step 5): a posed triangle must keep this much of its neutral winding (px²), and
# each cm a vertex is moved costs this much, so the fix is the smallest that unfolds
RELAX_MARGIN_PX2 = 3.0
RELAX_MOVE_COST = 50.0
# ------------------------------------------------------------------------------------- tuning
def _finite_difference_ascent(
    objective, x: np.ndarray, limit: float, steps: int, step_px: float = 0.5, probe_px: float = 0.5
) -> np.ndarray:
    """Normalised-gradient ascent with box limits; deterministic (no randomness)."""
    for _ in range(steps):
        value = objective(x)
        grad = np.zeros_like(x)
        for index in np.ndindex(x.shape):
            x[index] += probe_px
            grad[index] = (objective(x) - value) / probe_px
            x[index] -= probe_px
        norm = np.abs(grad).max()
        if norm < 1e-9:
            break
        x = np.clip(x + step_px * grad / norm, -limit, limit)
    return x


def ceiling(rig: Any, steps: int = 25) -> dict[str, float]:
    """Highest score MediaPipe's model gives each name when landmarks move <= CEILING_PX."""
    model = blendshape_model()
    start = rig_landmarks(rig, rig.neutral)[list(BLENDSHAPE_LANDMARKS)].astype(np.float64)
    result = {}
    for k, name in enumerate(ARKIT_NAMES[:51]):
        moves = _finite_difference_ascent(
            lambda x, k=k: float(model.scores(start + x)[k + 1]), np.zeros_like(start), CEILING_PX, steps, 1.0
        )
        result[name] = round(float(model.scores(start + moves)[k + 1]), 4)
    return result


def _shape_handles(rig: Any, k: int) -> np.ndarray:
    """The blendshape-model landmarks inside shape k's authored region (>10% of its peak)."""
    magnitude = np.linalg.norm(rig.deltas[k, :468], axis=1)
    if magnitude.max() <= 0:
        return np.zeros(0, int)
    return np.array([i for i in BLENDSHAPE_LANDMARKS if i < 468 and magnitude[i] > 0.1 * magnitude.max()])


def _pixel_moves_to_field(face: np.ndarray, handles: np.ndarray):
    """A function: in-plane pixel moves of the handles -> a smooth (468, 3) field in cm."""
    from emo_app.face.fields import blend_handles, near
    from emo_app.face.render import project

    pixels = project(face[handles], "front", READBACK_SIZE)
    per_cm_x = np.linalg.norm(project(face[handles] + [1, 0, 0], "front", READBACK_SIZE) - pixels, axis=1)
    per_cm_y = np.linalg.norm(project(face[handles] + [0, 1, 0], "front", READBACK_SIZE) - pixels, axis=1)
    reach = near(face, face[handles], 1.2)[:, None]

    def field(moves_px: np.ndarray) -> np.ndarray:
        zeros = np.zeros(len(handles))
        moves = np.column_stack([moves_px[:, 0] / per_cm_x, -moves_px[:, 1] / per_cm_y, zeros])
        out = blend_handles(face, handles, moves, 1.2) * reach
        out[handles] = moves
        return out

    return field


def _control_basis(face: np.ndarray, handles: np.ndarray) -> np.ndarray:
    """(H, K) weights: every handle's move is a normalised Gaussian blend of the moves of K
    control points (farthest-point sampled, deterministic), so neighbouring landmarks move
    alike and a lip line can never zig-zag."""
    points = face[handles]
    chosen = [0]
    distance = np.linalg.norm(points - points[0], axis=1)
    while len(chosen) < min(CONTROL_POINTS, len(handles)):
        chosen.append(int(np.argmax(distance)))
        distance = np.minimum(distance, np.linalg.norm(points - points[chosen[-1]], axis=1))
    d = np.linalg.norm(points[:, None] - points[chosen][None], axis=2)
    weights = np.exp(-0.5 * (d / CONTROL_SIGMA_CM) ** 2)
    return weights / weights.sum(axis=1, keepdims=True)


def _no_new_folds(base: Any, trial: Any, sides: list[int]) -> bool:
    """At most FOLD_TOLERANCE more flipped triangles than ``base`` for each shape in ``sides``
    (a couple of tiny lip-margin triangles may turn as a lip rolls; a torn lip flips many)."""
    eye = np.eye(len(ARKIT_NAMES), dtype=np.float32)
    return all(fold_overs(trial, eye[s]) <= fold_overs(base, eye[s]) + FOLD_TOLERANCE for s in sides)


def _objective(rise: np.ndarray, own_score: float, k: int) -> float:
    """log of the own score, minus three times the largest rise of any other name."""
    return float(np.log(max(own_score, 0.0) + 1e-3) - 3.0 * max(float(np.delete(rise, k).max()), 0.0))


def correction(rig: Any, name: str, steps: int = 40, penalty: float = 0.002) -> np.ndarray:
    """(468, 3) in-plane correction of one shape's face field from the direct read-back
    (module doc, step 2)."""
    model = blendshape_model()
    k = ARKIT_NAMES.index(name)
    face = rig.neutral[:468].astype(np.float64)
    handles = _shape_handles(rig, k)
    if not len(handles):
        return np.zeros_like(face)
    weights = np.eye(len(ARKIT_NAMES), dtype=np.float32)[k]
    posed = rig_landmarks(rig, rig.deform(weights)).astype(np.float64)
    neutral_scores = model.scores(rig_landmarks(rig, rig.neutral))

    basis = _control_basis(face, handles)

    def objective(x: np.ndarray) -> float:
        points = posed.copy()
        points[handles] += basis @ x
        scores = model.scores(points)
        rise = scores[1:52] - neutral_scores[1:52]
        return _objective(rise, float(scores[k + 1]), k) - penalty * float(np.sum(x**2))

    controls = _finite_difference_ascent(objective, np.zeros((basis.shape[1], 2)), CORRECTION_PX, steps)
    to_field = _pixel_moves_to_field(face, handles)
    from emo_app.face.rig import FLIP

    mirror = rig.mirror[:468]
    for _ in range(6):  # halve the correction until it adds no fold to the authored shape
        field = to_field(basis @ controls)
        if mirror_name(name) == name:  # unsided fields are used symmetrised (rig.tuned_deltas)
            field = (field + field[mirror] * FLIP) / 2.0
        deltas = rig.deltas.copy()
        deltas[k, :468] += field.astype(np.float32)
        if _no_new_folds(rig, replace(rig, deltas=deltas), [k]):
            return field
        controls = controls / 2.0
    return np.zeros_like(face)


def _evolve(objective, x: np.ndarray, limit: float, steps: int, rng: np.random.Generator) -> np.ndarray:
    """(1 + REFINE_CHILDREN) evolution strategy within box limits: each step scores that many
    Gaussian variations of the best point so far and keeps the best if it beats it. The
    detector's read-back is piecewise constant and jumpy, so finite differences of 1 px mostly
    measure noise; sampling a few px around the incumbent does not depend on a gradient."""
    value = objective(x)
    for _ in range(steps):
        children = np.clip(x + rng.normal(0.0, REFINE_SIGMA_PX, (REFINE_CHILDREN, *x.shape)), -limit, limit)
        scores = [objective(child) for child in children]
        best = int(np.argmax(scores))
        if scores[best] > value:
            x, value = children[best], scores[best]
    return x


def refine(
    rig: Any, name: str, texture: Any, search: str = "gradient", region_rig: Any = None,
    *, relax: bool = False, reach_px: float = REFINE_PX, steps: int | None = None,
) -> np.ndarray:
    """(468, 3) further correction from the full render -> FaceLandmarker read-back, for a shape
    the detector still misses (module doc, step 4). Both sides are scored for a Left shape;
    unsided fields stay symmetric. ``search``: "gradient" (finite differences, keeping the best
    point seen) or "evolution" (``_evolve``, seeded by the shape's index): on this jumpy
    read-back each finds fields the other misses, so ``tune`` tries both. Repeatable within a
    process; across processes a render can differ by one pixel level, which the gradient search
    may amplify (DEVELOPERS.md). ``region_rig``: the rig whose field for this shape defines the
    region (the authored one). ``relax``: a trial that folds the mesh is relaxed
    (``relax_folds``) instead of refused, and the returned field includes that relaxation
    (step 5); ``reach_px`` bounds each control point's move, ``steps`` the search's length."""
    if search not in REFINE_SEARCHES:
        raise ValueError(f"Unknown search '{search}'; choose one of {', '.join(REFINE_SEARCHES)}.")

    from emo_app.face import get_face_renderer
    from emo_app.face.capture import FaceCapture
    from emo_app.face.rig import FLIP
    from lab.fidelity import NEEDS_JAW, _weights

    k = ARKIT_NAMES.index(name)
    twin = ARKIT_NAMES.index(mirror_name(name))
    face = rig.neutral[:468].astype(np.float64)
    handles = _shape_handles(region_rig or rig, k)
    if not len(handles):  # an eyeball-only shape (eyeLookIn/Out): nothing on the face to move
        return np.zeros_like(face)
    basis = _control_basis(face, handles)
    smooth_field = _pixel_moves_to_field(face, handles)
    mirror = rig.mirror[:468]
    sides = [k] if twin == k else [k, twin]

    def paired(field: np.ndarray) -> np.ndarray:
        """The field of shape k plus its twin's mirror (or symmetrised when unsided)."""
        deltas = rig.deltas.copy()
        if twin == k:
            deltas[k, :468] += ((field + field[mirror] * FLIP) / 2.0).astype(np.float32)
        else:
            deltas[k, :468] += field.astype(np.float32)
            deltas[twin, :468] += (field[mirror] * FLIP).astype(np.float32)
        return deltas

    def trial_field(controls: np.ndarray) -> tuple[np.ndarray, Any] | None:
        """The correction for these control moves (relaxed when asked) and the rig it makes; None
        when it folds. Folds are counted against the authored rig (region_rig), not the gained
        one, so gain and refinement together stay within FOLD_TOLERANCE."""
        field = smooth_field(basis @ controls)
        trial = replace(rig, deltas=paired(field))
        if _no_new_folds(region_rig or rig, trial, sides):
            return field, trial
        if relax:
            field = field + relax_folds(trial, k)
            trial = replace(rig, deltas=paired(field))
            if _no_new_folds(region_rig or rig, trial, sides):
                return field, trial
        return None

    renderer = get_face_renderer()
    # mouthClose only acts on an open jaw: it is rendered and compared with jawOpen on
    weights = {side: _weights(ARKIT_NAMES[side]) for side in sides}
    with FaceCapture() as capture:

        def read(image: np.ndarray) -> np.ndarray:
            try:
                return capture.detect(image).shapes.values.astype(float)
            except Exception:  # a failed detection scores as nothing
                return np.zeros(len(ARKIT_NAMES))

        baseline = read(renderer.render(Blendshapes(_weights(NEEDS_JAW.get(name))), size=READBACK_SIZE,
                                        texture=texture, rig=rig))

        def objective(x: np.ndarray) -> float:
            found = trial_field(x)
            if found is None:
                return -1e6  # a fold or tear: never worth any read-back
            trial = found[1]
            total = 0.0
            for side in sides:
                scores = read(renderer.render(Blendshapes(weights[side]), size=READBACK_SIZE,
                                              texture=texture, rig=trial))
                total += _objective(scores[:51] - baseline[:51], float(scores[side] - baseline[side]), side)
            return total

        best_x = np.zeros((basis.shape[1], 2))
        if search == "evolution":
            best_x = _evolve(objective, best_x, reach_px, steps or REFINE_STEPS, np.random.default_rng(k))
        else:
            best = objective(best_x)
            x = best_x.copy()
            for _ in range(steps or REFINE_GRADIENT_STEPS):
                x = _finite_difference_ascent(objective, x, reach_px, 1, step_px=1.5, probe_px=1.0)
                value = objective(x)
                if value > best:
                    best_x, best = x.copy(), value
    found = trial_field(best_x)
    # only the start can be refused: it is the tuned field itself
    field = np.zeros_like(face) if found is None else found[0]
    return (field + field[mirror] * FLIP) / 2.0 if twin == k else field


def _readback_ranks(
    rig: Any, texture: Any, names: tuple[str, ...] | set[str] = ARKIT_NAMES
) -> dict[str, tuple[int, float]]:
    """(rank, rise) of each of ``names`` in the render -> FaceLandmarker read-back (what
    FIDELITY.md ranks). Each shape is rendered alone, so a pair's read-back does not depend on
    the other shapes' fields and can be measured by itself."""
    from lab.fidelity import measure_render_only

    rows = measure_render_only(rig, texture=texture, names=tuple(n for n in ARKIT_NAMES if n in names))
    return {row.name: (row.rank, row.rise) for row in rows}


def _sides_read(ranks: dict[str, tuple[int, float]], sides: set[str]) -> int:
    """How many of a shape's sides read as their own name (rank 1, rising over MIN_RISE)."""
    return sum(ranks[n][0] == 1 and ranks[n][1] > MIN_RISE for n in sides)


def relax_folds(rig: Any, k: int, weights: tuple[float, ...] = (0.5, 1.0)) -> np.ndarray:
    """(468, 3) smallest in-plane moves that unfold the face triangles shape ``k`` flips at
    ``weights`` (a larger extreme compresses a lip corner until its triangles turn over): the
    vertices of those triangles and their neighbours slide until every triangle they touch keeps
    its neutral winding (L-BFGS on a hinge on the signed areas plus a cost per cm moved). Zero
    when nothing folds; the caller re-counts folds on the full pose (lid and lip limits
    included, which the search leaves out to stay fast)."""
    from scipy.optimize import minimize

    from emo_app.face.render import project

    triangles = rig.part("face").faces
    neutral = face_triangle_areas(rig, rig.neutral)
    counted = np.abs(neutral) > 1.0  # the triangles fold_overs counts
    eye = np.eye(len(ARKIT_NAMES), dtype=np.float32)[k]
    poses = {w: rig.deform(eye * w)[:468].astype(np.float64) for w in weights}
    flipped = np.zeros(len(triangles), bool)
    for pose in poses.values():
        flipped |= (np.sign(face_triangle_areas(rig, pose)) != np.sign(neutral)) & counted
    if not flipped.any():
        return np.zeros((468, 3))
    folded = np.unique(triangles[flipped])
    movable = np.unique(triangles[np.isin(triangles, folded).any(axis=1)])
    near = np.isin(triangles, movable).any(axis=1) & counted
    touched, keep_sign = triangles[near], np.sign(neutral[near])

    def moves_of(x: np.ndarray) -> np.ndarray:
        moves = np.zeros((468, 3))
        moves[movable, :2] = x.reshape(-1, 2)
        return moves

    # in the front view a slide in x or y keeps each vertex's depth, so its pixels move linearly:
    # one projection per axis gives the exact Jacobian, and the cost its exact gradient
    views = []
    for w, pose in poses.items():
        pixels = project(pose, "front", READBACK_SIZE)
        per_cm = [project(pose + axis, "front", READBACK_SIZE) - pixels for axis in np.eye(3)[:2]]
        views.append((w, pixels, np.stack(per_cm, axis=1)))  # (468, 2 axes, 2 pixel coords)

    def cost_and_gradient(x: np.ndarray) -> tuple[float, np.ndarray]:
        moves = moves_of(x)[:, :2]
        total = RELAX_MOVE_COST * float(np.sum(x**2))
        gradient = np.zeros((468, 2))
        for w, pixels, per_cm in views:
            p = pixels + w * np.einsum("va,vap->vp", moves, per_cm)
            area = signed_areas(p, touched)
            a, b, c = p[touched[:, 0]], p[touched[:, 1]], p[touched[:, 2]]
            short = np.maximum(RELAX_MARGIN_PX2 - keep_sign * area, 0.0)
            total += float(np.sum(short**2))
            d_area = -2.0 * short * keep_sign  # d cost / d area
            # d area / d pixel of each corner (a, b, c)
            corners = (
                np.stack([b[:, 1] - c[:, 1], c[:, 0] - b[:, 0]], 1),
                np.stack([c[:, 1] - a[:, 1], a[:, 0] - c[:, 0]], 1),
                np.stack([a[:, 1] - b[:, 1], b[:, 0] - a[:, 0]], 1),
            )
            d_pixels = np.zeros((468, 2))
            for corner, d in enumerate(corners):
                np.add.at(d_pixels, touched[:, corner], d_area[:, None] * d)
            gradient += w * np.einsum("vp,vap->va", d_pixels, per_cm)
        return total, gradient[movable].ravel() + 2.0 * RELAX_MOVE_COST * x

    found = minimize(cost_and_gradient, np.zeros(2 * len(movable)), jac=True, method="L-BFGS-B",
                     options={"maxiter": 500})
    return moves_of(found.x)


def _field_array(moves: dict, count: int = 468) -> np.ndarray:
    """A correction stored in rig_tuning.json ({vertex: [dx, dy, dz]}) as a (count, 3) array."""
    field = np.zeros((count, 3))
    for vertex, move in moves.items():
        field[int(vertex)] = move
    return field


def second_pass(tuning: dict[str, Any], base: Any, texture: Any, log=print) -> dict[str, Any]:
    """Step 5 (module doc), for each tuned shape a side of which the read-back still misses:
    first the smallest larger gain in REGAINS that makes more sides read, its folds relaxed
    (``relax_folds``); then, if a side still misses, the evolution search of step 4 again from
    the tuned field, reaching SECOND_PASS_PX, with folding trials relaxed instead of refused.
    Step 3 picks gains before step 4 reshapes the field, and steps 3 and 4 refuse anything that
    folds a lip corner; here a fold is undone instead. Kept only when more sides read and the
    result adds no fold."""
    from emo_app.face.rig import tuned_deltas

    corrections = dict(tuning.get("corrections", {}))
    gains = dict(tuning.get("gains", {}))
    tuned = replace(base, deltas=tuned_deltas(base, tuning))

    def with_extra(name: str, extra: np.ndarray, trial_gains: dict) -> tuple[dict, Any]:
        """The tuning with ``extra`` added to ``name``'s stored correction, and its rig.
        Corrections are stored unscaled (tuned_deltas multiplies them by the gain)."""
        field = _as_json_field(_field_array(corrections.get(name, {})) + extra / trial_gains[name])
        trial = {"corrections": {**corrections, name: field}, "gains": trial_gains}
        return trial, replace(base, deltas=tuned_deltas(base, trial))

    for name in sorted(gains):
        sides = {name, mirror_name(name)}
        indices = [ARKIT_NAMES.index(n) for n in sides]
        read = _sides_read(_readback_ranks(tuned, texture, sides), sides)
        if read == len(sides):
            continue
        for gain in (g for g in REGAINS if g > gains[name]):
            trial = {"corrections": corrections, "gains": {**gains, name: gain}}
            rig = replace(base, deltas=tuned_deltas(base, trial))
            if not _no_new_folds(base, rig, indices):
                trial, rig = with_extra(name, relax_folds(rig, ARKIT_NAMES.index(name)), trial["gains"])
                if not _no_new_folds(base, rig, indices):
                    continue
            gained = _sides_read(_readback_ranks(rig, texture, sides), sides)
            if gained > read:
                corrections, gains, tuned = trial["corrections"], trial["gains"], rig
                log(f"  {name}: {read} -> {gained} sides read as their own name (gain {gain})")
                read = gained
                break
        if read == len(sides):
            continue
        extra = refine(tuned, name, texture, "evolution", region_rig=base, relax=True,
                       reach_px=SECOND_PASS_PX, steps=SECOND_PASS_STEPS)
        trial, rig = with_extra(name, extra, gains)
        searched = _sides_read(_readback_ranks(rig, texture, sides), sides)
        if searched > read and _no_new_folds(base, rig, indices):
            corrections, tuned = trial["corrections"], rig
            log(f"  {name}: {read} -> {searched} sides read as their own name (relaxed search)")
        else:
            log(f"  {name}: still {read} sides read (no larger gain or relaxed search helped)")
    return {**tuning, "corrections": corrections, "gains": gains}


def drop_harmful(
    tuning: dict[str, Any],
    base: Any,
    texture: Any,
    before: dict[str, tuple[int, float]] | None = None,
    log=print,
) -> dict[str, Any]:
    """Step 6 (module doc): the tuning without the shapes it made read worse than authored
    (fewer sides read as their own name).
    ``base``: the authored rig; ``before``: its read-back ranks, measured here when not given.
    Each shape is rendered alone, so dropping one shape's tuning leaves the others' read-back as
    it was."""
    from emo_app.face.rig import tuned_deltas

    before = before or _readback_ranks(base, texture)
    after = _readback_ranks(replace(base, deltas=tuned_deltas(base, tuning)), texture)
    corrections = dict(tuning.get("corrections", {}))
    gains = dict(tuning.get("gains", {}))
    for name in sorted(set(corrections) | set(gains)):
        sides = {name, mirror_name(name)}
        read_authored, read_tuned = _sides_read(before, sides), _sides_read(after, sides)
        if read_authored > read_tuned:
            corrections.pop(name, None)
            gains.pop(name, None)
            log(f"  {name}: {read_tuned} sides read tuned, {read_authored} authored: authored field kept")
    refined = [n for n in tuning.get("refined", []) if n in corrections]
    return {**tuning, "corrections": corrections, "gains": gains, "refined": refined}


def _as_json_field(field: np.ndarray) -> dict[int, list[float]]:
    rows = np.flatnonzero(np.abs(field).max(axis=1) > 1e-4)
    return {int(i): [round(float(v), 4) for v in field[i]] for i in rows}


def tune(
    visible_threshold: float = VISIBLE_SCORE, previous: dict[str, Any] | None = None, log=print
) -> dict[str, Any]:
    """Ceiling, corrections, gains and refinements from the untuned rig (module doc). With
    ``previous`` (an earlier tuning), its ceiling is reused: it depends only on the authored rig."""
    from emo_app.face.rig import build_rig, tuned_deltas
    from emo_app.face.texture import default_texture

    base = build_rig(tuned=False)
    if previous and previous.get("ceiling"):
        ceilings = previous["ceiling"]
    else:
        log("1/6 ceiling of every MediaPipe output (a few minutes)")
        ceilings = ceiling(base)
    neutral = direct_scores(base, np.zeros(len(ARKIT_NAMES)))
    direct_rise = {
        n: float(direct_scores(base, np.eye(len(ARKIT_NAMES))[k])[k + 1] - neutral[k + 1])
        for k, n in enumerate(ARKIT_NAMES[:51])
    }
    visible = [n for n in ARKIT_NAMES[:51] if is_visible(ceilings[n], direct_rise[n], visible_threshold)]
    texture = default_texture()
    before = _readback_ranks(base, texture)
    # only shapes MediaPipe misreads are touched: the others (a blink that closes the lid, a
    # smile) already read as themselves exactly as authored
    authored = [
        n for n in visible
        if (mirror_name(n) == n or n.endswith("Left")) and any(before[m][0] != 1 for m in {n, mirror_name(n)})
    ]
    log(f"2/6 direct corrections for {len(authored)} shapes the render read-back misses")
    fields = {name: correction(base, name) for name in authored}
    corrections = {name: _as_json_field(field) for name, field in fields.items()}
    best: dict[str, tuple[tuple[int, float], float]] = {}
    log("3/6 one gain per shape from the render read-back")
    for gain in GAINS:
        trial = {"corrections": corrections, "gains": dict.fromkeys(authored, gain)}
        trial_rig = replace(base, deltas=tuned_deltas(base, trial))
        ranks = _readback_ranks(trial_rig, texture)
        for name in authored:
            pair = {name, mirror_name(name)}
            if gain > GAINS[0] and not _no_new_folds(base, trial_rig, [ARKIT_NAMES.index(n) for n in pair]):
                continue  # a larger extreme that folds the mesh is never chosen
            # most sides read as their own name; on a tie the SMALLEST gain (no needless caricature)
            score = (_sides_read(ranks, pair), -gain)
            if name not in best or score > best[name][0]:
                best[name] = (score, gain)
    gains = {name: best[name][1] for name in authored}
    tuned = replace(base, deltas=tuned_deltas(base, {"corrections": corrections, "gains": gains}))
    ranks = _readback_ranks(tuned, texture)
    missed = [n for n in authored if any(ranks[m][0] != 1 for m in {n, mirror_name(n)})]
    log(f"4/6 render-in-the-loop refinement of {len(missed)} shapes the detector still misses")
    refined = []
    for name in missed:
        sides = {name, mirror_name(name)}
        hits_before = sum(ranks[m][0] == 1 for m in sides)
        kept, hits_kept, how = None, hits_before, "none helped"
        for search in REFINE_SEARCHES:
            # tuned_deltas scales corrections by the gain, so the refinement is stored unscaled
            extra = refine(tuned, name, texture, search, region_rig=base) / gains[name]
            field = _as_json_field(fields[name] + extra)
            trial = {"corrections": {**corrections, name: field}, "gains": gains}
            after = _readback_ranks(replace(base, deltas=tuned_deltas(base, trial)), texture)
            hits = _sides_read(after, sides)
            if hits > hits_kept:  # keep a refinement only when the read-back improves
                kept, hits_kept, how = field, hits, search
        if kept is not None:
            corrections[name] = kept
            refined.append(name)
        log(f"  {name}: {hits_before} -> {hits_kept} sides read as their own name ({how})")
    result = {
        "about": "written by `python -m lab tune`; see lab/tuning.py",
        "ceiling_px": CEILING_PX,
        "ceiling": ceilings,
        "direct_rise_untuned": {n: round(v, 4) for n, v in direct_rise.items()},
        "visible_threshold": visible_threshold,
        "gains": gains,
        "refined": refined,
        "corrections": corrections,
    }
    return _last_steps(result, base, texture, before, log)


def _last_steps(
    tuning: dict[str, Any], base: Any, texture: Any,
    before: dict[str, tuple[int, float]] | None = None, log=print,
) -> dict[str, Any]:
    """Steps 5 and 6 (module doc), for ``tune`` and for ``second_pass_shipped``."""
    log("5/6 second pass, folds relaxed, for shapes a side of which still misses")
    gained = second_pass(tuning, base, texture, log)
    log("6/6 authored fields back for shapes the tuning made read worse")
    return drop_harmful(gained, base, texture, before, log)


def write_tuning(tuning: dict[str, Any], path: Path = TUNING_PATH) -> Path:
    path.write_text(json.dumps(tuning, indent=1, sort_keys=True) + "\n")
    return path


def second_pass_shipped(log=print) -> dict[str, Any]:
    """Steps 5 and 6 alone on the shipped tuning (``face tune --second-pass``): minutes instead of
    the full tune, and the earlier steps' fields stay exactly as shipped."""
    from emo_app.face.rig import build_rig
    from emo_app.face.texture import default_texture

    shipped = load_tuning()
    if shipped is None:
        raise FileNotFoundError(f"No tuning to start from at {TUNING_PATH}; run `python -m lab tune` first.")
    return _last_steps(shipped, build_rig(tuned=False), default_texture(), log=log)
