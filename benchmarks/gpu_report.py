"""The GPU section of BENCHMARKS.md, from the sessions' JSON files in benchmarks/gpu_results/.

`make bench` runs on the development machine, which has no GPU; the generator and training
numbers come from `benchmarks/gpu_session.py` on a lent GPU. Each of those runs is committed
as JSON (what it printed, unedited but for error traces) and rendered here, so BENCHMARKS.md
always shows them, with the issue's goals checked against the newest measurement of each case.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "gpu_results"
SHOWN_KEYS = ("median_ms", "ms_per_image", "first_call_ms", "total_s", "per_batch_size_s", "steps_per_s",
              "peak_gb", "gc_pause_s", "cudnn_benchmark", "median_ms_per_step", "reference_ms",
              "max_pixel_diff_vs_uncompiled_fp16", "mean_pixel_diff_vs_uncompiled_fp16", "first_loss",
              "last_loss", "skipped", "error", "reason")


def load_runs(folder: Path = RESULTS) -> list[dict[str, Any]]:
    """Every committed run, oldest first."""
    runs = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    return sorted(runs, key=lambda run: run["date"])


def latest(runs: list[dict[str, Any]], case: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(the case's numbers, its run) from the newest run that measured ``case`` without error."""
    for run in reversed(runs):
        value = run["cases"].get(case)
        if isinstance(value, dict) and "error" not in value:
            return value, run
    return None


def _goal_rows(runs: list[dict[str, Any]]) -> list[str]:
    rows = []
    verdict = {True: "met", False: "**not met**"}

    def speed(case: str, reference: str, goal: str, check: Any, batch: int = 1) -> None:
        """A row for ``case`` against ``reference`` from one run; batch > 1: per image."""
        ours, ref = latest(runs, case), latest(runs, reference)
        if ours is None or ref is None or ours[1] is not ref[1]:
            rows.append(f"| {case} | not measured with its reference in one run | | {goal} | — |")
            return
        ms, ref_ms = ours[0]["median_ms"] / batch, ref[0]["median_ms"] / batch
        ratio = ref_ms / ms
        rows.append(f"| {case} | {ms:.0f} ms{' per image' if batch > 1 else ''} | "
                    f"{ref_ms:.0f} ms ({ratio:.2f}x) | {goal} | {verdict[check(ms, ratio)]} |")

    compiled, reference = "ours float16 compiled", "reference fp32"
    speed(f"{compiled}: dpmpp 25 steps, batch 1", f"{reference}: dpmpp 25 steps, batch 1",
          "<= 350 ms and >= 2.5x", lambda ms, ratio: ms <= 350 and ratio >= 2.5)
    speed(f"{compiled}: ddim 100 steps, batch 1", f"{reference}: ddim 100 steps, batch 1",
          "<= 1400 ms", lambda ms, ratio: ms <= 1400)
    speed(f"{compiled}: dpmpp 25 steps, batch 4", f"{reference}: dpmpp 25 steps, batch 4",
          "<= 150 ms per image", lambda ms, ratio: ms <= 150, batch=4)
    warm = latest(runs, f"{compiled}: warm-up")
    if warm:
        seconds = warm[0]["total_s"]
        rows.append(f"| warm-up (compile + first call, batch 1 and 4) | {seconds:.0f} s "
                    f"({warm[0]['per_batch_size_s']}) | | <= 90 s | {verdict[seconds <= 90]} |")
    for case, what in ((f"{compiled}: warm-up, second start (compile cache)", "after a restart (cache kept)"),
                       ("ours float16 compiled, UNet only: cold start", "compiling the UNet only")):
        shown = latest(runs, case)
        if shown and "total_s" in shown[0]:
            rows.append(f"| warm-up {what} | {shown[0]['total_s']:.0f} s ({shown[0]['per_batch_size_s']}) "
                        "| | (shown beside the goal) | |")
    train = latest(runs, "training C2A2 512px batch 1 + prior, AdamW")
    if train:
        value = train[0]
        met = value["steps_per_s"] >= 3 and value.get("peak_gb", 99) <= 16
        rows.append(f"| C2A2 training, 512 px, batch 1 + prior | {value['steps_per_s']} steps/s, "
                    f"peak {value.get('peak_gb')} GB | | >= 3 steps/s, <= 16 GB | {verdict[met]} |")
    return rows


def _format(value: Any) -> str:
    if not isinstance(value, dict):
        return str(value)
    return ", ".join(f"{k} {value[k]}" for k in SHOWN_KEYS if k in value)


def markdown(folder: Path = RESULTS) -> str:
    """The section: the goals against the newest numbers, then every run's cases as measured."""
    runs = load_runs(folder)
    lines = ["## GPU: C2A2 generator and trainers (`benchmarks/gpu_session.py` on a lent GPU)", ""]
    if not runs:
        return "\n".join(lines + ["No GPU run is committed in benchmarks/gpu_results/.", ""])
    lines += ["SD 1.4-sized random weights at 512 px, guidance 10. Reference: diffusers' default pipeline "
              "(fp32, as `from_pretrained(...).to('cuda')` gives) measured in the same run.", "",
              "| case | ours | reference (speed-up) | goal | |", "|---|---|---|---|---|",
              *_goal_rows(runs), ""]
    for run in runs:
        lines += [f"### {run['date']}: {run['gpu']}, torch {run['torch']}", "",
                  f"`{run.get('command', '')}`", "", "| case | measured |", "|---|---|"]
        lines += [f"| {case} | {_format(value)} |" for case, value in run["cases"].items()]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
