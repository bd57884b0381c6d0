"""A face mesh built from the 478 landmarks MediaPipe detects on a photo, so "use my face" gives
the rig the user's face SHAPE as well as their skin (texture.py gives the skin).

The landmarks are the canonical mesh's vertices seen in the photo, so the photo's face drops
into the rig with no remeshing:

1. pixels -> a 3D point cloud (x right, y up, z toward the camera; MediaPipe's z has x's scale);
2. a similarity transform (scale, rotation, translation; Kabsch via scipy) onto the canonical
   face posed with the photo's captured expression removes head pose and size, keeping only
   the face's own proportions;
3. that expression is then taken out with the rig's own linear model (the captured weights
   times the delta fields), so a smiling photo gives a neutral face that the rig can then pose;
4. the border fades back to the canonical mask so the skull shell stays sewn on, and the
   eyeballs and mouth interior follow their openings.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from emo_app.blendshapes.pose import HeadPose
from emo_app.errors import InvalidInputError
from emo_app.face.rig import FaceRig, build_rig

FACE_VERTICES = 468
BORDER_FADE_CM = 2.0  # the photo's shape fades in over this distance from the mask's border


def landmarks_to_points(landmarks: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """MediaPipe's normalised (x, y, z) -> points in pixels with y up and z toward the camera."""
    points = np.asarray(landmarks, np.float64)
    if points.ndim != 2 or points.shape[0] < FACE_VERTICES or points.shape[1] != 3:
        raise InvalidInputError(f"Expected MediaPipe's 478 x 3 landmarks; got shape {points.shape}.")
    if not np.isfinite(points).all():
        raise InvalidInputError("The landmarks contain NaN or infinite values.")
    width, height = image_size
    return np.column_stack([points[:, 0] * width, -points[:, 1] * height, -points[:, 2] * width])


def head_pose_from_landmarks(landmarks: np.ndarray, image_size: tuple[int, int],
                             expression: Any = None, rig: FaceRig | None = None) -> HeadPose:
    """How the photographed head is turned: the rotation that best carries the canonical face
    (posed with the photo's ``expression``, so a smile is not read as a nod) onto the photo's
    landmarks, as yaw, pitch and roll within ``HeadPose``'s limits. A mirrored selfie turns the
    other way, as the photo shows it."""
    from scipy.spatial.transform import Rotation

    rig = rig or build_rig()
    posed = rig.neutral[:FACE_VERTICES].astype(np.float64) + _expression_offsets(rig, expression)
    photo = landmarks_to_points(landmarks, image_size)[:FACE_VERTICES]
    rotation, _ = Rotation.align_vectors(photo - photo.mean(0), posed - posed.mean(0))
    yaw, minus_pitch, minus_roll = rotation.as_euler("YXZ", degrees=True)
    return HeadPose.clipped(yaw=yaw, pitch=-minus_pitch, roll=-minus_roll)


def _expression_offsets(rig: FaceRig, expression: Any) -> np.ndarray:
    """(468, 3) how the photo's captured ``expression`` (Blendshapes or 52 weights; None: none)
    moves the canonical face, by the rig's own linear model."""
    if expression is None:
        return np.zeros((FACE_VERTICES, 3))
    weights = np.asarray(getattr(expression, "values", expression), np.float32)
    return rig.linear_offsets(rig.effective_weights(weights))[:FACE_VERTICES]


def align(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``source`` moved by the similarity transform that best fits it onto ``target``."""
    from scipy.spatial.transform import Rotation

    source_centre, target_centre = source.mean(0), target.mean(0)
    a, b = source - source_centre, target - target_centre
    rotation, _ = Rotation.align_vectors(b, a)
    rotated = rotation.apply(a)
    scale = float(np.sum(rotated * b) / max(np.sum(rotated * rotated), 1e-12))
    return rotated * scale + target_centre


def rig_from_landmarks(
    landmarks: np.ndarray,
    image_size: tuple[int, int],
    expression: Any = None,
    rig: FaceRig | None = None,
) -> FaceRig:
    """The rig with the photographed face's shape (module doc). ``expression``: the photo's
    captured Blendshapes (or 52 weights), removed so the result is neutral."""
    from scipy.spatial import cKDTree

    rig = rig or build_rig()
    canonical = rig.neutral[:FACE_VERTICES].astype(np.float64)
    expression_offsets = _expression_offsets(rig, expression)
    # fit the photo to the rig POSED like the photo, then take the pose out
    posed_target = canonical + expression_offsets
    photo = align(landmarks_to_points(landmarks, image_size)[:FACE_VERTICES], posed_target)
    photo -= expression_offsets
    seam_face = np.unique(rig.seams[1])
    distance, _ = cKDTree(canonical[seam_face]).query(canonical)
    t = np.clip(distance / BORDER_FADE_CM, 0.0, 1.0)
    fade = (t * t * (3 - 2 * t))[:, None]
    neutral = rig.neutral.astype(np.float64).copy()
    neutral[:FACE_VERTICES] = canonical + fade * (photo - canonical)
    shift = neutral[:FACE_VERTICES] - canonical
    eyes = rig.part("eyes")
    half = eyes.size // 2
    loops = [np.concatenate(pair) for pair in rig.eye_margins]
    for ball in (slice(eyes.start, eyes.start + half), slice(eyes.start + half, eyes.stop)):
        side = np.sign(rig.neutral[ball, 0].mean())
        loop = next(lp for lp in loops if np.sign(canonical[lp, 0].mean()) == side)
        neutral[ball] += shift[loop].mean(0)
    mouth = rig.part("mouth")
    lips = np.concatenate(rig.lip_margins) if rig.lip_margins is not None else np.arange(0)
    if len(lips):
        neutral[mouth.start : mouth.stop] += shift[lips].mean(0)
    return replace(rig, neutral=neutral.astype(np.float32))

