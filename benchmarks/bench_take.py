"""Takes (*Play it*): the face on screen played from rest and back, rendered and written.

The reference is the still face a user waits for before pressing *Play it*: ``services.describe``
of the same text (two 512 px views and the still's files). The stage rows say where a take's
time goes (its frames, in one trip to the render thread or one ``render`` call each, the MP4, the
animated GLB)."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

TEXTS = ("A broad grin with eyes alight with cheer.", "Shocked at first, then delighted.")


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 1)


def _take_rows(text: str, repeats: int) -> list[dict]:
    """The reference (the still face of ``text``) and its take end to end at 512 px, medians of
    ``repeats``, then the take's stages timed once each."""
    from emo_app.face import get_face_renderer
    from emo_app.face.export import export_glb
    from emo_app.face.looks import default_face
    from emo_app.generation.walks import save_mp4
    from emo_app.services import describe
    from emo_app.services_take import take_of_text

    take_of_text(text, size=512)  # models, templates, GL context
    describe(text, size=512)
    stills = []
    for _ in range(repeats):
        start = time.perf_counter()
        describe(text, size=512)
        stills.append(_ms(start))
    still = float(np.median(stills))
    totals = []
    for _ in range(repeats):
        start = time.perf_counter()
        _, result = take_of_text(text, size=512)
        totals.append(_ms(start))
    take = result.take
    frames = len(take)
    rig, texture = default_face()
    renderer = get_face_renderer()
    start = time.perf_counter()
    renderer.render_batch(take.frames(), size=512, rig=rig, texture=texture, poses=take.head_poses())
    batch = _ms(start)
    start = time.perf_counter()
    for shapes, pose in zip(take.frames(), take.head_poses(), strict=True):
        renderer.render(shapes, size=512, rig=rig, texture=texture, pose=pose)
    one_by_one = _ms(start)
    folder = Path(tempfile.mkdtemp(prefix="bench-take-"))
    try:
        start = time.perf_counter()
        save_mp4(folder / "take.mp4", result.frames, result.timing.fps)
        mp4 = _ms(start)
        start = time.perf_counter()
        export_glb(take.frames(), folder / "take.glb", fps=result.timing.fps, texture=texture, rig=rig,
                   pose=take.head_poses())
        glb = _ms(start)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    plural = "s" if result.expressions > 1 else ""
    case = f"'{text}' ({result.expressions} expression{plural}, {frames} frames)"
    total = float(np.median(totals))
    return [
        {"case": f"reference: the still face (describe, 2 views, files): '{text}'", "median_ms": still,
         "ratio_vs_reference": 1.0},
        {"case": f"take end to end, 512 px: {case}", "median_ms": total,
         "ms_per_frame": round(total / frames, 2),
         "seconds_played": round((frames - 1) / result.timing.fps, 2),
         "real_time_factor": round((frames - 1) / result.timing.fps / (total / 1000.0), 2),
         "ratio_vs_reference": round(total / still, 2)},
        {"case": "  its frames in one render_batch", "median_ms": batch,
         "ms_per_frame": round(batch / frames, 2)},
        {"case": "  the same frames, one render call each", "median_ms": one_by_one,
         "ms_per_frame": round(one_by_one / frames, 2)},
        {"case": "  MP4 (H.264)", "median_ms": mp4, "ms_per_frame": round(mp4 / frames, 2)},
        {"case": "  animated GLB (52 weights and the skull keyed per frame)", "median_ms": glb,
         "ms_per_frame": round(glb / frames, 2)},
    ]


def run(quick: bool = False) -> dict:
    rows = []
    for text in TEXTS:
        rows += _take_rows(text, 2 if quick else 5)
    return {
        "title": "Takes: a face played from rest and back (Play it), rendered and written",
        "rows": rows,
        "reference": "the still face of the same text: services.describe, 2 views x 512 px and its files "
                     "(same process, same run)",
        "notes": ("services_take.take_of_text with the defaults (full head, generated skin, front view, "
                  "30 fps, paced by the emotion): text model, frames, MP4, animated GLB, 60 fps Live Link "
                  "CSV and JSON; end-to-end median of the repeats after one warm-up take. The stage rows "
                  "are one run each. ratio_vs_reference: the take's time over the still's; real_time_factor: "
                  "seconds of animation made per second of waiting."),
    }
