"""Resource bounds: the longest text, the largest image, the biggest batch, the longest walk, the
largest render and the disk used by downloads are all limited, and each limit is enforced at its
edge (the limit itself is accepted, one more is refused with a sentence naming the limit)."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from emo_app import outputs, services
from emo_app.blendshapes import Blendshapes
from emo_app.blendshapes.io import MAX_IMPORT_BYTES, from_json, read_live_link_csv
from emo_app.config import Settings
from emo_app.errors import InvalidInputError
from emo_app.validation import MAX_BATCH_ITEMS, MAX_IMAGE_BYTES, load_image, validate_batch, validate_text


def _words(n_chars: int) -> str:
    return ("smile " * (n_chars // 6 + 1))[:n_chars - 1] + "s"


# ------------------------------------------------------------------------------------- text
def test_default_text_limit_is_2000_characters():
    assert Settings().max_text_chars == 2000
    assert len(validate_text(_words(2000))) <= 2000
    with pytest.raises(InvalidInputError, match="2,001 characters long; the limit is 2,000"):
        validate_text(_words(2001))


def test_text_limit_follows_the_environment(monkeypatch):
    monkeypatch.setenv("EMO_MAX_TEXT_CHARS", "40")
    validate_text(_words(40))
    with pytest.raises(InvalidInputError, match="the limit is 40"):
        validate_text(_words(41))


def test_describe_honours_the_callers_text_limit():
    """The text model is cached process-wide; the limit must still be the one this call passes."""
    with pytest.raises(InvalidInputError, match="the limit is 30"):
        services.describe(_words(31), settings=Settings(max_text_chars=30), exports=False, views=("front",),
                          size=64)


# ------------------------------------------------------------------------------------ images
def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (90, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def test_image_pixel_limit_is_enforced_at_its_edge():
    small = Settings(max_image_pixels=64 * 64)
    assert load_image(_png(64, 64), small).shape == (64, 64, 3)
    with pytest.raises(InvalidInputError, match="65 x 64"):
        load_image(_png(65, 64), small)
    with pytest.raises(InvalidInputError, match="65 x 64"):
        load_image(np.zeros((64, 65, 3), np.uint8), small)  # arrays obey the same limit
    assert Settings().max_image_pixels == 40_000_000


def test_image_files_over_50_mb_are_refused_before_reading(tmp_path):
    huge = tmp_path / "huge.png"
    with open(huge, "wb") as handle:  # a sparse file: 51 MB on paper, nothing on disk
        handle.truncate(MAX_IMAGE_BYTES + 1024 * 1024)
    with pytest.raises(InvalidInputError, match="larger than 50 MB"):
        load_image(huge)
    with pytest.raises(InvalidInputError, match="larger than 50 MB"):
        load_image(bytes(MAX_IMAGE_BYTES + 1))


# ------------------------------------------------------------------------------------ batches
def test_batch_limit_is_enforced_at_its_edge():
    assert len(validate_batch(["a smile"] * MAX_BATCH_ITEMS)) == MAX_BATCH_ITEMS
    with pytest.raises(InvalidInputError, match=f"{MAX_BATCH_ITEMS + 1:,} descriptions in one batch"):
        services.predict_texts(["a smile"] * (MAX_BATCH_ITEMS + 1))


def test_a_batch_predicts_every_text_in_order():
    texts = ["A broad grin with eyes alight with cheer.", "Terrified, eyes wide with fear.", "a sad frown"]
    predictions = services.predict_texts(texts)
    assert [p.text for p in predictions] == texts
    assert [p.emotions.dominant() for p in predictions[:2]] == ["happiness", "fear"]


# -------------------------------------------------------------------------------------- walks
def test_walk_length_is_enforced_at_its_edge():
    from emo_app.emotion.space import MAX_WALK_STEPS

    assert len(services.walk_points("axis", emotion="Happy", steps=MAX_WALK_STEPS)) == 60
    assert len(services.walk_points("circle", steps=2)) == 2
    with pytest.raises(InvalidInputError, match="2 to 60 steps; got 61"):
        services.walk("axis", steps=MAX_WALK_STEPS + 1)  # refused before any rendering


# ------------------------------------------------------------------------------ renders, files
def test_render_size_is_bounded():
    face = Blendshapes.zeros()
    assert services.render_face(face, size=32).images["front"].shape == (32, 32, 3)
    for bad in (31, 2049):
        with pytest.raises(InvalidInputError, match="from 32 to 2048"):
            services.render_face(face, size=bad)


def test_imports_over_20_mb_are_refused():
    assert MAX_IMPORT_BYTES == 20 * 1024 * 1024
    with pytest.raises(InvalidInputError, match="larger than 20 MB"):
        from_json("[" + " " * MAX_IMPORT_BYTES + "]")
    with pytest.raises(InvalidInputError, match="larger than 20 MB"):
        read_live_link_csv("Timecode\n" + "0\n" * (MAX_IMPORT_BYTES // 2 + 1))


def test_download_folders_are_pruned_to_a_fixed_count(monkeypatch, tmp_path):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(outputs, "MAX_OUTPUT_DIRS", 3)
    made = []
    for i in range(7):
        folder = outputs.output_dir("face")
        os.utime(folder, (1_000_000 + i, 1_000_000 + i))  # distinct ages, oldest first
        made.append(folder)
    kept = sorted(p for p in (tmp_path / "emotion-studio").iterdir())
    assert len(kept) == 3
    assert set(kept) == set(made[-3:])  # the newest survive, the oldest were removed


def test_download_folders_left_by_an_earlier_run_are_pruned_too(monkeypatch, tmp_path):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(outputs, "MAX_OUTPUT_DIRS", 3)
    root = tmp_path / "emotion-studio"
    for i in range(5):  # what a server that was stopped left behind
        (root / f"face-old{i}").mkdir(parents=True)
        os.utime(root / f"face-old{i}", (1_000_000 + i, 1_000_000 + i))
    new = outputs.output_dir("face")
    kept = sorted(p.name for p in root.iterdir())
    assert kept == sorted(["face-old3", "face-old4", new.name])
