"""Does Describe read a situation the way people would? Every sentence of
``situations_dev.json`` (the constants of the embedded model's situation reading were chosen
on it) and ``situations_heldout.json`` (scored once, afterwards) goes through the embedded text
model; a sentence reads right when its strongest emotion is the one it was written for. Text
only (no renders), a few seconds on 2 cores:

    python -m lab.expressions.situations        # per-set and per-emotion counts
    python -m lab.expressions.situations -v     # and every sentence that reads wrong

"Strong wrong" counts the worst misses: another emotion at 0.6 or more, a clear wrong face.
"""

from __future__ import annotations

import argparse
import json
import os
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

HERE = Path(__file__).parent
SETS = {"dev": HERE / "situations_dev.json", "held-out": HERE / "situations_heldout.json"}
STRONG = 0.6


def score(model, path: Path, verbose: bool = False) -> dict[str, Counter]:
    """{"right" | "strong_wrong" | "total": Counter per intended emotion} for one set."""
    rows = [(key, text) for key, texts in json.loads(path.read_text(encoding="utf-8")).items()
            if not key.startswith("_") for text in texts]
    counts = {"right": Counter(), "strong_wrong": Counter(), "total": Counter()}
    for (key, text), prediction in zip(rows, model.predict_batch([text for _, text in rows])):
        emotions = prediction.emotions.to_dict()
        read = max(emotions, key=emotions.get)
        counts["total"][key] += 1
        counts["right"][key] += read == key
        counts["strong_wrong"][key] += read not in (key, "neutral") and emotions[read] >= STRONG
        if verbose and read != key:
            print(f"  {key:>9} read as {read:<9} {emotions[read]:.2f}  {text}")
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="list every sentence read wrong")
    args = parser.parse_args(argv)
    from emo_app.text import get_text_model

    model = get_text_model("embedded")
    for name, path in SETS.items():
        counts = score(model, path, args.verbose)
        right, total = sum(counts["right"].values()), sum(counts["total"].values())
        per = ", ".join(f"{k} {counts['right'][k]}/{n}" for k, n in counts["total"].items())
        strong_wrong = sum(counts["strong_wrong"].values())
        print(f"{name}: {right}/{total} read right, {strong_wrong} strong wrong ({per})")


if __name__ == "__main__":
    main()
