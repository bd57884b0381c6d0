"""The Emo3D metric's arithmetic, in plain numpy, so it is testable without CLIP or a renderer.

Definition (Emo3D paper, section 4.2): for a prompt i with intensities v_i and the image rendered
from it, CLIP ranks every prompt text by softmax(100 * cos(image, text)); take the top-k
(k = 10 by default). phi = v_i / sum(v_i); psi = the MEAN emotion distribution of the top-k:
each retrieved intensity vector normalised to sum 1, then averaged. The divergence is
KL(phi || psi + eps) = sum over phi_e > 0 of phi_e * log(phi_e / (psi_e + eps)), eps = 0.01, and
Emo3D = sigmoid(mean KL / alpha). Lower is better: a perfect retrieval gives KL ~ 0 and a score
~ 0.5. ``alpha`` is a user-set scale; the paper never published its value, so we default to 1.

psi, two readings: dataset rows are independent intensities that may sum to more than 1, so
"average the retrieved distributions" (``PSI_MEAN``, the default: the paper's words "the mean
emotion distribution of the top-k prompts") and "sum the retrieved intensity vectors, then
normalise" (``PSI_SUM``, an option) differ. A pure-sadness prompt that retrieves rows
(happiness 1.0) and (sadness 0.1) gets psi_sadness 0.5 and KL 0.67 under the first, 0.09 and KL
2.29 under the second: the sum lets one intense row outweigh a faint one.

``released_code=True`` reproduces the authors' released ``metric.py`` instead. Its loop calls the
single-row distribution helper with the k retrieved indices: that helper divides the (k, 8) block
by the sum of the WHOLE block, so each retrieved row becomes ``v_j / sum(block)``, and the KL then
broadcasts phi against every row and sums over all k rows. The result is a sum of k divergences
against rows that each hold only ~1/k of the mass: a perfect retrieval of k = 10 identical rows
scores about 21 (exactly 10 * sum phi log(phi / (phi / 10 + eps)); 22.07 for a one-hot phi)
instead of about 0, and the sigmoid then saturates near 1 for any alpha close to 1. Use the flag
only to compare with numbers produced by that code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from emo_app.errors import InvalidInputError

DEFAULT_K = 10
DEFAULT_EPS = 0.01
DEFAULT_ALPHA = 1.0
LOGIT_SCALE = 100.0  # CLIP's trained temperature, as in the paper and the released code
PSI_MEAN = "normalise-then-mean"  # default: the mean of the retrieved rows' distributions
PSI_SUM = "sum-then-normalise"  # option: the retrieved intensity vectors summed, then normalised
PSI_METHODS = (PSI_MEAN, PSI_SUM)
DEFAULT_PSI = PSI_MEAN
PSI_DESCRIPTIONS = {
    PSI_MEAN: "psi = the mean of the top-k retrieved prompts' emotion distributions (each row normalised)",
    PSI_SUM: "psi = the top-k retrieved prompts' intensity vectors summed, then normalised",
}


def as_intensity_matrix(intensities: np.ndarray) -> np.ndarray:
    """(N, 8) finite, non-negative intensities; a clear error otherwise."""
    matrix = np.asarray(intensities, dtype=np.float64)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    if matrix.ndim != 2 or matrix.shape[1] != 8:
        raise InvalidInputError(f"Emotion intensities must have 8 columns; got shape {matrix.shape}.")
    if not np.isfinite(matrix).all() or (matrix < 0).any():
        raise InvalidInputError("Emotion intensities must be finite and non-negative.")
    return matrix


def normalise_rows(intensities: np.ndarray) -> np.ndarray:
    """Each row divided by its sum; an all-zero row means 'no emotion', i.e. pure neutral."""
    matrix = as_intensity_matrix(intensities).copy()
    totals = matrix.sum(axis=1)
    empty = totals <= 0
    matrix[empty] = 0.0
    matrix[empty, 0] = 1.0
    totals[empty] = 1.0
    return matrix / totals[:, None]


def kl_divergence(phi: np.ndarray, psi: np.ndarray, eps: float = DEFAULT_EPS) -> float:
    """sum over phi_e > 0 of phi_e * log(phi_e / (psi_e + eps)): the paper's smoothed KL.

    ``psi`` may be (8,) or (k, 8); a block is summed over its rows (the released code's shape).
    """
    phi = np.asarray(phi, dtype=np.float64)
    psi = np.asarray(psi, dtype=np.float64) + eps
    mask = phi > 0
    safe_phi = np.where(mask, phi, 1.0)
    terms = np.where(mask, phi * np.log(safe_phi / psi), 0.0)
    return float(terms.sum())


def softmax_similarity(
    image_embeddings: np.ndarray, text_embeddings: np.ndarray, scale: float = LOGIT_SCALE
) -> np.ndarray:
    """softmax(scale * cos) of every image against every text: (M, N), rows sum to 1."""
    images = _unit_rows(np.asarray(image_embeddings, dtype=np.float64))
    texts = _unit_rows(np.asarray(text_embeddings, dtype=np.float64))
    if images.shape[1] != texts.shape[1]:
        raise InvalidInputError(
            f"Image embeddings have {images.shape[1]} dimensions but text embeddings have "
            f"{texts.shape[1]}; encode both with the same CLIP model."
        )
    logits = scale * images @ texts.T
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    return weights / weights.sum(axis=1, keepdims=True)


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


def top_k(probabilities: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k most similar texts per row, best first (ties: lower index first)."""
    probabilities = np.atleast_2d(probabilities)
    if not 1 <= k <= probabilities.shape[1]:
        raise InvalidInputError(
            f"k = {k} needs a prompt pool of at least {k} prompts; this one has {probabilities.shape[1]}."
        )
    order = np.argsort(-probabilities, axis=1, kind="stable")
    return order[:, :k]


def check_psi(method: str) -> str:
    if method not in PSI_METHODS:
        raise InvalidInputError(f"Unknown psi method '{method}'; choose {' or '.join(PSI_METHODS)}.")
    return method


def mean_distribution(intensities: np.ndarray, indices: np.ndarray, method: str = DEFAULT_PSI) -> np.ndarray:
    """psi of the retrieved rows (module doc): the mean of their normalised distributions
    (``PSI_MEAN``), or their intensity vectors summed, then normalised (``PSI_SUM``)."""
    rows = as_intensity_matrix(intensities)[np.asarray(indices)]
    if check_psi(method) == PSI_SUM:
        return normalise_rows(rows.sum(axis=0))[0]
    return normalise_rows(rows).mean(axis=0)


def released_block(intensities: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """The released code's (k, 8) 'distribution': the block divided by its grand total."""
    block = as_intensity_matrix(intensities)[np.asarray(indices)]
    total = block.sum()
    return block / total if total > 0 else block


def sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


def emo3d_score(mean_kl: float, alpha: float = DEFAULT_ALPHA) -> float:
    """Emo3D = sigmoid(mean KL / alpha); alpha must be positive."""
    if not alpha > 0:
        raise InvalidInputError(f"alpha must be a positive number; got {alpha}.")
    return sigmoid(mean_kl / alpha)


@dataclass
class MetricResult:
    """Everything one metric run found: the score, its parts and the per-prompt detail."""

    score: float
    mean_kl: float
    recall_at_k: float
    k: int
    alpha: float
    eps: float
    released_code: bool
    per_prompt_kl: np.ndarray = field(repr=False)
    top_indices: np.ndarray = field(repr=False)
    top_probabilities: np.ndarray = field(repr=False)
    hits: np.ndarray = field(repr=False)
    psi: str = DEFAULT_PSI

    def summary(self) -> dict[str, float]:
        return {
            "emo3d": round(self.score, 6),
            "mean_kl": round(self.mean_kl, 6),
            f"recall@{self.k}": round(self.recall_at_k, 6),
        }


def divergences_from_retrieval(
    query_intensities: np.ndarray,
    pool_intensities: np.ndarray,
    retrieved: np.ndarray,
    *,
    eps: float = DEFAULT_EPS,
    released_code: bool = False,
    psi: str = DEFAULT_PSI,
) -> np.ndarray:
    """Per-query KL given which pool rows were retrieved for it (rows of ``retrieved``)."""
    check_psi(psi)
    phis = normalise_rows(query_intensities)
    pool = as_intensity_matrix(pool_intensities)
    retrieved = np.atleast_2d(retrieved)
    out = np.empty(len(phis))
    for row, (phi, indices) in enumerate(zip(phis, retrieved)):
        if released_code:
            out[row] = kl_divergence(phi, released_block(pool, indices), eps)
        else:
            out[row] = kl_divergence(phi, mean_distribution(pool, indices, psi), eps)
    return out


def emo3d_metric(
    image_embeddings: np.ndarray,
    text_embeddings: np.ndarray,
    pool_intensities: np.ndarray,
    query_indices: np.ndarray | None = None,
    *,
    k: int = DEFAULT_K,
    alpha: float = DEFAULT_ALPHA,
    eps: float = DEFAULT_EPS,
    released_code: bool = False,
    scale: float = LOGIT_SCALE,
    psi: str = DEFAULT_PSI,
) -> MetricResult:
    """The Emo3D metric over images rendered from pool prompts.

    Image i was rendered from pool prompt ``query_indices[i]`` (default: image i from prompt i);
    its own intensities give phi and being retrieved counts towards recall@k.
    """
    pool = as_intensity_matrix(pool_intensities)
    texts = np.asarray(text_embeddings)
    if len(texts) != len(pool):
        raise InvalidInputError(
            f"The pool has {len(pool)} intensity rows but {len(texts)} text embeddings."
        )
    images = np.atleast_2d(np.asarray(image_embeddings))
    if query_indices is None:
        query_indices = np.arange(len(images))
    query_indices = np.asarray(query_indices, dtype=np.int64)
    if len(query_indices) != len(images) or len(images) == 0:
        raise InvalidInputError("Give one pool index per image (and at least one image).")
    probabilities = softmax_similarity(images, texts, scale)
    indices = top_k(probabilities, k)
    top_probabilities = np.take_along_axis(probabilities, indices, axis=1)
    kls = divergences_from_retrieval(
        pool[query_indices], pool, indices, eps=eps, released_code=released_code, psi=psi
    )
    hits = (indices == query_indices[:, None]).any(axis=1)
    mean_kl = float(kls.mean())
    return MetricResult(
        score=emo3d_score(mean_kl, alpha),
        mean_kl=mean_kl,
        recall_at_k=float(hits.mean()),
        k=k,
        alpha=alpha,
        eps=eps,
        released_code=released_code,
        per_prompt_kl=kls,
        top_indices=indices,
        top_probabilities=top_probabilities,
        hits=hits,
        psi=psi,
    )
