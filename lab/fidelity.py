"""Fidelity you can see: render each shape alone at weight 1, read the render back with
MediaPipe's FaceLandmarker, and tabulate how much the shape's own name responds compared with
the neutral render and with every other name.

Two read-backs, because they fail for different reasons:

- **render**: image -> landmark detector -> blendshape model (what a user's camera pipeline
  sees). The detector smooths small motions away, so this is the strict test.
- **direct**: the rig's own 478 landmarks -> the same blendshape model (``readback.direct_scores``),
  which says whether the geometry itself reads as the shape.

MediaPipe cannot see everything: tongueOut is not among its outputs, and the *ceiling* column
(from ``python -m lab tune``) shows outputs its model barely produces for any landmark
motion up to a few pixels (cheekPuff, cheekSquint, jawForward, noseSneer). mouthClose only acts
with the jaw open (the rig's corrective limit), so it is measured as jawOpen + mouthClose
against jawOpen alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emo_app.blendshapes import ARKIT_NAMES, Blendshapes, mirror_name

NEEDS_JAW = {"mouthClose": "jawOpen"}
# Shapes faces make together. An ARKit name moves one eye or one side, but people turn both eyes
# together, frown on both sides and carry the mouth with a sideways jaw, and MediaPipe's model
# learned from people: a shape it misses alone can read in the company it keeps.
TOGETHER = (
    ("eyeLookDownLeft", "eyeLookDownRight"),
    ("eyeLookUpLeft", "eyeLookUpRight"),
    ("eyeLookOutLeft", "eyeLookInRight"),
    ("eyeLookInLeft", "eyeLookOutRight"),
    ("mouthFrownLeft", "mouthFrownRight"),
    ("jawLeft", "mouthLeft"),
    ("jawRight", "mouthRight"),
)


@dataclass(frozen=True)
class FidelityRow:
    name: str
    own: float  # MediaPipe's score for the shape's own name on its render
    neutral: float  # the same score on the baseline render (neutral, or jawOpen for mouthClose)
    top_name: str  # the name that rose most above the baseline
    top_rise: float
    rank: int  # 1 = the own name rose the most of all 51 names; 0 = not measurable
    direct_rank: int = 0  # the same rank from the rig's own landmarks (no detector)
    direct_rise: float = float("nan")
    ceiling: float = float("nan")  # MediaPipe's highest score for this name (tuning)
    # the same render mirrored left-right: how the twin name (jawLeft for jawRight) reads on it.
    # The rig's sides are exact mirrors, so this is the twin's motion with the light and the
    # skin swapped: a hit here with a miss above means the detector sees the motion one way only.
    mirror_rank: int = 0  # 0 = unsided shape or not measurable
    mirror_rise: float = float("nan")

    @property
    def visible(self) -> bool:
        """Whether MediaPipe can produce this output at all (``readback.is_visible``)."""
        from lab.readback import is_visible

        if self.rank == 0:
            return False
        return not np.isfinite(self.ceiling) or is_visible(self.ceiling, self.direct_rise)


@dataclass(frozen=True)
class TogetherRow:
    """Several shapes rendered together at weight 1 each, read back against the neutral render."""

    names: tuple[str, ...]
    ranks: tuple[int, ...]  # each name's place when all 51 names are sorted by their rise
    rises: tuple[float, ...]
    top: tuple[tuple[str, float], ...]  # the names that rose most, best first

    @property
    def reads(self) -> bool:
        """Every name rose more than any name outside the group."""
        return bool(self.ranks) and max(self.ranks) <= len(self.names)


@dataclass(frozen=True)
class RenderRow:
    """One shape alone at weight 1 on any head, read back through the render only (the direct
    read-back needs MediaPipe's topology): how another head, or this rig with another look,
    reads under the same measurement."""

    name: str
    rank: int  # 1 = the own name rose the most of all 51 names; 0 = not measurable
    rise: float
    top_name: str
    top_rise: float


@dataclass(frozen=True)
class Reference:
    """A reference head's rows next to this rig's rows rendered with the same flat skin material,
    so the photo texture is not what the comparison measures."""

    label: str
    reference: list[RenderRow]
    flat: list[RenderRow]


def conjugate_gaze(name: str) -> str | None:
    """The other eye's name for the same gaze (eyeLookOutLeft -> eyeLookInRight): looking left
    turns the left eye out and the right eye in."""
    if not name.startswith("eyeLook"):
        return None
    side = "Left" if name.endswith("Left") else "Right"
    other = "Right" if side == "Left" else "Left"
    direction = name[len("eyeLook") : -len(side)]
    direction = {"In": "Out", "Out": "In"}.get(direction, direction)
    return f"eyeLook{direction}{other}"


def _detect_all(images: list[np.ndarray]) -> list[np.ndarray]:
    """MediaPipe's 52 scores per image; NaN where no face is found (reported as not measurable)."""
    from emo_app.face.capture import FaceCapture

    scores = []
    with FaceCapture() as capture:
        for image in images:
            try:
                scores.append(capture.detect(np.ascontiguousarray(image)).shapes.values.astype(float))
            except Exception:  # no face found on this render
                scores.append(np.full(len(ARKIT_NAMES), np.nan))
    return scores


def _weights(name: str | None) -> np.ndarray:
    values = np.zeros(len(ARKIT_NAMES), np.float32)
    for part in (name, NEEDS_JAW.get(name or "")):
        if part:
            values[ARKIT_NAMES.index(part)] = 1.0
    return values


def _rank(scores: np.ndarray, baseline: np.ndarray, k: int) -> tuple[int, str, float]:
    rise = scores[:51] - baseline[:51]
    order = np.argsort(-rise)
    return int(np.flatnonzero(order == k)[0]) + 1, ARKIT_NAMES[order[0]], float(rise[order[0]])


def _rig_and_texture(rig: Any, texture: Any, texture_kind: str) -> tuple[Any, Any]:
    """The shipped rig unless one is given; the default photo texture for ``texture_kind``
    "default" unless a texture is given."""
    from emo_app.face.rig import build_rig
    from emo_app.face.texture import default_texture

    if texture is None and texture_kind == "default":
        texture = default_texture()
    return rig or build_rig(), texture


def _render_alone(
    rig: Any, texture: Any, size: int, names: tuple[str, ...] | list[str]
) -> tuple[dict[str | None, np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """The baselines (neutral, and jawOpen for mouthClose) and each shape in ``names`` alone at
    weight 1: their weight vectors (baselines first) and renders."""
    from emo_app.face import get_face_renderer

    baselines = {None: _weights(None), "jawOpen": _weights("jawOpen")}
    vectors = [*baselines.values()] + [_weights(n) for n in names]
    images = get_face_renderer().render_batch(
        [Blendshapes(v) for v in vectors], size=size, texture=texture, rig=rig
    )
    return baselines, vectors, images


def _measurable(name: str, readback: np.ndarray, baseline: np.ndarray) -> bool:
    """MediaPipe has an output for ``name`` and found a face on both renders."""
    return name != "tongueOut" and bool(np.isfinite(readback - baseline).all())


def measure_render_only(
    rig: Any, *, texture: Any = None, size: int = 512, names: tuple[str, ...] = ARKIT_NAMES
) -> list[RenderRow]:
    """The render read-back of each shape in ``names`` alone on ``rig`` (tongueOut and shapes
    whose render shows no face get rank 0)."""
    baselines, _, images = _render_alone(rig, texture, size, names)
    scores = _detect_all(images)
    base_scores = dict(zip(baselines, scores[:2]))
    rows = []
    for name, readback in zip(names, scores[2:]):
        baseline = base_scores[NEEDS_JAW.get(name)]
        if not _measurable(name, readback, baseline):
            rows.append(RenderRow(name, 0, float("nan"), "-", float("nan")))
            continue
        k = ARKIT_NAMES.index(name)
        rank, top, top_rise = _rank(readback, baseline, k)
        rows.append(RenderRow(name, rank, float(readback[k] - baseline[k]), top, top_rise))
    return rows


def measure_reference(
    reference_rig: Any, label: str, *, size: int = 512, rig: Any = None,
    names: tuple[str, ...] = ARKIT_NAMES,
) -> Reference:
    """``reference_rig`` (such as the ICT-FaceKit head, whose shapes come from scans) and this rig,
    both with the flat skin material, through the same render read-back."""
    from emo_app.face.rig import build_rig

    return Reference(
        label,
        measure_render_only(reference_rig, size=size, names=names),
        measure_render_only(rig or build_rig(), size=size, names=names),
    )


def measure(
    size: int = 512, texture_kind: str = "default", *, rig: Any = None, texture: Any = None
) -> list[FidelityRow]:
    """One row per ARKit shape (tongueOut is reported with no MediaPipe counterpart)."""
    from emo_app.face.rig import load_tuning
    from lab.readback import direct_scores

    rig, texture = _rig_and_texture(rig, texture, texture_kind)
    names = list(ARKIT_NAMES)
    baselines, vectors, images = _render_alone(rig, texture, size, names)
    sided = [k for k, n in enumerate(names) if mirror_name(n) != n]
    mirrored = [images[0][:, ::-1], images[1][:, ::-1]] + [images[k + 2][:, ::-1] for k in sided]
    scores, mirror_scores = _detect_all(images), _detect_all(mirrored)
    mirror_base = dict(zip(baselines, mirror_scores[:2]))
    mirror_by_shape = dict(zip(sided, mirror_scores[2:]))
    base_scores = dict(zip(baselines, scores[:2]))
    direct_baselines = {key: direct_scores(rig, weights)[1:] for key, weights in baselines.items()}
    ceilings = (load_tuning() or {}).get("ceiling", {})
    rows = []
    for k, name in enumerate(names):
        readback = scores[k + 2]
        baseline_key = NEEDS_JAW.get(name)
        baseline = base_scores[baseline_key]
        if not _measurable(name, readback, baseline):
            rows.append(FidelityRow(name, float("nan"), float("nan"), "-", float("nan"), 0))
            continue
        rank, top, top_rise = _rank(readback, baseline, k)
        direct = direct_scores(rig, vectors[k + 2])[1:]
        direct_base = direct_baselines[baseline_key]
        direct_rank, _, _ = _rank(direct, direct_base, k)
        mirror_rank, mirror_rise = 0, float("nan")
        flipped = mirror_by_shape.get(k)
        if flipped is not None and np.isfinite(flipped - mirror_base[baseline_key]).all():
            twin = names.index(mirror_name(name))
            mirror_rank, _, _ = _rank(flipped, mirror_base[baseline_key], twin)
            mirror_rise = float(flipped[twin] - mirror_base[baseline_key][twin])
        rows.append(
            FidelityRow(
                name, float(readback[k]), float(baseline[k]), top, top_rise, rank,
                direct_rank, float(direct[k] - direct_base[k]), float(ceilings.get(name, float("nan"))),
                mirror_rank, mirror_rise,
            )
        )
    return rows


def measure_together(
    groups: tuple[tuple[str, ...], ...] = TOGETHER, size: int = 512, texture_kind: str = "default",
    *, rig: Any = None, texture: Any = None,
) -> list[TogetherRow]:
    """One row per group of shapes rendered together (``TOGETHER``: the pairs faces make)."""
    from emo_app.face import get_face_renderer

    rig, texture = _rig_and_texture(rig, texture, texture_kind)
    vectors = [np.zeros(len(ARKIT_NAMES), np.float32)]
    for group in groups:
        vectors.append(np.isin(ARKIT_NAMES, group).astype(np.float32))
    images = get_face_renderer().render_batch(
        [Blendshapes(v) for v in vectors], size=size, texture=texture, rig=rig
    )
    baseline, *scores = _detect_all(images)
    rows = []
    for group, readback in zip(groups, scores):
        rise = readback[:51] - baseline[:51]
        if not np.isfinite(rise).all():
            rows.append(TogetherRow(tuple(group), (), (), ()))
            continue
        order = [int(i) for i in np.argsort(-rise)]
        ks = [ARKIT_NAMES.index(n) for n in group]
        rows.append(TogetherRow(
            tuple(group),
            tuple(order.index(k) + 1 for k in ks),
            tuple(float(rise[k]) for k in ks),
            tuple((ARKIT_NAMES[i], float(rise[i])) for i in order[: len(group) + 1]),
        ))
    return rows


def _together_lines(together: list[TogetherRow]) -> list[str]:
    lines = [
        "",
        "## Shapes together, as faces make them",
        "",
        "An ARKit name moves one eye or one side of the face; people turn both eyes together, "
        "frown on both sides and carry the mouth with a sideways jaw, and MediaPipe's model "
        "learned from people. Each group is rendered at weight 1 per name against the neutral "
        "render; it reads when every one of its names rose more than any other name.",
        "",
        f"- groups that read as all their names: **{sum(r.reads for r in together)} / {len(together)}**",
        "",
        "| shapes | ranks | rises | rose most |",
        "| --- | --- | --- | --- |",
    ]
    for r in together:
        if not r.ranks:
            lines.append(f"| {' + '.join(r.names)} | - | - | no face found |")
            continue
        lines.append(
            f"| {' + '.join(r.names)} | {', '.join(map(str, r.ranks))} | "
            f"{', '.join(f'{v:+.3f}' for v in r.rises)} | "
            f"{', '.join(f'{n} ({v:+.3f})' for n, v in r.top)} |"
        )
    return lines


def _reference_pairs(
    rows: list[FidelityRow], reference: Reference
) -> list[tuple[FidelityRow, RenderRow, RenderRow]]:
    """Each visible shape measured on both heads: (this rig with the photo, the reference head,
    this rig with flat skin)."""
    ref = {r.name: r for r in reference.reference}
    flat = {r.name: r for r in reference.flat}
    return [(r, ref[r.name], flat[r.name]) for r in rows
            if r.rank > 0 and r.visible and r.name in ref and r.name in flat]


def _reference_ranks(
    reference: Reference, pairs: list[tuple[FidelityRow, RenderRow, RenderRow]]
) -> dict[str, list[int]]:
    """Each head's ranks over the same shapes, keyed by how the report names it."""
    return {
        reference.label: [other.rank for _, other, _ in pairs],
        "this rig, flat skin": [flat.rank for _, _, flat in pairs],
        "this rig, photo (the table above)": [own.rank for own, _, _ in pairs],
    }


def _count(ranks: list[int], best: int) -> str:
    return f"{sum(0 < k <= best for k in ranks)} / {len(ranks)}"


def _reference_lines(
    reference: Reference, pairs: list[tuple[FidelityRow, RenderRow, RenderRow]],
    ranks: dict[str, list[int]],
) -> list[str]:
    lines = [
        "",
        f"## Against a reference head: {reference.label}",
        "",
        f"{reference.label}'s own ARKit shapes, each alone at weight 1, rendered and read back "
        "the same way (render read-back only: its vertices are not MediaPipe's landmarks, so "
        "there is no direct read-back). It has no photo, so this rig is shown with the same flat "
        "skin material as well (*flat*); *photo* is the shipped look measured above. Counted over "
        f"the {len(pairs)} visible shapes.",
        "",
        *(f"- {who}: own name rose the most **{_count(k, 1)}**, in the top 3 **{_count(k, 3)}**"
          for who, k in ranks.items()),
        "",
        "| shape | photo rank | flat rank | reference rank | reference rise | reference: rose most |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for r, other, own_flat in pairs:
        if other.rank == 0:
            lines.append(f"| {r.name} | {r.rank} | {own_flat.rank or '-'} | - | - | no face found |")
            continue
        lines.append(
            f"| {r.name} | {r.rank} | {own_flat.rank or '-'} | {other.rank} | {other.rise:+.3f} | "
            f"{other.top_name} ({other.top_rise:+.3f}) |"
        )
    return lines


def write_report(
    rows: list[FidelityRow], path: str | Path, size: int, texture_kind: str,
    together: list[TogetherRow] | None = None, reference: Reference | None = None,
) -> Path:
    """FIDELITY.md: the table plus an honest count of recognised shapes, (``together``) how the
    shapes read in the groups faces make, and (``reference``) how another head reads."""
    valid = [r for r in rows if r.rank > 0]
    visible = [r for r in valid if r.visible]
    first = [r for r in valid if r.rank == 1]
    sided_misses = [r for r in visible if r.rank != 1 and r.mirror_rank > 0]
    one_way = [r for r in sided_misses if r.mirror_rank == 1]
    # a miss where the other eye's matching gaze rose (almost) as much: the read-back turned both
    # eyes where an ARKit eyeLook shape turns one
    binocular = [
        r for r in visible
        if r.rank != 1 and r.top_name == conjugate_gaze(r.name) and r.own - r.neutral >= 0.75 * r.top_rise
    ]
    reference_pairs = _reference_pairs(rows, reference) if reference else []
    reference_ranks = _reference_ranks(reference, reference_pairs) if reference else {}
    lines = [
        "# Face rig fidelity (MediaPipe read-back)",
        "",
        "Generated by `python -m lab fidelity`: each ARKit shape is rendered alone at "
        f"weight 1 ({size} px, front view, texture: {texture_kind}) and read back with MediaPipe's "
        "FaceLandmarker. *render*: the image through the landmark detector and the blendshape "
        "model; *direct*: the rig's own 478 landmarks through the same blendshape model (no "
        "detector). *own* is the score for the shape's own name, *baseline* the same score on the "
        "neutral render, *rank* where the own name falls when all 51 names are sorted by how much "
        "they rose (1 = it rose the most). *ceiling* is the highest score MediaPipe's model gives "
        "that name for any landmark motion up to 6 px (`python -m lab tune`); a shape "
        "counts as visible when the ceiling reaches 0.5 or the direct read-back rises by 0.25 "
        "(large motions such as jawOpen need more than 6 px). "
        "mouthClose is measured with jawOpen = 1 against jawOpen alone (it only acts on an open jaw). "
        "*mirrored*: a sided shape's render flipped left-right, scored for its twin name (the "
        "flipped jawRight render scored as jawLeft); the rig's sides are exact mirrors, so this "
        "is the twin's motion with the light and skin swapped.",
        "",
        f"- visible to MediaPipe: **{len(visible)} / {len(valid)}**",
        f"- render read-back, own name rose the most: **{sum(r.rank == 1 for r in visible)} / "
        f"{len(visible)}** visible shapes ({len(first)} / {len(valid)} of all)",
        f"- render read-back, own name in the top 3: **{sum(r.rank <= 3 for r in visible)} / "
        f"{len(visible)}**",
        f"- direct read-back, own name rose the most: **{sum(r.direct_rank == 1 for r in visible)} / "
        f"{len(visible)}**",
        f"- sided visible shapes the render read-back misses but whose mirrored render reads as "
        f"the twin (rank 1): **{len(one_way)} / {len(sided_misses)}**"
        + (f" ({', '.join(r.name for r in one_way)}): the geometry reads, the detector sees the "
           "motion in one image direction only" if one_way else ""),
        f"- gaze shapes the render read-back misses because the other eye's matching gaze rose "
        f"(almost) as much: **{len(binocular)}**"
        + (" (" + ", ".join(f"{r.name}: {r.top_name}" for r in binocular) + "): the read-back "
           "turns both eyes where the shape turns one" if binocular else ""),
        "- tongueOut has no MediaPipe output and is not measured.",
        *(
            [f"- shapes together, as faces make them (both eyes' gaze, a frown, jaw and mouth "
             f"sideways): **{sum(r.reads for r in together)} / {len(together)}** groups read as all "
             "their names (table at the end)"]
            if together else []
        ),
        *(
            [f"- a reference head read back the same way ({reference.label}, flat skin): own name "
             f"rose the most **{_count(reference_ranks[reference.label], 1)}** visible shapes; this "
             f"rig with the same flat skin **{_count(reference_ranks['this rig, flat skin'], 1)}** "
             "(last table)"]
            if reference else []
        ),
        "",
        "| shape | own | baseline | rise | rank | rose most | direct rise | direct rank | ceiling "
        "| mirrored: twin rise (rank) |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        if r.rank == 0:
            lines.append(f"| {r.name} | - | - | - | - | not measurable | - | - | - | - |")
            continue
        ceiling = f"{r.ceiling:.2f}" if np.isfinite(r.ceiling) else "-"
        if not r.visible:
            ceiling += " (not visible)"
        lines.append(
            f"| {r.name} | {r.own:.3f} | {r.neutral:.3f} | {r.own - r.neutral:+.3f} | {r.rank} | "
            f"{r.top_name} ({r.top_rise:+.3f}) | {r.direct_rise:+.3f} | {r.direct_rank} | {ceiling} | "
            + (f"{r.mirror_rise:+.3f} ({r.mirror_rank}) |" if r.mirror_rank else "- |")
        )
    if together:
        lines += _together_lines(together)
    if reference:
        lines += _reference_lines(reference, reference_pairs, reference_ranks)
    target = Path(path)
    target.write_text("\n".join(lines) + "\n")
    return target
