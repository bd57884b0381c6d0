"""The rigged head's parts besides the MediaPipe mask: eyeballs with iris and pupil, a mouth
interior (cavity with cheek pockets, two rows of teeth, a tongue), and a skull shell and neck
sewn to the mask's border, each with its vertex colours."""

from __future__ import annotations

import numpy as np

from emo_app.face import mesh as fm
from emo_app.face.fields import near, smoothstep

FLIP = np.array([-1.0, 1.0, 1.0], dtype=np.float64)
SKIN_RGB = (0.80, 0.58, 0.47)
EYE_RADIUS = 1.25


def _eye_sphere(centre: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A sphere whose front pole looks down +z, with rings placed on the pupil and iris edges so
    the vertex colours draw crisp circles."""
    polar = np.radians([4, 9, 11.5, 13, 20, 26, 28.5, 30, 32, 45, 60, 80, 100, 125, 150, 170])
    segments = 32
    az = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    rings = [
        np.stack([np.sin(p) * np.cos(az), np.sin(p) * np.sin(az), np.full(segments, np.cos(p))], 1)
        for p in polar
    ]
    verts = np.concatenate([[[0, 0, 1.0]], *rings, [[0, 0, -1.0]]])
    faces = []
    for j in range(segments):
        k = (j + 1) % segments
        faces.append([0, 1 + j, 1 + k])
    for r in range(len(polar) - 1):
        a0, b0 = 1 + r * segments, 1 + (r + 1) * segments
        for j in range(segments):
            k = (j + 1) % segments
            faces += [[a0 + j, b0 + j, b0 + k], [a0 + j, b0 + k, a0 + k]]
    last = 1 + (len(polar) - 1) * segments
    back = len(verts) - 1
    for j in range(segments):
        k = (j + 1) % segments
        faces.append([last + j, back, last + k])
    angle = np.degrees(np.arccos(np.clip(verts[:, 2], -1, 1)))
    colors = np.empty((len(verts), 4))
    colors[:] = (0.93, 0.91, 0.88, 1.0)  # sclera
    iris = angle <= 29.5
    colors[iris] = (0.33, 0.45, 0.47, 1.0)
    colors[(angle > 26.5) & iris] = (0.17, 0.22, 0.24, 1.0)  # limbal ring
    colors[angle <= 12.0] = (0.03, 0.03, 0.03, 1.0)  # pupil
    colors[angle > 60] = (0.80, 0.70, 0.68, 1.0)
    return centre + verts * EYE_RADIUS, _outward(verts, np.asarray(faces, np.int32), np.zeros(3)), colors


def _ellipsoid(centre, radii, stacks=10, slices=20) -> tuple[np.ndarray, np.ndarray]:
    theta = np.linspace(0, np.pi, stacks + 1)[1:-1]
    phi = np.linspace(0, 2 * np.pi, slices, endpoint=False)
    verts = [[0, 1, 0]]
    for t in theta:
        verts += [[np.sin(t) * np.cos(p), np.cos(t), np.sin(t) * np.sin(p)] for p in phi]
    verts.append([0, -1, 0])
    verts = np.asarray(verts) * radii + centre
    faces = []
    for j in range(slices):
        faces.append([0, 1 + (j + 1) % slices, 1 + j])
    for r in range(len(theta) - 1):
        a, b = 1 + r * slices, 1 + (r + 1) * slices
        for j in range(slices):
            k = (j + 1) % slices
            faces += [[a + j, a + k, b + j], [a + k, b + k, b + j]]
    last, bottom = 1 + (len(theta) - 1) * slices, len(verts) - 1
    for j in range(slices):
        faces.append([last + j, last + (j + 1) % slices, bottom])
    return verts, _outward(verts, np.asarray(faces, np.int32), centre)


def _outward(verts: np.ndarray, faces: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Wind a closed convex part so its normals point away from ``centre`` (back faces are culled)."""
    tri = verts[faces]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    if np.sum(normals * (tri.mean(1) - centre)) < 0:
        return faces[:, [0, 2, 1]]
    return faces


def _teeth_arch(front_z: float, top: float, bottom: float, half_width: float, depth: float):
    """A row of teeth as a curved slab along a parabolic arch, darker at each tooth boundary."""
    ts = []
    n_teeth = 10
    for i in range(n_teeth + 1):
        edge = -1 + 2 * i / n_teeth
        ts += [edge - 0.012, edge + 0.012] if 0 < i < n_teeth else [edge]
        if i < n_teeth:
            ts.append(edge + 1.0 / n_teeth)
    ts = np.asarray(sorted(ts))
    x = half_width * ts
    z = front_z - depth * ts**2
    thickness = 0.3
    rows = []
    for y, inset in (
        (top, 0.0),
        (bottom, 0.0),
        (bottom + 0.05 * np.sign(top - bottom), thickness),
        (top, thickness),
    ):
        rows.append(np.stack([x * (1 - inset / 3), np.full_like(x, y), z - inset], 1))
    verts = np.concatenate(rows)
    n = len(ts)
    faces = []
    for r in range(3):
        for j in range(n - 1):
            a, b = r * n + j, (r + 1) * n + j
            faces += [[a, b, a + 1], [a + 1, b, b + 1]]
    faces = np.asarray(faces, np.int32)
    # front faces must point to +z: fix winding by the first triangle's normal
    tri = verts[faces[0]]
    if np.cross(tri[1] - tri[0], tri[2] - tri[0])[2] < 0:
        faces = faces[:, [0, 2, 1]]
    colors = np.tile([0.95, 0.93, 0.86, 1.0], (len(verts), 1))
    boundary = np.isin(np.round(np.abs(ts * n_teeth) % 1, 3), [0.012, 0.988])
    inner_edges = np.tile(boundary, 4)
    colors[inner_edges] = (0.62, 0.58, 0.52, 1.0)
    return verts, faces, colors


def _shell(face_vertices: np.ndarray, loop: np.ndarray, rings: int = 9):
    """The back of the head: rings swept from the mask's border over an ellipsoid skull to the
    back pole, so the mask is not a floating shell. Ring 0 duplicates the border vertices."""
    centre = np.array([0.0, 1.2, -3.2])
    radii = np.array([7.9, 10.2, 9.4])
    border = face_vertices[loop].astype(np.float64)
    u = (border - centre) / radii
    length = np.linalg.norm(u, axis=1, keepdims=True)
    start = u / length
    back = np.array([0.0, 0.0, -1.0])
    pts = [border]
    decay = [1.0]
    for r in range(1, rings + 1):
        t = r / (rings + 1)
        dots = np.clip(start @ back, -1, 1)[:, None]
        omega = np.arccos(dots)
        sin_o = np.maximum(np.sin(omega), 1e-6)
        direction = (np.sin((1 - t) * omega) * start + np.sin(t * omega) * back) / sin_o
        rho = length + (1 - length) * smoothstep(0.0, 0.35, np.array(t))
        pts.append(centre + radii * direction * rho)
        decay.append(float(smoothstep(0.45, 0.0, np.array(t))))
    pts.append((centre + radii * back)[None])
    decay.append(0.0)
    verts = np.concatenate(pts)
    n = len(loop)
    faces = []
    for r in range(rings):
        for j in range(n):
            k = (j + 1) % n
            a, b = r * n, (r + 1) * n
            faces += [[a + j, b + j, a + k], [a + k, b + j, b + k]]
    pole = len(verts) - 1
    for j in range(n):
        faces.append([rings * n + j, pole, rings * n + (j + 1) % n])
    faces = np.asarray(faces, np.int32)
    normals = fm.vertex_normals(verts.astype(np.float32), faces)
    if np.mean(np.sum(normals * (verts - centre), axis=1)) < 0:
        faces = faces[:, [0, 2, 1]]
    ring_decay = np.repeat(np.asarray(decay[:-1]), n)
    ring_decay = np.append(ring_decay, 0.0)
    source = np.append(np.tile(loop, rings + 1), -1)
    return verts, faces, ring_decay, source


def _neck() -> tuple[np.ndarray, np.ndarray]:
    slices, heights = 24, np.linspace(-3.0, -20.0, 6)
    phi = np.linspace(0, 2 * np.pi, slices, endpoint=False)
    verts = np.concatenate(
        [np.stack([5.3 * np.cos(phi), np.full(slices, h), -3.6 + 5.0 * np.sin(phi)], 1) for h in heights]
    )
    faces = []
    for r in range(len(heights) - 1):
        a, b = r * slices, (r + 1) * slices
        for j in range(slices):
            k = (j + 1) % slices
            faces += [[a + j, a + k, b + j], [a + k, b + k, b + j]]
    faces = np.asarray(faces, np.int32)
    return verts, _outward(verts, faces, np.array([0.0, -10.0, -3.6]))


def mirror_map(vertices: np.ndarray, tolerance: float = 1e-3) -> np.ndarray:
    from scipy.spatial import cKDTree

    distance, index = cKDTree(vertices).query(vertices * FLIP)
    if distance.max() > tolerance:
        raise RuntimeError(f"rig geometry is not symmetric (worst pair {distance.max():.4f} cm)")
    return index


def build_geometry():
    face = fm.load_canonical_mesh()
    fv = face.vertices.astype(np.float64)
    pieces: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = []
    skin = np.array([*SKIN_RGB, 1.0])
    face_colors = np.tile(skin, (len(fv), 1))
    lip_ring = np.concatenate(
        [
            fv[list(fm.LIP_UPPER_OUTER)],
            fv[list(fm.LIP_LOWER_OUTER)],
            fv[list(fm.LIP_UPPER_INNER)],
            fv[list(fm.LIP_LOWER_INNER)],
        ]
    )
    lip_tint = near(fv, lip_ring, 0.45)[:, None]
    brow_pts = np.concatenate([fv[list(fm.LEFT_BROW)], fv[list(fm.LEFT_BROW)] * FLIP])
    brow_tint = 0.8 * near(fv, brow_pts, 0.6)[:, None]
    face_colors = face_colors * (1 - lip_tint) + np.array([0.70, 0.36, 0.36, 1.0]) * lip_tint
    face_colors = face_colors * (1 - brow_tint) + np.array([0.36, 0.25, 0.19, 1.0]) * brow_tint
    pieces.append(("face", fv, face.faces, face_colors))

    shell_v, shell_f, shell_decay, shell_source = _shell(fv, face.outer_loop)
    neck_v, neck_f = _neck()
    head_v = np.concatenate([shell_v, neck_v])
    head_f = np.concatenate([shell_f, neck_f + len(shell_v)])
    pieces.append(("head", head_v, head_f, np.tile(skin, (len(head_v), 1))))

    eye_parts = []
    for side in ("left", "right"):
        upper, lower = face.eye_loops[side]
        ring = np.concatenate([upper, lower])
        centre = np.array([fv[ring, 0].mean(), fv[ring, 1].mean(), 0.0])
        centre[2] = (fv[upper[4], 2] + fv[lower[4], 2]) / 2.0 - EYE_RADIUS - 0.04
        eye_parts.append(_eye_sphere(centre))
    eyes_v = np.concatenate([eye_parts[0][0], eye_parts[1][0]])
    eyes_f = np.concatenate([eye_parts[0][1], eye_parts[1][1] + len(eye_parts[0][0])])
    eyes_c = np.concatenate([eye_parts[0][2], eye_parts[1][2]])
    pieces.append(("eyes", eyes_v, eyes_f, eyes_c))

    mouth_pieces = []
    cavity_v, cavity_f = _ellipsoid(np.array([0.0, -4.7, 1.7]), np.array([2.3, 1.6, 2.4]))
    # cheek pockets behind the mouth corners, which lie wider than the teeth; without them a
    # stretched, frowning or open mouth shows the skull shell through its corners
    for side in (1.0, -1.0):
        pocket_v, pocket_f = _ellipsoid(np.array([2.7 * side, -4.7, 1.8]), np.array([1.0, 1.5, 1.3]))
        cavity_f = np.concatenate([cavity_f, pocket_f + len(cavity_v)])
        cavity_v = np.concatenate([cavity_v, pocket_v])
    mouth_pieces.append(("cavity", cavity_v, cavity_f, np.tile([0.16, 0.04, 0.05, 1.0], (len(cavity_v), 1))))
    up_v, up_f, up_c = _teeth_arch(4.75, -3.55, -4.3, 2.1, 1.7)
    mouth_pieces.append(("upper_teeth", up_v, up_f, up_c))
    lo_v, lo_f, lo_c = _teeth_arch(4.55, -5.15, -4.5, 1.95, 1.7)
    mouth_pieces.append(("lower_teeth", lo_v, lo_f, lo_c))
    tongue_v, tongue_f = _ellipsoid(np.array([0.0, -4.95, 2.4]), np.array([1.45, 0.42, 1.9]), 8, 16)
    mouth_pieces.append(("tongue", tongue_v, tongue_f, np.tile([0.78, 0.36, 0.38, 1.0], (len(tongue_v), 1))))
    offset, verts, faces, colors, labels = 0, [], [], [], []
    for label, v, f, c in mouth_pieces:
        verts.append(v)
        faces.append(f + offset)
        colors.append(c)
        labels += [label] * len(v)
        offset += len(v)
    pieces.append(("mouth", np.concatenate(verts), np.concatenate(faces), np.concatenate(colors)))
    return face, pieces, (shell_decay, shell_source, len(shell_v)), np.asarray(labels)
