"""Memory over many requests: resident set size (RSS) across 1000 ``services.describe`` calls
(the public function behind the UI and the API, with its default renders and downloads).

A leak shows as RSS that keeps growing after the warm-up; a bounded server levels off. The
reference, measured in the same run, is the RSS right after the warm-up calls (models loaded,
caches filled); the ratio is the final RSS over it. RSS comes from psutil when installed, else
from /proc/self/status (VmRSS).
"""

from __future__ import annotations

import os
import statistics
import time

from emo_app.text.examples import EXAMPLE_DESCRIPTIONS

TEXTS = EXAMPLE_DESCRIPTIONS


def rss_mb() -> float:
    """This process's resident memory in MiB."""
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    return float("nan")


def measure(calls: int = 1000, warmup: int = 20, sample_every: int = 50) -> dict:
    """RSS start/after-warm-up/end/peak and per-call latency over ``calls`` describe calls."""
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    from emo_app import services

    start = rss_mb()
    for i in range(warmup):
        services.describe(f"{TEXTS[i % len(TEXTS)]} (warm-up {i})")
    warm = rss_mb()
    peak, samples, latencies = warm, [(0, warm)], []
    for i in range(calls):
        began = time.perf_counter()
        services.describe(f"{TEXTS[i % len(TEXTS)]} ({i})")  # a new text each time: no cache hits
        latencies.append(time.perf_counter() - began)
        if (i + 1) % sample_every == 0 or i + 1 == calls:
            now = rss_mb()
            peak = max(peak, now)
            samples.append((i + 1, now))
    end = samples[-1][1]
    half = [s for s in samples if s[0] >= calls // 2]
    # growth over the second half, per 1000 calls: ~0 when memory has levelled off
    slope = ((half[-1][1] - half[0][1]) / max(1, half[-1][0] - half[0][0]) * 1000) if len(half) > 1 else 0.0
    ordered = sorted(latencies)
    return {
        "calls": calls, "rss_start_mb": start, "rss_after_warmup_mb": warm, "rss_end_mb": end,
        "rss_peak_mb": peak, "growth_mb": end - warm, "second_half_mb_per_1000_calls": slope,
        "median_ms": statistics.median(ordered) * 1000,
        "p90_ms": ordered[int(0.9 * (len(ordered) - 1))] * 1000, "samples": samples,
    }


def run(quick: bool = False) -> dict:
    """Benchmarks contract: 1000 calls (quick: 100) after 20 (quick: 5) warm-up calls."""
    from emo_app.outputs import MAX_OUTPUT_DIRS

    result = measure(calls=100 if quick else 1000, warmup=5 if quick else 20,
                     sample_every=10 if quick else 50)
    keys = ("calls", "median_ms", "p90_ms", "rss_start_mb", "rss_after_warmup_mb", "rss_end_mb",
            "rss_peak_mb", "growth_mb", "second_half_mb_per_1000_calls")
    row = {"case": "services.describe (2 views, 512 px, files written)", **{k: result[k] for k in keys},
           "ratio_vs_reference": result["rss_end_mb"] / result["rss_after_warmup_mb"]}
    trace = ", ".join(f"{n}: {mb:.0f}" for n, mb in result["samples"][:: max(1, len(result["samples"]) // 8)])
    return {
        "title": "Memory: RSS over repeated describe calls",
        "rows": [row],
        "reference": "RSS right after the warm-up calls (models loaded), same process, same run",
        "notes": (f"RSS from {'psutil' if _has_psutil() else '/proc/self/status'}; start = before the "
                  f"first call (no models loaded). RSS (MiB) by call: {trace}. Download folders are "
                  f"pruned to the newest {MAX_OUTPUT_DIRS}, so disk stays bounded too."),
    }


def _has_psutil() -> bool:
    try:
        import psutil  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick=True), indent=1))
