"""MediaPipe's read-back of the canonical (MediaPipe-topology) rig: its blendshape model run on
the rig's own landmarks, and the front-view triangle areas that tell a fold from a stretch.

Why it works: the rig's face is MediaPipe's own topology, so rig vertex *i* IS landmark *i*.
Projecting the posed rig (plus the iris centre and rim of each eyeball, landmarks 468-477) gives
exactly the input MediaPipe's blendshape model reads (146 landmarks in image pixels), with no
detector in between: ``direct_scores``. That is fast (< 1 ms) and exact.
"""

from __future__ import annotations

import zipfile
from functools import lru_cache
from typing import Any

import numpy as np

CEILING_PX = 6.0
# kLandmarksSubsetIdxs of MediaPipe's face_blendshapes_graph.cc: the 146 landmarks the model reads.
BLENDSHAPE_LANDMARKS = (
    0, 1, 4, 5, 6, 7, 8, 10, 13, 14, 17, 21, 33, 37, 39, 40, 46, 52, 53, 54, 55, 58, 61, 63, 65,
    66, 67, 70, 78, 80, 81, 82, 84, 87, 88, 91, 93, 95, 103, 105, 107, 109, 127, 132, 133, 136, 144,
    145, 146, 148, 149, 150, 152, 153, 154, 155, 157, 158, 159, 160, 161, 162, 163, 168, 172, 173,
    176, 178, 181, 185, 191, 195, 197, 234, 246, 249, 251, 263, 267, 269, 270, 276, 282, 283, 284,
    285, 288, 291, 293, 295, 296, 297, 300, 308, 310, 311, 312, 314, 317, 318, 321, 323, 324, 332,
    334, 336, 338, 356, 361, 362, 365, 373, 374, 375, 377, 378, 379, 380, 381, 382, 384, 385, 386,
    387, 388, 389, 390, 397, 398, 400, 402, 405, 409, 415, 454, 466, 468, 469, 470, 471, 472, 473,
    474, 475, 476, 477,
)  # fmt: skip
READBACK_SIZE = 512
VISIBLE_SCORE = 0.5


def is_visible(ceiling_score: float, direct_rise: float, threshold: float = VISIBLE_SCORE) -> bool:
    """MediaPipe can see a shape when its model can reach ``threshold`` within CEILING_PX of
    landmark motion, or when the authored geometry already makes it rise by half that (large
    motions such as jawOpen need more than CEILING_PX)."""
    return ceiling_score >= threshold or direct_rise >= threshold / 2
# the eyeball's ring at 30 degrees from the front pole is the iris rim (see rig._eye_sphere)
IRIS_RING_START = 1 + 7 * 32
IRIS_RIM_OFFSETS = (0, 8, 16, 24)  # +x, +y, -x, -y: MediaPipe's order is centre, +x, up, -x, down


class BlendshapeModel:
    """MediaPipe's face_blendshapes.tflite from the resolved face_landmarker.task, run with
    LiteRT on 146 landmarks in pixels; ``scores`` returns the 52 outputs (``_neutral`` first)."""

    def __init__(self, settings: Any = None):
        from ai_edge_litert.interpreter import Interpreter

        from emo_app.models import resolve

        with zipfile.ZipFile(resolve("face-landmarker", settings)) as bundle:
            content = bundle.read("face_blendshapes.tflite")
        self._interpreter = Interpreter(model_content=content)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]

    def scores(self, landmarks_px: np.ndarray) -> np.ndarray:
        """(478, 2) or (146, 2) pixel landmarks -> 52 scores in MediaPipe's order."""
        points = np.asarray(landmarks_px, np.float32)
        if len(points) != len(BLENDSHAPE_LANDMARKS):
            points = points[list(BLENDSHAPE_LANDMARKS), :2]
        self._interpreter.set_tensor(self._input, np.ascontiguousarray(points[None, :, :2]))
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output).copy()


@lru_cache(maxsize=1)
def blendshape_model() -> BlendshapeModel:
    return BlendshapeModel()


def rig_landmarks(rig: Any, vertices: np.ndarray, size: int = READBACK_SIZE) -> np.ndarray:
    """MediaPipe's 478 landmarks of a posed rig in a front render: the 468 face vertices plus
    each iris's centre and rim (subject's right eye first, as MediaPipe orders them)."""
    from emo_app.face.render import project

    eyes = rig.part("eyes")
    eye_vertices = vertices[eyes.start : eyes.stop]
    half = len(eye_vertices) // 2
    balls = sorted((eye_vertices[:half], eye_vertices[half:]), key=lambda ball: ball[:, 0].mean())
    iris = [ball[[0, *(IRIS_RING_START + k for k in IRIS_RIM_OFFSETS)]] for ball in balls]
    return project(np.concatenate([vertices[:468], *iris]), "front", size)


def direct_scores(rig: Any, weights: np.ndarray) -> np.ndarray:
    """MediaPipe's 52 blendshape scores for the rig's own landmarks posed by ``weights``
    (``_neutral`` first), skipping the image and the landmark detector."""
    return blendshape_model().scores(rig_landmarks(rig, rig.deform(np.asarray(weights, np.float32))))


def signed_areas(pixels: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Signed doubled area of each triangle of ``pixels`` (the sign is its winding)."""
    a, b, c = pixels[triangles[:, 0]], pixels[triangles[:, 1]], pixels[triangles[:, 2]]
    return (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])


def face_triangle_areas(rig: Any, vertices: np.ndarray) -> np.ndarray:
    """Signed doubled area (px²) of every face triangle in a READBACK_SIZE front view: the sign
    is the winding (a flip is a fold), the size how far a pose stretches or squashes it."""
    from emo_app.face.render import project

    return signed_areas(project(vertices[:468], "front", READBACK_SIZE), rig.part("face").faces)


def fold_overs(rig: Any, weights: np.ndarray) -> int:
    """Face triangles (over 1 px² in a 512 px front view) whose winding flips between the
    neutral face and the posed one: folds and tears a tuning must not add."""
    before = face_triangle_areas(rig, rig.neutral)
    after = face_triangle_areas(rig, rig.deform(np.asarray(weights, np.float32)))
    return int(np.sum((np.sign(before) != np.sign(after)) & (np.abs(before) > 1.0)))
