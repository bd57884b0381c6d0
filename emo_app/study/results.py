"""Aggregating votes into the paper's Table 1: overall and class-wise means per model.

Each item is scored under its nearest class in the layout of the model that drew it, as the
supplementary assigns samples "based on their nearest compound emotion classes": a 3D item
under the C2A2 table; a 2D item (valence and arousal only) under the 2D AV model's own layout,
each class at its valence/arousal direction on the unit circle (``space.AV_CLASSES``). Matching
a z = 0 point against the 3D table instead would leave Sad, Fearful and the eight compounds
lifted off the plane without a single 2D item, yet the paper's Table 1 scores all 20 classes
for 2D. ``item_class`` is the one place the assignment happens. Means are over individual votes;
the standard error is the votes' sample standard deviation / sqrt(n). Agreement between raters
is Krippendorff's alpha at the ordinal level (1..5 is an ordered scale whose steps need not be
equal), which, unlike ICC, tolerates raters who skipped items.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from emo_app.emotion.space import EmotionPoint, nearest_class
from emo_app.errors import InvalidInputError
from emo_app.study.model import MAX_SCORE, MIN_SCORE, MODEL_LABELS, MODELS
from emo_app.study.published import PUBLISHED_SOURCE, PUBLISHED_TABLE1


def item_class(model: str, point: EmotionPoint) -> str:
    """The class an item is scored under: its nearest class in ``model``'s own layout."""
    if model not in MODELS:
        raise InvalidInputError(f"model must be one of {', '.join(MODELS)}; got '{model}'.")
    return nearest_class(point, model=model)


@dataclass(frozen=True)
class VoteRecord:
    """One vote as aggregation needs it."""

    model: str
    item_id: Hashable
    class_name: str
    rater: Hashable
    score: int


@dataclass(frozen=True)
class Summary:
    n_items: int
    n_votes: int
    mean: float | None
    sem: float | None


@dataclass
class ModelResults:
    model: str
    overall: Summary
    by_class: dict[str, Summary]
    n_raters: int
    alpha_ordinal: float | None


@dataclass
class StudyResults:
    study: str
    models: dict[str, ModelResults] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"study": self.study, "models": {m: asdict(r) for m, r in self.models.items()},
                "published_table1": {c: {"2d": a, "3d": b} for c, (a, b) in PUBLISHED_TABLE1.items()}}

    def table1_rows(self) -> list[dict[str, Any]]:
        """One row per class in the paper's order, then 'Overall': ours beside the published."""
        rows = []
        for name in [*PUBLISHED_TABLE1, "Overall"]:
            row: dict[str, Any] = {"class": name}
            for model in ("2d", "3d"):
                result = self.models.get(model)
                summary = None
                if result is not None:
                    summary = result.overall if name == "Overall" else result.by_class.get(name)
                row[f"ours_{model}_mean"] = summary.mean if summary else None
                row[f"ours_{model}_sem"] = summary.sem if summary else None
                row[f"ours_{model}_votes"] = summary.n_votes if summary else 0
                row[f"ours_{model}_items"] = summary.n_items if summary else 0
                published = [v[0 if model == "2d" else 1] for v in PUBLISHED_TABLE1.values()]
                row[f"paper_{model}"] = (
                    round(float(np.mean(published)), 2) if name == "Overall"
                    else PUBLISHED_TABLE1[name][0 if model == "2d" else 1]
                )
            rows.append(row)
        return rows

    def to_markdown(self) -> str:
        """Table-1-style markdown: ours (mean ± SE, votes) next to the paper's numbers."""
        def cell(mean: float | None, sem: float | None, n: int) -> str:
            if mean is None:
                return "—"
            return f"{mean:.2f} ± {sem:.2f} ({n})" if sem is not None else f"{mean:.2f} ({n})"

        lines = [
            "| Emotion | Ours 2D-AV | Ours 3D C2A2 | Paper 2D-AV | Paper 3D C2A2 |",
            "| --- | --- | --- | --- | --- |",
        ]
        for row in self.table1_rows():
            lines.append(
                f"| {row['class']} | "
                f"{cell(row['ours_2d_mean'], row['ours_2d_sem'], row['ours_2d_votes'])} | "
                f"{cell(row['ours_3d_mean'], row['ours_3d_sem'], row['ours_3d_votes'])} | "
                f"{row['paper_2d']:.2f} | {row['paper_3d']:.2f} |"
            )
        agreement = ", ".join(
            f"{MODEL_LABELS[m]}: {r.n_raters} raters, Krippendorff's alpha (ordinal) = "
            + ("n/a" if r.alpha_ordinal is None else f"{r.alpha_ordinal:.3f}")
            for m, r in self.models.items()
        )
        lines += [
            "",
            "Ours: mean ± standard error (number of votes); each item scored under its nearest class.",
            f"Paper: {PUBLISHED_SOURCE}; its 'Overall' is the unweighted mean of its 20 class rows.",
        ]
        if agreement:
            lines.append(f"Agreement — {agreement}.")
        return "\n".join(lines)

    def bar_chart(self):  # -> matplotlib.figure.Figure
        """Grouped bars per class: ours (solid) and the paper's (hatched), 2D and 3D."""
        from matplotlib.figure import Figure  # no pyplot: no global state, safe in threads

        rows = self.table1_rows()
        names = [r["class"] for r in rows]
        y = np.arange(len(rows))
        fig = Figure(figsize=(8, 9), layout="constrained")
        ax = fig.add_subplot()
        height = 0.2
        bars = (
            ("ours_2d_mean", "Ours 2D-AV", "#4C72B0", None, -1.5),
            ("ours_3d_mean", "Ours 3D C2A2", "#DD8452", None, -0.5),
            ("paper_2d", "Paper 2D-AV", "#A6BDDB", "//", 0.5),
            ("paper_3d", "Paper 3D C2A2", "#F5C6A5", "//", 1.5),
        )
        for key, label, color, hatch, offset in bars:
            values = [r[key] if r[key] is not None else 0.0 for r in rows]
            ax.barh(y + offset * height, values, height, label=label, color=color, hatch=hatch)
        ax.set_yticks(y, names)
        ax.invert_yaxis()
        ax.set_xlim(0, MAX_SCORE)
        ax.set_xlabel("mean rating (1 = not at all, 5 = perfectly)")  # the raters' own scale
        ax.set_title(f"Study '{self.study}': expert ratings per class")
        # below the axes, never over the bars (inside, it hid the last classes' and Overall's bars)
        fig.legend(loc="outside lower center", ncols=len(bars), fontsize="small")
        return fig


def _summary(scores: list[int], items: set[Hashable]) -> Summary:
    if not scores:
        return Summary(len(items), 0, None, None)
    values = np.asarray(scores, dtype=np.float64)
    sem = float(values.std(ddof=1) / math.sqrt(values.size)) if values.size > 1 else None
    return Summary(len(items), int(values.size), float(values.mean()), sem)


def krippendorff_alpha_ordinal(records: Iterable[VoteRecord]) -> float | None:
    """Ordinal alpha over raters x items; None when it is undefined (under 2 raters on any item,
    or no variation at all)."""
    import krippendorff

    records = list(records)
    raters = sorted({r.rater for r in records}, key=str)
    items = sorted({r.item_id for r in records}, key=str)
    if len(raters) < 2 or not items:
        return None
    row = {r: i for i, r in enumerate(raters)}
    col = {it: j for j, it in enumerate(items)}
    matrix = np.full((len(raters), len(items)), np.nan)
    for r in records:
        matrix[row[r.rater], col[r.item_id]] = r.score
    if not (np.sum(~np.isnan(matrix), axis=0) >= 2).any():
        return None
    try:
        alpha = krippendorff.alpha(
            reliability_data=matrix, level_of_measurement="ordinal",
            value_domain=list(range(MIN_SCORE, MAX_SCORE + 1)),
        )
    except (ValueError, ZeroDivisionError):
        return None
    return float(alpha) if math.isfinite(alpha) else None


def aggregate(records: Iterable[VoteRecord], study: str = "", item_classes: dict[tuple[str, Hashable], str]
              | None = None) -> StudyResults:
    """Overall and class-wise summaries per model. ``item_classes`` ((model, item) -> class) adds
    items nobody rated yet to the item counts."""
    by_model: dict[str, list[VoteRecord]] = defaultdict(list)
    for record in records:
        by_model[record.model].append(record)
    items_by: dict[tuple[str, str], set[Hashable]] = defaultdict(set)
    all_items: dict[str, set[Hashable]] = defaultdict(set)
    for (model, item), name in (item_classes or {}).items():
        items_by[(model, name)].add(item)
        all_items[model].add(item)
    results = StudyResults(study)
    for model in [m for m in MODELS if m in by_model or m in all_items]:
        model_records = by_model.get(model, [])
        scores_by_class: dict[str, list[int]] = defaultdict(list)
        for r in model_records:
            scores_by_class[r.class_name].append(int(r.score))
            items_by[(model, r.class_name)].add(r.item_id)
            all_items[model].add(r.item_id)
        classes = sorted({c for (m, c) in items_by if m == model})
        results.models[model] = ModelResults(
            model=model,
            overall=_summary([int(r.score) for r in model_records], all_items[model]),
            by_class={c: _summary(scores_by_class.get(c, []), items_by[(model, c)]) for c in classes},
            n_raters=len({r.rater for r in model_records}),
            alpha_ordinal=krippendorff_alpha_ordinal(model_records),
        )
    return results
