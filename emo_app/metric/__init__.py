"""The Emo3D metric (live and in batch), prompt pools, offline judges and the benchmark report.

Nothing heavy is imported here: CLIP, MediaPipe and TFLite load on first use.
"""

from emo_app.metric.core import (
    DEFAULT_ALPHA,
    DEFAULT_EPS,
    DEFAULT_K,
    MetricResult,
    emo3d_metric,
    kl_divergence,
)
from emo_app.metric.pool import PromptPool, load_pool

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_EPS",
    "DEFAULT_K",
    "MetricResult",
    "PromptPool",
    "emo3d_metric",
    "kl_divergence",
    "live_score",
    "load_pool",
    "offline_judges",
    "score_face",
]


def __getattr__(name: str):  # lazy: importing emo_app.metric stays cheap
    if name in {"live_score", "score_face", "LiveScore"}:
        from emo_app.metric import live

        return getattr(live, name)
    if name == "offline_judges":
        from emo_app.metric.judges import offline_judges

        return offline_judges
    raise AttributeError(name)
