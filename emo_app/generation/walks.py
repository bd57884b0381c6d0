"""Walks through the C2A2 space as image grids, GIFs and MP4s (the supplementary's Figs. 6-45):
along a class axis (intensity 0..1), around a circle (theta, phi, r) and between two classes.

Every frame of a walk uses the same seed, so only the emotion changes, not the person. When the
face renderer and the FACS prior are installed, the 3D face for the same point is drawn beside
each image, so the generated photo and the blendshape face can be compared point by point."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emo_app.emotion import space
from emo_app.emotion.space import MAX_WALK_STEPS, EmotionPoint
from emo_app.errors import InvalidInputError

log = logging.getLogger(__name__)

GenerateFn = Callable[..., list[Any]]  # (points, *, seeds, **kwargs) -> PIL images
MAX_GRID_COLUMNS = 8


@dataclass
class WalkResult:
    """Where the walk's files are, and which points they show (in frame order)."""

    kind: str
    points: list[EmotionPoint]
    labels: list[str]
    grid: Path
    gif: Path | None = None
    mp4: Path | None = None
    frames: list[Path] = field(default_factory=list)
    faces: bool = False

    def paths(self) -> list[Path]:
        return [p for p in (self.grid, self.gif, self.mp4) if p is not None]


def label_height(width: int) -> int:
    """The strip under a grid cell of ``width`` pixels that holds its label."""
    return round(_font_size(width) * 1.4)


def _font_size(width: int) -> int:
    # about 16 characters across a cell, so a label stays readable when the grid is shown
    # shrunk to a page's width (the fixed 11 px bitmap font was a speck under a 512 px face)
    return max(11, width // 10)


def _fitting_font_size(labels: Sequence[str], width: int) -> int:
    """The largest size up to ``_font_size(width)`` (and at least 11) at which every label fits
    across a cell: one size for the whole grid, so the labels line up."""
    from PIL import ImageFont

    def widest(size: int) -> float:
        font = ImageFont.load_default(size=size)
        return max(font.getlength(label) for label in labels)

    size = _font_size(width)
    while size > 11 and widest(size) > width - 4:
        size -= 1
    return size


def _label_image(image: Any, label: str, size: int) -> Any:
    """The image with its label centred underneath in a ``size`` font (cut short if it still
    does not fit at the smallest size)."""
    from PIL import Image, ImageDraw, ImageFont

    strip = label_height(image.width)
    canvas = Image.new("RGB", (image.width, image.height + strip), "white")
    canvas.paste(image.convert("RGB"), (0, 0))
    font = ImageFont.load_default(size=size)
    while font.getlength(label) > image.width - 4 and len(label) > 4:
        label = label[:-1]
    ImageDraw.Draw(canvas).text((image.width / 2, image.height + strip / 2), label, fill="black", font=font,
                                anchor="mm")
    return canvas


def labelled(images: Sequence[Any], labels: Sequence[str]) -> list[Any]:
    """Each image with its label underneath, all in one font size that fits the widest label."""
    size = _fitting_font_size(labels, images[0].width)
    return [_label_image(image, label, size) for image, label in zip(images, labels, strict=False)]


def image_grid(images: Sequence[Any], labels: Sequence[str] | None = None, columns: int | None = None) -> Any:
    """Tile PIL images (same size) into one image, each with its label underneath; by default
    at most 8 a row with the rows evenly filled (9 images: 5 + 4, not 8 and one alone)."""
    from PIL import Image

    if not images:
        raise InvalidInputError("No images to put in a grid.")
    cells = labelled(images, labels) if labels else [i.convert("RGB") for i in images]
    if not columns:
        rows = -(-len(cells) // MAX_GRID_COLUMNS)
        columns = -(-len(cells) // rows)
    rows = -(-len(cells) // columns)
    width, height = cells[0].size
    grid = Image.new("RGB", (columns * width, rows * height), "white")
    for index, cell in enumerate(cells):
        grid.paste(cell.resize((width, height)), ((index % columns) * width, (index // columns) * height))
    return grid


def face_for_point(point: EmotionPoint, size: int) -> np.ndarray | None:
    """The rendered ARKit face for ``point`` (via Emo3D intensities and the FACS prior), or None."""
    from emo_app.face import get_face_renderer
    from emo_app.text.facs import shapes_for_point

    try:
        shapes = shapes_for_point(point)
        return np.asarray(get_face_renderer().render(shapes, view="front", size=size))
    except Exception as exc:  # the face is a bonus: a renderer problem must not lose the walk
        log.warning("Face rendering skipped: %s", exc)
        return None


def _beside(image: Any, face: np.ndarray | None) -> Any:
    from PIL import Image

    if face is None:
        return image.convert("RGB")
    face_image = Image.fromarray(np.asarray(face)[..., :3].astype(np.uint8)).resize(
        (image.height, image.height)
    )
    canvas = Image.new("RGB", (image.width + face_image.width, image.height), "white")
    canvas.paste(image.convert("RGB"), (0, 0))
    canvas.paste(face_image, (image.width, 0))
    return canvas


def point_label(point: EmotionPoint) -> str:
    """"Happily sad (+0.50,-0.40,+0.70)": the nearest class and the point's coordinates."""
    name, _ = space.nearest_classes(point, 1)[0]
    coordinates = ",".join(space.signed_coordinate(v) for v in (point.valence, point.arousal, point.z))
    return f"{name} ({coordinates})"


def walk_labels(points: Sequence[EmotionPoint], axis_class: str | None = None) -> list[str]:
    """One label per point, no two alike: an axis walk's intensity ("Happy 0.25"), else the
    step and the nearest class ("3/12 Happily sad"). "Happy r=1.00" was repeated all along a
    walk between classes, and Pillow merges identical GIF frames, so the GIF lost steps."""
    if axis_class is not None:
        name = space.canonical_class(axis_class)
        return [f"{name} {t:.2f}" for t in np.linspace(0.0, 1.0, len(points))]
    return [f"{index}/{len(points)} {space.nearest_classes(p, 1)[0][0]}" for index, p in enumerate(points, 1)]


def gif_durations(frames: int, fps: float) -> list[int]:
    """Each GIF frame's duration in ms, whole centiseconds (all a GIF stores) that add up to the
    animation's time: at 6 fps every frame as 1000/6 ms was stored as 16 cs, 6.25 fps."""
    ends = np.round(np.arange(1, frames + 1) * 100.0 / fps).astype(int)
    return (np.diff(ends, prepend=0) * 10).tolist()


def save_gif(path: Path, frames: Sequence[np.ndarray], fps: float) -> Path:
    """Frames (same size, RGB) as a looping GIF played at ``fps`` (``gif_durations``)."""
    import imageio.v3 as iio

    stacked = np.stack([np.asarray(f) for f in frames])
    iio.imwrite(path, stacked, duration=gif_durations(len(frames), fps), loop=0)
    return path


def save_mp4(path: Path, frames: Sequence[np.ndarray], fps: float) -> Path | None:
    """Frames (same size, RGB) as an H.264 MP4 through imageio-ffmpeg, padded white to whole
    16-pixel macro blocks (not stretched), or None with a logged reason (ffmpeg missing or
    broken: the grid, the GIF and the GLB are still useful). x264's "veryfast" preset: a 106-frame
    512 px take encoded in 239 ms instead of 403, 10% smaller, PSNR 43.7 dB against 44.2."""
    import imageio.v2 as imageio

    height, width = np.asarray(frames[0]).shape[:2]
    pad = ((0, -height % 16), (0, -width % 16), (0, 0))
    padded = [np.pad(np.asarray(f)[..., :3], pad, constant_values=255) for f in frames]
    try:
        imageio.mimsave(path, padded, fps=fps, codec="libx264", quality=8, macro_block_size=16,
                        ffmpeg_params=["-preset", "veryfast"])
    except Exception as exc:
        log.warning("MP4 export skipped: %s", exc)
        return None
    return path


def render_walk(
    points: Sequence[EmotionPoint],
    kind: str,
    *,
    out_dir: str | Path | None = None,
    seed: int = 0,
    labels: Sequence[str] | None = None,
    faces: bool = True,
    fps: float = 4.0,
    formats: Sequence[str] = ("png", "gif", "mp4"),
    columns: int | None = None,
    generate_fn: GenerateFn | None = None,
    **generation_kwargs: Any,
) -> WalkResult:
    """Generate one image per point (same seed), then write the grid, GIF and MP4."""
    points = list(points)
    if not 2 <= len(points) <= MAX_WALK_STEPS:
        raise InvalidInputError(f"A walk needs 2 to {MAX_WALK_STEPS} points; got {len(points)}.")
    unknown = set(formats) - {"png", "gif", "mp4"}
    if unknown:
        raise InvalidInputError(f"Unknown walk formats {sorted(unknown)}; use png, gif, mp4.")
    if generate_fn is None:
        from emo_app.generation.api import generate_for_points

        generate_fn = generate_for_points
    images = generate_fn(points, seeds=seed, **generation_kwargs)
    labels = list(labels) if labels else [point_label(p) for p in points]
    face_images = [face_for_point(p, images[0].height) for p in points] if faces else [None] * len(points)
    with_faces = any(f is not None for f in face_images)
    cells = [_beside(img, face) for img, face in zip(images, face_images)]
    folder = Path(out_dir) if out_dir else _default_folder(kind)
    folder.mkdir(parents=True, exist_ok=True)
    frames = labelled(cells, labels)
    frame_paths = []
    for index, frame in enumerate(frames):
        path = folder / f"frame_{index:03d}.png"
        frame.save(path)
        frame_paths.append(path)
    grid_path = folder / f"{kind}_grid.png"
    image_grid(cells, labels, columns).save(grid_path)
    result = WalkResult(kind, points, labels, grid_path, frames=frame_paths, faces=with_faces)
    arrays = [np.asarray(f) for f in frames]  # labelled frames are RGB
    if "gif" in formats:
        result.gif = save_gif(folder / f"{kind}.gif", arrays, fps)
    if "mp4" in formats:
        result.mp4 = save_mp4(folder / f"{kind}.mp4", arrays, fps)
    return result


def _default_folder(kind: str) -> Path:
    from emo_app.config import Settings

    stamp = time.strftime("%Y%m%d-%H%M%S") + f"-{time.time_ns() % 1_000_000:06d}"
    return Settings.from_env().data_dir / "walks" / f"{kind}-{stamp}"


def axis_walk_images(class_name: str, steps: int = 9, **kwargs: Any) -> WalkResult:
    """Neutral -> ``class_name`` at intensities 0..1 (Figs. 6-21)."""
    points = space.axis_walk(class_name, steps)
    name = space.canonical_class(class_name)
    return render_walk(points, f"axis-{name.lower().replace(' ', '-')}", labels=walk_labels(points, name),
                       **kwargs)


def circle_walk_images(
    tilt: float, start_angle: float, r: float, steps: int = 16, **kwargs: Any
) -> WalkResult:
    """Around the circle of ``emo_app.emotion.space.circle_walk`` (Figs. 22-29, whose labels call
    ``tilt`` theta and ``start_angle`` phi)."""
    points = space.circle_walk(tilt, start_angle, r, steps)
    return render_walk(points, f"circle-t{tilt:.2f}-p{start_angle:.2f}-r{r:.2f}", **kwargs)


def class_walk_images(a: str, b: str, steps: int = 9, spherical: bool = True, **kwargs: Any) -> WalkResult:
    """From class ``a`` to class ``b`` on the sphere (or a straight line) (Figs. 30-45)."""
    points = space.class_walk(a, b, steps, spherical)
    name = f"between-{space.canonical_class(a)}-{space.canonical_class(b)}".lower().replace(" ", "-")
    return render_walk(points, name, **kwargs)
