"""Vertex colours as textures for the GLB's eyes, mouth and (on the mask head) painted face, and
for the OBJ's (``bake_vertex_colours``: one small cell per triangle, since an MTL reads no
vertex colours).

glTF lets COLOR_0 tint a material, but many importers drop it (trimesh; Unreal and Unity
materials ignore it unless wired by hand; Godot needs "use as albedo"): the eyes came in white,
without iris or pupil, and the mouth white. The colours those parts carry are simple functions
of where a vertex sits, so each gets UVs that follow that function and a small texture baked
from its vertex colours:

- an eyeball is painted in polar coordinates around its front pole (iris, pupil, catchlight):
  its UVs are polar about that pole too (front in the middle, back pole on the rim);
- the teeth and the gums and tongue are their material's colour darkened with depth: v is the
  depth, the texture one gradient;
- the mask head's face has UVs of its own (MediaPipe's canonical layout).

A bake is kept only when the texture gives every vertex its colour back; otherwise the mesh
keeps COLOR_0 (the mask head's mouth mixes colours at one depth).
"""

from __future__ import annotations

import functools
import hashlib
import io
import threading
from dataclasses import dataclass

import numpy as np

from emo_app.face.texture import linear_to_srgb

EYE_TEXTURE_PX = 512  # ~100 texels across the iris (256 blurs the mask head's small eyes); a mask face too
DEPTH_TEXTURE_PX = 128
# sRGB levels between a vertex's colour and the texture read at its UV: on average, and at the
# 99th percentile (the iris rim changes colour within a few texels: 11 on the full head)
MAX_MEAN_BAKE_ERROR = 3.0
MAX_P99_BAKE_ERROR = 24.0


@dataclass(frozen=True)
class BakedColours:
    """A mesh's colours as a texture: per-vertex UVs (image convention) and an sRGB image."""

    uvs: np.ndarray  # (n, 2) float32
    image: np.ndarray  # (h, w, 3) uint8

    @functools.cached_property
    def png(self) -> bytes:
        """The image as PNG, encoded once: a head's bakes serve every skin it wears (the photo
        look makes a new skin, and new GLB templates, per request: 74 ms of PNG encoding each)."""
        return png_bytes(self.image)


def bake_colours(
    name: str, points: np.ndarray, faces: np.ndarray, colours: np.ndarray, uvs: np.ndarray | None = None
) -> BakedColours | None:
    """The texture for mesh ``name`` (an eye, the teeth or the gums and tongue) with linear RGB
    vertex ``colours``, or None when no bake reproduces them. ``uvs``: the part's own UVs (a
    mask face's canonical layout), used instead of the ones made here."""
    colours = np.asarray(colours, np.float64)[:, :3]
    arrays = (points, faces, colours) + (() if uvs is None else (uvs,))
    key = hashlib.blake2b(name.encode() + b"".join(np.ascontiguousarray(a).tobytes() for a in arrays),
                          digest_size=16).digest()
    with _CACHE_LOCK:
        if key in _BAKED:
            return _BAKED[key]
    baked = _bake(name, points, faces, colours, uvs)
    with _CACHE_LOCK:
        if len(_BAKED) >= 32:
            _BAKED.pop(next(iter(_BAKED)))
        _BAKED[key] = baked
    return baked


_BAKED: dict[bytes, BakedColours | None] = {}  # a head's bakes, kept while its skin changes (photos)
_CACHE_LOCK = threading.Lock()


def _bake(name: str, points: np.ndarray, faces: np.ndarray, colours: np.ndarray,
          uvs: np.ndarray | None) -> BakedColours | None:
    if uvs is not None:
        uvs = np.asarray(uvs, np.float64)
        image = _rasterise(uvs, np.asarray(faces), colours, EYE_TEXTURE_PX, np.arange(len(faces)))
    elif name.startswith("eye"):
        uvs = _front_pole_uvs(np.asarray(points, np.float64))
        image = _rasterise(uvs, np.asarray(faces), colours, EYE_TEXTURE_PX, _back_first(uvs, faces))
    else:
        uvs, image = _depth_gradient(np.asarray(points, np.float64), colours)
    baked = BakedColours(uvs.astype(np.float32), image)
    return baked if _reproduces(baked, colours) else None


def _front_pole_uvs(points: np.ndarray) -> np.ndarray:
    """Polar UVs about the eyeball's front (+z) pole: the distance from the texture's centre
    grows with the angle from the pole (as its square root, so the front gets most texels);
    the back pole is the rim."""
    extent = points.max(axis=0) - points.min(axis=0)
    centre = (points.max(axis=0) + points.min(axis=0)) / 2.0
    centre[2] = points[:, 2].max() - extent.max() / 2.0  # one radius behind the front pole
    rel = points - centre
    angle = np.arccos(np.clip(rel[:, 2] / np.maximum(np.linalg.norm(rel, axis=1), 1e-12), -1.0, 1.0))
    around = np.arctan2(rel[:, 1], rel[:, 0])
    radius = 0.5 * np.sqrt(angle / np.pi)  # sqrt: the iris and pupil get 2.4x the texels
    return np.column_stack([0.5 + radius * np.cos(around), 0.5 - radius * np.sin(around)])


def _back_first(uvs: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Triangles ordered from the back pole to the front: a triangle around the back pole
    spans the texture, and the front ones drawn after it paint over what it covered."""
    distance = np.linalg.norm(uvs[np.asarray(faces)] - 0.5, axis=2).mean(axis=1)  # of corners, not centre
    return np.argsort(-distance, kind="stable")


def _rasterise(uvs: np.ndarray, faces: np.ndarray, colours: np.ndarray, size: int,
               order: np.ndarray) -> np.ndarray:
    """Each triangle's colours blended across its texels (barycentric, in linear light), in
    ``order`` (later ones paint over earlier ones); texels no triangle covers take the nearest
    covered one (bilinear reads at edges). Triangles wider than ``_TILES`` are drawn one by one
    first, then the rest together, the larger before the smaller."""
    from scipy.ndimage import distance_transform_edt

    image = np.zeros((size, size, 3))
    covered = np.zeros((size, size), bool)
    corners = (uvs * size - 0.5)[faces[order]]  # texel (i, j) has its centre at ((j + .5) / size, ...)
    lo = np.clip(np.floor(corners.min(axis=1)).astype(int), 0, size - 1)
    hi = np.clip(np.ceil(corners.max(axis=1)).astype(int), 0, size - 1)
    span = (hi - lo).max(axis=1) + 1
    for index in np.flatnonzero(span > _TILES[-1]):  # the widest first, one by one
        (x0, y0), (x1, y1) = lo[index], hi[index]
        x, y = np.meshgrid(np.arange(x0, x1 + 1), np.arange(y0, y1 + 1))
        _fill(image, covered, corners[index][None], colours[faces[order[index]]][None], x[None], y[None])
    for tile, smaller in zip(_TILES[::-1], (*_TILES[-2::-1], 0)):  # then by size, all of a size at once
        group = np.flatnonzero((span <= tile) & (span > smaller))
        steps = np.arange(tile)
        x = np.minimum(lo[group, 0, None, None] + steps[None, None, :], hi[group, 0, None, None])
        y = np.minimum(lo[group, 1, None, None] + steps[None, :, None], hi[group, 1, None, None])
        _fill(image, covered, corners[group], colours[faces[order[group]]], *np.broadcast_arrays(x, y))
    if covered.any() and not covered.all():
        nearest = distance_transform_edt(~covered, return_distances=False, return_indices=True)
        image = image[nearest[0], nearest[1]]
    return linear_to_srgb(image)


_TILES = (4, 8, 16, 32, 64)  # texels: triangles within a box this size are rasterised together


def _fill(image: np.ndarray, covered: np.ndarray, corners: np.ndarray, colours: np.ndarray,
          x: np.ndarray, y: np.ndarray) -> None:
    """Paint triangles (T, 3, 2 texel corners; T, 3, 3 colours) over texels x, y (T, h, w)."""
    a, b, c = (corners[:, k, None, None, :] for k in range(3))

    def cross(u: np.ndarray, v: np.ndarray, p: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """(v - u) x (p - u), z component."""
        return (v[..., 0] - u[..., 0]) * (p[1] - u[..., 1]) - (p[0] - u[..., 0]) * (v[..., 1] - u[..., 1])

    area = cross(a, b, (c[..., 0], c[..., 1]))
    area = np.where(np.abs(area) < 1e-12, np.nan, area)  # degenerate: covers nothing
    w1 = cross(a, c, (x, y)) / -area  # the weight of b: (p - a) x (c - a) / area
    w2 = cross(a, b, (x, y)) / area  # the weight of c
    weights = np.stack([1.0 - w1 - w2, w1, w2], axis=-1)
    inside = (weights >= -1e-6).all(axis=-1)
    triangle = np.broadcast_to(np.arange(len(corners))[:, None, None], inside.shape)[inside]
    image[y[inside], x[inside]] = np.einsum("nk,nkc->nc", weights[inside], colours[triangle])
    covered[y[inside], x[inside]] = True


def _depth_gradient(points: np.ndarray, colours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """UVs with v the depth (front at the top) and a texture whose rows are the vertex colours
    at that depth."""
    depth = points[:, 2].max() - points[:, 2]
    v = depth / max(float(depth.max()), 1e-9)
    rows = (np.arange(DEPTH_TEXTURE_PX) + 0.5) / DEPTH_TEXTURE_PX
    order = np.argsort(v, kind="stable")
    column = np.stack([np.interp(rows, v[order], colours[order, c]) for c in range(3)], axis=-1)
    image = np.repeat(linear_to_srgb(column)[:, None, :], 4, axis=1)
    return np.column_stack([np.full(len(v), 0.5), rows[0] + v * (rows[-1] - rows[0])]), image


def _reproduces(baked: BakedColours, colours: np.ndarray) -> bool:
    """Does a bilinear read of the texture at each vertex's UV give its colour back?"""
    height, width = baked.image.shape[:2]
    x = np.clip(baked.uvs[:, 0] * width - 0.5, 0, width - 1)
    y = np.clip(baked.uvs[:, 1] * height - 0.5, 0, height - 1)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    x1, y1 = np.minimum(x0 + 1, width - 1), np.minimum(y0 + 1, height - 1)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    image = baked.image.astype(np.float64)
    read = (image[y0, x0] * (1 - fx) * (1 - fy) + image[y0, x1] * fx * (1 - fy)
            + image[y1, x0] * (1 - fx) * fy + image[y1, x1] * fx * fy)
    error = np.abs(read - linear_to_srgb(colours)).max(axis=1)
    return bool(error.mean() <= MAX_MEAN_BAKE_ERROR and np.percentile(error, 99) <= MAX_P99_BAKE_ERROR)


def bake_vertex_colours(
    faces: np.ndarray, colours: np.ndarray, cell: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """Per-vertex colours (linear RGB) as a texture, for formats whose materials cannot read
    vertex colours (OBJ/MTL). Each triangle gets its own ``cell`` x ``cell`` texels with its
    corners on texel centres; each texel holds the colours' linear blend at that point (also
    beyond the triangle's long edge), so bilinear sampling reproduces the blend across the
    triangle. Returns (sRGB uint8 image, UVs per corner (F, 3, 2), image convention)."""
    count = len(faces)
    per_row = max(1, int(np.ceil(np.sqrt(count))))
    rows = int(np.ceil(count / per_row))
    steps = np.arange(cell) / (cell - 1)
    u, v = np.meshgrid(steps, steps)  # u along a cell's columns, v down its rows
    weights = np.stack([1 - u - v, u, v], axis=-1)  # barycentric, (cell, cell, 3)
    blend = np.einsum("ijk,fkc->fijc", weights, np.asarray(colours, np.float64)[faces])
    blend = np.concatenate([blend, np.zeros((rows * per_row - count, cell, cell, blend.shape[-1]))])
    image = blend.reshape(rows, per_row, cell, cell, -1).transpose(0, 2, 1, 3, 4)
    image = linear_to_srgb(image.reshape(rows * cell, per_row * cell, -1))
    origin = np.stack([np.arange(count) % per_row, np.arange(count) // per_row], axis=1) * cell + 0.5
    offsets = np.array([[0, 0], [cell - 1, 0], [0, cell - 1]], np.float64)
    corner_uvs = (origin[:, None, :] + offsets[None]) / [per_row * cell, rows * cell]
    return image, corner_uvs


def jpeg_bytes(image: np.ndarray) -> bytes:
    """A skin atlas as JPEG: 2048 x 1024 is about 350 kB, 4-8x smaller than as PNG."""
    from PIL import Image

    encoded = io.BytesIO()
    Image.fromarray(image).save(encoded, format="JPEG", quality=88, optimize=True)
    return encoded.getvalue()


def png_bytes(image: np.ndarray) -> bytes:
    """A small baked texture (eyes, mouth) as PNG: lossless, a few tens of kB."""
    from PIL import Image

    encoded = io.BytesIO()
    Image.fromarray(image).save(encoded, format="PNG", optimize=True)
    return encoded.getvalue()
