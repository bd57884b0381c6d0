"""Photo -> 52 ARKit blendshapes and 478 landmarks with MediaPipe's FaceLandmarker.

The task file comes through the resolver; the landmarker is opened for the call (or for a
batch, with ``FaceCapture`` as a context manager) and always closed, so no native graph
outlives the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from emo_app.blendshapes import Blendshapes
from emo_app.config import Settings
from emo_app.errors import InvalidInputError, ModelLoadError
from emo_app.validation import load_image

NO_FACE = (
    "No face was found in the photo. Use a well-lit, front-facing photo where the whole face is "
    "visible and at least about 100 pixels wide."
)


@dataclass(frozen=True)
class CaptureResult:
    """The largest face's weights; ``landmarks`` are MediaPipe's normalised (x, y, z): x and y in
    [0, 1] of the image width and height, z roughly in the same scale as x."""

    shapes: Blendshapes
    landmarks: np.ndarray  # (478, 3) float32
    face_count: int
    message: str
    image_size: tuple[int, int] = (0, 0)  # (width, height) of the analysed image


def close_before_exit(landmarker: Any) -> None:
    """Close a long-lived FaceLandmarker before Python stops its worker threads. Left to its own
    ``__del__`` it closes at interpreter teardown, after MediaPipe's executor has shut down, and
    prints a traceback at every exit. This is the pre-shutdown hook concurrent.futures itself
    uses; the weak reference lets a landmarker that is dropped earlier be freed as usual."""
    import threading
    import weakref

    ref = weakref.ref(landmarker)

    def close() -> None:
        alive = ref()
        if alive is not None:
            alive.close()  # idempotent: a landmarker closed earlier returns at once

    threading._register_atexit(close)


def open_face_landmarker(
    settings: Settings | None = None,
    *,
    model_path: Any = None,
    num_faces: int = 1,
    min_confidence: float = 0.5,
    long_lived: bool = False,
) -> Any:
    """MediaPipe's FaceLandmarker (IMAGE mode, blendshapes on), the one place the studio opens
    it: the task file comes through the resolver unless ``model_path`` names one. ``long_lived``
    (a landmarker kept for the process): also close it before exit (``close_before_exit``)."""
    from mediapipe.tasks.python import BaseOptions, vision

    from emo_app.models import resolve
    from emo_app.models.manager import quiet_native_logs

    path = model_path or resolve("face-landmarker", settings)
    options = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(path)),
        running_mode=vision.RunningMode.IMAGE,
        num_faces=num_faces,
        output_face_blendshapes=True,
        min_face_detection_confidence=min_confidence,
        min_face_presence_confidence=min_confidence,
    )
    with quiet_native_logs():
        landmarker = vision.FaceLandmarker.create_from_options(options)
    if long_lived:
        close_before_exit(landmarker)
    return landmarker


class FaceCapture:
    """A FaceLandmarker opened once for many images (the fidelity table, batches)."""

    def __init__(self, settings: Settings | None = None, max_faces: int = 5):
        self.settings = settings or Settings.from_env()
        self.max_faces = max_faces
        self._landmarker: Any = None

    def __enter__(self) -> FaceCapture:
        from emo_app.models import resolve

        path = resolve("face-landmarker", self.settings)
        try:
            self._landmarker = open_face_landmarker(
                model_path=path, num_faces=self.max_faces, min_confidence=0.3
            )
        except Exception as exc:  # MediaPipe raises RuntimeError/ValueError with C++ messages
            raise ModelLoadError(f"Could not open the face landmarker at '{path}': {exc}") from exc
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None

    def detect(self, image: Any) -> CaptureResult:
        """Blendshapes and landmarks of the largest face; ``InvalidInputError`` when none."""
        import mediapipe as mp

        if self._landmarker is None:
            raise RuntimeError("FaceCapture must be used inside a `with` block")
        rgb = load_image(image, self.settings)
        result = self._landmarker.detect(
            mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        )
        faces = result.face_landmarks or []
        if not faces:
            height, width = rgb.shape[:2]
            if min(height, width) < 100:  # too small to hold a face that wide: say so first
                raise InvalidInputError(f"The photo is only {width} x {height} pixels; no face was found "
                                        "in it. Use a larger photo where the face is at least about "
                                        "100 pixels wide.")
            raise InvalidInputError(NO_FACE)
        points = [np.array([[p.x, p.y, p.z] for p in face], dtype=np.float32) for face in faces]
        areas = [float(np.ptp(p[:, 0]) * rgb.shape[1] * np.ptp(p[:, 1]) * rgb.shape[0]) for p in points]
        best = int(np.argmax(areas))
        scores = {c.category_name: float(c.score) for c in result.face_blendshapes[best]}
        shapes = Blendshapes.from_dict({k: v for k, v in scores.items() if k != "_neutral"})
        count = len(faces)
        message = "1 face found" if count == 1 else f"{count} faces found; used the largest"
        return CaptureResult(shapes, points[best], count, message, (rgb.shape[1], rgb.shape[0]))


def capture_blendshapes(image: Any, settings: Settings | None = None) -> CaptureResult:
    """Photo (path, bytes, PIL image or array) -> the largest face's 52 weights and landmarks.
    A file that is missing or not an image is refused before the face landmarker loads."""
    pixels = load_image(image, settings)
    with FaceCapture(settings) as capture:
        return capture.detect(pixels)
