"""Checks for what users send: text and images. Each failure is an ``InvalidInputError``
whose message says what is wrong and what is accepted, for the UI, the API and the CLI."""

from __future__ import annotations

import io
import os
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np

from emo_app.config import Settings
from emo_app.errors import InvalidInputError

MAX_IMAGE_BYTES = 50 * 1024 * 1024
MAX_BATCH_ITEMS = 256  # texts or faces per batch call: bounds one request's memory and time


def validate_batch(items: Any, what: str = "descriptions", limit: int = MAX_BATCH_ITEMS) -> list:
    """A non-empty list of at most ``limit`` items; one string is not a batch."""
    if isinstance(items, (str, bytes)) or not isinstance(items, (list, tuple)):
        raise InvalidInputError(f"Expected a list of {what}; got {type(items).__name__}.")
    if not items:
        raise InvalidInputError(f"The list of {what} is empty; give at least one.")
    if len(items) > limit:
        raise InvalidInputError(
            f"{len(items):,} {what} in one batch; the limit is {limit}. Split them into smaller batches."
        )
    return list(items)


def validate_text(text: Any, settings: Settings | None = None, what: str = "description") -> str:
    """Return the text stripped of control characters; reject non-strings, empty and huge text."""
    limit = (settings or Settings.from_env()).max_text_chars
    if text is None:
        raise InvalidInputError(f"Please type a {what}; nothing was given.")
    if not isinstance(text, str):
        raise InvalidInputError(f"The {what} must be text; got {type(text).__name__}.")
    if len(text) > limit:
        raise InvalidInputError(
            f"The {what} is {len(text):,} characters long; the limit is {limit:,}. "
            "Describe the face in a few sentences."
        )
    cleaned = "".join(
        ch if ch in "\n\t" or unicodedata.category(ch)[0] != "C" else " " for ch in text
    )
    cleaned = " ".join(cleaned.split())
    if not cleaned:
        raise InvalidInputError(f"The {what} is empty; type a few words such as 'a joyful smile'.")
    if not any(ch.isalpha() for ch in cleaned):
        raise InvalidInputError(f"The {what} has no words in it; describe the face in words.")
    return cleaned


def load_image(source: Any, settings: Settings | None = None) -> np.ndarray:
    """Any of: a path, bytes, a PIL image or an array -> RGB uint8 array (H, W, 3).

    Rejects unreadable, truncated and oversized images (decompression bombs) before decoding
    the pixels.
    """
    from PIL import Image, UnidentifiedImageError

    max_pixels = (settings or Settings.from_env()).max_image_pixels
    if source is None:
        raise InvalidInputError("No image was given; upload a photo of a face.")
    if isinstance(source, np.ndarray):
        array = source
        if array.ndim == 2:
            array = np.stack([array] * 3, axis=-1)
        if array.ndim != 3 or array.shape[2] not in (3, 4) or min(array.shape[:2]) < 1:
            raise InvalidInputError(f"An image array must be H x W x 3 (or 4); got {array.shape}.")
        if array.shape[0] * array.shape[1] > max_pixels:
            raise InvalidInputError(_too_big(array.shape[1], array.shape[0], max_pixels))
        if array.dtype != np.uint8:
            if not np.isfinite(array).all():
                raise InvalidInputError("The image contains NaN or infinite pixel values.")
            scale = 255.0 if array.max() <= 1.0 else 1.0
            array = np.clip(array * scale, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(array[..., :3])
    if isinstance(source, Image.Image):
        image = source
    else:
        if isinstance(source, (str, os.PathLike)):
            path = Path(source)
            if not path.is_file():
                raise InvalidInputError(f"No image file at '{path}'.")
            if path.stat().st_size > MAX_IMAGE_BYTES:
                raise InvalidInputError("The image file is larger than 50 MB.")
            data = path.read_bytes()
        elif isinstance(source, (bytes, bytearray)):
            data = bytes(source)
        else:
            raise InvalidInputError(f"Expected an image; got {type(source).__name__}.")
        if len(data) > MAX_IMAGE_BYTES:
            raise InvalidInputError("The image file is larger than 50 MB.")
        try:
            image = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as exc:  # its header claims billions of pixels
            raise InvalidInputError(
                f"The image claims to be far larger than the limit of {max_pixels / 1e6:.0f} megapixels "
                f"({exc}). Resize it and try again."
            ) from exc
        except (UnidentifiedImageError, OSError) as exc:
            raise InvalidInputError(
                "The file is not an image we can read (PNG, JPEG, WebP or BMP)."
            ) from exc
    width, height = image.size
    if width * height > max_pixels:
        raise InvalidInputError(_too_big(width, height, max_pixels))
    try:
        image.load()
        rgb = image.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidInputError(f"The image is damaged or truncated and cannot be decoded ({exc}).") from exc
    return np.asarray(rgb, dtype=np.uint8)


def _too_big(width: int, height: int, limit: int) -> str:
    return (
        f"The image is {width} x {height} = {width * height / 1e6:.1f} megapixels; the limit is "
        f"{limit / 1e6:.0f} megapixels. Resize it and try again."
    )
