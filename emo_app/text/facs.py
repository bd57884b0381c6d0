"""The FACS prior: emotion intensities -> action units (AUs) -> ARKit blendshapes.

Why: a description rarely says what every part of the face does. The prior fills the regions
the text leaves out with the AUs psychologists associate with each emotion, and it is
interpretable: every shape can name the emotion and the AU that produced it.

Emotion -> AU prototypes: the compound-expression prototypes of Du, Tao and Martinez (2014,
PNAS), as listed in the C2A2 reference (Happy 12,25; Sad 4,15; Fearful 1,4,20,25; Angry 4,7,24;
Surprised 1,2,25,26; Disgusted 9,10,17; and the 13 compounds), completed with Ekman's classic
basic-emotion AUs (AU6 for happiness, AU1 for sadness, AU5 for surprise and fear), then
calibrated on the default full head so each basic emotion reads (lab/expressions/evaluate.py,
docs/expressions.md). The tables are data: ``data/facs_prior.json`` (weights, the onset below
which an emotion shows nothing, the compounds, and why). Contempt is Ekman's unilateral AU14
(+ a weak unilateral AU12), "R14": on the subject's RIGHT.

Compounds: when two emotions with a published compound prototype are both present, the shared
part min(i_a, i_b) is expressed with the compound's AUs ("happily surprised" -> 1, 2, 12, 25)
and only the remainders with the basic prototypes, so blends look like the compound faces
rather than two faces overlaid. A compound may carry a fourth field, ``{AU: weight}``: AUs it
adds to Du et al.'s list, or weights that replace the uniform one, so that each part's sign
still shows on this head (sadly angry keeps a little inner-brow raise under the scowl).

AU -> ARKit table (``AU_TO_ARKIT``; weights are how much of the shape one unit of the AU drives;
written from the FACS descriptions and Apple's ARKit blendshape reference images):

| AU | FACS name | ARKit shapes |
|---|---|---|
| 1 | inner brow raiser | browInnerUp 1.0 |
| 2 | outer brow raiser | browOuterUpL/R 1.0 |
| 4 | brow lowerer | browDownL/R 1.0 |
| 5 | upper lid raiser | eyeWideL/R 1.0 |
| 6 | cheek raiser | cheekSquintL/R 1.0, eyeSquintL/R 0.4 |
| 7 | lid tightener | eyeSquintL/R 1.0 |
| 9 | nose wrinkler | noseSneerL/R 1.0, browDownL/R 0.3 |
| 10 | upper lip raiser | mouthUpperUpL/R 1.0 |
| 12 | lip corner puller | mouthSmileL/R 1.0 |
| 13 | cheek puffer | cheekPuff 1.0 |
| 14 | dimpler | mouthDimpleL/R 1.0 |
| 15 | lip corner depressor | mouthFrownL/R 1.0 |
| 16 | lower lip depressor | mouthLowerDownL/R 1.0 |
| 17 | chin raiser | mouthShrugLower 1.0, mouthShrugUpper 0.3 |
| 18 | lip pucker | mouthPucker 1.0 |
| 20 | lip stretcher | mouthStretchL/R 1.0 |
| 22 | lip funneler | mouthFunnel 1.0 |
| 23 | lip tightener | mouthPressL/R 0.5, mouthRollLower 0.2 |
| 24 | lip pressor | mouthPressL/R 1.0 |
| 25 | lips part | mouthLowerDownL/R 0.35, jawOpen 0.1 |
| 26 | jaw drop | jawOpen 0.6 |
| 27 | mouth stretch | jawOpen 1.0 |
| 28 | lip suck | mouthRollLower 1.0, mouthRollUpper 0.6 |
| 43 | eyes closed | eyeBlinkL/R 1.0 |
| 64 | eyes down | eyeLookDownL/R 1.0 |

A unilateral AU is written with a side prefix: "R14" = AU14 on the subject's right only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emo_app.blendshapes.schema import ARKIT_NAMES, INDEX, Blendshapes
from emo_app.emotion.emotions import EMO3D_EMOTIONS, EmotionIntensities
from emo_app.emotion.space import EmotionPoint

_B = ("Left", "Right")


def _both(base: str, weight: float) -> dict[str, float]:
    return {base + side: weight for side in _B}


AU_TO_ARKIT: dict[int, dict[str, float]] = {
    1: {"browInnerUp": 1.0},
    2: _both("browOuterUp", 1.0),
    4: _both("browDown", 1.0),
    5: _both("eyeWide", 1.0),
    6: {**_both("cheekSquint", 1.0), **_both("eyeSquint", 0.4)},
    7: _both("eyeSquint", 1.0),
    9: {**_both("noseSneer", 1.0), **_both("browDown", 0.3)},
    10: _both("mouthUpperUp", 1.0),
    12: _both("mouthSmile", 1.0),
    13: {"cheekPuff": 1.0},
    14: _both("mouthDimple", 1.0),
    15: _both("mouthFrown", 1.0),
    16: _both("mouthLowerDown", 1.0),
    17: {"mouthShrugLower": 1.0, "mouthShrugUpper": 0.3},
    18: {"mouthPucker": 1.0},
    20: _both("mouthStretch", 1.0),
    22: {"mouthFunnel": 1.0},
    23: {**_both("mouthPress", 0.5), "mouthRollLower": 0.2},
    24: _both("mouthPress", 1.0),
    25: {**_both("mouthLowerDown", 0.35), "jawOpen": 0.1},
    26: {"jawOpen": 0.6},
    27: {"jawOpen": 1.0},
    28: {"mouthRollLower": 1.0, "mouthRollUpper": 0.6},
    43: _both("eyeBlink", 1.0),
    64: _both("eyeLookDown", 1.0),
}

PRIOR_FILE = Path(__file__).resolve().parent / "data" / "facs_prior.json"


def _load_prior_tables(path: Path = PRIOR_FILE):
    """The emotion and compound AU tables, the onset and the compound threshold (the file says why)."""
    data = json.loads(path.read_text())
    emotions = {e: {str(c): float(w) for c, w in aus.items()} for e, aus in data["emotions"].items()}
    weight, lips = float(data["compound_weight"]), float(data["compound_lips_part"])
    compounds = {}
    for name, pair, aus, *tuning in data["compounds"]:
        table = {str(au): (lips if au == 25 else weight) for au in aus}
        table.update({str(au): float(w) for au, w in (tuning[0] if tuning else {}).items()})
        compounds[frozenset(pair)] = (name, table)
    return emotions, compounds, float(data["onset"]), float(data["dominance"]), float(data["min_compound"])


# Emotion -> {AU code: weight}; codes are "12" (both sides) or "R14" / "L14" (one side).
# Compound prototypes (Du et al. 2014) keyed by the pair of Emo3D emotions.
EMOTION_AUS, COMPOUND_AUS, ONSET, DOMINANCE, MIN_COMPOUND = _load_prior_tables()


def au_shapes(code: str) -> dict[str, float]:
    """ARKit shapes of one AU code ("12", "R14", "L2"); a side prefix keeps that side only."""
    side = {"R": "Right", "L": "Left"}.get(code[0])
    number = int(code[1:] if side else code)
    shapes = AU_TO_ARKIT[number]
    if side is None:
        return dict(shapes)
    return {n: w for n, w in shapes.items() if not n.endswith(("Left", "Right")) or n.endswith(side)}


def shown(level: float) -> float:
    """How much of an emotion's face shows at ``level``: nothing up to ``ONSET``, then linear to 1."""
    return max(0.0, (level - ONSET) / (1.0 - ONSET))


@dataclass
class PriorResult:
    """The prior's 52 values plus, per shape, which (emotion, AU) pairs produced it."""

    values: np.ndarray
    explanation: dict[str, list[tuple[str, float]]]
    compounds: list[tuple[str, float]]


def emotion_prior(intensities: np.ndarray, one_sided: str = "Right") -> PriorResult:
    """8 intensities (Emo3D order) -> 52 shape values; contributions combine by max per shape.
    ``one_sided`` is the side of unilateral AUs (contempt's R14; "Left" mirrors them to L14)."""
    levels = {e: float(v) for e, v in zip(EMO3D_EMOTIONS, intensities)}
    residual = dict(levels)
    compounds: list[tuple[str, float, dict[str, float], str]] = []
    pairs = sorted(COMPOUND_AUS.items(), key=lambda item: -min(levels[e] for e in item[0]))
    for pair, (name, aus) in pairs:
        a, b = sorted(pair)
        shared = min(residual[a], residual[b])
        if shared < MIN_COMPOUND:
            continue
        compounds.append((name, shared, aus, f"{a}+{b}"))
        residual[a] -= shared
        residual[b] -= shared
    values = np.zeros(len(ARKIT_NAMES))
    explanation: dict[str, list[tuple[str, float]]] = {}

    def add(source: str, strength: float, aus: dict[str, float]) -> None:
        for code, au_weight in aus.items():
            for shape, shape_weight in au_shapes(code).items():
                contribution = float(min(1.0, strength * au_weight * shape_weight))
                if contribution < 1e-3:
                    continue
                explanation.setdefault(shape, []).append((f"emotion: {source} via AU{code}", contribution))
                i = INDEX[shape]
                values[i] = max(values[i], contribution)

    strongest = max((v for e, v in levels.items() if e != "neutral"), default=0.0)
    for emotion, level in residual.items():
        if emotion != "neutral" and level > 1e-3:
            aus = EMOTION_AUS[emotion]
            if one_sided == "Left":
                aus = {("L" + c[1:] if c.startswith("R") else c): w for c, w in aus.items()}
            # a weaker emotion shows in proportion to how near it comes to the strongest
            add(emotion, shown(level) * (levels[emotion] / strongest) ** DOMINANCE, aus)
    for name, shared, aus, label in compounds:
        add(f"{label} (compound '{name}')", shown(shared), aus)
    for rows in explanation.values():
        rows.sort(key=lambda r: -r[1])
    return PriorResult(values, explanation, [(name, shared) for name, shared, _, _ in compounds])


def shapes_for_point(point: EmotionPoint) -> Blendshapes:
    """A C2A2 point's face: point -> 8 Emo3D intensities -> the prior's 52 weights. The sphere,
    the walks, the generator's face column and the study all draw points this one way."""
    return Blendshapes.from_array(emotion_prior(EmotionIntensities.from_point(point).values).values)
