"""Run every benchmark (benchmarks/bench_*.py) and rewrite BENCHMARKS.md.

Usage: ``python -m benchmarks.run_all [--quick] [--only render,text]``. Each module's
``run(quick)`` measures its own reference in the same run, so ratios compare like with like.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import pkgutil
import platform
import sys
import time
import traceback
from pathlib import Path

from benchmarks import gpu_report

ROOT = Path(__file__).resolve().parent.parent


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "cores": str(os.cpu_count()),
    }
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as handle:
            info["memory"] = f"{int(handle.readline().split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    try:
        import torch

        info["torch"] = torch.__version__
        info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    except ImportError:
        info["gpu"] = "unknown"
    return info


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def to_markdown(results: list[dict], info: dict[str, str], when: str, seconds: float) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m benchmarks.run_all`); numbers are what was measured,",
        "each compared with its reference measured in the same run.",
        "",
        f"- date: {when}",
        *[f"- {key}: {value}" for key, value in info.items()],
        f"- total time: {seconds:.0f} s",
        "",
    ]
    for result in results:
        lines += [f"## {result.get('title', result['module'])}", ""]
        if result.get("reference"):
            lines += [f"Reference: {result['reference']}", ""]
        rows = result.get("rows", [])
        if rows:
            columns: list[str] = []
            for row in rows:
                columns += [c for c in row if c not in columns]
            lines.append("| " + " | ".join(columns) + " |")
            lines.append("|" + "---|" * len(columns))
            for row in rows:
                lines.append("| " + " | ".join(_fmt(row.get(c, "")) for c in columns) + " |")
            lines.append("")
        if result.get("notes"):
            lines += [str(result["notes"]), ""]
        if result.get("error"):
            lines += ["```", result["error"], "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--only", default="", help="comma-separated names, e.g. render,text")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    args = parser.parse_args(argv)
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    wanted = {n.strip() for n in args.only.split(",") if n.strip()}
    names = sorted(
        m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("bench_")
    )
    results = []
    start = time.perf_counter()
    for name in names:
        if wanted and name.removeprefix("bench_") not in wanted:
            continue
        print(f"== {name}", flush=True)
        try:
            module = importlib.import_module(f"benchmarks.{name}")
            result = module.run(quick=args.quick)
        except Exception:
            result = {"title": name, "rows": [], "error": traceback.format_exc(limit=3)}
        result["module"] = name
        print(json.dumps(result.get("rows", []), indent=1, default=str), flush=True)
        results.append(result)
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = to_markdown(results, machine(), when, time.perf_counter() - start)
    text += "\n" + gpu_report.markdown()  # measured on a lent GPU, committed as JSON
    Path(args.out).write_text(text)
    print(f"wrote {args.out}")
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
