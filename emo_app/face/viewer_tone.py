"""The colours the page's 3D viewer should be sent so that it shows the render's colours.

gr.Model3D draws with Babylon.js's viewer, which tone-maps every pixel with the Khronos PBR
Neutral curve: it takes up to 0.04 off each linear channel and compresses highlights above 0.76.
An unlit face whose vertex colours carry the render's light therefore came out darker and more
saturated than the render: a linear (0.5, 0.3, 0.15) showed as sRGB (179, 138, 93), not
(186, 148, 108) (measured in Chromium). ``undo_neutral_tone_mapping`` is the curve's inverse.
"""

from __future__ import annotations

import numpy as np

F90 = 0.04  # the curve's offset: Fresnel reflectance at normal incidence
START_COMPRESSION = 0.8 - F90  # peaks above this are compressed towards 1
_SPAN = 1.0 - START_COMPRESSION
_MAX_PEAK = 0.98  # a peak of 1 would need an infinite input


def neutral_tone_mapping(linear: np.ndarray) -> np.ndarray:
    """Khronos PBR Neutral on (..., 3) linear RGB (github.com/KhronosGroup/ToneMapping)."""
    colour = np.asarray(linear, np.float64)
    low = colour.min(axis=-1, keepdims=True)
    colour = colour - np.where(low < 2 * F90, low - low * low / (4 * F90), F90)
    peak = colour.max(axis=-1, keepdims=True)
    new_peak = 1.0 - _SPAN * _SPAN / (peak + _SPAN - START_COMPRESSION)
    squeezed = colour * new_peak / np.maximum(peak, 1e-12)
    grey = 1.0 - 1.0 / (0.15 * (peak - new_peak) + 1.0)
    squeezed = squeezed * (1.0 - grey) + new_peak * grey
    return np.where(peak > START_COMPRESSION, squeezed, colour)


def undo_neutral_tone_mapping(wanted: np.ndarray, refinements: int = 4) -> np.ndarray:
    """The (n, 3) linear colours the curve maps to ``wanted`` (peaks capped at 0.98): exact in
    closed form below the highlight compression; for the few brighter rows (teeth, highlights)
    the closed form ignores the curve's desaturation and ``refinements`` fixed-point steps take
    that out too. Float32: it runs on every vertex of every viewer GLB."""
    colour = np.clip(np.asarray(wanted, np.float32), 0.0, None).reshape(-1, 3)
    red, green, blue = colour.T  # per-channel maxima: numpy's row reductions of (n, 3) are slow
    peak = np.maximum(np.maximum(red, green), blue)
    bright = peak > START_COMPRESSION
    if np.any(bright):
        capped = np.minimum(peak[bright], _MAX_PEAK)[:, None]
        goal = colour[bright] * capped / peak[bright][:, None]
        original_peak = _SPAN * _SPAN / (1.0 - capped) - _SPAN + START_COMPRESSION
        colour[bright] = goal * original_peak / capped
    low = np.minimum(np.minimum(red, green), blue)[:, None]  # the offset leaves low^2 / (4 F90) below 2 F90
    colour += np.where(low >= F90, F90, np.sqrt(4 * F90 * low) - low)
    if np.any(bright):
        near = colour[bright]
        for _ in range(refinements):
            near = np.clip(near + goal - neutral_tone_mapping(near), 0.0, None)
        colour[bright] = near
    return colour.reshape(np.shape(wanted))
