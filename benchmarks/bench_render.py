"""Face render speed: the long-lived render thread (one GL context, lean per-vertex shaders,
colour-only read-back) against a naive pyrender call that builds a Scene and an
OffscreenRenderer for every frame, both measured in the same run on the same rig."""

from __future__ import annotations

import os
import time

import numpy as np

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")


def _stats(samples: list[float]) -> tuple[float, float]:
    ms = np.asarray(samples) * 1000.0
    return float(np.median(ms)), float(np.percentile(ms, 90))


def _naive_frame(rig, shapes, size: int) -> np.ndarray:
    """What a first implementation does: a new scene and renderer per frame, pyrender defaults."""
    import pyrender

    from emo_app.face.render import CAMERA_YFOV_DEG, posed_parts, view_poses

    vertices = rig.deform(shapes)
    primitives = [
        pyrender.Primitive(
            positions=p, normals=n, indices=part.faces, color_0=part.colors,
            material=pyrender.MetallicRoughnessMaterial(metallicFactor=0.0, roughnessFactor=0.6),
        )
        for part, p, n in posed_parts(rig, vertices)
    ]  # fmt: skip
    scene = pyrender.Scene(ambient_light=np.full(3, 0.2), bg_color=[1.0, 1.0, 1.0, 1.0])
    scene.add(pyrender.Mesh(primitives=primitives))
    camera, lights = view_poses("front")
    scene.add(pyrender.PerspectiveCamera(yfov=np.radians(CAMERA_YFOV_DEG), aspectRatio=1.0), pose=camera)
    for pose in lights:
        scene.add(pyrender.DirectionalLight(color=np.ones(3), intensity=2.0), pose=pose)
    renderer = pyrender.OffscreenRenderer(size, size)
    try:
        color, _ = renderer.render(scene)
    finally:
        renderer.delete()
    return color


def run(quick: bool = False) -> dict:
    from emo_app.blendshapes import Blendshapes
    from emo_app.face.render import FaceRenderer
    from emo_app.face.rig import build_rig

    rig = build_rig()
    rng = np.random.default_rng(0)
    frames = 8 if quick else 30
    naive_frames = 3 if quick else 8
    weights = [Blendshapes.from_array(rng.random(52) * 0.7) for _ in range(frames)]
    rows = []
    for size, msaa in ((256, 0), (512, 0), (512, 4)):
        renderer = FaceRenderer(msaa_samples=msaa)
        try:
            renderer.render(weights[0], size=size)  # warm-up: context, shaders, buffers
            fast = []
            for shapes in weights:
                start = time.perf_counter()
                renderer.render(shapes, size=size)
                fast.append(time.perf_counter() - start)
            batch_start = time.perf_counter()
            renderer.render_batch(weights, size=size)
            batch_ms = (time.perf_counter() - batch_start) * 1000.0 / len(weights)
        finally:
            renderer.close()
        naive = []
        _naive_frame(rig, weights[0], size)
        for shapes in weights[:naive_frames]:
            start = time.perf_counter()
            _naive_frame(rig, shapes, size)
            naive.append(time.perf_counter() - start)
        median, p90 = _stats(fast)
        naive_median, naive_p90 = _stats(naive)
        rows.append(
            {
                "case": f"render thread, {size} px" + (f", msaa {msaa}x" if msaa else ""),
                "median_ms": round(median, 2),
                "p90_ms": round(p90, 2),
                "batch_ms_per_frame": round(batch_ms, 2),
                "naive_median_ms": round(naive_median, 2),
                "naive_p90_ms": round(naive_p90, 2),
                "ratio_vs_reference": round(naive_median / median, 2),
            }
        )
    return {
        "title": "Face render (pyrender, EGL)",
        "rows": rows,
        "reference": "naive pyrender: new Scene + OffscreenRenderer per frame, default PBR shaders",
        "notes": (
            f"{frames} random weight vectors per size, front view, white background, untextured; "
            "the goal is <= 25 ms at 512 px and >= 3x the naive call. Times include rig deformation, "
            "normals, the queue round trip and read-back. The 'msaa 4x' row keeps pyrender's "
            "multisampling for comparison; the default renderer draws without it."
        ),
    }
