"""Prompt pools: the shipped pool's balance, CSV loading, the Emo3D split format, hashes."""

from __future__ import annotations

import numpy as np
import pytest

from emo_app.emotion.emotions import EMO3D_EMOTIONS
from emo_app.errors import InvalidInputError
from emo_app.metric.pool import PromptPool, load_pool, write_pool
from emo_app.metric.pool_builder import build_pool


def test_shipped_pool_is_large_balanced_and_distinct():
    pool = load_pool()
    assert len(pool) >= 400
    assert len(set(pool.texts)) == len(pool)
    assert ((pool.intensities >= 0) & (pool.intensities <= 1)).all()
    singles = [pool.categories.count(e) for e in EMO3D_EMOTIONS]
    assert len(set(singles)) == 1 and singles[0] >= 25  # one block per emotion, all the same size
    present = (pool.intensities[:, 1:] >= 0.3).sum(axis=0)  # rows that clearly show each emotion
    assert present.min() >= 40, dict(zip(EMO3D_EMOTIONS[1:], present))
    assert present.max() <= 2 * present.min()
    compounds = {c for c in pool.categories if c not in EMO3D_EMOTIONS}
    assert len(compounds) >= 12
    for category in compounds:
        rows = pool.intensities[[c == category for c in pool.categories]]
        assert ((rows[:, 1:] > 0).sum(axis=1) >= 2).all(), category  # two emotions in each compound row
    levels = {round(float(v), 1) for v in pool.intensities[:, 1:].max(axis=1)}
    assert len(levels) >= 5  # intensities vary, not one level per emotion


def test_shipped_pool_file_matches_its_generator():
    pool = load_pool()
    rows = build_pool()
    assert [r["text"] for r in rows] == list(pool.texts)


def test_plain_csv_round_trip(tmp_path):
    pool = PromptPool(texts=("a grin", "a frown"), intensities=np.array([[0, 1, 0, 0, 0, 0, 0, 0],
                                                                          [0.2, 0, 0, 0.8, 0, 0, 0, 0]]))
    loaded = load_pool(write_pool(pool, tmp_path / "p.csv"))
    assert loaded.texts == pool.texts
    np.testing.assert_allclose(loaded.intensities, pool.intensities)
    assert loaded.text_hash == pool.text_hash


def test_missing_column_and_bad_value_are_explained(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("text,neutral,happiness\nhello,0,1\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="surprise"):
        load_pool(path)
    path.write_text("text," + ",".join(EMO3D_EMOTIONS) + "\nhello,0,1.5,0,0,0,0,0,0\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="line 2.*between 0 and 1"):
        load_pool(path)
    with pytest.raises(InvalidInputError, match="does not exist"):
        load_pool(tmp_path / "nope.csv")


def _emo3d_split(path):
    scores = "[0.    0.271 0.191 0.165" + " 0." * 48 + "]"
    header = "sample_id,prompt_type,text_1,text_2,text_3," + ",".join(EMO3D_EMOTIONS)
    header += ",img_1,img_2,img_3,img_4," + ",".join(f"blenshape_score_{j}" for j in range(1, 5))
    rows = [
        "7,p,This elderly female is showing intense despair.,b,c,0.2,0,0,0.9,0,0,0,0.1,"
        f'a.jpg,,,,"{scores}",,,',
        "8,p,A calm face.,b,c,1,0,0,0,0,0,0,0,,,,,,,,",
    ]
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_emo3d_split_gives_ground_truth(tmp_path):
    pool = load_pool(_emo3d_split(tmp_path / "test_data.csv"))
    assert pool.texts[0].startswith("This elderly female")
    assert pool.ids == ("7", "8")
    truth = pool.ground_truth[0]
    assert truth.shape == (1, 52)
    assert truth[0, 0] == pytest.approx(0.271)  # browDownLeft, after MediaPipe's _neutral
    assert pool.ground_truth[1] is None
    assert pool.has_ground_truth
    other = load_pool(tmp_path / "test_data.csv", text_column="text_2")
    assert other.texts == ("b", "b")


def test_hashes_follow_what_depends_on_them():
    base = PromptPool(texts=("a", "b"), intensities=np.eye(8)[:2])
    same_texts = PromptPool(texts=("a", "b"), intensities=np.eye(8)[[2, 3]])
    other_text = PromptPool(texts=("a", "c"), intensities=np.eye(8)[:2])
    assert base.text_hash == same_texts.text_hash  # text embeddings do not depend on intensities
    assert base.content_hash != same_texts.content_hash
    assert base.text_hash != other_text.text_hash
