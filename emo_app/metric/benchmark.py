"""The Table-2 style benchmark: every prompt of a pool through every text model, rendered,
scored by the Emo3D metric (when CLIP is present) and by the offline judges.

Pipeline per model, in batches: text -> ``predict_batch`` -> blendshapes -> ``render_fn`` ->
images -> CLIP image embeddings + FER probabilities + MediaPipe re-read. Each prompt's result is
appended to a JSONL file under ``<out>/.cache`` whose name hashes everything it depends on
(model, pool content, CLIP weights, judges, render size), so an interrupted run resumes where it
stopped and a changed pool or model starts afresh. Scores are computed from those records at the
end, so the report can be re-made without rendering again.

Text models and the renderer are injected (``text_models``, ``render_fn``); by default they come
from ``emo_app.text.get_text_model`` and ``emo_app.face.get_face_renderer``. The model name
``ground-truth`` uses the pool's own blendshapes (Emo3D split only), a reference ceiling.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from emo_app.blendshapes import Blendshapes
from emo_app.errors import InvalidInputError, MissingWeightsError
from emo_app.metric.core import (
    DEFAULT_ALPHA,
    DEFAULT_EPS,
    DEFAULT_K,
    DEFAULT_PSI,
    PSI_DESCRIPTIONS,
    check_psi,
    emo3d_metric,
)
from emo_app.metric.pool import PromptPool, load_pool
from emo_app.models.clip import (
    DEFAULT_CLIP_MODEL,
    DEFAULT_CLIP_PRETRAINED,
    ClipEncoder,
    TextEmbeddingCache,
    get_clip,
)

log = logging.getLogger(__name__)

RenderFn = Callable[[list[Blendshapes]], list[np.ndarray]]
JUDGES = ("fer", "mediapipe")
PAPER_TABLE_2 = {  # model: (MSE, Emo3D) from the paper; lower Emo3D is better
    "BERT": (0.03, 0.796), "XLM-RoBERTa": (0.04, 0.789), "Autoencoder CLIP": (0.002, 0.776),
    "Emotion-XLM": (0.035, 0.756), "CLIP": (0.014, 0.737),
}  # fmt: skip


class TextModelLike(Protocol):
    def predict_batch(self, texts: list[str]) -> list[Any]: ...


@dataclass
class BenchmarkConfig:
    """What to run; ``limit`` scores N prompts spread evenly over the pool, still retrieving among
    the whole pool."""

    models: tuple[str, ...] = ("embedded",)
    pool: str | None = None
    out_dir: Path = Path("reports/benchmark")
    k: int = DEFAULT_K
    alpha: float = DEFAULT_ALPHA
    eps: float = DEFAULT_EPS
    psi: str = DEFAULT_PSI  # core.PSI_METHODS: how the top-k rows make psi
    batch_size: int = 16
    limit: int | None = None
    judges: tuple[str, ...] = JUDGES
    use_clip: bool = True
    clip_model: str = DEFAULT_CLIP_MODEL
    clip_pretrained: str = DEFAULT_CLIP_PRETRAINED
    render_size: int = 256
    resume: bool = True

    def __post_init__(self) -> None:
        self.out_dir = Path(self.out_dir)
        unknown = set(self.judges) - set(JUDGES)
        if unknown:
            raise InvalidInputError(f"Unknown judge(s) {sorted(unknown)}; choose from {', '.join(JUDGES)}.")
        if not self.models:
            raise InvalidInputError("Name at least one text model to benchmark.")
        if self.batch_size < 1:
            raise InvalidInputError("batch_size must be at least 1.")
        check_psi(self.psi)


@dataclass
class ModelScores:
    """One row of the report; None where a number could not be computed."""

    model: str
    prompts: int
    mse: float | None = None
    emotion_mae: float | None = None
    emo3d: float | None = None
    mean_kl: float | None = None
    recall_at_k: float | None = None
    emo3d_released_code: float | None = None
    fer_kl: float | None = None
    fer_agreement: float | None = None
    mediapipe_r: float | None = None
    mediapipe_mse: float | None = None
    mediapipe_detected: float | None = None


@dataclass
class BenchmarkReport:
    rows: list[ModelScores]
    pool_name: str
    pool_size: int
    k: int
    alpha: float
    clip_model: str | None
    clip_note: str = ""
    files: dict[str, Path] = field(default_factory=dict)
    psi: str = DEFAULT_PSI


class GroundTruthModel:
    """'Predicts' the pool's own blendshapes (the first valid Emo3D score): the ceiling row."""

    def __init__(self, pool: PromptPool):
        if not pool.has_ground_truth:
            raise InvalidInputError(
                "The 'ground-truth' model needs a pool with blendshapes (an Emo3D split file)."
            )
        self._truth = {t: g for t, g in zip(pool.texts, pool.ground_truth)}

    def predict_batch(self, texts: list[str]) -> list[Any]:
        out = []
        for text in texts:
            truth = self._truth.get(text)
            shapes = Blendshapes(truth[0]) if truth is not None else Blendshapes.zeros()
            out.append(type("Prediction", (), {"shapes": shapes, "emotions": None})())
        return out


def default_render_fn(size: int) -> RenderFn:
    """The app's renderer (emo_app.face), front view, white background."""
    from emo_app.face import get_face_renderer

    renderer = get_face_renderer()

    def render(shapes: list[Blendshapes]) -> list[np.ndarray]:
        return renderer.render_batch(shapes, size=size)

    return render


def _cache_file(config: BenchmarkConfig, model: str, pool: PromptPool, clip_id: str | None) -> Path:
    key = json.dumps(
        {"model": model, "pool": pool.content_hash, "clip": clip_id, "judges": sorted(config.judges),
         "size": config.render_size},
        sort_keys=True,
    )
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", model)[:40]
    return config.out_dir / ".cache" / f"{slug}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.jsonl"


def _read_records(path: Path) -> dict[int, dict[str, Any]]:
    records: dict[int, dict[str, Any]] = {}
    if not path.exists():
        return records
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                record = json.loads(line)
                records[int(record["i"])] = record
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by an interrupted run
    return records


def _round(values: Any, digits: int = 6) -> list[float] | None:
    if values is None:
        return None
    return [round(float(v), digits) for v in np.asarray(values).ravel()]


def _score_batch(
    indices: list[int],
    pool: PromptPool,
    model: TextModelLike,
    render_fn: RenderFn,
    clip: ClipEncoder | None,
    judges: tuple[str, ...],
    fer: Any,
    mediapipe: Any,
) -> list[dict[str, Any]]:
    predictions = model.predict_batch([pool.texts[i] for i in indices])
    shapes = [p.shapes for p in predictions]
    images = render_fn(shapes)
    if len(images) != len(shapes):
        raise InvalidInputError(f"The renderer returned {len(images)} images for {len(shapes)} faces.")
    embeddings = clip.encode_images(images) if clip is not None else [None] * len(images)
    fer_probs = fer.classify(images) if "fer" in judges else [None] * len(images)
    records = []
    for row, i in enumerate(indices):
        read = mediapipe.read(images[row]) if "mediapipe" in judges else None
        emotions = getattr(predictions[row], "emotions", None)
        records.append({
            "i": i,
            "shapes": _round(shapes[row].values, 5),
            "emotions": _round(emotions.values, 5) if emotions is not None else None,
            "image_embedding": _round(embeddings[row]),
            "fer": _round(fer_probs[row]),
            "mediapipe": _round(read.values, 5) if read is not None else None,
        })
    return records


def _mean(values: Sequence[float]) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def summarise(
    model_name: str,
    records: dict[int, dict[str, Any]],
    pool: PromptPool,
    query: np.ndarray,
    text_embeddings: np.ndarray | None,
    config: BenchmarkConfig,
) -> ModelScores:
    """Turn per-prompt records into one report row."""
    from emo_app.metric.judges import blendshape_agreement, fer_verdict

    scores = ModelScores(model=model_name, prompts=len(query))
    shapes = {i: np.asarray(records[i]["shapes"]) for i in query}
    mses = []
    for i in query:
        truth = pool.ground_truth[i]
        if truth is not None:
            mses.append(float(np.mean((truth[:, :51] - shapes[i][None, :51]) ** 2)))
    scores.mse = _mean(mses)
    maes = [float(np.mean(np.abs(np.asarray(records[i]["emotions"]) - pool.intensities[i])))
            for i in query if records[i].get("emotions") is not None]
    scores.emotion_mae = _mean(maes)
    if text_embeddings is not None and all(records[i].get("image_embedding") for i in query):
        images = np.array([records[i]["image_embedding"] for i in query])
        common = dict(k=config.k, alpha=config.alpha, eps=config.eps)
        paper = emo3d_metric(images, text_embeddings, pool.intensities, query, psi=config.psi, **common)
        released = emo3d_metric(
            images, text_embeddings, pool.intensities, query, released_code=True, **common
        )
        scores.emo3d, scores.mean_kl, scores.recall_at_k = paper.score, paper.mean_kl, paper.recall_at_k
        scores.emo3d_released_code = released.score
    if "fer" in config.judges:
        verdicts = [fer_verdict(records[i]["fer"], pool.intensities[i], config.eps) for i in query]
        scores.fer_kl = _mean([v.kl for v in verdicts])
        scores.fer_agreement = _mean([float(v.top_class == v.expected_class) for v in verdicts])
    if "mediapipe" in config.judges:
        agreements = [
            blendshape_agreement(Blendshapes(shapes[i]), Blendshapes(np.asarray(records[i]["mediapipe"])))
            for i in query if records[i].get("mediapipe") is not None
        ]
        scores.mediapipe_detected = len(agreements) / len(query)
        scores.mediapipe_r = _mean([a["pearson_r"] for a in agreements])
        scores.mediapipe_mse = _mean([a["mse"] for a in agreements])
    return scores


def run_benchmark(
    config: BenchmarkConfig,
    *,
    text_models: dict[str, TextModelLike] | None = None,
    render_fn: RenderFn | None = None,
    clip: ClipEncoder | None = None,
    fer: Any = None,
    mediapipe: Any = None,
    text_cache: TextEmbeddingCache | None = None,
    progress: bool = True,
    write: bool = True,
) -> BenchmarkReport:
    """Run (or resume) the benchmark and write report.md, report.csv and report.png. Under
    ``accelerate launch`` each round's prompts are split between the processes (each renders and
    scores its share with its own models) and gathered on the main process, which alone writes
    the cache and the report; the result is the one a single process gives."""
    from accelerate import PartialState

    from emo_app.config import Settings
    from emo_app.models.manager import accelerate_cpu

    state = PartialState(cpu=accelerate_cpu(Settings.from_env().device))

    pool = load_pool(config.pool)
    query = _query_indices(config, pool)
    clip, clip_note = _benchmark_clip(config, clip)
    text_embeddings = None
    if clip is not None:
        text_cache = text_cache or TextEmbeddingCache()
        text_embeddings = text_cache.pool_embeddings(clip, pool)
    fer, mediapipe = _benchmark_judges(config, fer, mediapipe)
    render_fn = render_fn or default_render_fn(config.render_size)
    rows = []
    for name in config.models:
        model = _benchmark_text_model(name, pool, text_models)
        records = _score_model(
            name, model, pool, query, config, state=state, render_fn=render_fn, clip=clip,
            fer=fer, mediapipe=mediapipe, progress=progress,
        )
        rows.append(summarise(name, records, pool, query, text_embeddings, config))
    report = BenchmarkReport(rows, pool.name, len(pool), config.k, config.alpha,
                             clip.model_id if clip else None, clip_note, psi=config.psi)
    if write and state.is_main_process:
        report.files = write_report(report, config.out_dir)
    state.wait_for_everyone()
    return report


def _query_indices(config: BenchmarkConfig, pool: PromptPool) -> np.ndarray:
    """The pool rows to score: all of them, or ``config.limit`` spread evenly over the pool."""
    n_query = len(pool) if config.limit is None else max(1, min(config.limit, len(pool)))
    # spread a limited run evenly over the pool: pools are often sorted by emotion
    query = np.unique(np.linspace(0, len(pool) - 1, n_query).round().astype(np.int64))
    if config.k > len(pool):
        raise InvalidInputError(f"k = {config.k} is larger than the pool ({len(pool)} prompts).")
    return query


def _benchmark_clip(config: BenchmarkConfig, clip: ClipEncoder | None) -> tuple[ClipEncoder | None, str]:
    """(CLIP encoder or None, the report's note on why Emo3D is missing): missing weights only
    drop the Emo3D columns, they do not stop the offline judges."""
    clip_note = ""
    if clip is None and config.use_clip:
        try:
            clip = get_clip(config.clip_model, config.clip_pretrained)
        except MissingWeightsError as exc:
            log.info("Emo3D not computed: %s", exc)  # where it looked, for whoever runs the server
            clip_note = (
                f"Emo3D not computed: it needs the CLIP model '{exc.name}', whose weights are not on "
                f"this machine. {exc.fetch_hint.strip()} The numbers below come from the offline "
                "judges only; they are not the Emo3D metric."
            )
    elif not config.use_clip:
        clip, clip_note = None, "Emo3D not computed: CLIP was switched off for this run."
    return clip, clip_note


def _benchmark_judges(config: BenchmarkConfig, fer: Any, mediapipe: Any) -> tuple[Any, Any]:
    """The FER and MediaPipe judges the config asks for, loaded unless injected."""
    if fer is None and "fer" in config.judges:
        from emo_app.metric.judges import get_fer_judge

        fer = get_fer_judge()
    if mediapipe is None and "mediapipe" in config.judges:
        from emo_app.metric.judges import get_mediapipe_judge

        mediapipe = get_mediapipe_judge()
    return fer, mediapipe


def _benchmark_text_model(name: str, pool: PromptPool,
                          text_models: dict[str, TextModelLike] | None) -> TextModelLike:
    """An injected model by name, the pool's own blendshapes for ``ground-truth``, else the registry's."""
    model = (text_models or {}).get(name)
    if model is None:
        if name == "ground-truth":
            model = GroundTruthModel(pool)
        else:
            from emo_app.text import get_text_model

            model = get_text_model(name)
    return model


def _score_model(
    name: str, model: TextModelLike, pool: PromptPool, query: np.ndarray, config: BenchmarkConfig, *,
    state: Any, render_fn: RenderFn, clip: ClipEncoder | None, fer: Any, mediapipe: Any, progress: bool,
) -> dict[int, dict[str, Any]]:
    """One model's per-prompt records: the cached ones, then the rest scored in rounds (one batch
    per process each), appended to the cache after every round so an interrupted run resumes."""
    from accelerate.utils import gather_object
    from tqdm.auto import tqdm

    cache_path = _cache_file(config, name, pool, clip.model_id if clip else None)
    records = _read_records(cache_path) if config.resume else {}
    todo = [int(i) for i in query if int(i) not in records]
    state.wait_for_everyone()  # every process has read the cache before the main one appends
    if state.is_main_process:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        cache_path.open("a" if config.resume else "w", encoding="utf-8").close()
    step = config.batch_size * state.num_processes  # one batch per process per round
    with tqdm(total=len(query), initial=len(query) - len(todo), desc=name, unit="face",
              disable=not (progress and state.is_main_process)) as bar:
        for start in range(0, len(todo), step):
            chunk = todo[start : start + step]
            with state.split_between_processes(chunk) as mine:  # contiguous shards, in order
                new = _score_batch(mine, pool, model, render_fn, clip, config.judges, fer, mediapipe) \
                    if mine else []
            new = gather_object(new)  # every process's records, in process order
            for record in new:
                records[record["i"]] = record
            if state.is_main_process:  # appended round by round: an interrupted run resumes
                with cache_path.open("a", encoding="utf-8") as handle:
                    handle.writelines(json.dumps(record) + "\n" for record in new)
            bar.update(len(chunk))
    return records


_COLUMNS = (
    ("model", "Model"), ("prompts", "Prompts"), ("mse", "MSE"), ("emotion_mae", "Emotion MAE"),
    ("emo3d", "Emo3D (lower is better)"), ("mean_kl", "Mean KL"), ("recall_at_k", "Recall@k"),
    ("emo3d_released_code", "Emo3D, released-code formula"),
    ("fer_kl", "Offline FER judge: KL"), ("fer_agreement", "Offline FER judge: top-1 agreement"),
    ("mediapipe_r", "Offline MediaPipe judge: Pearson r"), ("mediapipe_mse", "Offline MediaPipe judge: MSE"),
    ("mediapipe_detected", "Offline MediaPipe judge: faces found"),
)  # fmt: skip
# the measures charted, one panel each (the report's and the page's chart)
CHART_PANELS = (("emo3d", "Emo3D (lower is better)"), ("recall_at_k", "Recall@k (higher is better)"),
                ("fer_kl", "Offline FER judge KL (lower is better)"),
                ("mediapipe_r", "Offline MediaPipe r (higher is better)"))


# what each measure is and which way is better, under the report's table (computed ones only)
MEANINGS = {
    "mse": "MSE (lower is better): the 51 MediaPipe blendshapes against the pool's ground truth "
           "(only a pool with ground-truth blendshapes, the Emo3D split, has it).",
    "emotion_mae": "Emotion MAE (lower is better): the model's 8 emotion intensities against the "
                   "pool's labels, mean absolute difference.",
    "emo3d": "Emo3D (lower is better): sigmoid(mean KL / alpha) with the paper's definition (psi "
             "as stated above); 0.5 means perfect retrieval.",
    "mean_kl": "Mean KL (lower is better): the KL divergence Emo3D is made from.",
    "recall_at_k": "Recall@k (higher is better): the share of faces whose own prompt is among the k "
                   "prompts CLIP retrieves for them.",
    "emo3d_released_code": "Emo3D, released-code formula: the authors' released formula (a sum over "
                           "the k rows), comparable only with numbers produced by that code.",
    "fer_kl": "Offline FER judge: KL (lower is better): the prompt's emotions against what an "
              "offline facial-expression classifier reads on the rendered face.",
    "fer_agreement": "Offline FER judge: top-1 agreement (higher is better): the share of faces "
                     "whose strongest emotion, as the classifier reads it, is the prompt's.",
    "mediapipe_r": "Offline MediaPipe judge: Pearson r (higher is better): the 51 blendshapes the "
                   "model asked for against the ones MediaPipe reads back from the rendered face.",
    "mediapipe_mse": "Offline MediaPipe judge: MSE (lower is better): the same comparison as a "
                     "mean squared error.",
    "mediapipe_detected": "Offline MediaPipe judge: faces found: the share of renders in which "
                          "MediaPipe found a face (its r and MSE are over those).",
}


# fractions of the prompts, written as percentages ("faces found 1.0000" read as one face)
SHARE_MEASURES = frozenset({"mediapipe_detected"})


def _fmt(value: Any, key: str = "") -> str:
    if value is None:
        return "n/a"
    if key in SHARE_MEASURES:
        return f"{value:.0%}"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def write_report(report: BenchmarkReport, out_dir: Path) -> dict[str, Path]:
    """report.md (Table-2 style), report.csv (one row per model) and report.png (a bar panel
    per computed measure; none when nothing was)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    shown = computed_measures(report.rows, _COLUMNS)  # no column of "n/a" only
    header = [title.replace("Recall@k", f"Recall@{report.k}") for _, title in shown]
    csv_path = out_dir / "report.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([key for key, _ in _COLUMNS])
        for row in report.rows:
            values = asdict(row)
            writer.writerow(["" if values[key] is None else values[key] for key, _ in _COLUMNS])
    lines = [
        "# Emo3D benchmark",
        "",
        f"Pool: `{report.pool_name}` ({report.pool_size} prompts); k = {report.k}; alpha = {report.alpha}; "
        f"CLIP: {report.clip_model or 'none'}.",
        "",
    ]
    if any(row.emo3d is not None for row in report.rows):  # how psi was made, where Emo3D was
        lines += [f"Emo3D's {PSI_DESCRIPTIONS[report.psi]} (`{report.psi}`).", ""]
    if report.clip_note:
        lines += [f"> {report.clip_note}", ""]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in report.rows:
        values = asdict(row)
        lines.append("| " + " | ".join(_fmt(values[key], key) for key, _ in shown) + " |")
    lines += ["", "What the numbers mean:", ""]
    lines += [f"- {MEANINGS[key]}".replace("Recall@k", f"Recall@{report.k}") for key, _ in shown
              if key in MEANINGS]
    missing = [title.split(" (")[0].replace("Recall@k", f"Recall@{report.k}") for key, title in _COLUMNS
               if (key, title) not in shown]
    if missing:
        lines += ["", f"Not computed in this run: {'; '.join(missing)}."]
    lines += [
        "",
        "The offline judges are not the Emo3D metric.",
        "",
        "Paper Table 2 for reference (MSE / Emo3D, their unpublished pool and alpha): "
        + "; ".join(f"{m} {a} / {b}" for m, (a, b) in PAPER_TABLE_2.items()) + ".",
        "",
    ]
    md_path = out_dir / "report.md"
    md_path.write_text("\n".join(lines), encoding="utf-8")
    files = {"markdown": md_path, "csv": csv_path}
    png_path = out_dir / "report.png"
    png_path.unlink(missing_ok=True)  # a resumed run's old chart must not outlive its numbers
    if _plot(report, png_path):
        files["png"] = png_path
    return files


def computed_measures(
    rows: list[ModelScores], measures: tuple[tuple[str, str], ...]
) -> list[tuple[str, str]]:
    """The (key, title) pairs some row holds a number for: a measure nobody could compute here
    (CLIP's, offline) gets no empty column or panel."""
    return [(key, title) for key, title in measures if any(getattr(row, key) is not None for row in rows)]


def _plot(report: BenchmarkReport, path: Path) -> bool:
    """One bar panel per computed measure; False (no file) when none was computed."""
    panels = computed_measures(report.rows, CHART_PANELS)
    if not panels:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r.model for r in report.rows]
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.4), squeeze=False)
    for ax, (key, title) in zip(axes[0], panels):
        values = [getattr(r, key) for r in report.rows]
        heights = [v if v is not None else 0.0 for v in values]
        bars = ax.bar(range(len(names)), heights, width=0.6, color="#4C72B0")
        ax.set_xlim(-0.8, len(names) - 0.2)  # one model: a bar, not a wall
        ax.margins(y=0.15)  # room for the value above the tallest bar
        for bar, value in zip(bars, values):  # the number beyond the bar's end, either way
            below = value is not None and value < 0
            ax.annotate(_fmt(value), (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="top" if below else "bottom", fontsize=8)
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
        ax.set_title(title.replace("@k", f"@{report.k}"), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
