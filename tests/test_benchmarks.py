"""`make bench` keeps working: the benchmarks that reach into the renderer's internals run one
frame (a change to ``render._Request`` once broke the render benchmark, found only by the next
`make bench`). Speed itself is never asserted here."""

from __future__ import annotations

from emo_app.blendshapes import Blendshapes


def test_the_render_benchmarks_stages_still_drive_the_renderer():
    from benchmarks import bench_render

    rows = bench_render._stage_rows([Blendshapes.from_dict({"jawOpen": 0.5})], 1)
    cases = [row["case"] for row in rows]
    assert "full 512: whole frame on the render thread" in cases and len(cases) == 7
    assert all(row["median_ms"] > 0 for row in rows)
