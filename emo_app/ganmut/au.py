"""Z supervision of real images from facial action units (the L_AU_Y term of eq. 7).

AffectNet annotates only valence and arousal; C2A2's third axis lifts Fear up and Sad down
(elevation +-60 degrees). We read it from action units: the AU prototypes of Du, Tao and
Martinez (2014) give Fearful = AU 1, 2, 4, 5, 20 (+25) and Sad = AU 1, 4, 15 (+17 in the sad
compounds). Mapping, documented so it can be argued with:

    fear = mean(AU1, AU2, AU4, AU5, AU20)      sad = mean(AU1, AU4, AU15, AU17)
    Z    = Z_MAX * tanh(gain * (fear - sad)),  Z_MAX = sin(60 deg) = 0.866

The shared brow AUs 1 and 4 weigh less in the difference than the distinctive ones (2, 5, 20
up; 15, 17 down), so raised outer brows, widened eyes and stretched lips push Z up, lip-corner
depressors and a raised chin push it down, and a face with neither stays at Z = 0.

The estimator is pluggable (any callable image -> {AU: intensity in [0, 1]} or None); the
default reads MediaPipe's ARKit blendshapes and maps them to AUs with ``AU_FROM_BLENDSHAPES``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from emo_app.config import Settings

Z_MAX = math.sin(math.radians(60.0))
FEAR_AUS: tuple[int, ...] = (1, 2, 4, 5, 20)
SAD_AUS: tuple[int, ...] = (1, 4, 15, 17)

# FACS action unit -> the ARKit blendshapes that move the same muscles (averaged over sides).
AU_FROM_BLENDSHAPES: dict[int, tuple[str, ...]] = {
    1: ("browInnerUp",),  # inner brow raiser
    2: ("browOuterUpLeft", "browOuterUpRight"),  # outer brow raiser
    4: ("browDownLeft", "browDownRight"),  # brow lowerer
    5: ("eyeWideLeft", "eyeWideRight"),  # upper lid raiser
    6: ("cheekSquintLeft", "cheekSquintRight"),  # cheek raiser
    7: ("eyeSquintLeft", "eyeSquintRight"),  # lid tightener
    9: ("noseSneerLeft", "noseSneerRight"),  # nose wrinkler
    10: ("mouthUpperUpLeft", "mouthUpperUpRight"),  # upper lip raiser
    12: ("mouthSmileLeft", "mouthSmileRight"),  # lip corner puller
    15: ("mouthFrownLeft", "mouthFrownRight"),  # lip corner depressor
    17: ("mouthShrugLower",),  # chin raiser
    20: ("mouthStretchLeft", "mouthStretchRight"),  # lip stretcher
    24: ("mouthPressLeft", "mouthPressRight"),  # lip pressor
    25: ("jawOpen", "mouthLowerDownLeft", "mouthLowerDownRight"),  # lips part
    26: ("jawOpen",),  # jaw drop
}

AUEstimator = Callable[[np.ndarray], "Mapping[int, float] | None"]


def action_units_from_blendshapes(weights: Mapping[str, float]) -> dict[int, float]:
    """ARKit blendshape weights (name -> 0..1; missing names count as 0) -> AU intensities."""
    return {
        au: float(np.clip(np.mean([float(weights.get(name, 0.0)) for name in names]), 0.0, 1.0))
        for au, names in AU_FROM_BLENDSHAPES.items()
    }


def z_from_action_units(aus: Mapping[int, float], gain: float = 3.0) -> float:
    """The module's AU -> Z mapping: fear AUs push Z up, sadness AUs push it down."""
    fear = float(np.mean([aus.get(au, 0.0) for au in FEAR_AUS]))
    sad = float(np.mean([aus.get(au, 0.0) for au in SAD_AUS]))
    return Z_MAX * math.tanh(gain * (fear - sad))


class MediaPipeAUEstimator:
    """AU intensities from MediaPipe FaceLandmarker blendshapes (the model file comes from
    ``resolve("face-landmarker")``; loaded on first use, not at construction)."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings
        self._landmarker: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        from emo_app.face.capture import open_face_landmarker

        return open_face_landmarker(self.settings, long_lived=True)

    def close(self) -> None:
        """Release the landmarker's native graph now rather than at interpreter exit."""
        with self._lock:
            if self._landmarker is not None:
                self._landmarker.close()
                self._landmarker = None

    def __call__(self, image: np.ndarray) -> dict[int, float] | None:
        """RGB uint8 (H, W, 3) -> {AU: intensity}, or None when no face is found."""
        import mediapipe as mp

        with self._lock:
            if self._landmarker is None:
                self._landmarker = self._load()
            frame = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image[..., :3]))
            result = self._landmarker.detect(frame)
        if not result.face_blendshapes:
            return None
        weights = {c.category_name: float(c.score) for c in result.face_blendshapes[0]}
        return action_units_from_blendshapes(weights)


def z_targets(images: Iterable[np.ndarray], estimator: AUEstimator) -> np.ndarray:
    """Z for each image from its AUs; NaN where the estimator found no face (masked in L_AU_Y)."""
    values = []
    for image in images:
        aus = estimator(image)
        values.append(float("nan") if aus is None else z_from_action_units(aus))
    return np.asarray(values, dtype=np.float32)
