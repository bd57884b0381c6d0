"""Benchmark tab: the Emo3D metric (and the offline judges) over a prompt pool, as a table of
the numbers that were computed, a chart with one panel per computed measure, and CSV/Markdown
files. Models that cannot run here are skipped with their reason."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from emo_app.config import Settings
from emo_app.metric.benchmark import CHART_PANELS, MEANINGS, SHARE_MEASURES, computed_measures
from emo_app.ui.common import plot_data, show_when_filled, ui_errors

# what a pool CSV must hold (said before an upload is refused for lacking it)
POOL_FORMAT = ("Your own pool: a CSV with a `text` column and the 8 emotion columns `neutral`, "
               "`happiness`, `surprise`, `sadness`, `anger`, `disgust`, `fear`, `contempt`; or an "
               "Emo3D split CSV.")

# (field of a report row, column title: ↓ lower is better, ↑ higher is better); a column shows
# only when some model has a number
COLUMNS = (
    ("model", "model"), ("prompts", "prompts"), ("mse", "MSE ↓"), ("emotion_mae", "emotion MAE ↓"),
    ("emo3d", "Emo3D ↓"), ("mean_kl", "mean KL ↓"), ("recall_at_k", "recall@k ↑"),
    ("emo3d_released_code", "Emo3D (released code)"), ("fer_kl", "FER judge KL ↓"),
    ("fer_agreement", "FER judge agreement ↑"), ("mediapipe_r", "MediaPipe judge r ↑"),
    ("mediapipe_mse", "MediaPipe judge MSE ↓"), ("mediapipe_detected", "faces found"),
)  # fmt: skip


def _cell(key: str, value: Any) -> Any:
    if value is None:
        return ""
    if key in SHARE_MEASURES:
        return f"{value:.0%}"
    return round(value, 4) if isinstance(value, float) else value


def report_table(rows: list[Any], k: int) -> tuple[list[str], list[list[Any]]]:
    """(headers, rows) with only the columns that hold a number for some model."""
    keys = [(key, title.replace("@k", f"@{k}")) for key, title in computed_measures(rows, COLUMNS)]
    values = [[_cell(key, getattr(row, key)) for key, _ in keys] for row in rows]
    return [title for _, title in keys], values


def report_chart(rows: list[Any], k: int):
    """One bar panel per measure that was computed (none left empty), side by side, titled as
    the table's columns (short, with the arrow that says which way is better: four panels share
    a phone's width)."""
    titles = dict(COLUMNS)
    panels = [(key, titles[key].replace("@k", f"@{k}")) for key, _ in computed_measures(rows, CHART_PANELS)]
    if not panels:
        return None
    names = [row.model for row in rows]
    gap, width = 0.06, 1 / len(panels)
    traces: list[dict[str, Any]] = []
    layout: dict[str, Any] = {"height": 340, "showlegend": False, "annotations": [],
                              "margin": {"l": 40, "r": 10, "t": 50, "b": 10}}
    for i, (key, title) in enumerate(panels):
        suffix = "" if i == 0 else str(i + 1)
        values = [getattr(row, key) for row in rows]
        traces.append({"type": "bar", "x": names, "y": values, "xaxis": f"x{suffix}", "yaxis": f"y{suffix}",
                       "text": [f"{v:.3f}" if v is not None else "" for v in values], "textposition": "auto",
                       "marker": {"color": "#4C72B0"}, "name": title})
        domain = [i * width + (gap / 2 if i else 0),
                  (i + 1) * width - (gap / 2 if i < len(panels) - 1 else 0)]
        layout[f"xaxis{suffix}"] = {"domain": domain, "anchor": f"y{suffix}", "automargin": True,
                                    "tickangle": -30}
        layout[f"yaxis{suffix}"] = {"anchor": f"x{suffix}", "automargin": True}
        layout["annotations"].append({"text": title, "x": sum(domain) / 2, "y": 1.08, "xref": "paper",
                                      "yref": "paper", "showarrow": False, "xanchor": "center"})
    return plot_data(traces, layout)


@ui_errors
def benchmark(models: list[str], pool_file: Any, limit: int, k: int,
              progress: gr.Progress = gr.Progress(track_tqdm=True)) -> tuple:  # noqa: B008
    """Run (or resume) the benchmark over the first ``limit`` prompts: (notes, table, chart,
    files). Models that cannot run here are skipped and named in the notes."""
    from emo_app import services

    pool = getattr(pool_file, "name", pool_file) or None
    outcome = services.benchmark(list(models or []), pool=pool, limit=int(limit), k=int(k))
    report = outcome.report
    notes = [f"Pool `{report.pool_name}` ({report.pool_size} prompts); k = {report.k}; "
             f"CLIP: {report.clip_model or 'none'}."]
    if report.clip_note:
        notes.append(f"⚠️ {report.clip_note}")
    if outcome.skipped:
        notes.append("Skipped (cannot run here):\n" + "\n".join(f"- {line}" for line in outcome.skipped))
    import pandas as pd

    headers, rows = report_table(report.rows, report.k)
    return ("\n\n".join(notes), pd.DataFrame(rows, columns=headers),
            report_chart(report.rows, report.k), [str(p) for p in report.files.values()])


FIRST_RUN_NOTE = ("Made when you opened this tab, with the settings on the left. Pick other models, "
                  "your own pool or more prompts, then press *Run the benchmark*.")


@ui_errors
def first_benchmark(shown: Any, models: list[str], pool_file: Any, limit: int, k: int,
                    progress: gr.Progress = gr.Progress(track_tqdm=True)) -> tuple:  # noqa: B008
    """The run the controls set, when the tab shows no report yet: the first visit shows what
    the benchmark reports (2 s for the default 40 prompts) instead of an empty chart."""
    if shown:
        return tuple(gr.skip() for _ in range(4))
    notes, table, chart, files = benchmark(models, pool_file, limit, k, progress=progress)
    return f"{FIRST_RUN_NOTE}\n\n{notes}", table, chart, files


def build_benchmark_tab(settings: Settings) -> Callable[[gr.Tab], None]:
    """Lay out the Benchmark tab and wire its events (call inside a gr.Tab); returns what wires
    the tab's own select event (the first visit shows the default run's report)."""
    from emo_app.ui.tabs.describe import model_choices, unavailable_models_note

    with gr.Row():
        with gr.Column(scale=1):
            models = gr.CheckboxGroup(model_choices(settings), value=["embedded"], label="Text models")
            models_note = unavailable_models_note(settings)
            if models_note:  # why a model is marked unavailable, before anyone runs it
                with gr.Accordion("Unavailable models and how to get them", open=False):
                    gr.Markdown(models_note)
            pool = gr.File(label="Prompt pool CSV (optional; the shipped 400+ prompt pool otherwise)",
                           file_types=[".csv"])
            gr.Markdown(POOL_FORMAT, elem_id="benchmark-pool-format")
            limit = gr.Slider(5, 500, value=40, step=5,
                              label="Prompts to score (retrieval uses the whole pool)")
            k = gr.Slider(1, 20, value=10, step=1, label="k (top-k retrieval)")
            go = gr.Button("Run the benchmark", variant="primary")
        with gr.Column(scale=2):
            notes = gr.Markdown(label="Notes", elem_id="benchmark-notes")
            # hidden until a run fills it (empty, it showed meaningless "1 2 3" column titles);
            # wrapped titles keep every column in view
            table = gr.Dataframe(label="Scores per model", interactive=False, wrap=True, visible=False,
                                 elem_id="benchmark-table")
            with gr.Accordion("What the numbers mean (↓ lower is better, ↑ higher is better)", open=False):
                gr.Markdown("\n".join(f"- {meaning}" for meaning in MEANINGS.values()))
            plot = gr.Plot(label="Report chart")
            # not interactive: it is also an input (first_benchmark reads whether a report is shown)
            files = gr.File(label="Report files (Markdown, CSV, PNG)", file_count="multiple",
                            interactive=False, elem_id="benchmark-files")
    outputs = [notes, table, plot, files]
    go.click(benchmark, [models, pool, limit, k], outputs, api_name="benchmark",
             concurrency_id="render").then(show_when_filled, table, table, api_visibility="private")

    def on_first_visit(tab: gr.Tab) -> None:
        tab.select(first_benchmark, [files, models, pool, limit, k], outputs, api_visibility="private",
                   concurrency_id="render").then(show_when_filled, table, table, api_visibility="private")

    return on_first_visit

