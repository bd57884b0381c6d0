"""Where MediaPipe's 478 face landmarks sit on the ICT-FaceKit head: run once, writes
``assets/ict_landmarks.npz`` (the product reads it; this script needs MediaPipe and a renderer).

The neutral head is rendered from the front and MediaPipe's FaceLandmarker finds its landmarks;
each landmark pixel is traced back onto the nearest face triangle under it (the largest depth
toward the camera), stored as the triangle's three face-part vertex indices and barycentric
weights. Photo skin uses it to map a photo onto the head; the generated skin uses it to place
brows and lips.

    python -m lab.ict_landmarks
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emo_app.blendshapes import Blendshapes
from emo_app.face.capture import capture_blendshapes
from emo_app.face.hd_head import ICT_LANDMARKS, load_default_head
from emo_app.face.render import get_face_renderer, project

SIZE = 1024


def locate(rig, landmarks: np.ndarray, size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """(478, 3) face-part triangle corners and (478, 3) barycentric weights of each landmark."""
    face = rig.part("face")
    points = rig.neutral[face.start : face.stop]
    pixels = project(points, "front", size)
    tris = face.faces
    a, b, c = pixels[tris[:, 0]], pixels[tris[:, 1]], pixels[tris[:, 2]]
    depth = points[tris].mean(axis=1)[:, 2]
    corners, weights = np.zeros((len(landmarks), 3), np.int32), np.zeros((len(landmarks), 3), np.float32)
    targets = landmarks[:, :2] * size
    for i, p in enumerate(targets):
        v0, v1, v2 = b - a, c - a, p - a
        den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
        ok = np.abs(den) > 1e-9
        w1 = np.where(ok, (v2[:, 0] * v1[:, 1] - v1[:, 0] * v2[:, 1]) / np.where(ok, den, 1), -1)
        w2 = np.where(ok, (v0[:, 0] * v2[:, 1] - v2[:, 0] * v0[:, 1]) / np.where(ok, den, 1), -1)
        w0 = 1 - w1 - w2
        inside = (w0 >= -1e-6) & (w1 >= -1e-6) & (w2 >= -1e-6) & ok
        if not inside.any():  # off the face part (the silhouette): the nearest vertex
            nearest = int(np.argmin(np.linalg.norm(pixels - p, axis=1)))
            corners[i], weights[i] = nearest, (1.0, 0.0, 0.0)
            continue
        best = np.flatnonzero(inside)[np.argmax(depth[inside])]
        corners[i], weights[i] = tris[best], (w0[best], w1[best], w2[best])
    return corners, weights


def main() -> None:
    rig = load_default_head()
    image = get_face_renderer().render(Blendshapes.zeros(), size=SIZE, rig=rig)
    landmarks = capture_blendshapes(image).landmarks
    corners, weights = locate(rig, landmarks)
    target = Path(ICT_LANDMARKS)
    np.savez_compressed(target, corners=corners, weights=weights)
    print(f"wrote {target}: {len(corners)} landmarks")


if __name__ == "__main__":
    main()
