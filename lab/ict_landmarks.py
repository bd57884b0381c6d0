"""Where MediaPipe's 478 face landmarks sit on the ICT-FaceKit head: run once, writes
``assets/ict_landmarks.npz`` (the product reads it; this script needs MediaPipe and a renderer).

The neutral head is rendered from the front and MediaPipe's FaceLandmarker finds its landmarks;
each landmark pixel is traced back onto the nearest face triangle under it (the largest depth
toward the camera), stored as the triangle's three face-part vertex indices and barycentric
weights. Photo skin uses it to map a photo onto the head; the generated skin uses it to place
brows and lips.

The head's mouth is closed, so MediaPipe puts the upper and the lower inner-lip landmarks on one
line where the lips meet; the front-most triangle there is often the other lip (the upper lip
overhangs the lower), and a pixel in the hairline gap between the lips hits no triangle at all.
So each inner-lip landmark is only placed on its own lip: the face part's triangles on its side
of the mouth opening (nearer, along the mesh, to the opening's upper or lower rim).

    python -m lab.ict_landmarks            # re-place the stored detection (no MediaPipe run)
    python -m lab.ict_landmarks --detect   # render the head and detect its landmarks afresh

The file keeps the detected landmark pixels, so a change to the placement re-places the same
detection; a fresh detection on today's render moves some landmarks on the cheek's silhouette.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from emo_app.face import mesh as landmarks_of
from emo_app.face.hd_head import ICT_LANDMARKS
from emo_app.face.render import project

SIZE = 1024
LIP_REACH = 1.5  # rig units (the head is 15.5 wide) along the mesh from the mouth opening: the lips
UPPER_INNER_LIP = tuple(i for i in landmarks_of.LIP_UPPER_INNER if i not in landmarks_of.LIP_LOWER_INNER)
LOWER_INNER_LIP = tuple(i for i in landmarks_of.LIP_LOWER_INNER if i not in landmarks_of.LIP_UPPER_INNER)


def _face(rig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The face part's neutral points, triangles and weld (split UV-seam copy -> its twin)."""
    face = rig.part("face")
    weld = rig.weld[face.start : face.stop] - face.start if rig.weld is not None else np.arange(face.size)
    return rig.neutral[face.start : face.stop], face.faces, weld


def lip_sides(rig) -> np.ndarray:
    """(face vertices,) +1 where a face-part vertex is on the upper lip, -1 on the lower lip, 0
    elsewhere: which half of the mouth opening's rim, split at its corners, is nearer along the
    mesh's edges, for vertices within ``LIP_REACH`` of the rim (farther away, around the
    corners, the two distances say nothing)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import dijkstra

    points, tris, weld = _face(rig)
    welded = weld[tris]
    loops = landmarks_of.boundary_loops(welded)
    # the mouth opening: the rim that lies between the lips (the eyes are higher, the neck
    # boundary is far larger)
    mouth = min(loops, key=lambda loop: abs(np.ptp(points[loop, 1])) + 100.0 * (len(loop) > 150)
                + 10.0 * (points[loop, 1].mean() > points[:, 1].mean()))
    first, second = sorted((int(np.argmin(points[mouth, 0])), int(np.argmax(points[mouth, 0]))))
    arcs = (mouth[first : second + 1], np.concatenate([mouth[second:], mouth[: first + 1]]))
    upper, lower = sorted(arcs, key=lambda arc: -points[arc, 1].mean())
    edges = np.concatenate([welded[:, [0, 1]], welded[:, [1, 2]], welded[:, [2, 0]]])
    lengths = np.linalg.norm(points[edges[:, 0]] - points[edges[:, 1]], axis=1)
    graph = coo_matrix((lengths, (edges[:, 0], edges[:, 1])), shape=(len(points),) * 2).tocsr()
    to_upper = dijkstra(graph, directed=False, indices=upper[1:-1], min_only=True)
    to_lower = dijkstra(graph, directed=False, indices=lower[1:-1], min_only=True)
    with np.errstate(invalid="ignore"):  # split seam copies are in no triangle: inf - inf
        sides = np.where(np.minimum(to_upper, to_lower) < LIP_REACH, np.sign(to_lower - to_upper), 0)
    return sides.astype(np.int8)[weld]


def locate(rig, landmarks: np.ndarray, size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """(478, 3) face-part triangle corners and (478, 3) barycentric weights of each landmark
    (``landmarks``: normalised image coordinates in a front render of ``size``)."""
    points, tris, _ = _face(rig)
    pixels = project(points, "front", size)
    a, b, c = pixels[tris[:, 0]], pixels[tris[:, 1]], pixels[tris[:, 2]]
    depth = points[tris].mean(axis=1)[:, 2]
    sides = lip_sides(rig)
    on_upper_lip = (sides[tris] > 0).all(axis=1)
    on_lower_lip = (sides[tris] < 0).all(axis=1)
    allowed = {i: on_upper_lip for i in UPPER_INNER_LIP} | {i: on_lower_lip for i in LOWER_INNER_LIP}
    anywhere = np.ones(len(tris), bool)
    corners, weights = np.zeros((len(landmarks), 3), np.int32), np.zeros((len(landmarks), 3), np.float32)
    targets = landmarks[:, :2] * size
    for i, p in enumerate(targets):
        candidates = allowed.get(i, anywhere)
        v0, v1, v2 = b - a, c - a, p - a
        den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
        ok = np.abs(den) > 1e-9
        w1 = np.where(ok, (v2[:, 0] * v1[:, 1] - v1[:, 0] * v2[:, 1]) / np.where(ok, den, 1), -1)
        w2 = np.where(ok, (v0[:, 0] * v2[:, 1] - v2[:, 0] * v0[:, 1]) / np.where(ok, den, 1), -1)
        w0 = 1 - w1 - w2
        inside = (w0 >= -1e-6) & (w1 >= -1e-6) & (w2 >= -1e-6) & ok & candidates
        if not inside.any():  # off the face part (the silhouette, the gap between the lips)
            reachable = np.unique(tris[candidates])
            nearest = reachable[np.argmin(np.linalg.norm(pixels[reachable] - p, axis=1))]
            corners[i], weights[i] = nearest, (1.0, 0.0, 0.0)
            continue
        best = np.flatnonzero(inside)[np.argmax(depth[inside])]
        corners[i], weights[i] = tris[best], (w0[best], w1[best], w2[best])
    return corners, weights


def detect(rig) -> np.ndarray:
    """(478, 3) MediaPipe landmarks (normalised) found on a front render of the neutral head."""
    from emo_app.blendshapes import Blendshapes
    from emo_app.face.capture import capture_blendshapes
    from emo_app.face.render import get_face_renderer

    image = get_face_renderer().render(Blendshapes.zeros(), size=SIZE, rig=rig)
    return capture_blendshapes(image).landmarks


def stored_detection(rig, path: Path = ICT_LANDMARKS) -> np.ndarray:
    """The detection ``path`` was placed from: its stored pixels, or, in a file written before
    they were kept, the front projection of its surface points (exact where a landmark fell on
    a triangle; a vertex's own pixel where it fell off the face)."""
    with np.load(path, allow_pickle=False) as data:
        if "landmarks" in data:
            return data["landmarks"]
        corners, weights = data["corners"], data["weights"]
    points, _, _ = _face(rig)
    surface = (points[corners] * weights[..., None]).sum(axis=1)
    return np.column_stack([project(surface, "front", SIZE) / SIZE, np.zeros(len(surface))])


def main(argv: list[str] | None = None) -> None:
    from emo_app.face.hd_head import load_default_head

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--detect", action="store_true", help="render and detect afresh (needs MediaPipe)")
    args = parser.parse_args(argv)
    rig = load_default_head()
    landmarks = detect(rig) if args.detect else stored_detection(rig)
    corners, weights = locate(rig, landmarks)
    target = Path(ICT_LANDMARKS)
    np.savez_compressed(target, corners=corners, weights=weights, landmarks=np.asarray(landmarks, np.float64))
    print(f"wrote {target}: {len(corners)} landmarks")


if __name__ == "__main__":
    main()
