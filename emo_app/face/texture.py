"""Photo textures for the face: the landmarks MediaPipe finds on a photo are the canonical mesh's
vertices seen in that photo, so their image positions are ready-made UVs. Any uploaded face
can therefore perform the expression; the default look uses the public-domain astronaut photo
(Eileen Collins, NASA) that scikit-image ships.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from emo_app.config import Settings
from emo_app.validation import load_image

log = logging.getLogger(__name__)

TEXTURE_SIDE = 512
# cheeks and forehead: where skin colour is least disturbed by hair, brows and lips
SKIN_SAMPLE_LANDMARKS = (50, 280, 101, 330, 151, 9, 205, 425)
# width of the band, as a fraction of the face's size, over which the photo fades into skin
BORDER_FADE = 0.04


@dataclass(frozen=True, eq=False)
class FaceTexture:
    """A face photo cropped around the face, plus one UV per canonical vertex."""

    image: np.ndarray  # (H, W, 3) uint8
    uvs: np.ndarray | None  # (468, 2) float32, image convention (u right, v down), in [0, 1]
    skin_rgb: np.ndarray  # (3,) linear RGB for the parts the photo does not cover (head, neck)
    source: str = "photo"
    head: str = "mediapipe"  # the head it fits; uvs None: the head's own atlas UVs (part.uvs)


def texture_uvs(texture: FaceTexture | None, rig: Any, part: Any) -> np.ndarray | None:
    """The UVs (image convention) ``texture`` is drawn with on ``part`` of ``rig``, or None when
    the texture does not cover that part: a photo covers the MediaPipe mask with its own UVs,
    a skin atlas covers every part of its head that has atlas UVs."""
    if texture is None or texture.head != getattr(rig, "head", "mediapipe"):
        return None
    if texture.uvs is None:
        return part.uvs
    if part.name == "face" and len(texture.uvs) == part.size:
        return texture.uvs
    return None


def srgb_to_linear(rgb: Any) -> np.ndarray:
    """sRGB 0-255 values -> linear light in [0, 1] (gamma 2.2), where colours mix correctly."""
    return (np.asarray(rgb, np.float64) / 255.0) ** 2.2


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """Linear light -> sRGB uint8 (gamma 2.2), clipped to [0, 1] first."""
    return np.clip(np.round(255.0 * np.clip(linear, 0.0, 1.0) ** (1.0 / 2.2)), 0, 255).astype(np.uint8)


def texture_from_landmarks(image: np.ndarray, landmarks: np.ndarray, source: str = "photo") -> FaceTexture:
    """Build the texture from a photo and its 478 normalised landmarks (no model needed)."""
    height, width = image.shape[:2]
    pixels = landmarks[:468, :2] * [width, height]
    lo, hi = pixels.min(0), pixels.max(0)
    margin = 0.08 * (hi - lo).max()
    x0, y0 = np.floor(np.maximum(lo - margin, 0)).astype(int)
    x1, y1 = np.ceil(np.minimum(hi + margin, [width, height])).astype(int)
    from PIL import Image

    # a fixed square keeps GL row alignment trivial; UVs are relative, so the stretch is harmless
    crop = np.asarray(
        Image.fromarray(image[y0:y1, x0:x1]).resize((TEXTURE_SIDE, TEXTURE_SIDE), Image.LANCZOS)
    )
    uvs = (pixels - [x0, y0]) / [x1 - x0, y1 - y0]
    samples = []
    for index in SKIN_SAMPLE_LANDMARKS:
        u, v = uvs[index]
        px = int(np.clip(u * crop.shape[1], 0, crop.shape[1] - 1))
        py = int(np.clip(v * crop.shape[0], 0, crop.shape[0] - 1))
        samples.append(crop[max(0, py - 2) : py + 3, max(0, px - 2) : px + 3].reshape(-1, 3))
    skin = np.median(np.concatenate(samples), axis=0)
    return FaceTexture(
        np.ascontiguousarray(_fade_border_to_skin(crop, uvs, skin)),
        np.clip(uvs, 0, 1).astype(np.float32),
        srgb_to_linear(skin).astype(np.float32),
        source,
    )


def _fade_border_to_skin(crop: np.ndarray, uvs: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """Blend the photo into its own skin colour over a band inside the face oval. The skull shell
    and the neck are drawn in that colour, so the mask's edge stops reading as a pasted oval, and
    the photo's hair, ears and background at the border no longer outline a false jaw."""
    from PIL import Image, ImageDraw
    from scipy.ndimage import distance_transform_edt

    from emo_app.face.mesh import FACE_OVAL

    height, width = crop.shape[:2]
    oval = uvs[list(FACE_OVAL)] * [width, height]
    mask = Image.new("L", (width, height), 0)
    ImageDraw.Draw(mask).polygon([tuple(p) for p in oval], fill=1)
    depth = distance_transform_edt(np.asarray(mask, bool))
    band = BORDER_FADE * (oval.max(0) - oval.min(0)).max()
    t = np.clip(depth / band, 0.0, 1.0)[..., None]
    keep = t * t * (3.0 - 2.0 * t)
    blended = srgb_to_linear(crop) * keep + srgb_to_linear(skin) * (1.0 - keep)
    return linear_to_srgb(blended)


def texture_from_photo(image: Any, settings: Settings | None = None) -> FaceTexture:
    """Photo (path, bytes, PIL image or array) -> texture of its largest face; raises
    ``InvalidInputError`` when there is no face."""
    from emo_app.face.capture import capture_blendshapes

    rgb = load_image(image, settings)
    result = capture_blendshapes(rgb, settings)
    return texture_from_landmarks(rgb, result.landmarks)


def _cached_landmarks(rgb: np.ndarray, settings: Settings) -> np.ndarray:
    """Landmarks of a bundled photo, detected once and cached in the data folder."""
    digest = hashlib.sha1(rgb.tobytes()).hexdigest()[:16]
    cache = settings.data_dir / "cache" / "face" / f"landmarks-{digest}.npy"
    if cache.exists():
        try:
            landmarks = np.load(cache, allow_pickle=False)
            if landmarks.shape == (478, 3):
                return landmarks
        except (OSError, ValueError):
            pass
    from emo_app.face.capture import capture_blendshapes

    landmarks = capture_blendshapes(rgb, settings).landmarks
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, landmarks, allow_pickle=False)
    except OSError:
        pass  # a read-only data folder only costs a second detection next time
    return landmarks


@lru_cache(maxsize=1)
def _default_texture(data_dir: str) -> FaceTexture:
    from skimage.data import astronaut

    settings = Settings.from_env()
    if str(settings.data_dir) != data_dir:
        from dataclasses import replace

        settings = replace(settings, data_dir=type(settings.data_dir)(data_dir))
    rgb = astronaut()
    return texture_from_landmarks(
        rgb, _cached_landmarks(rgb, settings), source="astronaut (NASA, public domain)"
    )


def default_texture(settings: Settings | None = None) -> FaceTexture:
    """The photo-real default look: skimage's astronaut photo (public domain)."""
    settings = settings or Settings.from_env()
    return _default_texture(str(settings.data_dir))
