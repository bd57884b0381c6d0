"""Photo skin for the full head: a photo's face warped into the generated skin atlas.

MediaPipe's 468 face landmarks are found on the photo, and the same landmarks sit on the full
head's surface (``hd_head.landmark_surface``), so each canonical-mesh triangle has a place in
the photo and a place in the atlas's face tile. Warping triangle by triangle (piecewise affine)
puts the photo's eyes, nostrils and lips on the head's. Outside the face oval the chosen tone's
generated skin stays. No seam shows: the photo's skin is matched to the tone's colour, its broad
shading is evened out to the generated skin's (fully near the border, half elsewhere: the
renderer lights the head again), and over a band inside the oval it fades in where it looks
like skin (not the hair or background a photo has at its border).
The eye openings and the gap between the lips keep the generated atlas's detail in the photo's
colours: on the head those texels are lid margins and inner lips, where the photo's eyeballs and
teeth must not land.

The photo's expression is baked into its skin (a smiling photo keeps its smile folds); that is
what "use my photo" means.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from functools import lru_cache

import numpy as np

from emo_app.config import Settings
from emo_app.errors import InvalidInputError
from emo_app.face import mesh as landmarks_of
from emo_app.face.texture import FaceTexture, linear_to_srgb, srgb_to_linear

# cheeks, forehead and temples: where a photo's skin colour is least disturbed by hair and features
SKIN_SAMPLE_LANDMARKS = (50, 280, 101, 330, 151, 9, 205, 425, 108, 337, 117, 346)
# widths, as fractions of the face oval's width in the atlas
FADE_BAND = 0.07  # inside the oval, over which the photo fades in from the generated skin
SHADING_BAND = 0.12  # inside the oval, over which the photo's broad shading is evened out
SHADING_BLUR = 0.03  # what counts as broad shading
# the share of the photo's broad shading evened out everywhere: the renderer lights the head
# again, and the photo's own light on top of it darkens the sides of the face twice
RELIGHT = 0.5
SKIN_CHECK_BAND = 0.15  # inside the oval, where only skin-coloured photo pixels are kept
OPENING_GROW = 0.006  # how far the eye openings and the lip gap are grown
OPENING_BLUR = 0.02  # how far round an opening its colour is taken from
CHROMA_TOLERANCE = 0.05
CACHE_SIZE = 4

_cache: OrderedDict[tuple[str, str], FaceTexture] = OrderedDict()
_cache_lock = threading.Lock()


def photo_skin(image: np.ndarray, landmarks: np.ndarray, tone: str | None = None) -> FaceTexture:
    """The full head's skin atlas with ``image``'s face warped onto the head's face.

    ``image``: (H, W, 3) uint8 RGB; ``landmarks``: MediaPipe's landmarks on it, normalised to
    the image's width and height (at least the 468 face points). Outside the face oval the
    atlas is the generated skin in ``tone``. Built once per photo, landmarks and tone."""
    from emo_app.face.skin import DEFAULT_TONE, TONES

    tone = tone or DEFAULT_TONE
    if tone not in TONES:
        raise InvalidInputError(f"Unknown skin tone '{tone}'; choose one of {', '.join(TONES)}.")
    rgb = np.asarray(image)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or min(rgb.shape[:2]) < 16:
        raise InvalidInputError("The photo must be an 8-bit RGB image (H, W, 3), at least 16 px wide.")
    points = np.asarray(landmarks, np.float64)
    if points.ndim != 2 or points.shape[0] < landmarks_of.FACE_VERTEX_COUNT or points.shape[1] < 2:
        raise InvalidInputError(
            f"Photo skin needs MediaPipe's {landmarks_of.FACE_VERTEX_COUNT} face landmarks as "
            f"an (N, 2 or 3) array; got shape {points.shape}."
        )
    points = points[: landmarks_of.FACE_VERTEX_COUNT, :2]
    if not np.isfinite(points).all():
        raise InvalidInputError("The face landmarks contain NaN or infinite values.")
    digest = hashlib.sha1(rgb.tobytes() + str(rgb.shape).encode() + points.tobytes()).hexdigest()
    key = (digest, tone)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    texture = _build(rgb, points, tone)
    with _cache_lock:
        _cache[key] = texture
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return texture


def _triangle_index(shape: tuple[int, int], corners: np.ndarray, offset: np.ndarray,
                    order: np.ndarray) -> np.ndarray:
    """(rows, cols) map of which triangle covers each pixel (-1: none), drawn with PIL in
    ``order`` (a later triangle wins where two overlap)."""
    from PIL import Image, ImageDraw

    canvas = Image.new("I", (shape[1], shape[0]), 0)
    draw = ImageDraw.Draw(canvas)
    shifted = corners - offset - 0.5  # PIL puts pixel centres at integers
    for k in order:
        draw.polygon([tuple(p) for p in shifted[k]], fill=int(k) + 1)
    return np.asarray(canvas, np.int64) - 1


def _signed_areas(corners: np.ndarray) -> np.ndarray:
    edges_a, edges_b = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
    return edges_a[:, 0] * edges_b[:, 1] - edges_a[:, 1] * edges_b[:, 0]


def _affine_maps(dst: np.ndarray, src: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per triangle, the 2x3 affine map taking its ``dst`` corners to its ``src`` corners, and
    whether the triangle has area (degenerate ones map nowhere)."""
    homogeneous = np.concatenate([dst, np.ones(dst.shape[:2] + (1,))], axis=2)  # (T, 3, 3)
    valid = np.abs(np.linalg.det(homogeneous)) > 1e-6
    maps = np.zeros((len(dst), 2, 3))
    maps[valid] = np.transpose(np.linalg.solve(homogeneous[valid], src[valid]), (0, 2, 1))
    return maps, valid


def warp_to_atlas(photo: np.ndarray, photo_points: np.ndarray, atlas_points: np.ndarray,
                  triangles: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Piecewise-affine warp of ``photo`` (float, (H, W, C)) into an atlas of ``shape`` over
    ``triangles``: corners at ``photo_points`` (pixels) in the photo land on ``atlas_points``
    (pixels) in the atlas. Returns the warped image and the mask of texels it covers."""
    from scipy.ndimage import map_coordinates

    dst, src = atlas_points[triangles], photo_points[triangles]
    lo = np.clip(np.floor(dst.reshape(-1, 2).min(0)).astype(int) - 1, 0, None)
    hi = np.minimum(np.ceil(dst.reshape(-1, 2).max(0)).astype(int) + 2, [shape[1], shape[0]])
    # where the atlas folds a triangle over its neighbours (it is mirrored there relative to the
    # photo), the unfolded triangles are drawn last so they keep the texels both cover
    folded = np.sign(_signed_areas(dst)) != np.sign(_signed_areas(src))
    order = np.concatenate([np.flatnonzero(folded), np.flatnonzero(~folded)])
    index = _triangle_index((hi[1] - lo[1], hi[0] - lo[0]), dst, lo, order)
    maps, valid = _affine_maps(dst, src)
    rows, cols = np.nonzero(index >= 0)
    chosen = index[rows, cols]
    keep = valid[chosen]
    rows, cols, chosen = rows[keep], cols[keep], chosen[keep]
    # texel centres in atlas pixels -> photo pixels (continuous, centres at +0.5)
    centres = np.column_stack([cols + lo[0] + 0.5, rows + lo[1] + 0.5, np.ones(len(rows))])
    source = np.einsum("nij,nj->ni", maps[chosen], centres)
    warped = np.zeros(shape + (photo.shape[2],))
    for channel in range(photo.shape[2]):
        warped[rows + lo[1], cols + lo[0], channel] = map_coordinates(
            photo[..., channel], [source[:, 1] - 0.5, source[:, 0] - 0.5], order=1, mode="nearest"
        )
    covered = np.zeros(shape, bool)
    covered[rows + lo[1], cols + lo[0]] = True
    return warped, covered


def _median_colour(image: np.ndarray, points: np.ndarray, radius: int) -> np.ndarray:
    """Median colour of small patches round ``points`` (pixels, column-row) of ``image``."""
    patches = []
    for x, y in np.round(points - 0.5).astype(int):
        x = int(np.clip(x, 0, image.shape[1] - 1))
        y = int(np.clip(y, 0, image.shape[0] - 1))
        patch = image[max(0, y - radius) : y + radius + 1, max(0, x - radius) : x + radius + 1]
        patches.append(patch.reshape(-1, 3))
    return np.median(np.concatenate(patches), axis=0)


def _fit_photo(rgb: np.ndarray, pixels: np.ndarray, face_width: float) -> tuple[np.ndarray, np.ndarray]:
    """Shrink a photo whose face is much larger than the atlas's, so the warp does not alias."""
    from PIL import Image

    scale = face_width / max(np.ptp(pixels[list(landmarks_of.FACE_OVAL), 0]), 1.0)
    if scale >= 0.8:
        return rgb, pixels
    size = (max(16, round(rgb.shape[1] * scale)), max(16, round(rgb.shape[0] * scale)))
    resized = np.asarray(Image.fromarray(rgb).resize(size, Image.LANCZOS))
    return resized, pixels * [size[0] / rgb.shape[1], size[1] / rgb.shape[0]]


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _openings(atlas_points: np.ndarray, side: int, grow: float) -> np.ndarray:
    """Soft mask (side, side) of the eye openings and the gap between the lips in the atlas,
    grown by ``grow`` pixels so the photo's eye whites and teeth at their edges are covered.
    Each opening is the convex hull of its rim landmarks: on the closed-mouth head some inner
    lip landmarks sit on the other lip, so their ring crosses itself."""
    from PIL import Image, ImageDraw
    from scipy.ndimage import gaussian_filter
    from scipy.spatial import ConvexHull

    mask = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(mask)
    for upper, lower in (
        (landmarks_of.RIGHT_EYE_UPPER, landmarks_of.RIGHT_EYE_LOWER),
        (landmarks_of.LEFT_EYE_UPPER, landmarks_of.LEFT_EYE_LOWER),
        (landmarks_of.LIP_UPPER_INNER, landmarks_of.LIP_LOWER_INNER),
    ):
        rim = atlas_points[sorted(set(upper) | set(lower))] - 0.5
        hull = [tuple(p) for p in rim[ConvexHull(rim).vertices]]
        draw.polygon(hull, fill=255, outline=255, width=max(1, round(2 * grow)))
    soft = gaussian_filter(np.asarray(mask, np.float64) / 255.0, max(grow / 2.0, 0.5))
    return np.clip(2.0 * soft, 0.0, 1.0)


def _masked_blur(image: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of ``image`` counting each pixel by ``weight`` (normalised convolution)."""
    from scipy.ndimage import gaussian_filter

    total = gaussian_filter(weight, sigma) + 1e-6
    blurred = [gaussian_filter(image[..., c] * weight, sigma) for c in range(image.shape[2])]
    return np.stack(blurred, -1) / total[..., None]


def _skin_likeness(image: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """0..1 per pixel: how much a pixel's colour looks like the photo's skin (hair, brows,
    background and shadows far darker than skin score low)."""
    chroma = image / (image.sum(-1, keepdims=True) + 1e-6)
    skin_chroma = skin / skin.sum()
    distance = np.linalg.norm(chroma - skin_chroma, axis=-1)
    brightness = image.mean(-1) / max(float(skin.mean()), 1e-6)
    return np.exp(-((distance / CHROMA_TOLERANCE) ** 2)) * _smoothstep((brightness - 0.15) / 0.3)


def _build(rgb: np.ndarray, landmarks: np.ndarray, tone: str) -> FaceTexture:
    from PIL import Image, ImageDraw
    from scipy.ndimage import distance_transform_edt, gaussian_filter

    from emo_app.face.hd_head import load_default_head
    from emo_app.face.skin import landmark_pixels, skin_texture

    rig = load_default_head()
    base = skin_texture(tone)
    side = base.image.shape[0]
    tile = (side, side)  # the face tile: the atlas's left half
    atlas_points = landmark_pixels(rig, side)[: landmarks_of.FACE_VERTEX_COUNT]
    oval = atlas_points[list(landmarks_of.FACE_OVAL)]
    face_width = float(np.ptp(oval[:, 0]))
    photo, photo_points = _fit_photo(rgb, landmarks * [rgb.shape[1], rgb.shape[0]], face_width)
    photo_linear = srgb_to_linear(photo)
    triangles = landmarks_of.load_canonical_mesh().faces.astype(np.int64)  # eyes and mouth open
    warped, covered = warp_to_atlas(photo_linear, photo_points, atlas_points, triangles, tile)
    generated = srgb_to_linear(base.image[:, :side])
    photo_skin_rgb = _median_colour(photo_linear, photo_points[list(SKIN_SAMPLE_LANDMARKS)], 2)
    tone_skin_rgb = _median_colour(generated, atlas_points[list(SKIN_SAMPLE_LANDMARKS)], 3)
    to_tone = tone_skin_rgb / np.maximum(photo_skin_rgb, 1e-4)

    # how deep inside the face oval each texel lies, in atlas pixels
    oval_mask = Image.new("L", tile, 0)
    ImageDraw.Draw(oval_mask).polygon([tuple(p) for p in oval - 0.5], fill=1)
    depth = distance_transform_edt(np.asarray(oval_mask, bool))

    # eye openings and the gap between the lips keep the generated atlas's detail (lid and lash
    # lines, inner lips) in the colour of the photo round them
    openings = _openings(atlas_points, side, OPENING_GROW * face_width)
    around = _masked_blur(warped, covered * (1.0 - openings), OPENING_BLUR * face_width)
    detail = generated / np.maximum(_masked_blur(generated, np.ones(tile), OPENING_BLUR * face_width), 1e-4)
    face = warped * (1.0 - openings[..., None]) + around * detail * openings[..., None]
    reached = np.maximum(covered, openings)

    # the photo's skin takes the tone's colour (so face and neck match; its lips, brows, folds
    # and marks stay), and its broad shading is evened out to the generated skin's: fully near
    # the border (hair shadows, a darker jaw line), by RELIGHT elsewhere
    face = face * to_tone
    sigma = SHADING_BLUR * face_width
    broad = np.maximum(_masked_blur(face, reached, sigma), 1e-4)
    shading = _masked_blur(generated, np.ones(tile), sigma) / broad
    evened = np.maximum(1.0 - _smoothstep(depth / (SHADING_BAND * face_width)), RELIGHT)
    face = face * np.clip(1.0 + (shading - 1.0) * evened[..., None], 0.25, 4.0)

    # the photo fades in over a band inside the oval, only where the warp reached, and near the
    # border only where it looks like skin (not hair or background)
    skin_like = gaussian_filter(_skin_likeness(warped, photo_skin_rgb), 2.0)
    outer = 1.0 - _smoothstep(depth / (SKIN_CHECK_BAND * face_width))
    keep = _smoothstep(depth / (FADE_BAND * face_width)) * gaussian_filter(reached, 1.0)
    keep = keep * (1.0 - outer * (1.0 - skin_like))
    blended = generated * (1.0 - keep[..., None]) + face * keep[..., None]

    atlas = base.image.copy()
    atlas[:, :side] = linear_to_srgb(blended)
    return FaceTexture(atlas, None, base.skin_rgb, f"photo skin ({tone})", head=rig.head)


def default_photo_skin(tone: str | None = None, settings: Settings | None = None) -> FaceTexture:
    """The "photo" look on the full head: the public-domain astronaut photo that scikit-image
    ships (Eileen Collins, NASA), its landmarks detected once and cached in the data folder."""
    settings = settings or Settings.from_env()
    return _default_photo_skin(tone, settings)


@lru_cache(maxsize=8)
def _default_photo_skin(tone: str | None, settings: Settings) -> FaceTexture:
    from skimage.data import astronaut

    from emo_app.face.texture import _cached_landmarks

    rgb = astronaut()
    return photo_skin(rgb, _cached_landmarks(rgb, settings), tone)
