"""The Describe tab's live score: one rendered face against the prompt pool.

``live_score`` is the Emo3D metric for a single face (the text's intensities are phi, the
retrieved prompts give psi). It needs CLIP: without the weights it raises
``MissingWeightsError`` and ``score_face`` falls back to the offline judges, saying so.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from emo_app.blendshapes import Blendshapes
from emo_app.emotion.emotions import EMO3D_EMOTIONS, EmotionIntensities, as_intensities
from emo_app.errors import MissingWeightsError
from emo_app.metric.core import (
    DEFAULT_ALPHA,
    DEFAULT_EPS,
    DEFAULT_K,
    DEFAULT_PSI,
    emo3d_score,
    kl_divergence,
    mean_distribution,
    softmax_similarity,
    top_k,
)
from emo_app.metric.pool import PromptPool, load_pool
from emo_app.models.clip import ClipEncoder, TextEmbeddingCache, get_clip

EMO3D_LABEL = "Emo3D metric (CLIP retrieval; lower is better, 0.5 = perfect)"


@dataclass
class LiveScore:
    """Emo3D for one face, with the prompts CLIP retrieved for it."""

    score: float
    kl: float
    k: int
    alpha: float
    clip_model: str
    top: list[dict[str, Any]] = field(default_factory=list)
    label: str = EMO3D_LABEL

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label, "score": round(self.score, 6), "kl": round(self.kl, 6),
            "k": self.k, "alpha": self.alpha, "clip_model": self.clip_model, "top": self.top,
        }


@functools.lru_cache(maxsize=1)
def _shipped_pool() -> PromptPool:
    return load_pool()


def live_score(
    image: np.ndarray,
    intensities: EmotionIntensities | Any,
    *,
    k: int = DEFAULT_K,
    pool: PromptPool | None = None,
    clip: ClipEncoder | None = None,
    alpha: float = DEFAULT_ALPHA,
    eps: float = DEFAULT_EPS,
    cache: TextEmbeddingCache | None = None,
    psi: str = DEFAULT_PSI,
) -> LiveScore:
    """Score one face: MissingWeightsError when CLIP is absent (offer ``offline_judges``)."""
    pool = pool or _shipped_pool()
    clip = clip or get_clip()
    cache = cache or TextEmbeddingCache()
    text_embeddings = cache.pool_embeddings(clip, pool)
    image_embedding = clip.encode_images([image])
    probabilities = softmax_similarity(image_embedding, text_embeddings)[0]
    indices = top_k(probabilities[None], k)[0]
    phi = as_intensities(intensities).distribution()
    kl = kl_divergence(phi, mean_distribution(pool.intensities, indices, psi), eps)
    top = [
        {
            "id": pool.ids[i],
            "text": pool.texts[i],
            "similarity": round(float(probabilities[i]), 6),
            "intensities": {e: round(float(v), 3) for e, v in zip(EMO3D_EMOTIONS, pool.intensities[i])},
        }
        for i in indices
    ]
    return LiveScore(emo3d_score(kl, alpha), kl, k, alpha, clip.model_id, top)


def score_face(
    image: np.ndarray,
    intensities: EmotionIntensities | Any,
    intended: Blendshapes | None = None,
    *,
    k: int = DEFAULT_K,
    pool: PromptPool | None = None,
    clip: ClipEncoder | None = None,
    judges: bool = True,
) -> dict[str, Any]:
    """Emo3D when CLIP is present, and the offline judges; a plain message when CLIP is absent."""
    from emo_app.metric.judges import offline_judges

    result: dict[str, Any] = {"emo3d": None, "emo3d_unavailable": ""}
    try:
        result["emo3d"] = live_score(image, intensities, k=k, pool=pool, clip=clip).as_dict()
    except MissingWeightsError as exc:
        result["emo3d_unavailable"] = (
            f"The Emo3D metric needs the CLIP ViT-B/32 weights, which are not on this machine. {exc} "
            "Showing the offline judges instead (they are not the Emo3D metric)."
        )
    if judges:
        result["offline_judges"] = offline_judges(image, intensities, intended)
    return result
