"""Small pieces every tab shares: error translation, the GPU decorator and plots."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

from emo_app.blendshapes import GROUPS, Blendshapes
from emo_app.emotion.emotions import EMO3D_EMOTIONS, EmotionIntensities
from emo_app.errors import EmoAppError

F = TypeVar("F", bound=Callable[..., Any])

GROUP_COLOURS = {
    "brows": "#8e6c8a", "eyes": "#3d7ea6", "jaw": "#c06c84", "mouth": "#e07a5f",
    "cheeks": "#f2a65a", "nose": "#6a994e", "tongue": "#bc4749",
}  # fmt: skip
EMOTION_COLOURS = ["#9e9e9e", "#f4c430", "#ff8c42", "#4a6fa5", "#d7263d", "#6a994e", "#7b2cbf", "#5c4d7d"]


def ui_errors(fn: F) -> F:
    """Show our errors (bad input, missing weights) as a gr.Error sentence in the page."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import gradio as gr

        try:
            return fn(*args, **kwargs)
        except EmoAppError as exc:
            raise gr.Error(str(exc), duration=12) from exc

    return wrapper  # type: ignore[return-value]


def photo_upload(**kwargs: Any):
    """A gr.Image for photo uploads whose files pass our image check BEFORE Gradio decodes them,
    so a damaged, truncated, non-image or oversized upload gets our specific sentence instead of
    PIL's generic error. (The check is bound to this one instance: subclassing gr.Image would make
    Gradio write a .pyi stub beside our source at import.)"""
    import types

    import gradio as gr

    from emo_app.errors import EmoAppError
    from emo_app.validation import load_image

    component = gr.Image(**kwargs)
    decode = component.preprocess

    def checked_preprocess(self: Any, payload: Any) -> Any:
        path = getattr(payload, "path", None)
        if path and not str(getattr(payload, "url", None) or "").startswith("data:"):
            try:
                load_image(path)
            except EmoAppError as exc:
                raise gr.Error(str(exc), duration=12) from exc
        return decode(payload)

    component.preprocess = types.MethodType(checked_preprocess, component)
    return component


def gpu(fn: F) -> F:
    """``@spaces.GPU`` on Hugging Face ZeroGPU Spaces; unchanged everywhere else."""
    if os.environ.get("SPACES_ZERO_GPU") or os.environ.get("SPACE_ID"):
        import spaces

        return spaces.GPU(fn)  # type: ignore[return-value]
    return fn


@functools.lru_cache(maxsize=1)
def _plotly_template() -> dict:
    import plotly.io as pio

    return pio.templates[pio.templates.default].to_plotly_json()


def plot_data(data: list[dict[str, Any]], layout: dict[str, Any]):
    """A plotly chart for gr.Plot from plain trace and layout dicts, with plotly's default look:
    skips building and validating a plotly Figure on every request (the slow part)."""
    import json

    from gradio.components.plot import PlotData

    figure = {"data": data, "layout": {"template": _plotly_template(), **layout}}
    return PlotData(type="plotly", plot=json.dumps(figure))


def emotions_figure(emotions: EmotionIntensities):
    """The 8 Emo3D intensities as a bar chart."""
    bars = {"type": "bar", "x": list(EMO3D_EMOTIONS), "y": [float(v) for v in emotions.values],
            "marker": {"color": EMOTION_COLOURS}}
    return plot_data([bars], {"title": {"text": "Emotion intensities"}, "yaxis": {"range": [0, 1]},
                              "height": 300, "margin": {"l": 30, "r": 10, "t": 40, "b": 30}})


def blendshapes_figure(shapes: Blendshapes):
    """The 52 weights grouped by face region (brows, eyes, jaw, mouth, cheeks, nose, tongue)."""
    bars = [{"type": "bar", "x": list(names), "y": [float(shapes[n]) for n in names], "name": group,
             "marker": {"color": GROUP_COLOURS[group]}} for group, names in GROUPS.items()]
    return plot_data(bars, {"title": {"text": "ARKit blendshapes by region"}, "yaxis": {"range": [0, 1]},
                            "height": 340, "margin": {"l": 30, "r": 10, "t": 40, "b": 110},
                            "legend": {"orientation": "h"}, "xaxis": {"tickangle": -60}})


def explanation_rows(explanation: dict[str, list[tuple[str, float]]], shapes: Blendshapes,
                     limit: int = 20) -> list[list[Any]]:
    """Rows of (shape, weight, reasons) for the strongest shapes, for a table."""
    ranked = sorted(((shapes[n], n) for n in explanation if shapes[n] > 0.01), reverse=True)[:limit]
    return [[name, round(weight, 3), "; ".join(f"{s} ({v:.2f})" for s, v in explanation[name][:3])]
            for weight, name in ranked]
