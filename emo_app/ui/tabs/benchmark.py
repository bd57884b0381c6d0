"""Benchmark tab: the Emo3D metric (and the offline judges) over a prompt pool, as a table,
a plot and CSV/Markdown files."""

from __future__ import annotations

from typing import Any

import gradio as gr

from emo_app.config import Settings
from emo_app.ui.common import ui_errors


@ui_errors
def benchmark(models: list[str], pool_file: Any, limit: int, k: int,
              progress: gr.Progress = gr.Progress(track_tqdm=True)) -> tuple:  # noqa: B008
    """Run (or resume) the benchmark over the first ``limit`` prompts."""
    from emo_app.metric.benchmark import BenchmarkConfig, run_benchmark
    from emo_app.services import output_dir

    if not models:
        from emo_app.errors import InvalidInputError

        raise InvalidInputError("Pick at least one text model to benchmark.")
    pool = getattr(pool_file, "name", pool_file) or None
    config = BenchmarkConfig(models=tuple(models), pool=pool, out_dir=output_dir("benchmark"),
                             limit=int(limit), k=int(k))
    report = run_benchmark(config, progress=True)  # tqdm bars show in the page
    files = report.files
    markdown = files["markdown"].read_text() if "markdown" in files else ""
    return markdown, str(files["png"]) if "png" in files else None, [str(p) for p in files.values()]


def build_benchmark_tab(settings: Settings) -> None:
    """Lay out the Benchmark tab and wire its events (call inside a gr.Tab)."""
    from emo_app.ui.tabs.describe import model_choices

    with gr.Row():
        with gr.Column(scale=1):
            models = gr.CheckboxGroup(model_choices(settings), value=["embedded"], label="Text models")
            pool = gr.File(label="Prompt pool CSV (optional; the shipped 400+ prompt pool otherwise)",
                           file_types=[".csv"])
            limit = gr.Slider(5, 500, value=40, step=5,
                              label="Prompts to score (retrieval uses the whole pool)")
            k = gr.Slider(1, 20, value=10, step=1, label="k (top-k retrieval)")
            go = gr.Button("Run the benchmark", variant="primary")
        with gr.Column(scale=2):
            report = gr.Markdown()
            plot = gr.Image(label="Report plot", type="filepath")
            files = gr.File(label="Report files (Markdown, CSV, PNG)", file_count="multiple")
    go.click(benchmark, [models, pool, limit, k], [report, plot, files], api_name="benchmark",
             concurrency_id="render")
