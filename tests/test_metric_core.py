"""The Emo3D metric's arithmetic against values computed by hand (see each test's comment)."""

from __future__ import annotations

import numpy as np
import pytest

from emo_app.errors import InvalidInputError
from emo_app.metric.core import (
    PSI_MEAN,
    PSI_SUM,
    divergences_from_retrieval,
    emo3d_metric,
    emo3d_score,
    kl_divergence,
    mean_distribution,
    normalise_rows,
    softmax_similarity,
    top_k,
)

# Emo3D row 0's intensities: neutral .2, sadness .9, contempt .1 -> phi = (1/6, 3/4, 1/12)
DESPAIR = np.array([0.2, 0, 0, 0.9, 0, 0, 0, 0.1])
HAPPY = np.array([0, 1.0, 0, 0, 0, 0, 0, 0])
ANGRY = np.array([0, 0, 0, 0, 1.0, 0, 0, 0])

# By hand: 1/6 ln((1/6)/(1/6+.01)) + .75 ln(.75/.76) + 1/12 ln((1/12)/(1/12+.01))
#        = -0.0097115 - 0.0099339 - 0.0094441 = -0.0290895
PERFECT_KL = -0.0290895
# Released code, k = 10 identical rows, each row = v / (10 * sum v) = phi / 10:
# 10 * [1/6 ln(6.25) + .75 ln(.75/.085) + 1/12 ln((1/12)/(1/120 + .01))]
# = 10 * (0.305430 + 1.633066 + 0.126177) = 20.64673
RELEASED_PERFECT_KL = 20.64673


def _retrieval_pool() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """20 prompts: rows 0-9 identical (DESPAIR), rows 10-19 ANGRY; one-hot text embeddings.
    Each of the first 10 images points equally at texts 0-9, so its top-10 is exactly them."""
    pool = np.vstack([np.tile(DESPAIR, (10, 1)), np.tile(ANGRY, (10, 1))])
    texts = np.eye(20)
    images = np.tile(texts[:10].mean(axis=0), (10, 1))
    return pool, texts, images


def test_kl_matches_hand_computed_value_for_perfect_retrieval():
    phi = normalise_rows(DESPAIR)[0]
    assert kl_divergence(phi, phi) == pytest.approx(PERFECT_KL, abs=1e-6)


def test_perfect_retrieval_scores_about_one_half():
    pool, texts, images = _retrieval_pool()
    result = emo3d_metric(images, texts, pool, np.arange(10), k=10)
    assert sorted(result.top_indices[0].tolist()) == list(range(10))
    assert result.mean_kl == pytest.approx(PERFECT_KL, abs=1e-6)
    # sigmoid(-0.0290895) = 1 / (1 + e^0.0290895) = 0.492728
    assert result.score == pytest.approx(0.492728, abs=1e-5)
    assert result.recall_at_k == 1.0


def test_released_code_flag_gives_about_21_for_ten_identical_rows():
    pool, texts, images = _retrieval_pool()
    result = emo3d_metric(images, texts, pool, np.arange(10), k=10, released_code=True)
    assert result.mean_kl == pytest.approx(RELEASED_PERFECT_KL, abs=1e-4)
    assert result.score > 0.999  # the sigmoid saturates: the defect the module doc describes


def test_released_code_one_hot_case():
    # one-hot phi, 10 identical rows: 10 * ln(1 / (0.1 + 0.01)) = 10 * 2.2072749 = 22.072749
    kl = divergences_from_retrieval(HAPPY, np.tile(HAPPY, (10, 1)), np.arange(10)[None], released_code=True)
    assert kl[0] == pytest.approx(22.072749, abs=1e-5)


def test_disjoint_emotions_score_high():
    # phi = happiness only, psi = anger only: KL = 1 * ln(1 / (0 + 0.01)) = ln 100 = 4.605170
    pool = np.vstack([HAPPY, np.tile(ANGRY, (10, 1))])
    kl = divergences_from_retrieval(HAPPY, pool, np.arange(1, 11)[None])
    assert kl[0] == pytest.approx(4.605170, abs=1e-6)
    assert emo3d_score(kl[0]) == pytest.approx(100 / 101, abs=1e-6)  # sigmoid(ln 100) = 100/101


def test_alpha_scales_the_divergence():
    # sigmoid(ln(100) / ln(100)) = sigmoid(1) = 0.731059
    assert emo3d_score(np.log(100), alpha=np.log(100)) == pytest.approx(0.731059, abs=1e-6)
    with pytest.raises(InvalidInputError):
        emo3d_score(1.0, alpha=0.0)


def test_psi_is_the_mean_of_the_retrieved_rows():
    pool = np.array([[0, 1.0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0.5, 0.5, 0, 0, 0]])
    # sum = (0, 1, 0, .5, .5, 0, 0, 0) / 2 -> (0, .5, 0, .25, .25, 0, 0, 0)
    np.testing.assert_allclose(mean_distribution(pool, [0, 1]), [0, 0.5, 0, 0.25, 0.25, 0, 0, 0])


def test_psi_averages_distributions_by_default_and_sums_as_an_option():
    """Rows happiness 1.0 and sadness 0.1 retrieved for a pure-sadness prompt (issue example)."""
    sad = np.array([0, 0, 0, 1.0, 0, 0, 0, 0])
    pool = np.array([HAPPY, 0.1 * sad])
    # mean of the distributions: sadness (0 + 1) / 2 = 0.5 -> KL = ln(1 / 0.51) = 0.673345
    # sum, then normalise: sadness 0.1 / 1.1 = 0.0909 -> KL = ln(1 / 0.1009091) = 2.293535
    default = divergences_from_retrieval(sad, pool, np.array([[0, 1]]))[0]
    assert default == pytest.approx(0.673345, abs=1e-6)
    assert divergences_from_retrieval(sad, pool, np.array([[0, 1]]), psi=PSI_MEAN)[0] == default
    summed = divergences_from_retrieval(sad, pool, np.array([[0, 1]]), psi=PSI_SUM)[0]
    assert summed == pytest.approx(2.293535, abs=1e-6)
    result = emo3d_metric(np.eye(2), np.eye(2), pool, k=2, psi=PSI_SUM)
    assert result.psi == PSI_SUM
    with pytest.raises(InvalidInputError, match="psi"):
        mean_distribution(pool, [0, 1], "median")


def test_all_zero_intensities_count_as_neutral():
    np.testing.assert_allclose(normalise_rows(np.zeros(8))[0], [1, 0, 0, 0, 0, 0, 0, 0])


def test_softmax_uses_logit_scale_100():
    texts = np.array([[1.0, 0.0], [0.0, 1.0]])
    probs = softmax_similarity(np.array([[1.0, 0.0]]), texts)
    # cos = (1, 0): softmax(100, 0) = (1/(1+e^-100), e^-100/(1+e^-100))
    assert probs[0, 0] == pytest.approx(1.0)
    assert probs[0, 1] == pytest.approx(np.exp(-100.0), rel=1e-6)


def test_recall_counts_the_own_prompt_in_top_k():
    texts = np.eye(12)
    images = texts[[0, 1]].copy()
    images[1] = texts[5]  # image 1 looks like prompt 5, not like its own prompt 1
    pool = np.tile(HAPPY, (12, 1))
    result = emo3d_metric(images, texts, pool, np.array([0, 1]), k=1)
    assert result.hits.tolist() == [True, False]
    assert result.recall_at_k == 0.5


def test_bad_inputs_raise_actionable_errors():
    with pytest.raises(InvalidInputError, match="at least 10 prompts"):
        top_k(np.ones((1, 5)) / 5, 10)
    with pytest.raises(InvalidInputError, match="same CLIP model"):
        softmax_similarity(np.ones((1, 3)), np.ones((2, 4)))
    with pytest.raises(InvalidInputError, match="8 columns"):
        normalise_rows(np.ones((2, 7)))
