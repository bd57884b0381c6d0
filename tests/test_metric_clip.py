"""CLIP encoding with a tiny random open_clip model, the on-disk text cache, and the live score."""

from __future__ import annotations

import numpy as np
import pytest

from emo_app.errors import MissingWeightsError
from emo_app.metric.core import emo3d_score, kl_divergence, mean_distribution
from emo_app.metric.live import live_score, score_face
from emo_app.metric.pool import PromptPool
from emo_app.models.clip import TextEmbeddingCache, get_clip


def _pool(n: int = 12, first_text: str = "a broad grin") -> PromptPool:
    rng = np.random.default_rng(1)
    texts = (first_text,) + tuple(f"face number {i} with a {w} look" for i, w in
                                  zip(range(1, n), rng.choice(["sad", "angry", "calm", "scared"], n - 1)))
    return PromptPool(texts=texts, intensities=rng.uniform(0, 1, (n, 8)).round(1))


def _faces(n: int, size: int = 48) -> list[np.ndarray]:
    rng = np.random.default_rng(2)
    return [rng.integers(0, 256, (size, size + 8 * i, 3), dtype=np.uint8) for i in range(n)]


def test_embeddings_are_unit_length_and_batching_does_not_change_them(tiny_clip):
    faces = _faces(5)
    together = tiny_clip.encode_images(faces, batch_size=5)
    one_by_one = np.concatenate([tiny_clip.encode_images([f]) for f in faces])
    assert together.shape == (5, 32)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)
    texts = tiny_clip.encode_texts(["a smile", "a frown"])
    assert not np.allclose(texts[0], texts[1])  # the tokenizer really reads the words


def test_text_cache_is_reused_and_invalidated_when_the_pool_changes(tiny_clip, tmp_path, monkeypatch):
    calls = []
    original = tiny_clip.encode_texts
    def counting(texts, **kwargs):
        calls.append(len(texts))
        return original(texts)

    monkeypatch.setattr(tiny_clip, "encode_texts", counting)
    pool = _pool()
    first = TextEmbeddingCache(tmp_path).pool_embeddings(tiny_clip, pool)
    cache = TextEmbeddingCache(tmp_path)  # a new process would start like this
    again = cache.pool_embeddings(tiny_clip, pool)
    assert (cache.hits, cache.misses, calls) == (1, 0, [12])
    np.testing.assert_array_equal(first, again)

    edited = _pool(first_text="a wide, happy grin")  # one text changed
    changed = cache.pool_embeddings(tiny_clip, edited)
    assert cache.misses == 1 and calls == [12, 12]
    assert not np.allclose(changed[0], first[0])
    np.testing.assert_allclose(changed[1:], first[1:], atol=1e-6)
    assert len(list(tmp_path.glob("*.npy"))) == 2

    tiny_clip.model_id, old_id = "another-model", tiny_clip.model_id
    try:
        cache.pool_embeddings(tiny_clip, pool)  # same pool, other weights: recompute
    finally:
        tiny_clip.model_id = old_id
    assert cache.misses == 2


def test_live_score_returns_top_k_prompts_and_the_metric(tiny_clip, tmp_path):
    pool = _pool()
    face = _faces(1)[0]
    wanted = pool.intensities[3]
    score = live_score(face, wanted, k=4, pool=pool, clip=tiny_clip, cache=TextEmbeddingCache(tmp_path))
    assert len(score.top) == 4
    similarities = [t["similarity"] for t in score.top]
    assert similarities == sorted(similarities, reverse=True)
    retrieved = [pool.ids.index(t["id"]) for t in score.top]
    phi = wanted / wanted.sum()
    assert score.kl == pytest.approx(kl_divergence(phi, mean_distribution(pool.intensities, retrieved)))
    assert score.score == pytest.approx(emo3d_score(score.kl))
    assert "Emo3D" in score.label


def test_without_clip_weights_the_app_says_so_and_offers_offline_judges(tmp_path, monkeypatch):
    monkeypatch.setenv("EMO_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("EMO_OFFLINE", "1")
    with pytest.raises(MissingWeightsError, match="clip-vit-b-32"):
        get_clip()
    face = np.full((64, 64, 3), 255, np.uint8)
    face[10:54, 14:50] = (210, 170, 150)
    with pytest.raises(MissingWeightsError):
        live_score(face, [0, 1, 0, 0, 0, 0, 0, 0])
    result = score_face(face, [0, 1, 0, 0, 0, 0, 0, 0])
    assert result["emo3d"] is None
    assert "not on this machine" in result["emo3d_unavailable"]
    assert "not the Emo3D metric" in result["offline_judges"]["label"]
    assert abs(sum(result["offline_judges"]["fer"]["probabilities"].values()) - 1) < 1e-3
