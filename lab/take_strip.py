"""A take as a filmstrip for the README: frames of *Play it* for a text whose feeling changes,
each labelled with its time and what the FER2013 judge reads on it (an outside check that the
take shows the earlier feeling first, then the last).

    python -m lab.take_strip            # rewrites docs/take_strip.png and prints FER's reading
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TEXT = "Shocked at first, then delighted."
FRAMES = 10
SIZE = 192  # each frame in the strip; FER reads the 512 px frames, as in docs/expressions.md


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", default=TEXT)
    parser.add_argument("--out", default=str(ROOT / "docs" / "take_strip.png"))
    args = parser.parse_args(argv)
    from PIL import Image

    from emo_app.generation.walks import image_grid
    from emo_app.metric.judges import FER_CLASSES, get_fer_judge
    from emo_app.services_take import take_of_text

    _, result = take_of_text(args.text, size=512)
    picked = np.linspace(0, len(result.frames) - 1, FRAMES).round().astype(int)
    frames = [result.frames[i] for i in picked]
    read = get_fer_judge().classify(frames)
    labels = []
    for index, probabilities in zip(picked, read, strict=True):
        seen = FER_CLASSES[int(np.argmax(probabilities))]
        labels.append(f"{index / result.timing.fps:.1f} s: {seen}")
        print(f"{index / result.timing.fps:5.2f} s  FER {seen} ({probabilities.max():.0%})")
    small = [Image.fromarray(frame).resize((SIZE, SIZE), Image.LANCZOS) for frame in frames]
    strip = image_grid(small, labels, columns=FRAMES)
    strip.save(args.out, optimize=True)
    print(f"wrote {args.out} ({result.expressions} expressions, {len(result.frames)} frames)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
