"""A take of a face: the expression on screen played from rest and back over a few seconds
(``blendshapes.take``), rendered to a video and written for animators (an animated GLB with the
52 morph targets and the skull joint, a 60 fps Live Link Face CSV, a JSON of every frame).
The same function serves the UI, the API and the CLI."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from emo_app.blendshapes import Blendshapes
from emo_app.blendshapes.pose import HeadPose
from emo_app.blendshapes.take import Beat, Take, TakeTiming, perform
from emo_app.config import Settings
from emo_app.emotion.emotions import EmotionIntensities
from emo_app.emotion.space import EmotionPoint
from emo_app.errors import InvalidInputError
from emo_app.outputs import output_dir
from emo_app.services import as_blendshapes, drawn_face

LIVE_LINK_FPS = 60.0  # what Live Link Face records and its importers expect
# A take's frames are held in memory until the MP4 is written (3 bytes a pixel): 200 megapixels
# (600 MB) fit any take at 512 px, 6 s at 30 fps at 1024 px and 1.5 s at 2048 px.
MAX_TAKE_MEGAPIXELS = 200


@dataclass
class TakeResult:
    """The take, its rendered frames (at ``take.fps``) and its files: "mp4" (or "gif" where no
    H.264 encoder runs), "glb", "csv" and "json"."""

    take: Take
    timing: TakeTiming
    frames: list[np.ndarray]
    pose: HeadPose  # the head's pose at the full expression
    files: dict[str, Path] = field(default_factory=dict)
    expressions: int = 1  # the expression and the earlier ones it plays first

    @property
    def video(self) -> Path:
        return self.files.get("mp4") or self.files["gif"]


def take_timing(timing: TakeTiming | Mapping[str, Any] | None, emotion: str | None = None,
                pace: float = 1.0) -> TakeTiming:
    """A TakeTiming from itself, or from a mapping of its fields (rest, onset, hold, offset in
    seconds, fps, blink; None values left out) over the pace of the dominant ``emotion`` times
    ``pace`` (``TakeTiming.paced``; no emotion: the defaults)."""
    if isinstance(timing, TakeTiming):
        return timing
    if timing is not None and not isinstance(timing, Mapping):
        raise InvalidInputError(f"A take's timing is rest, onset, hold and offset in seconds; "
                                f"got {type(timing).__name__}.")
    given = {key: value for key, value in dict(timing or {}).items() if value is not None}
    unknown = sorted(map(str, set(given) - set(TakeTiming.__dataclass_fields__)))
    if unknown:
        raise InvalidInputError(f"Unknown take timing {', '.join(unknown)}: use rest, onset, hold, "
                                f"offset (seconds), fps and blink.")
    return TakeTiming.paced(emotion if isinstance(emotion, str) else None, pace, **given)


def play_take(
    weights: Blendshapes | Mapping[str, float] | Sequence[float],
    *,
    pose: HeadPose | Mapping[str, float] | None = None,
    timing: TakeTiming | Mapping[str, Any] | None = None,
    view: str = "front",
    size: int | None = None,
    settings: Settings | None = None,
    background: str | None = None,
    name: str = "face",
    extra: Mapping[str, Any] | None = None,
    earlier: Sequence[Beat] = (),
    emotion: str | None = None,
    pace: float = 1.0,
    rig: Any = None,
    texture: Any = None,
    **face: str | None,
) -> TakeResult:
    """The face for 52 weights and a head ``pose`` making the expression over time (``timing``;
    default: 0.3 s rest, 0.6 s onset, 1.8 s hold with a blink, 0.8 s offset at 30 fps), drawn
    as ``render_face`` draws it (a given ``rig`` and ``texture``, else ``face``: its head, look
    and tone; ``background``) from ``view``,
    with its files named ``name``-take; ``extra``: what the JSON says the face shows. ``earlier``:
    the (weights, pose) of feelings the face shows first, each held in turn (``earlier_beats``).
    ``emotion``: the face's dominant emotion, which paces the onset and offset that ``timing``
    leaves out (surprise quick, sadness slow), ``pace`` times faster (0.5 to 2)."""
    from emo_app.face import get_face_renderer
    from emo_app.face.looks import background_rgb
    from emo_app.face.render import check_view

    shapes = as_blendshapes(weights)
    pose = pose if isinstance(pose, HeadPose) else HeadPose.from_dict(pose)
    timing = take_timing(timing, emotion, pace)
    check_view(view)
    if rig is None:
        rig, texture = drawn_face(settings, skin=texture, **face)
    rgb = background_rgb(background)
    take = perform(shapes, pose, timing, earlier)
    _check_take_size(len(take), size, settings)
    frames = get_face_renderer(settings).render_batch(take.frames(), view=view, size=size, texture=texture,
                                                      rig=rig, background=rgb, poses=take.head_poses())
    result = TakeResult(take, timing, frames, pose, expressions=1 + len(earlier))
    result.files = _write_take(result, [*earlier, (shapes, pose)], rig, texture, f"{name}-take", extra)
    return result


def _check_take_size(frames: int, size: Any, settings: Settings | None) -> None:
    """Refuse a take whose frames would not fit ``MAX_TAKE_MEGAPIXELS`` before drawing any (a
    size the renderer refuses is left to its own sentence)."""
    pixels = (settings or Settings.from_env()).render_size if size is None else size
    if isinstance(pixels, bool) or not isinstance(pixels, int) or not 32 <= pixels <= 2048:
        return
    megapixels = frames * pixels * pixels / 1e6
    if megapixels > MAX_TAKE_MEGAPIXELS:
        raise InvalidInputError(f"A take of {frames} frames at {pixels} px is {megapixels:.0f} megapixels; "
                                f"at most {MAX_TAKE_MEGAPIXELS} fit: lower the size, the frames per second "
                                "or the timing.")


def earlier_beats(text: str | None, model: str = "embedded", settings: Settings | None = None) -> list[Beat]:
    """The feeling a description had before its last one ("Shocked at first, then delighted":
    the shock), read by the same text model, as a take's earlier beat; [] when it names one."""
    from emo_app.text import get_text_model
    from emo_app.text.base import validate_description
    from emo_app.text.beats import earlier_description

    if not text:
        return []
    before = earlier_description(validate_description(text, settings))
    if before is None:
        return []
    prediction = get_text_model(model or "embedded", settings).predict(before)
    return [(prediction.shapes, prediction.pose)]


def _write_take(result: TakeResult, beats: Sequence[Beat], rig: Any, texture: Any, name: str,
                extra: Mapping[str, Any] | None) -> dict[str, Path]:
    """The video, the animated GLB, the 60 fps Live Link Face CSV and the JSON in a new folder."""
    from emo_app.blendshapes.io import to_json, write_live_link_csv
    from emo_app.face.export import export_glb
    from emo_app.generation.walks import save_gif, save_mp4

    take, timing = result.take, result.timing
    folder = output_dir("take")
    files: dict[str, Path] = {}
    mp4 = save_mp4(folder / f"{name}.mp4", result.frames, timing.fps)
    if mp4 is not None:
        files["mp4"] = mp4
    else:  # no H.264 encoder here: a GIF still plays everywhere
        files["gif"] = save_gif(folder / f"{name}.gif", result.frames, timing.fps)
    frames, heads = take.frames(), take.head_poses()
    files["glb"] = export_glb(frames, folder / f"{name}.glb", fps=timing.fps, texture=texture, rig=rig,
                              pose=heads)
    (shapes, pose), earlier = beats[-1], beats[:-1]
    recorded = perform(shapes, pose, replace(timing, fps=LIVE_LINK_FPS), earlier)
    files["csv"] = folder / f"{name}-live-link-face.csv"
    write_live_link_csv(recorded.frames(), files["csv"], fps=LIVE_LINK_FPS,
                        rotations=recorded.live_link_rotations())
    files["json"] = folder / f"{name}.json"
    files["json"].write_text(to_json(shapes, **dict(extra or {}), head_pose=pose.to_dict(), take={
        "about": "the face above played over time: 'frames' holds each frame's time in seconds, its 52 "
                 "weights and its head pose (degrees), played at 'fps'; 'earlier' the expressions it "
                 "reaches and holds first (a text whose feeling changes)",
        "timing": timing.to_dict(), "fps": timing.fps,
        "earlier": [{"blendshapes": beat.to_dict(), "head_pose": (turn or HeadPose()).to_dict()}
                    for beat, turn in earlier],
        "frames": [{"time": round(float(time), 4),
                    "blendshapes": {key: round(value, 4) for key, value in frame.to_dict().items()},
                    "head_pose": head.to_dict()}
                   for time, frame, head in zip(take.times, frames, heads, strict=True)],
    }))
    return files


def take_of_text(text: str, *, model: str = "embedded", settings: Settings | None = None,
                 angles: Mapping[str, float] | None = None, **options: Any) -> tuple[Any, TakeResult]:
    """A description's face making its expression: (the text model's prediction, its take).
    The head turns as the words say, each of ``angles`` ({"yaw": degrees, ...}) replacing the
    words' one; ``options`` as for ``play_take`` (timing, view, size, head, look, tone, background)."""
    from emo_app.outputs import file_stem
    from emo_app.text import get_text_model
    from emo_app.text.base import validate_description

    validate_description(text, settings)
    prediction = get_text_model(model, settings).predict(text)
    options.setdefault("earlier", earlier_beats(text, model, settings))
    extra = {"text": prediction.text, "model": prediction.model, "emotions": prediction.emotions.to_dict()}
    pose = HeadPose.from_dict({**prediction.pose.to_dict(), **dict(angles or {})})
    result = play_take(prediction.shapes, pose=pose, settings=settings, name=file_stem(text), extra=extra,
                       emotion=prediction.emotions.dominant(), **options)
    return prediction, result


def take_of_point(point: EmotionPoint, settings: Settings | None = None, **options: Any) -> TakeResult:
    """The face of a C2A2 point (as ``services.sphere_point`` draws it) making its expression,
    paced by the point's dominant emotion; ``options`` as for ``play_take``."""
    from emo_app.services import point_stem, shapes_for_emotions

    emotions = EmotionIntensities.from_point(point)
    shapes, _ = shapes_for_emotions(emotions)
    extra = {"point": {"valence": point.valence, "arousal": point.arousal, "z": point.z},
             "emotions": emotions.to_dict()}
    options.setdefault("emotion", emotions.dominant())
    return play_take(shapes, settings=settings, name=point_stem(point), extra=extra, **options)


def take_of_photo(image: Any, *, text: str | None = None, use_photo_texture: bool = False,
                  settings: Settings | None = None, **options: Any) -> TakeResult:
    """Capture's face making its expression: the photo's expression and head pose on our face,
    or (with ``text``) the description on the photo's own face (``services.capture``), drawn as
    Capture draws it; a description paces it and plays a feeling it leaves behind first."""
    from emo_app.outputs import file_stem
    from emo_app.services import capture
    from emo_app.text import get_text_model

    outcome = capture(image, text=text, use_photo_texture=use_photo_texture, size=64, settings=settings)
    if text:
        options.setdefault("emotion", get_text_model("embedded", settings).predict(text).emotions.dominant())
        options.setdefault("earlier", earlier_beats(text, settings=settings))
    face = outcome.face
    return play_take(outcome.shapes, pose=face.pose, rig=face.rig, texture=face.texture, settings=settings,
                     name=file_stem("captured", text or ""),
                     extra={"source": "a photo", "capture": outcome.message, "text": text or None}, **options)
