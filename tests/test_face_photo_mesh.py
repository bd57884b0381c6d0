"""The face mesh built from a photo's 478 landmarks (face/photo_mesh.py)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from emo_app.blendshapes import Blendshapes
from emo_app.errors import InvalidInputError
from emo_app.face.photo_mesh import align, rig_from_landmarks
from emo_app.face.rig import build_rig

IMAGE_SIZE = (640, 480)


def _as_landmarks(points: np.ndarray, degrees=(8.0, -15.0, 5.0), scale=9.0, offset=(300.0, -220.0, 0.0)):
    """Rig-space points photographed: posed, scaled, moved, then normalised like MediaPipe."""
    moved = Rotation.from_euler("xyz", degrees, degrees=True).apply(points) * scale + offset
    width, height = IMAGE_SIZE
    iris = np.zeros((10, 3))
    pixels = np.vstack([moved, iris + moved.mean(0)])
    return np.column_stack([pixels[:, 0] / width, -pixels[:, 1] / height, -pixels[:, 2] / width])


def test_a_photographed_canonical_face_comes_back_as_the_canonical_rig():
    rig = build_rig()
    landmarks = _as_landmarks(rig.neutral[:468].astype(np.float64))
    rebuilt = rig_from_landmarks(landmarks, IMAGE_SIZE, rig=rig)
    np.testing.assert_allclose(rebuilt.neutral, rig.neutral, atol=1e-3)


def test_the_photos_expression_is_taken_out():
    rig = build_rig()
    smile = Blendshapes.from_dict({"jawOpen": 0.5, "mouthSmileLeft": 0.8, "mouthSmileRight": 0.8})
    landmarks = _as_landmarks(rig.deform(smile)[:468].astype(np.float64))
    kept = rig_from_landmarks(landmarks, IMAGE_SIZE, rig=rig)
    removed = rig_from_landmarks(landmarks, IMAGE_SIZE, expression=smile, rig=rig)
    mouth = list(range(0, 468))
    error_kept = np.abs(kept.neutral[mouth] - rig.neutral[mouth]).max()
    error_removed = np.abs(removed.neutral[mouth] - rig.neutral[mouth]).max()
    assert error_kept > 0.5  # the open jaw would stay in the "neutral" face
    assert error_removed < 0.25 * error_kept


def test_a_different_face_changes_the_inside_and_keeps_the_border_sewn():
    rig = build_rig()
    other = rig.neutral[:468].astype(np.float64).copy()
    other[:, 0] *= 1.12  # a wider face
    other[:, 1] *= 0.95
    photo = rig_from_landmarks(_as_landmarks(other), IMAGE_SIZE, rig=rig)
    seam_face = np.unique(rig.seams[1])
    np.testing.assert_allclose(photo.neutral[seam_face], rig.neutral[seam_face], atol=1e-5)
    nose_to_corner = np.linalg.norm(photo.neutral[291] - photo.neutral[61])
    assert nose_to_corner > np.linalg.norm(rig.neutral[291] - rig.neutral[61]) * 1.02
    # the head, eyes and mouth keep their topology and the rig still deforms without NaN
    posed = photo.deform(Blendshapes(np.random.default_rng(0).random(52).astype(np.float32)))
    assert np.isfinite(posed).all() and posed.shape == rig.neutral.shape


def test_alignment_recovers_a_similarity_transform():
    rng = np.random.default_rng(1)
    target = rng.normal(size=(40, 3))
    source = Rotation.from_euler("z", 30, degrees=True).apply(target) * 3.0 + [5.0, -2.0, 1.0]
    np.testing.assert_allclose(align(source, target), target, atol=1e-9)


@pytest.mark.parametrize("bad", [np.zeros((10, 3)), np.full((478, 3), np.nan), np.zeros((478, 2))])
def test_bad_landmarks_are_refused(bad):
    with pytest.raises(InvalidInputError):
        rig_from_landmarks(bad, IMAGE_SIZE)


def test_the_astronaut_gets_her_own_face_shape():
    """On a real photo, the rebuilt face sits closer to the photo's own landmarks than the
    canonical face does, and capture() renders it."""
    from skimage.data import astronaut

    from emo_app import services
    from emo_app.face.capture import capture_blendshapes
    from emo_app.face.photo_mesh import landmarks_to_points

    rgb = astronaut()
    captured = capture_blendshapes(rgb)
    rig = build_rig()
    photo_rig = rig_from_landmarks(captured.landmarks, captured.image_size, rig=rig)
    photo_points = align(landmarks_to_points(captured.landmarks, captured.image_size)[:468],
                         rig.neutral[:468].astype(np.float64))
    inner = np.setdiff1d(np.arange(468), np.unique(rig.seams[1]))
    ours = np.linalg.norm(photo_rig.neutral[inner] - photo_points[inner], axis=1).mean()
    canonical = np.linalg.norm(rig.neutral[inner] - photo_points[inner], axis=1).mean()
    assert ours < 0.6 * canonical
    outcome = services.capture(rgb, use_photo_texture=True, size=128)
    assert outcome.rig is not None and outcome.face.images["front"].shape == (128, 128, 3)
