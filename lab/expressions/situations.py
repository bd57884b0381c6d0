"""Does Describe read a situation the way people would? Every sentence of
``situations_dev.json`` (the constants of the embedded model's situation reading were chosen
on it) and ``situations_heldout.json`` (scored once, afterwards) goes through the embedded text
model; a sentence reads right when its strongest emotion is the one it was written for. Text
only (no renders), a few seconds on 2 cores:

    python -m lab.expressions.situations        # per-set and per-emotion counts
    python -m lab.expressions.situations -v     # and every sentence that reads wrong

"Strong wrong" counts the worst misses: another emotion at 0.6 or more, a clear wrong face.
"Shown" counts the neutral sentences that show a feeling anyway (one at 0.3 or more). The flat
sets (``flat_dev.json``, ``flat_heldout.json``: looks, everyday actions, NPC lines, camera
directions, made-up words) are all neutral: a mundane sentence should leave the face at rest.
The dialogue sets (``dialogue_dev.json``, ``dialogue_heldout.json``) are spoken lines, 10 per
emotion, filed under the face the speaker would make ("Get out of my shop!" is anger).
``barks.json`` are short barks and chat lines ("Run!", "lets gooo"), 12 per emotion.
``everyday_dev.json``: pets and children at play, achievements, mishaps (a dev set).
"""

from __future__ import annotations

import argparse
import json
import os
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

HERE = Path(__file__).parent
SETS = {
    "dev": HERE / "situations_dev.json",
    "held-out": HERE / "situations_heldout.json",
    "flat dev": HERE / "flat_dev.json",
    "flat held-out": HERE / "flat_heldout.json",
    "dialogue dev": HERE / "dialogue_dev.json",
    "dialogue held-out": HERE / "dialogue_heldout.json",
    "barks": HERE / "barks.json",
    "everyday dev": HERE / "everyday_dev.json",
}
STRONG = 0.6
SHOWN = 0.3  # a feeling at this strength is visible on the face


def score(model, path: Path, verbose: bool = False) -> dict[str, Counter]:
    """{"right" | "strong_wrong" | "shown" | "total": Counter per intended emotion} for one set."""
    rows = [(key, text) for key, texts in json.loads(path.read_text(encoding="utf-8")).items()
            if not key.startswith("_") for text in texts]
    counts = {"right": Counter(), "strong_wrong": Counter(), "shown": Counter(), "total": Counter()}
    for (key, text), prediction in zip(rows, model.predict_batch([text for _, text in rows])):
        emotions = prediction.emotions.to_dict()
        read = max(emotions, key=emotions.get)
        counts["total"][key] += 1
        counts["right"][key] += read == key
        counts["strong_wrong"][key] += read not in (key, "neutral") and emotions[read] >= STRONG
        feeling = max((e for e in emotions if e != "neutral"), key=emotions.get)
        shown = key == "neutral" and emotions[feeling] >= SHOWN
        counts["shown"][key] += shown
        if verbose and (read != key or shown):
            read = feeling if shown else read
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
        strong_wrong, shown = sum(counts["strong_wrong"].values()), counts["shown"]["neutral"]
        print(f"{name}: {right}/{total} read right, {strong_wrong} strong wrong, "
              f"{shown}/{counts['total']['neutral']} neutral show a feeling ({per})")


if __name__ == "__main__":
    main()
