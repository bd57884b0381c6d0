"""Hostile inputs: every bad thing a user or an API client can send gets a specific sentence
(``InvalidInputError`` / ``MissingWeightsError``), never a crash, a hang or a stack trace, and
the app keeps serving afterwards."""

from __future__ import annotations

import io
import math
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import running_studio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from emo_app import services
from emo_app.blendshapes import Blendshapes
from emo_app.blendshapes.io import from_json, read_live_link_csv, write_live_link_csv
from emo_app.config import Settings
from emo_app.emotion.emotions import EmotionIntensities
from emo_app.emotion.space import EmotionPoint
from emo_app.errors import InvalidInputError, MissingWeightsError
from emo_app.study.points import generate_study_points
from emo_app.validation import MAX_BATCH_ITEMS, load_image, validate_batch, validate_text

MB_TEXT = "angry " * (1024 * 1024 // 6)  # ~1 MB of real words


# ------------------------------------------------------------------------------ image bytes
def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def jpeg_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def png_header_claiming(width: int, height: int) -> bytes:
    """A valid PNG signature + IHDR that claims ``width`` x ``height`` with almost no pixel data:
    a decompression bomb's header in a few dozen bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
            + chunk(b"IEND", b""))


def fifty_megapixels() -> bytes:
    """A real, decodable 10000 x 5000 PNG (1-bit, uniform: a few KB on disk, 50 MP decoded)."""
    return png_bytes(Image.new("1", (10_000, 5_000), 1))


SMALL_PNG = png_bytes(Image.new("RGB", (64, 64), (200, 120, 90)))
SMALL_JPEG = jpeg_bytes(Image.new("RGB", (64, 64), (200, 120, 90)))
VALID_CSV = write_live_link_csv(Blendshapes.from_dict({"jawOpen": 0.5}))
CSV_HEADER = VALID_CSV.splitlines()[0]


def _describe(text, **kwargs):
    kwargs = {"views": ("front",), "size": 64, "exports": False, **kwargs}
    return services.describe(text, **kwargs)


def _offline_settings(tmp: Path) -> Settings:
    return Settings(weights_dir=tmp, data_dir=tmp, offline=True)


# --------------------------------------------------------------------------- the case table
# (id, call, expected error type, a fragment of the message that tells the user what to do)
Case = tuple[str, Callable[[], object], type, str]

TEXT_CASES: list[Case] = [
    ("text-none", lambda: _describe(None), InvalidInputError, "nothing was given"),
    ("text-int", lambda: _describe(42), InvalidInputError, "must be text; got int"),
    ("text-bytes", lambda: _describe(b"a smile"), InvalidInputError, "must be text; got bytes"),
    ("text-list", lambda: _describe(["a smile"]), InvalidInputError, "must be text; got list"),
    ("text-empty", lambda: _describe(""), InvalidInputError, "is empty"),
    ("text-whitespace", lambda: _describe(" \t\n\r  \u3000 "), InvalidInputError, "is empty"),
    ("text-1MB", lambda: _describe(MB_TEXT), InvalidInputError, "the limit is 2,000"),
    ("text-2001", lambda: _describe("a" * 2001), InvalidInputError, "2,001 characters long"),
    ("text-control", lambda: _describe("\x00\x01 42 \x1b\x7f 7"), InvalidInputError, "no words"),
    ("text-only-controls", lambda: _describe("\x00\x01\x02\x1f"), InvalidInputError, "is empty"),
    ("text-zero-width", lambda: _describe("\u200b\u200c\u200d\ufeff"), InvalidInputError, "is empty"),
    ("text-bidi-overrides", lambda: _describe("\u202e\u202d\u2066"), InvalidInputError, "is empty"),
    ("text-lone-surrogate", lambda: _describe("\ud800\udfff"), InvalidInputError, "is empty"),
    ("text-emoji-only", lambda: _describe("🔥🚗🎉👍"), InvalidInputError, "no words"),  # no face emoji
    ("text-digits-punctuation", lambda: _describe("1234 !!! ??? ..."), InvalidInputError, "no words"),
    ("model-unknown", lambda: _describe("a smile", model="gpt-17"), InvalidInputError,
     "Unknown text model 'gpt-17'"),
    ("model-empty", lambda: _describe("a smile", model="  "), InvalidInputError, "Choose a text model"),
    ("view-unknown", lambda: _describe("a smile", views=("top",)), InvalidInputError, "Unknown view 'top'"),
    ("views-none", lambda: _describe("a smile", views=()), InvalidInputError, "Choose at least one view"),
    ("size-tiny", lambda: services.describe("a smile", size=4, exports=False), InvalidInputError,
     "from 32 to 2048"),
    ("size-huge", lambda: services.describe("a smile", size=100_000, exports=False), InvalidInputError,
     "from 32 to 2048"),
    ("size-text", lambda: services.describe("a smile", size="big", exports=False), InvalidInputError,
     "whole number of pixels"),
    ("batch-empty", lambda: services.predict_texts([]), InvalidInputError, "is empty"),
    ("batch-string", lambda: services.predict_texts("a smile"), InvalidInputError, "Expected a list"),
    ("batch-too-big", lambda: services.predict_texts(["a smile"] * (MAX_BATCH_ITEMS + 1)),
     InvalidInputError, f"the limit is {MAX_BATCH_ITEMS}"),
    ("batch-one-bad", lambda: services.predict_texts(["a smile", ""]), InvalidInputError, "is empty"),
]

POINT_CASES: list[Case] = [
    ("xyz-nan", lambda: EmotionPoint(math.nan, 0, 0), InvalidInputError, "valence must be a finite number"),
    ("xyz-inf", lambda: EmotionPoint(0, math.inf, 0), InvalidInputError, "arousal must be a finite number"),
    ("xyz-minus-inf", lambda: EmotionPoint(0, 0, -math.inf), InvalidInputError, "z must be a finite"),
    ("xyz-huge", lambda: EmotionPoint(1e6, 0, 0), InvalidInputError, "far outside the emotion sphere"),
    ("xyz-max-float", lambda: EmotionPoint(0, -1.7e308, 0), InvalidInputError, "far outside"),
    ("xyz-just-over", lambda: EmotionPoint(0, 0, 10.001), InvalidInputError, "up to 10 is accepted"),
    ("xyz-text", lambda: EmotionPoint("left", 0, 0), InvalidInputError, "must be a number; got 'left'"),
    ("xyz-none", lambda: EmotionPoint(None, 0, 0), InvalidInputError, "must be a number; got None"),
    ("xyz-bool", lambda: EmotionPoint(True, 0, 0), InvalidInputError, "not a boolean"),
    ("xyz-list", lambda: EmotionPoint([1, 2], 0, 0), InvalidInputError, "must be a number"),
    ("xyz-str-nan", lambda: services.parse_point("nan", "0", "0"), InvalidInputError, "finite"),
    ("xyz-two-numbers", lambda: EmotionPoint.from_array([0.1, 0.2]), InvalidInputError, "exactly 3 numbers"),
    ("xyz-string-array", lambda: EmotionPoint.from_array("0.1,0.2,0.3"), InvalidInputError, "exactly 3"),
    ("point-incomplete", lambda: services.parse_point(0.1, None, None), InvalidInputError,
     "as valence, arousal and z, or as theta, phi and r"),
    ("sphere-theta-nan", lambda: EmotionPoint.from_spherical(math.nan, 0, 1), InvalidInputError,
     "theta must be a finite"),
    ("sphere-phi-inf", lambda: EmotionPoint.from_spherical(0, math.inf, 1), InvalidInputError,
     "phi must be a finite"),
    ("sphere-r-negative", lambda: EmotionPoint.from_spherical(0, 0, -1), InvalidInputError, "r must be >= 0"),
    ("sphere-r-huge", lambda: EmotionPoint.from_spherical(0, 0, 1e9), InvalidInputError, "far outside"),
    ("class-unknown", lambda: EmotionPoint.of_class("Bored"), InvalidInputError,
     "Unknown C2A2 class 'Bored'"),
    ("class-intensity-nan", lambda: EmotionPoint.of_class("Happy", math.nan), InvalidInputError,
     "intensity must be a finite"),
    ("intensities-nan", lambda: EmotionIntensities([math.nan] * 8), InvalidInputError, "finite"),
    ("intensities-count", lambda: EmotionIntensities([0.1] * 7), InvalidInputError, "need 8 values"),
    ("walk-one-step", lambda: services.walk_points("axis", steps=1), InvalidInputError, "2 to 60 steps"),
    ("walk-million-steps", lambda: services.walk_points("axis", steps=1_000_000), InvalidInputError,
     "2 to 60 steps"),
    ("walk-fractional-steps", lambda: services.walk_points("axis", steps=2.5), InvalidInputError,
     "whole number"),
    ("walk-bool-steps", lambda: services.walk_points("axis", steps=True), InvalidInputError, "whole number"),
    ("walk-unknown-kind", lambda: services.walk_points("spiral"), InvalidInputError, "Unknown walk 'spiral'"),
    ("walk-unknown-class", lambda: services.walk_points("classes", emotion="Happy", other="Meh"),
     InvalidInputError, "Unknown C2A2 class 'Meh'"),
    ("walk-circle-nan", lambda: services.walk_points("circle", theta=math.nan), InvalidInputError, "finite"),
    ("walk-circle-huge-r", lambda: services.walk_points("circle", r=1e9), InvalidInputError,
     "radius r must be from 0.05"),
    ("study-points-negative-seed", lambda: generate_study_points(seed=-1), InvalidInputError,
     "The seed must be a whole number of 0 or more; got -1."),
]

WEIGHT_CASES: list[Case] = [
    ("weights-51", lambda: Blendshapes.from_array([0.1] * 51), InvalidInputError, "must have 52 values"),
    ("weights-nan", lambda: services.render_face([math.nan] * 52, size=64), InvalidInputError,
     "NaN or infinity (browDownLeft"),
    ("weights-inf-named", lambda: services.render_face({"jawOpen": math.inf}, size=64), InvalidInputError,
     "NaN or infinity (jawOpen)"),
    ("weights-text", lambda: Blendshapes.from_array(["x"] * 52), InvalidInputError, "must be numbers"),
    ("weights-value-text", lambda: Blendshapes.from_dict({"jawOpen": "wide"}), InvalidInputError,
     "'jawOpen' must be a number"),
    ("weights-value-bool", lambda: Blendshapes.from_dict({"jawOpen": True}), InvalidInputError,
     "must be a number"),
    ("weights-unknown-name", lambda: Blendshapes.from_dict({"smileHuge": 1}), InvalidInputError,
     "Unknown blendshape name 'smileHuge'"),
    ("weights-strict-above-1", lambda: Blendshapes.from_array([2.0] * 52, policy="strict"), InvalidInputError,
     "outside [0, 1]"),
    ("weights-strict-negative", lambda: Blendshapes.from_array([-0.5] * 52, policy="strict"),
     InvalidInputError, "outside [0, 1]"),
    ("weights-a-string", lambda: services.render_face("jawOpen"), InvalidInputError, "52 numbers"),
    ("weights-none", lambda: services.render_face(None), InvalidInputError, "52 numbers"),
    ("weights-2d", lambda: Blendshapes.from_array(np.zeros((2, 52))), InvalidInputError, "got shape (2, 52)"),
    ("mediapipe-10", lambda: Blendshapes.from_mediapipe([0.0] * 10), InvalidInputError, "52 values"),
    ("emo3d-string", lambda: Blendshapes.from_emo3d_string("[a b c]"), InvalidInputError,
     "Could not read an Emo3D blendshape score"),
]

def _after_a_long_field_limit(read: Callable[[], object]) -> object:
    """``read`` while csv's process-wide field limit is raised, as reading an Emo3D split did
    for the rest of the process (the Live Link import then took a 200 KB field as a number)."""
    import csv

    previous = csv.field_size_limit(2**31 - 1)
    try:
        return read()
    finally:
        csv.field_size_limit(previous)


def test_reading_an_emo3d_split_leaves_csvs_field_limit_as_it_was(tmp_path):
    import csv

    from emo_app.text.data import _rows_from_csv

    split = tmp_path / "split.csv"
    split.write_text("text,neutral\n" + "a" * 200_000 + ",1\n", encoding="utf-8")
    before = csv.field_size_limit()
    assert len(_rows_from_csv(split)[0]["text"]) == 200_000
    assert csv.field_size_limit() == before


IMPORT_CASES: list[Case] = [
    ("json-truncated", lambda: from_json('{"jawOpen": 0.'), InvalidInputError, "could not be read"),
    ("json-empty", lambda: from_json(""), InvalidInputError, "could not be read"),
    ("json-binary", lambda: from_json(b"\xff\xfe\x00garbage"), InvalidInputError, "could not be read"),
    ("json-null", lambda: from_json("null"), InvalidInputError, "must be an object of name -> weight"),
    ("json-number", lambda: from_json("42"), InvalidInputError, "must be an object"),
    ("json-blendshapes-number", lambda: from_json('{"blendshapes": 5}'), InvalidInputError,
     "must be an object"),
    ("json-3-numbers", lambda: from_json("[1, 2, 3]"), InvalidInputError, "52 values"),
    ("json-NaN", lambda: from_json('{"jawOpen": NaN}'), InvalidInputError, "NaN or infinity (jawOpen)"),
    ("json-Infinity", lambda: from_json('{"blendshapes": {"eyeBlinkLeft": -Infinity}}'), InvalidInputError,
     "NaN or infinity (eyeBlinkLeft)"),
    ("json-overflow", lambda: from_json('{"jawOpen": 1e999}'), InvalidInputError, "NaN or infinity"),
    ("json-5000-digit-int", lambda: from_json('{"jawOpen": 1' + "0" * 5000 + "}"), InvalidInputError,
     "could not be read"),
    ("json-nested-100k", lambda: from_json("[" * 100_000), InvalidInputError, "nested too deeply"),
    ("json-unknown-name", lambda: from_json('{"happiness": 1}'), InvalidInputError, "Unknown blendshape"),
    ("json-21MB", lambda: from_json(b" " * (21 * 1024 * 1024)), InvalidInputError, "larger than 20 MB"),
    ("csv-empty", lambda: read_live_link_csv(""), InvalidInputError, "The Live Link CSV is empty"),
    ("csv-missing-file", lambda: read_live_link_csv("/no/such/take.csv"), InvalidInputError,
     "No such CSV file"),
    ("csv-a-folder", lambda: read_live_link_csv(Path(__file__).parent), InvalidInputError,
     "No such CSV file"),
    ("csv-wrong-columns", lambda: read_live_link_csv("Name,Age\nBob,3\n"), InvalidInputError,
     "unknown columns ['Name', 'Age']"),
    ("csv-header-only", lambda: read_live_link_csv(CSV_HEADER + "\n"), InvalidInputError,
     "a header but no frames"),
    ("csv-short-row", lambda: read_live_link_csv(CSV_HEADER + "\n00:00:00:00.000,61,0.5\n"),
     InvalidInputError, "Line 2 has 3 fields"),
    ("csv-text-value", lambda: read_live_link_csv(VALID_CSV.replace(",61,0", ",61,wide", 1)),
     InvalidInputError, "Line 2: could not convert"),
    ("csv-nan-value", lambda: read_live_link_csv(VALID_CSV.replace(",61,0", ",61,nan", 1)),
     InvalidInputError, "NaN or infinity"),
    ("csv-no-shape-columns", lambda: read_live_link_csv("Timecode,BlendShapeCount\n00:00:00:00.000,61\n"),
     InvalidInputError, "no blendshape columns"),
    ("csv-200KB-field", lambda: read_live_link_csv("Timecode,JawOpen\n0," + "1" * 200_000 + "\n"),
     InvalidInputError, "Not a Live Link Face CSV"),
    ("csv-200KB-field-after-an-emo3d-split-was-read",  # which raised csv's process-wide field limit
     lambda: _after_a_long_field_limit(
         lambda: read_live_link_csv("Timecode,JawOpen\n0," + "1" * 200_000 + "\n")),
     InvalidInputError, "Not a Live Link Face CSV"),
    ("csv-bytes-garbage", lambda: read_live_link_csv(b"\x00\xff\n\x01\x02"), InvalidInputError,
     "unknown columns"),
    ("csv-not-text", lambda: read_live_link_csv(3.14), InvalidInputError, "got float"),
]

IMAGE_CASES: list[Case] = [
    ("image-none", lambda: load_image(None), InvalidInputError, "No image was given"),
    ("image-empty-bytes", lambda: load_image(b""), InvalidInputError, "not an image we can read"),
    ("image-text-bytes", lambda: load_image(b"hello, I am not a picture"), InvalidInputError,
     "not an image we can read"),
    ("image-svg", lambda: load_image(b"<svg xmlns='http://www.w3.org/2000/svg'/>"), InvalidInputError,
     "PNG, JPEG, WebP or BMP"),
    ("image-truncated-png", lambda: load_image(SMALL_PNG[: len(SMALL_PNG) // 2]), InvalidInputError,
     "damaged or truncated"),
    ("image-corrupt-png-data", lambda: load_image(png_header_claiming(1000, 1000)), InvalidInputError,
     "damaged or truncated"),
    ("image-truncated-jpeg", lambda: load_image(SMALL_JPEG[:200]), InvalidInputError, "can"),
    ("image-50-megapixels", lambda: load_image(fifty_megapixels()), InvalidInputError,
     "10000 x 5000 = 50.0 megapixels; the limit is 40"),
    ("image-header-10-gigapixels", lambda: load_image(png_header_claiming(100_000, 100_000)),
     InvalidInputError, "far larger than the limit of 40 megapixels"),
    ("image-array-56-megapixels", lambda: load_image(np.broadcast_to(np.zeros((1, 1, 3), np.uint8),
                                                                     (8000, 7000, 3))),
     InvalidInputError, "56.0 megapixels"),
    ("image-array-5-channels", lambda: load_image(np.zeros((8, 8, 5), np.uint8)), InvalidInputError,
     "must be H x W x 3"),
    ("image-array-empty", lambda: load_image(np.zeros((0, 8, 3), np.uint8)), InvalidInputError,
     "must be H x W x 3"),
    ("image-array-nan", lambda: load_image(np.full((8, 8, 3), np.nan)), InvalidInputError, "NaN or infinite"),
    ("image-missing-path", lambda: load_image("/no/such/photo.png"), InvalidInputError, "No image file at"),
    ("image-a-folder", lambda: load_image(Path(__file__).parent), InvalidInputError, "No image file at"),
    ("image-this-source-file", lambda: load_image(Path(__file__)), InvalidInputError,
     "not an image we can read"),
    ("image-a-float", lambda: load_image(3.14), InvalidInputError, "Expected an image; got float"),
    ("image-too-big-for-settings", lambda: load_image(SMALL_PNG, Settings(max_image_pixels=1000)),
     InvalidInputError, "the limit is 0 megapixels"),
]

ALL_CASES = TEXT_CASES + POINT_CASES + WEIGHT_CASES + IMPORT_CASES + IMAGE_CASES


def test_the_table_has_at_least_60_distinct_bad_inputs():
    ids = [case[0] for case in ALL_CASES]
    assert len(ids) == len(set(ids)) >= 60


@pytest.mark.parametrize("call, error, fragment", [c[1:] for c in ALL_CASES], ids=[c[0] for c in ALL_CASES])
def test_bad_input_gets_a_specific_error(call, error, fragment):
    with pytest.raises(error) as caught:
        call()
    assert fragment in str(caught.value)


# ------------------------------------------------------------------ weird but acceptable input
@pytest.mark.parametrize("text", [
    "ليلة سعيدة، ابتسامة عريضة",  # Arabic
    "她非常生气，眉头紧锁",  # Chinese
    "Он в ужасе, глаза широко раскрыты",  # Cyrillic
    "😀 a huge happy grin 😀",  # emoji with words
    "a\x00smile\x07 with\x1b teeth",  # control characters inside words
    "Z̵̢̛a̸͎͝l̷̡̈g̴̱̀o̶̰͌ screams",  # combining marks
    "\u202ehappy\u202c smile",  # a bidi override around a word
    "  spaced   out\t\n smile ",
])
def test_other_scripts_emoji_and_controls_still_give_a_face(text):
    result = services.describe(text, views=("front",), size=64, exports=False)
    assert result.prediction.shapes.values.shape == (52,)
    assert np.isfinite(result.prediction.emotions.values).all()
    assert "\x00" not in result.prediction.text and "\x1b" not in result.prediction.text


def test_out_of_range_weights_are_clipped_not_rendered_wild():
    face = services.render_face([5.0] * 26 + [-3.0] * 26, size=64)
    assert face.shapes.values.max() == 1.0 and face.shapes.values.min() == 0.0


def test_a_batch_at_the_limit_is_accepted():
    assert len(validate_batch(["a smile"] * MAX_BATCH_ITEMS)) == MAX_BATCH_ITEMS


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=3000))
def test_any_unicode_is_cleaned_or_rejected_with_a_sentence(text):
    try:
        cleaned = validate_text(text)
    except InvalidInputError as exc:
        assert str(exc).endswith(".")
        return
    assert 0 < len(cleaned) <= 2000
    assert any(ch.isalpha() for ch in cleaned)
    assert cleaned == cleaned.strip()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(min_size=0, max_size=300))
def test_arbitrary_unicode_never_crashes_the_text_model(text):
    from emo_app.text import get_text_model

    try:
        prediction = get_text_model("embedded").predict(text)
    except InvalidInputError:
        return
    assert np.isfinite(prediction.emotions.values).all()
    assert ((prediction.shapes.values >= 0) & (prediction.shapes.values <= 1)).all()


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True), st.floats(allow_nan=True, allow_infinity=True),
       st.floats(allow_nan=True, allow_infinity=True))
def test_any_three_floats_make_a_point_or_a_sentence(valence, arousal, z):
    try:
        point = EmotionPoint(valence, arousal, z)
    except InvalidInputError as exc:
        assert "valence" in str(exc) or "arousal" in str(exc) or "z " in str(exc) or "z must" in str(exc)
        return
    assert max(abs(point.valence), abs(point.arousal), abs(point.z)) <= 10
    theta, phi, r = point.to_spherical()
    assert all(math.isfinite(v) for v in (theta, phi, r))


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.binary(max_size=2000), st.text(max_size=2000)))
def test_any_bytes_as_blendshape_json_or_csv_give_a_sentence(data):
    for reader in (from_json, read_live_link_csv):
        try:
            reader(data)
        except InvalidInputError:
            continue


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=0, max_size=4000))
def test_any_bytes_as_an_image_give_pixels_or_a_sentence(data):
    try:
        pixels = load_image(SMALL_PNG[:8] + data)
    except InvalidInputError:
        return
    assert pixels.dtype == np.uint8 and pixels.ndim == 3


# ------------------------------------------------------------------------------ weights, faces
def test_missing_weights_name_the_file(tmp_path):
    from emo_app.models import resolve
    from emo_app.text import get_text_model

    with pytest.raises(MissingWeightsError, match=r"CLIP_Baseline\.pth"):
        get_text_model("emo3d-clip-baseline", _offline_settings(tmp_path)).predict("a smile")
    with pytest.raises(MissingWeightsError, match=r"clip-vit-b-32\.safetensors") as caught:
        resolve("clip-vit-b-32", _offline_settings(tmp_path))
    assert str(tmp_path) in str(caught.value)  # says where it looked


@pytest.mark.parametrize("photo", ["blank", "coffee"])
def test_a_photo_without_a_face_says_so(photo):
    if photo == "blank":
        image = np.full((240, 320, 3), 235, np.uint8)
    else:
        skimage_data = pytest.importorskip("skimage.data")
        image = skimage_data.coffee()
    with pytest.raises(InvalidInputError, match="No face was found in the photo"):
        services.capture(image)


def test_the_public_functions_still_work_after_all_that():
    result = services.describe("A broad grin with eyes alight with cheer.", views=("front",), size=64,
                               exports=False)
    assert result.prediction.emotions.dominant() == "happiness"


# --------------------------------------------------------------------------------- the API
@pytest.fixture(scope="module")
def client():
    from gradio_client import Client

    with running_studio() as url:
        yield Client(url, verbose=False, download_files=False)


def _file(tmp_path_factory, name: str, data: bytes):
    from gradio_client import handle_file

    path = tmp_path_factory.mktemp("hostile") / name
    path.write_bytes(data)
    return handle_file(str(path))


API_CASES = [
    ("describe-empty", "/describe", lambda f: ("", "embedded"), "is empty"),
    ("describe-unknown-look", "/describe", lambda f: ("a smile", "embedded", "chrome"),
     "Look must be one of skin, photo; got 'chrome'."),
    ("describe-whitespace", "/describe", lambda f: ("\n\t  ", "embedded"), "is empty"),
    ("describe-1MB", "/describe", lambda f: (MB_TEXT, "embedded"), "the limit is 2,000"),
    ("describe-controls", "/describe", lambda f: ("\x00\x01\x02\x7f", "embedded"), "is empty"),
    ("describe-emoji", "/describe", lambda f: ("🔥🚗🎉", "embedded"), "no words"),
    # the components check choices, ranges and types first; the sentence names the input
    ("describe-unknown-model", "/describe", lambda f: ("a smile", "gpt-17"),
     "Text model must be one of embedded, emo3d-clip-baseline, emo3d-vae-clip; got 'gpt-17'."),
    ("describe-missing-weights", "/describe", lambda f: ("a smile", "emo3d-vae-clip"), "VAE_CLIP.pt"),
    ("sphere-huge-valence", "/sphere_point_xyz", lambda f: (1e6, 0.0, 0.0), "far outside the emotion sphere"),
    ("sphere-max-float", "/sphere_point_xyz", lambda f: (0.0, -1.7e308, 0.0), "far outside"),
    ("walk-one-step", "/walk", lambda f: ("axis", "Sad", "Happy", 0.0, 0.0, 0.8, 1, False),
     "Steps must be a number from 2 to 60; got 1."),
    ("walk-1000-steps", "/walk", lambda f: ("axis", "Sad", "Happy", 0.0, 0.0, 0.8, 1000, False),
     "Steps must be a number from 2 to 60; got 1000."),
    ("walk-bad-class", "/walk", lambda f: ("classes", "Bored", "Happy", 0.0, 0.0, 0.8, 4, False),
     "Class at the end of the axis must be one of Happy, Surprised,"),
    ("walk-steps-empty", "/walk", lambda f: ("axis", "Sad", "Happy", 0.0, 0.0, 0.8, None, False),
     "Steps must be a number; got None."),
    ("walk-unknown-kind", "/walk", lambda f: ("spiral", "Sad", "Happy", 0.0, 0.0, 0.8, 4, False),
     "Walk must be one of axis, circle, classes; got 'spiral'."),
    ("sphere-theta-text", "/sphere_point", lambda f: ("north", 0.0, 1.0), "θ must be a number; got 'north'."),
    ("sphere-r-negative", "/sphere_point", lambda f: (0.0, 0.0, -1.0),
     "r must be a number from 0 to 1; got -1."),
    ("generate-seed-empty", "/generate", lambda f: (0.0, 0.0, 1.0, None),
     "Seed is empty; enter a whole number."),
    ("weights-slider-text", "/render_weights", lambda f: ("wide", *[0.0] * 51),
     "browDownLeft must be a number; got 'wide'."),
    ("head-turned-too-far", "/render_weights",
     lambda f: (*[0.0] * 52, "skin", "full", "light", "light", 90, 0, 0),
     "head turn must be a number from -45 to 45; got 90."),
    ("benchmark-k-zero", "/benchmark", lambda f: (["embedded"], None, 5, 0),
     "k must be a number from 1 to 20; got 0."),
    ("study-part-negative", "/study_show_item", lambda f: ("any", "3d", -1, 1),
     "Part must be a whole number of at least 1; got -1."),
    ("study-item-empty", "/study_show_item", lambda f: ("any", "3d", 1, None),
     "Item is empty; enter a whole number."),
    ("study-rating-7", "/study_vote", lambda f: ("any", "3d", 1, 1, 7),
     "Your rating must be one of 1, 2, 3, 4, 5; got 7."),
    ("study-negative-seed", "/study_admin_create", lambda f: ("", "s", "points", -1, "", "", "3d"),
     "Seed must be a whole number of at least 0; got -1."),
    ("capture-blank-photo", "/capture",
     lambda f: (f("blank.png", png_bytes(Image.new("RGB", (320, 240), (235, 235, 235)))), "", False),
     "No face was found"),
    ("capture-50-megapixels", "/capture", lambda f: (f("big.png", fifty_megapixels()), "", False),
     "10000 x 5000 = 50.0 megapixels; the limit is 40"),
]
# gr.Image opens every upload with PIL before the handler runs; ui.common.refuse_bad_payloads
# checks the file with our validator first, so these get our sentence, not PIL's.
API_CASES += [
    pytest.param("/capture",
                 lambda f: (f("cut.png", SMALL_PNG[: len(SMALL_PNG) // 2]), "", False),
                 "damaged or truncated",
                 id="capture-truncated-png"),
    pytest.param("/capture",
                 lambda f: (f("note.png", b"hello, I am text"), "", False), "not an image we can read",
                 id="capture-not-an-image"),
]


@pytest.mark.parametrize("endpoint, make_args, fragment",
                         [c if hasattr(c, "marks") else pytest.param(*c[1:], id=c[0])
                          for c in API_CASES])
def test_api_rejects_bad_input_with_the_same_sentence(client, tmp_path_factory, endpoint, make_args,
                                                      fragment):
    from gradio_client.exceptions import AppError

    args = make_args(lambda name, data: _file(tmp_path_factory, name, data))
    with pytest.raises(AppError) as caught:
        client.predict(*args, api_name=endpoint)
    assert fragment in str(caught.value)


@pytest.mark.parametrize("endpoint, args", [
    pytest.param("/study_show_item", ("any", "3d", -1, 1), id="out-of-range-part"),
    pytest.param("/sphere_point", ("north", 0.0, 1.0), id="text-for-a-number"),
    pytest.param("/describe", ("", "embedded"), id="empty-description"),
])
def test_a_refused_request_logs_one_info_line_and_no_traceback(client, caplog, capsys, endpoint, args):
    """A user's mistake is not a server fault: one INFO line with the same sentence."""
    import logging

    from gradio_client.exceptions import AppError

    caplog.set_level(logging.INFO, logger="emo_app.ui")
    capsys.readouterr()
    with pytest.raises(AppError) as caught:
        client.predict(*args, api_name=endpoint)
    refusals = [record for record in caplog.records if record.name == "emo_app.ui"]
    assert [record.levelno for record in refusals] == [logging.INFO]
    assert str(caught.value) in refusals[0].getMessage()
    assert "Traceback" not in capsys.readouterr().err


def test_on_the_page_a_refused_number_is_a_warning_and_the_screen_stays():
    """Part -1 typed on the page: a warning toast with the sentence; the handler does not run and
    every output keeps what it shows (gr.skip), instead of Gradio's error on every output."""
    import types

    import gradio as gr

    from emo_app.ui.common import refuse_bad_payloads, ui_errors

    shown = []
    with gr.Blocks() as demo:
        part = gr.Number(value=1, minimum=1, precision=0, label="Part")
        face = gr.Markdown()
        part.submit(ui_errors(shown.append), part, face)
    refuse_bad_payloads(demo)
    handler = demo.fns[0].fn
    page = types.SimpleNamespace(headers={"x-gradio-user": "app"})
    with pytest.warns(UserWarning, match=r"Part must be a whole number of at least 1; got -1\."):
        result = handler(part.preprocess(-1), request=page)
    assert result == gr.skip() and shown == []
    handler(part.preprocess(2), request=page)
    assert shown == [2]


@pytest.mark.parametrize("endpoint, body, sentence", [
    ("walk", '["axis", "Happy", "Sad", 0, 0, 0.8, NaN, false]', "Steps must be a finite number; got nan."),
    ("study_show_item", '["any", "3d", Infinity, 1]', "Part must be a finite number; got inf."),
])
def test_api_refuses_the_nan_that_raw_json_can_send(client, endpoint, body, sentence):
    """gradio_client cannot send NaN, but any HTTP client can (Python's JSON reads it), and it
    passes Gradio's range check."""
    import httpx

    url = f"{client.src.rstrip('/')}/gradio_api/call/{endpoint}"
    posted = httpx.post(url, content='{"data": ' + body + "}", headers={"content-type": "application/json"})
    stream = httpx.get(f"{url}/{posted.json()['event_id']}", timeout=120).text
    assert "event: error" in stream and sentence in stream


def test_api_keeps_serving_after_the_hostile_calls(client):
    result = client.predict("Terrified, eyes wide with fear", "embedded", api_name="/describe")
    assert result[9]["dominant_emotion"] == "fear"


# ------------------------------------------------------------------------------- language
@pytest.mark.parametrize("text", [
    "Er ist wütend", "Sie lächelt glücklich", "Il est furieux", "Elle est très triste",
    "Está muy enojado", "Lei è molto arrabbiata", "Он в ужасе, глаза широко раскрыты",
    "她非常生气，眉头紧锁",
])
def test_a_description_in_another_language_says_only_english_is_understood(text):
    result = services.describe(text, views=("front",), size=64, exports=False)
    assert "Only English" in result.language_note and result.to_dict()["language"] == result.language_note


@pytest.mark.parametrize("text", [
    "Furious!", "a smirk", "A broad grin with eyes alight with cheer.", "😀 a huge happy grin 😀",
    "Z̵̢̛a̸͎͝l̷̡̈g̴̱̀o̶̰͌ screams", "a naïve smile in the café", "Her left eyebrow is raised in doubt.",
])
def test_english_descriptions_get_no_language_note(text):
    from emo_app.language import not_english_note

    assert not_english_note(text) == ""
