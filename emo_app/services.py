"""Plain functions behind every surface: the Gradio UI, its HTTP/MCP API and the CLI.

Each takes and returns ordinary Python values, validates its input (``InvalidInputError``
with a sentence a person can act on) and writes downloadable files into a fresh request
folder (``emo_app.outputs``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emo_app.blendshapes import Blendshapes
from emo_app.blendshapes.pose import HeadPose
from emo_app.config import Settings
from emo_app.emotion.emotions import EmotionIntensities
from emo_app.emotion.space import EmotionPoint, nearest_classes, signed_coordinate
from emo_app.emotion.walks import WalkKind, WalkRequest
from emo_app.errors import EmoAppError, InvalidInputError
from emo_app.outputs import file_stem, output_dir

VIEWS = ("front", "three_quarter", "profile")


def as_blendshapes(weights: Blendshapes | Mapping[str, float] | Sequence[float]) -> Blendshapes:
    """Accept the container, a name -> weight mapping or 52 numbers (ARKit order)."""
    if isinstance(weights, Blendshapes):
        return weights
    if isinstance(weights, Mapping):
        return Blendshapes.from_dict(weights)
    if isinstance(weights, (str, bytes)) or weights is None:
        raise InvalidInputError("Blendshape weights must be a name -> number mapping or 52 numbers.")
    return Blendshapes.from_array(weights)


def shapes_for_emotions(intensities: EmotionIntensities) -> tuple[Blendshapes, dict[str, list]]:
    """The FACS prior: 8 intensities -> action units -> 52 ARKit weights, with reasons."""
    from emo_app.text.facs import emotion_prior

    prior = emotion_prior(intensities.values)
    return Blendshapes.from_array(prior.values), prior.explanation


# ---------------------------------------------------------------------------------- the face
@dataclass
class FaceOutput:
    """Renders of one expression plus its downloadable files."""

    shapes: Blendshapes
    images: dict[str, np.ndarray]
    files: dict[str, Path] = field(default_factory=dict)
    texture: Any = None  # the skin the face was drawn with (None: plain materials), for exports
    rig: Any = None  # the head it was drawn on
    pose: HeadPose = field(default_factory=HeadPose)  # how the head is turned on the neck

    def viewer_glb(self) -> Path:
        """The posed GLB a web 3D viewer shows (``export_posed_glb``), written beside the
        downloads when a page first asks (the CLI, the sphere and the study have no viewer);
        ``files["glb"]`` is the rig, for animators. Needs the exports (``files``)."""
        from emo_app.face.export import export_posed_glb

        return _beside_rig(self.files["glb"], "posed", lambda path: export_posed_glb(
            self.shapes, path, texture=self.texture, rig=self.rig, pose=self.pose))


def _beside_rig(rigged: Path, kind: str, write: Callable[[Path], Any]) -> Path:
    """``<rig's name>-<kind>.glb`` beside the rigged GLB, written by ``write`` the first time a
    page's viewer asks for it."""
    path = rigged.with_name(f"{rigged.stem}-{kind}.glb")
    if not path.exists():
        write(path)
    return path


def drawn_face(settings: Settings | None = None, *, head: str | None = None, look: str | None = None,
               tone: str | None = None, skin: Any = None) -> tuple[Any, Any]:
    """(rig, skin) of ``head`` ("full" or "mediapipe", default from settings) in ``look`` ("skin"
    or "photo") and skin ``tone``; a given ``skin`` is kept."""
    from emo_app.face.looks import head_rig, look_texture

    return head_rig(head, settings), skin or look_texture(look, head=head, tone=tone, settings=settings)


def render_face(
    weights: Blendshapes | Mapping[str, float] | Sequence[float],
    *,
    views: Sequence[str] = ("front",),
    size: int | None = None,
    texture: Any = None,
    exports: bool = False,
    settings: Settings | None = None,
    rig: Any = None,
    look: str | None = None,
    head: str | None = None,
    tone: str | None = None,
    background: str | None = None,
    name: str = "face",
    extra: Mapping[str, Any] | None = None,
    pose: HeadPose | Mapping[str, float] | None = None,
) -> FaceOutput:
    """Render the face for 52 weights in each view, the head turned by ``pose`` (a HeadPose or
    {"yaw", "pitch", "roll"} in degrees); with ``exports`` also write GLB, PNG,
    JSON and Live Link Face CSV, named ``name``. ``rig``: a given head (a photo's face shape); otherwise
    ``head`` ("full" or "mediapipe", default from settings) drawn in ``look`` ("skin" or
    "photo") and skin ``tone``, on a "light" or "dark" ``background``. ``extra``: what the JSON
    says the face shows."""
    from emo_app.face import get_face_renderer
    from emo_app.face.looks import background_rgb
    from emo_app.face.render import check_view

    shapes = as_blendshapes(weights)
    pose = pose if isinstance(pose, HeadPose) else HeadPose.from_dict(pose)
    if rig is None:
        rig, texture = drawn_face(settings, head=head, look=look, tone=tone, skin=texture)
    rgb = background_rgb(background)
    views = (views,) if isinstance(views, str) else tuple(views)
    if not views:
        raise InvalidInputError(f"Choose at least one view: {', '.join(VIEWS)}.")
    for view in views:
        check_view(view)
    renderer = get_face_renderer(settings)
    images = {view: renderer.render(shapes, view=view, size=size, texture=texture, rig=rig, background=rgb,
                                    pose=pose) for view in views}
    output = FaceOutput(shapes, images, texture=texture, rig=rig, pose=pose)
    if exports:
        output.files = export_face(shapes, images[views[0]], texture=texture, rig=rig, name=name, extra=extra,
                                   pose=pose)
    return output


def export_face(shapes: Blendshapes, image: np.ndarray | None = None, texture: Any = None,
                extra: Mapping[str, Any] | None = None, rig: Any = None,
                name: str = "face", pose: HeadPose | None = None) -> dict[str, Path]:
    """GLB (52 named morph targets), PNG, named JSON and Live Link Face CSV in a new folder,
    each named ``name`` (a ``file_stem``: what the face shows); the head ``pose`` turns the GLB's
    skull joint and goes into the JSON ("head_pose", degrees) and the CSV's HeadYaw, HeadPitch
    and HeadRoll (radians)."""
    from emo_app.blendshapes.io import to_json, write_live_link_csv
    from emo_app.face.export import export_glb, save_png

    folder = output_dir("face")
    files = {
        "glb": export_glb(shapes, folder / f"{name}.glb", texture=texture, rig=rig, pose=pose),
        "json": folder / f"{name}-blendshapes.json",
        "csv": folder / f"{name}-live-link-face.csv",
    }
    pose = pose or HeadPose()
    files["json"].write_text(to_json(shapes, **dict(extra or {}), head_pose=pose.to_dict()))
    write_live_link_csv(shapes, files["csv"], rotations=[*pose.live_link(), 0, 0, 0, 0, 0, 0])
    if image is not None:
        files["png"] = save_png(image, folder / f"{name}.png")
    return files


# ------------------------------------------------------------------------------- describe
@dataclass
class DescribeResult:
    prediction: Any  # emo_app.text.TextPrediction
    face: FaceOutput
    language_note: str = ""  # a sentence when the text does not look English (only English is understood)

    def to_dict(self) -> dict[str, Any]:
        data = self.prediction.to_dict()
        data["files"] = {kind: str(path) for kind, path in self.face.files.items()}
        data["language"] = self.language_note
        return data


def text_models(settings: Settings | None = None) -> list[dict[str, Any]]:
    """Every text model: name, description, available, reason (why not and how to get it)."""
    from emo_app.text import list_text_models

    return list_text_models(settings)


def describe(
    text: str,
    *,
    model: str = "embedded",
    views: Sequence[str] = ("front", "three_quarter"),
    size: int | None = None,
    texture: Any = None,
    exports: bool = True,
    settings: Settings | None = None,
    look: str | None = None,
    head: str | None = None,
    tone: str | None = None,
    background: str | None = None,
) -> DescribeResult:
    """Text -> emotions -> 52 weights -> the rendered face (and its files)."""
    from emo_app.language import not_english_note
    from emo_app.text import get_text_model
    from emo_app.text.base import validate_description

    validate_description(text, settings)  # this call's limits: the cached model may hold older settings
    prediction = get_text_model(model, settings).predict(text)
    face = render_face(prediction.shapes, views=views, size=size, texture=texture, exports=exports,
                       settings=settings, look=look, head=head, tone=tone, background=background,
                       name=file_stem(text), pose=prediction.pose,
                       extra={"text": prediction.text, "model": prediction.model,
                              "emotions": prediction.emotions.to_dict()})
    return DescribeResult(prediction, face, not_english_note(text))


def score_face(
    weights: Blendshapes | Mapping[str, float] | Sequence[float],
    prediction: Mapping[str, Any] | None,
    *,
    look: str | None = None,
    size: int = 256,
    settings: Settings | None = None,
    **face: Any,
) -> dict[str, Any]:
    """Score a face (its 52 weights, drawn in ``look`` and the ``face`` choices of
    ``render_face``) against the text's emotions
    (``prediction``: a describe result's dict): Emo3D when CLIP is present, and the offline
    judges. The UI passes the weights on screen, so hand edits are scored too."""
    from emo_app.metric import live

    if not isinstance(prediction, Mapping) or not isinstance(prediction.get("emotions"), Mapping):
        raise InvalidInputError(
            "Describe a face first: the score compares the face with the text's emotions.")
    shapes = as_blendshapes(weights)
    emotions = EmotionIntensities.from_dict(prediction["emotions"])
    face_output = render_face(shapes, views=("front",), size=size, look=look, settings=settings, **face)
    image = face_output.images["front"]
    return live.score_face(image, emotions, shapes)


def predict_texts(texts: Sequence[str], *, model: str = "embedded", settings: Settings | None = None) -> list:
    """Many descriptions -> their predictions (no rendering), at most ``MAX_BATCH_ITEMS`` per call."""
    from emo_app.text import get_text_model
    from emo_app.validation import validate_batch

    batch = validate_batch(texts, "descriptions")
    return get_text_model(model, settings).predict_batch(batch)


# ---------------------------------------------------------------------------------- sphere
def parse_point(
    valence: Any = None, arousal: Any = None, z: Any = None,
    *, theta: Any = None, phi: Any = None, r: Any = None,
) -> EmotionPoint:
    """A point from cartesian (valence, arousal, z) or spherical (theta, phi, r) numbers."""
    cartesian = (valence, arousal, z)
    spherical = (theta, phi, r)
    if all(v is not None for v in cartesian):
        return EmotionPoint(valence, arousal, z)
    if all(v is not None for v in spherical):
        return EmotionPoint.from_spherical(theta, phi, r)
    raise InvalidInputError("Give a point as valence, arousal and z, or as theta, phi and r (three numbers).")


@dataclass
class SphereResult:
    point: EmotionPoint
    nearest: list[tuple[str, float]]
    emotions: EmotionIntensities
    face: FaceOutput
    generated: list[Any] = field(default_factory=list)  # PIL images when SD weights are present
    generation_message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            **_point_summary(self.point, self.nearest, self.emotions),
            "blendshapes": self.face.shapes.to_dict(),
            "files": {k: str(v) for k, v in self.face.files.items()},
            "generation": self.generation_message,
        }


def _point_summary(point: EmotionPoint, nearest: list[tuple[str, float]],
                   emotions: EmotionIntensities) -> dict[str, Any]:
    """What a sphere point shows: its coordinates, nearest classes and emotions (API and JSON)."""
    theta, phi, r = point.to_spherical()
    return {"point": {"valence": point.valence, "arousal": point.arousal, "z": point.z,
                      "theta": theta, "phi": phi, "r": r},
            "nearest_classes": [[n, round(d, 4)] for n, d in nearest], "emotions": emotions.to_dict()}


def point_stem(point: EmotionPoint) -> str:
    """A point's files' name: its nearest class and coordinates ("angry_v-0.44_a+0.90_z+0.00")."""
    return (f"{file_stem(nearest_classes(point, 1)[0][0])}_v{signed_coordinate(point.valence)}"
            f"_a{signed_coordinate(point.arousal)}_z{signed_coordinate(point.z)}")


def sphere_point(
    point: EmotionPoint,
    *,
    size: int | None = None,
    generate: bool = False,
    seed: int = 0,
    exports: bool = False,
    settings: Settings | None = None,
    **face: Any,
) -> SphereResult:
    """A C2A2 point -> its nearest classes, 8 intensities, the face, and (optionally) an image.
    ``face``: the head, look, tone and background choices of ``render_face``."""
    emotions = EmotionIntensities.from_point(point)
    shapes, _ = shapes_for_emotions(emotions)
    nearest = nearest_classes(point, 3)
    face = render_face(shapes, views=("front",), size=size, exports=exports, settings=settings,
                       name=point_stem(point), extra=_point_summary(point, nearest, emotions), **face)
    result = SphereResult(point, nearest, emotions, face)
    if generate:
        result.generated, result.generation_message = generate_images(point, seeds=(seed,))
    return result


def generation_status() -> dict[str, Any]:
    """What the generator can do here (weights present? GPU?) and what the UI should say."""
    from emo_app.generation import generator_status

    return generator_status()


def generate_images(point: EmotionPoint, seeds: Sequence[int] = (0,), **kwargs: Any) -> tuple[list, str]:
    """Images for a point when a generator is usable; otherwise ([], the reason in a sentence)."""
    status = generation_status()
    if not status.get("can_generate"):
        return [], str(status.get("message", "Image generation is unavailable."))
    from emo_app.generation import generate_for_point

    try:
        return list(generate_for_point(point, seeds=tuple(seeds), **kwargs)), ""
    except EmoAppError as exc:
        return [], str(exc)


# ----------------------------------------------------------------------------------- walks
@dataclass
class WalkResult:
    points: list[EmotionPoint]
    shapes: list[Blendshapes]
    frames: list[np.ndarray]
    files: dict[str, Path]
    labels: list[str]
    fps: float = 6.0
    texture: Any = None  # the skin and head the walk was drawn with, for the viewer's GLB
    rig: Any = None

    def viewer_glb(self) -> Path:
        """The walk's GLB for a page's 3D viewer (``export_glb(viewer=True)``: lit as the GIF
        is), written beside the downloads when a page first asks; ``files["glb"]`` is the rig
        an animator keeps working with."""
        from emo_app.face.export import export_glb

        return _beside_rig(self.files["glb"], "viewer", lambda path: export_glb(
            self.shapes, path, fps=self.fps, texture=self.texture, rig=self.rig, viewer=True))


def walk_points(kind: WalkKind, **params: Any) -> list[EmotionPoint]:
    """The points of an axis, circle or between-classes walk; ``params`` are the fields of
    ``WalkRequest`` (``theta``/``phi`` for ``tilt``/``start_angle`` too)."""
    return WalkRequest.of(kind, **params).points()


def walk(
    kind: WalkKind,
    *,
    size: int = 256,
    fps: float = 6.0,
    settings: Settings | None = None,
    progress: Callable[[float, str], Any] | None = None,
    **walk_kwargs: Any,
) -> WalkResult:
    """Render a walk as an animated face: GIF, MP4, an animated GLB, the take as a 60 fps Live
    Link Face CSV, a JSON of each step and a labelled grid PNG (``walk_kwargs``: as for
    ``walk_points``). ``progress(fraction, stage)`` hears each stage, so a page can say more than
    "Rendering" for the seconds a long walk takes."""
    report = progress or (lambda fraction, stage: None)
    from PIL import Image

    from emo_app.face import get_face_renderer
    from emo_app.face.export import export_glb
    from emo_app.generation.walks import image_grid, labelled, save_gif, save_mp4, walk_labels

    request = WalkRequest.of(kind, **walk_kwargs)
    points = request.points()
    from emo_app.text.facs import shapes_for_point

    shapes = [shapes_for_point(p) for p in points]
    from emo_app.face.looks import default_face

    rig, texture = default_face(settings)
    report(0.1, f"Rendering {len(points)} faces")
    frames = get_face_renderer(settings).render_batch(shapes, view="front", size=size, texture=texture,
                                                      rig=rig)
    labels = walk_labels(points, request.emotion if request.kind == "axis" else None)
    faces = [Image.fromarray(frame) for frame in frames]
    # the GIF and MP4 carry the grid's labels: a viewer sees where each face is on the walk, and
    # no two frames are alike, so the GIF keeps one frame per step (Pillow merges repeats)
    animation = [np.asarray(cell) for cell in labelled(faces, labels)]
    folder = output_dir(f"walk-{kind}")
    name = _walk_name(request)
    report(0.5, "Writing the GLB")
    files = {"gif": folder / f"{name}.gif",
             "glb": export_glb(shapes, folder / f"{name}.glb", fps=fps, texture=texture, rig=rig),
             "grid": folder / f"{name}-grid.png"}
    report(0.6, "Writing the Live Link Face CSV and JSON")
    from emo_app.blendshapes.io import resample_frames, write_live_link_csv

    files["csv"] = folder / f"{name}-live-link-face.csv"
    write_live_link_csv(resample_frames(shapes, fps), files["csv"], fps=60.0)
    files["json"] = folder / f"{name}.json"
    files["json"].write_text(json.dumps({
        "format": "a walk through the C2A2 space: 'steps' holds one step per frame (played at 'fps'), "
                  "each with its label, its point (valence, arousal, z) and Apple ARKit's 52 face "
                  "blendshape weights by name, each in [0, 1]; 'walk' says which walk it is (a "
                  "circle's angles in radians)",
        "walk": request.to_dict(), "fps": fps,
        "steps": [{"label": label, "point": {"valence": p.valence, "arousal": p.arousal, "z": p.z},
                   "blendshapes": shape.to_dict()}
                  for label, p, shape in zip(labels, points, shapes, strict=True)],
    }, indent=2))
    report(0.65, "Writing the GIF")
    save_gif(files["gif"], animation, fps)
    report(0.8, "Writing the MP4")
    mp4 = save_mp4(folder / f"{name}.mp4", animation, fps)
    if mp4 is not None:
        files["mp4"] = mp4
    report(0.9, "Writing the grid")
    image_grid(faces, labels).save(files["grid"])
    return WalkResult(points, shapes, frames, files, labels, fps, texture, rig)


def _walk_name(request: WalkRequest) -> str:
    """The walk's files' name, different for walks that differ ("happy-axis-walk-9-steps",
    "happy-to-sad-straight-walk-9-steps", "circle-walk-tilt-30-start-0-r-0-80-12-steps"; the
    circle's angles in whole degrees from 0 to 359, as the page sets them)."""
    steps = f"{request.steps} steps"
    if request.kind == "axis":
        return file_stem(request.emotion, "axis walk", steps)
    if request.kind == "classes":
        line = "" if request.spherical else "straight"
        return file_stem(request.emotion, "to", request.other, line, "walk", steps)
    tilt, start = (round(math.degrees(float(angle))) % 360 for angle in (request.tilt, request.start_angle))
    return file_stem("circle walk", f"tilt {tilt} start {start} r {float(request.r):.2f}", steps)


def generate_walk(kind: WalkKind, *, seed: int = 0, **params: Any) -> tuple[Any, str]:
    """The walk through the C2A2 image generator (``params``: as for ``walk_points``): (its
    emo_app.generation.walks.WalkResult, "") when weights and a GPU are here, else (None, the
    reason in a sentence). Bad parameters get the face walk's sentence first, on any machine."""
    request = WalkRequest.of(kind, **params)
    request.points()  # the same checks and sentences as the face walk
    status = generation_status()
    if not status.get("can_generate"):
        return None, str(status.get("message", "Image generation is unavailable."))
    from emo_app.generation import walks

    if request.kind == "axis":
        return walks.axis_walk_images(request.emotion, request.steps, seed=seed), ""
    if request.kind == "circle":
        return walks.circle_walk_images(request.tilt, request.start_angle, request.r, request.steps,
                                        seed=seed), ""
    return walks.class_walk_images(request.emotion, request.other, request.steps,
                                   spherical=request.spherical, seed=seed), ""


# --------------------------------------------------------------------------------- capture
@dataclass
class CaptureOutcome:
    shapes: Blendshapes
    message: str
    face: FaceOutput
    texture: Any = None
    rig: Any = None  # the photo's face shape when the user's own face performs


def capture(
    image: Any,
    *,
    text: str | None = None,
    use_photo_texture: bool = False,
    size: int | None = None,
    settings: Settings | None = None,
    head: str | None = None,
    tone: str | None = None,
) -> CaptureOutcome:
    """A photo -> its 52 weights and head pose -> our face performing them; with ``text``, the
    user's own face performs the description (and its head pose) instead. The user's face on the
    full ``head`` (default from settings) is their photo's skin on the full head, blended into
    skin ``tone``; on the "mediapipe" head it is their photo's skin AND their face's shape."""
    from emo_app.face.capture import capture_blendshapes
    from emo_app.face.looks import HEADS
    from emo_app.face.photo_mesh import head_pose_from_landmarks
    from emo_app.validation import load_image

    settings = settings or Settings.from_env()
    head = head or settings.face_head
    if head not in HEADS:
        raise InvalidInputError(f"Unknown head '{head}'; choose one of {', '.join(HEADS)}.")
    pixels = load_image(image, settings)
    captured = capture_blendshapes(pixels, settings)
    texture = rig = None
    if (use_photo_texture or text) and head == "full":  # the user's skin on the full head
        from emo_app.face.looks import head_rig
        from emo_app.face.photo_skin import photo_skin

        rig = head_rig(head, settings)
        texture = photo_skin(pixels, captured.landmarks, tone or settings.skin_tone)
    elif use_photo_texture or text:  # the user's face: their skin AND their face's shape
        from emo_app.face.photo_mesh import rig_from_landmarks
        from emo_app.face.texture import texture_from_landmarks

        texture = texture_from_landmarks(pixels, captured.landmarks)
        rig = rig_from_landmarks(captured.landmarks, captured.image_size, expression=captured.shapes)
    message = captured.message.rstrip(".") + "."  # "1 face found."
    if text:
        from emo_app.text import get_text_model

        prediction = get_text_model("embedded", settings).predict(text)
        shapes, pose = prediction.shapes, prediction.pose
        message = f"{message} Your face performs: {prediction.emotions.dominant()}."
    else:
        shapes = captured.shapes
        pose = head_pose_from_landmarks(captured.landmarks, captured.image_size, expression=shapes)
        if pose.describe():
            message = f"{message} Head pose: {pose.describe()}."
    about = {"source": "a photo's expression" if not text else "the description, on the photo's face",
             "text": text or None, "capture": message.strip()}
    face = render_face(shapes, views=("front", "three_quarter"), size=size, texture=texture,
                       exports=True, settings=settings, rig=rig, head=head, tone=tone,
                       name=file_stem("captured", text or ""), extra=about, pose=pose)
    return CaptureOutcome(shapes, message.strip(), face, texture, rig)


def photo_editor_available(settings: Settings | None = None) -> bool:
    """Whether a GANmut-3D checkpoint is here to move a photo's expression."""
    from emo_app.ganmut import ganmut_available

    return ganmut_available(settings)


def edit_photo(image: Any, point: EmotionPoint, settings: Settings | None = None) -> np.ndarray:
    """The photo with its expression moved to ``point`` by the GANmut-3D editor."""
    from emo_app.ganmut import edit_photo as ganmut_edit
    from emo_app.validation import load_image

    return ganmut_edit(load_image(image, settings), point)


# ------------------------------------------------------------------------------- benchmark
@dataclass
class BenchmarkOutcome:
    report: Any  # emo_app.metric.benchmark.BenchmarkReport (rows only for the models that ran)
    skipped: list[str]  # "model: why it did not run (and how to get it)"


def benchmark(
    models: Sequence[str],
    *,
    pool: str | None = None,
    limit: int = 40,
    k: int = 10,
    progress: bool = True,
    settings: Settings | None = None,
) -> BenchmarkOutcome:
    """The Emo3D benchmark (and offline judges) for each model that can run here; a model whose
    weights are missing is skipped with its reason instead of failing the whole run."""
    from emo_app.errors import MissingWeightsError, ModelLoadError
    from emo_app.metric.benchmark import BenchmarkConfig, run_benchmark, write_report

    if not models:
        raise InvalidInputError("Pick at least one text model to benchmark.")
    known = {row["name"]: row for row in text_models(settings)}
    out_dir = output_dir("benchmark")
    skipped: list[str] = []
    report = None
    for name in dict.fromkeys(models):
        row = known.get(name)
        if row is None:
            skipped.append(f"{name}: there is no text model by that name")
            continue
        if not row.get("available"):
            skipped.append(f"{name}: {row.get('reason') or 'its weights are missing'}")
            continue
        config = BenchmarkConfig(models=(name,), pool=pool, out_dir=out_dir, limit=int(limit), k=int(k))
        try:
            part = run_benchmark(config, progress=progress, write=False)
        except (MissingWeightsError, ModelLoadError) as exc:
            skipped.append(f"{name}: {exc}")
            continue
        if report is None:
            report = part
        else:
            report.rows.extend(part.rows)
    if report is None:
        raise InvalidInputError("None of the chosen models can run here. " + " ".join(
            f"{line.rstrip('.')}." for line in skipped))
    report.files = write_report(report, out_dir)
    return BenchmarkOutcome(report, skipped)
