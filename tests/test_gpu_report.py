"""BENCHMARKS.md's GPU section: the goals are judged on the newest run that measured each case
next to its reference, and a failing case never counts as a measurement."""

from __future__ import annotations

import json

from benchmarks import gpu_report


def _run(folder, name, date, cases):
    (folder / name).write_text(json.dumps({"date": date, "gpu": "Test GPU", "torch": "x", "cases": cases}))


def test_goals_follow_the_newest_measurement_and_ignore_errors(tmp_path):
    fast, slow = {"median_ms": 300.0, "ms_per_image": 300.0}, {"median_ms": 500.0, "ms_per_image": 500.0}
    _run(tmp_path, "a.json", "2026-01-01", {
        "reference fp32: dpmpp 25 steps, batch 1": {"median_ms": 1000.0},
        "ours float16 compiled: dpmpp 25 steps, batch 1": slow,
        "training C2A2 512px batch 1 + prior, AdamW": {"steps_per_s": 3.2, "peak_gb": 12.0},
    })
    _run(tmp_path, "b.json", "2026-02-01", {
        "reference fp32: dpmpp 25 steps, batch 1": {"median_ms": 1000.0},
        "ours float16 compiled: dpmpp 25 steps, batch 1": fast,
        "training C2A2 512px batch 1 + prior, AdamW": {"error": "CUDA out of memory"},
    })
    text = gpu_report.markdown(tmp_path)
    goals = text.split("### ")[0]
    row = next(line for line in goals.splitlines() if "dpmpp 25 steps, batch 1" in line)
    assert "300 ms" in row and "3.33x" in row and row.endswith("| met |")
    training = next(line for line in goals.splitlines() if "C2A2 training" in line)
    assert "3.2 steps/s" in training and training.endswith("| met |")  # the error in b is not a number
    assert "ddim 100 steps" in goals and "not measured" in goals
    assert text.count("### ") == 2  # every run is listed as measured


def test_a_goal_missed_says_so(tmp_path):
    _run(tmp_path, "a.json", "2026-01-01", {
        "reference fp32: dpmpp 25 steps, batch 1": {"median_ms": 800.0},
        "ours float16 compiled: dpmpp 25 steps, batch 1": {"median_ms": 340.0, "ms_per_image": 340.0},
        "ours float16 compiled: warm-up": {"total_s": 120.0, "per_batch_size_s": {"1": 120.0}},
        "ours float16 compiled: warm-up, second start (compile cache)": {"total_s": 30.0,
                                                                          "per_batch_size_s": {"1": 30.0}},
    })
    goals = gpu_report.markdown(tmp_path).split("### ")[0].splitlines()
    assert next(line for line in goals if "batch 1 |" in line).endswith("| **not met** |")  # 2.35x < 2.5x
    assert next(line for line in goals if "warm-up (compile" in line).endswith("| **not met** |")
    restart = next(line for line in goals if "after a restart" in line)  # shown beside, not judged
    assert "30 s" in restart and "met" not in restart
