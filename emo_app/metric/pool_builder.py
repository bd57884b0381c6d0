"""Builds assets/prompt_pool.csv: face descriptions balanced over Emo3D's 8 emotions and the
common compound expressions (Du, Tao & Martinez 2014), each with 8 intensities.

Composed from hand-written facial cues (brows, eyes, mouth) at three intensities, a varied cast of
people and several sentence shapes, so the pool covers wording, people and intensity evenly. The
generator is seeded: ``python -m emo_app.metric.pool_builder`` rewrites the same file.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from emo_app.emotion.emotions import EMO3D_EMOTIONS

PEOPLE: tuple[tuple[str, str], ...] = (
    ("A young woman", "her"), ("An elderly man", "his"), ("The little girl", "her"),
    ("A teenage boy", "his"), ("A middle-aged nurse", "her"), ("A bearded man", "his"),
    ("The old fisherman", "his"), ("A college student", "their"), ("The bride", "her"),
    ("A tired father", "his"), ("A woman in her thirties", "her"), ("The receptionist", "her"),
    ("A man with grey hair", "his"), ("The child", "their"), ("A soldier", "his"),
    ("A grandmother", "her"), ("The young chef", "his"), ("A girl with freckles", "her"),
    ("The shopkeeper", "his"), ("A tall woman", "her"), ("The office worker", "their"),
    ("A boy with curly hair", "his"), ("The elderly lady", "her"), ("A man in a suit", "his"),
    ("The athlete", "her"), ("A retired teacher", "his"), ("The stranger", "their"),
    ("A woman with glasses", "her"), ("The taxi driver", "his"), ("A young mother", "her"),
)  # fmt: skip

# category -> (main emotions, cues). A cue: (level, adjective, facial description with {pos}).
CUES: dict[str, tuple[tuple[str, ...], tuple[tuple[str, str, str], ...]]] = {
    "neutral": (("neutral",), (
        ("high", "calm", "relaxed brows, a steady gaze and lips resting together"),
        ("high", "composed", "a still expression, eyes open and mouth closed without tension"),
        ("high", "expressionless", "no visible expression, just an even, level gaze"),
        ("high", "attentive", "an attentive look, brows level and mouth relaxed"),
        ("mid", "indifferent", "a blank stare and slack, unmoving lips"),
        ("mid", "pensive", "a thoughtful gaze and a mouth held in a straight line"),
        ("high", "at ease", "soft, unbothered features and a quiet, neutral mouth"),
    )),
    "happiness": (("happiness",), (
        ("low", "quietly pleased", "a faint smile tugging at the corners of {pos} mouth"),
        ("low", "content", "a small, closed-lip smile and relaxed eyes"),
        ("mid", "happy", "a warm smile that lifts {pos} cheeks"),
        ("mid", "cheerful", "smiling eyes and a friendly, open smile"),
        ("high", "overjoyed", "a broad grin, raised cheeks and eyes crinkled with joy"),
        ("high", "delighted", "a beaming smile that shows {pos} teeth"),
        ("high", "elated", "a wide, laughing mouth and sparkling, narrowed eyes"),
    )),
    "surprise": (("surprise",), (
        ("low", "mildly surprised", "slightly raised eyebrows and a curious look"),
        ("mid", "surprised", "raised brows, widened eyes and lips parted"),
        ("mid", "startled", "eyebrows shot up and a small gasp on {pos} lips"),
        ("high", "astonished", "wide-open eyes, high arched brows and a dropped jaw"),
        ("high", "stunned", "a gaping mouth and eyes as round as saucers"),
        ("low", "intrigued", "lifted brows and eyes opened a little wider than usual"),
    )),
    "sadness": (("sadness",), (
        ("low", "a little downcast", "a slight droop at the corners of {pos} mouth"),
        ("low", "wistful", "a faraway look and softly lowered eyelids"),
        ("mid", "sad", "inner brows drawn upward and a downturned mouth"),
        ("mid", "gloomy", "heavy eyelids and lips pressed into a frown"),
        ("high", "heartbroken", "teary eyes, trembling lips and brows pinched upward"),
        ("high", "in despair", "a crumpled face, a deep frown and red, watery eyes"),
    )),
    "anger": (("anger",), (
        ("low", "irritated", "slightly lowered brows and tightened lips"),
        ("low", "annoyed", "a small frown and a hard, narrow look"),
        ("mid", "angry", "furrowed brows, a glaring stare and a clenched jaw"),
        ("mid", "cross", "brows knitted together and lips pressed firmly shut"),
        ("high", "furious", "brows slammed down, flared nostrils and bared teeth"),
        ("high", "enraged", "a red face, a fierce glare and a mouth open in a shout"),
    )),
    "disgust": (("disgust",), (
        ("low", "slightly put off", "a faint wrinkle of the nose"),
        ("mid", "disgusted", "a wrinkled nose and an upper lip pulled up"),
        ("mid", "repulsed", "narrowed eyes, a curled lip and a turned-away face"),
        ("high", "revolted", "a deeply wrinkled nose, raised upper lip and squinting eyes"),
        ("high", "sickened", "a grimace of revulsion with the tongue almost showing"),
        ("low", "distasteful", "a small sneer and a slight pull of the upper lip"),
    )),
    "fear": (("fear",), (
        ("low", "uneasy", "slightly raised, tense brows and darting eyes"),
        ("mid", "afraid", "wide eyes, raised brows pulled together and lips stretched back"),
        ("mid", "anxious", "a tense mouth and worried, widened eyes"),
        ("high", "terrified", "eyes stretched wide, brows high and a mouth open in a silent scream"),
        ("high", "panicked", "a pale face, staring eyes and lips pulled tight sideways"),
        ("low", "nervous", "a tight little mouth and eyes a bit too wide"),
    )),
    "contempt": (("contempt",), (
        ("low", "faintly dismissive", "one corner of {pos} mouth pulled slightly back"),
        ("mid", "contemptuous", "a one-sided smirk and a cool, level stare"),
        ("mid", "scornful", "a raised lip on one side and half-lowered eyelids"),
        ("high", "disdainful", "a pronounced sneer on one side and chin lifted high"),
        ("low", "unimpressed", "a slight asymmetrical smirk"),
        ("high", "openly contemptuous", "a lopsided sneer and eyes looking down {pos} nose"),
    )),
    "happily surprised": (("happiness", "surprise"), (
        ("mid", "happily surprised", "raised eyebrows, wide eyes and a big open smile"),
        ("high", "thrilled", "eyes wide with delight and a mouth open in a joyful gasp"),
        ("low", "pleasantly surprised", "lifted brows and a small, growing smile"),
    )),
    "happily disgusted": (("happiness", "disgust"), (
        ("mid", "amused but grossed out", "a wrinkled nose together with a reluctant grin"),
        ("low", "playfully disgusted", "a crinkled nose and a teasing half-smile"),
        ("high", "laughing in disgust", "a wide laugh while the nose scrunches up"),
    )),
    "sadly fearful": (("sadness", "fear"), (
        ("mid", "frightened and sad", "brows pulled up and together, and wide, watery eyes"),
        ("high", "desperate", "tearful, staring eyes and a trembling, stretched mouth"),
        ("low", "worried", "slightly raised inner brows and an unsure, tight mouth"),
    )),
    "sadly angry": (("sadness", "anger"), (
        ("mid", "hurt and angry", "a frown, lowered brows and tearful eyes"),
        ("high", "bitterly upset", "a clenched jaw, red eyes and a deep scowl"),
        ("low", "sullen", "a sulky pout and slightly knitted brows"),
    )),
    "sadly surprised": (("sadness", "surprise"), (
        ("mid", "shocked and saddened", "raised brows, parted lips and glistening eyes"),
        ("high", "devastated by the news", "wide, tearful eyes and a mouth fallen open"),
        ("low", "disappointed", "slightly raised brows and corners of the mouth sinking"),
    )),
    "sadly disgusted": (("sadness", "disgust"), (
        ("mid", "dismayed", "a wrinkled nose and a sorrowful, downturned mouth"),
        ("high", "deeply distressed", "a grimace of disgust and eyes full of tears"),
        ("low", "let down", "a faint sneer and drooping eyelids"),
    )),
    "fearfully angry": (("fear", "anger"), (
        ("mid", "defensive", "wide eyes under lowered brows and bared teeth"),
        ("high", "cornered and furious", "a fierce, frightened stare and a snarling mouth"),
        ("low", "tense", "tight lips and wary, narrowed eyes"),
    )),
    "fearfully surprised": (("fear", "surprise"), (
        ("mid", "alarmed", "eyes flung wide, brows shooting up and mouth agape"),
        ("high", "horrified", "a gaping mouth, staring eyes and raised, tense brows"),
        ("low", "startled and unsure", "raised brows and slightly widened, nervous eyes"),
    )),
    "fearfully disgusted": (("fear", "disgust"), (
        ("mid", "repelled and scared", "a wrinkled nose and wide, fearful eyes"),
        ("high", "horrified and sickened", "a curled lip, recoiling head and terrified eyes"),
        ("low", "squeamish", "a slight wince and a wrinkle of the nose"),
    )),
    "angrily surprised": (("anger", "surprise"), (
        ("mid", "outraged", "wide eyes under a sharp frown and an open mouth"),
        ("high", "indignant", "flared nostrils, a sharp frown and eyes wide with anger"),
        ("low", "taken aback and irritated", "a quick frown and slightly lifted brows"),
    )),
    "angrily disgusted": (("anger", "disgust"), (
        ("mid", "appalled", "a scowl, wrinkled nose and raised upper lip"),
        ("high", "full of hatred", "a vicious sneer, lowered brows and a hard glare"),
        ("low", "resentful", "a slight scowl and a curl of the lip"),
    )),
    "disgustedly surprised": (("disgust", "surprise"), (
        ("mid", "shocked and disgusted", "raised brows, wide eyes and a wrinkled nose"),
        ("high", "aghast", "a dropped jaw, a curled upper lip and wide eyes"),
        ("low", "taken aback", "lifted brows and a small grimace"),
    )),
    "contemptuous anger": (("anger", "contempt"), (
        ("mid", "coldly angry", "a one-sided sneer and lowered, hard brows"),
        ("high", "seething with scorn", "a sharp glare and a lip raised on one side"),
        ("low", "condescending", "a small smirk and slightly narrowed eyes"),
    )),
    "smug": (("happiness", "contempt"), (
        ("mid", "smug", "a self-satisfied half-smile pulled to one side"),
        ("high", "gloating", "a wide, lopsided grin and a superior, heavy-lidded look"),
        ("low", "quietly self-satisfied", "a small one-sided smile and a raised chin"),
    )),
    "contemptuous disgust": (("disgust", "contempt"), (
        ("mid", "disdainful and repelled", "a wrinkled nose and a lip curled on one side"),
        ("high", "utterly scornful", "a deep sneer, a wrinkled nose and eyes looking down on everyone"),
        ("low", "sniffy", "a faint nose wrinkle and a slight one-sided lip raise"),
    )),
}  # fmt: skip

FRAMES: tuple[str, ...] = (
    "{Subject} looks {adj}, with {cue}.",
    "{Subject}'s face shows {cue}.",
    "{Subject} has {cue}.",
    "With {cue}, {subject} seems {adj}.",
    "{Subject} appears {adj}: {cue}.",
    "The face of {subject} is {adj}, {cue_with}.",
    "{Subject} stands there {adj}, {cue_with}.",
    "One glance at {subject} says {pron_subj} {be} {adj}: {cue}.",
)

SINGLE_PER_CATEGORY = 30
COMPOUND_PER_CATEGORY = 13
_LEVEL_MAIN = {"low": (0.3, 0.4), "mid": (0.6, 0.7), "high": (0.9, 1.0)}
_LEVEL_PAIR = {
    "low": ((0.3, 0.4), (0.2, 0.3)), "mid": ((0.6, 0.7), (0.4, 0.5)), "high": ((0.8, 0.9), (0.6, 0.7)),
}  # fmt: skip
_NATURAL_TRACE = {
    "fear": "surprise", "surprise": "fear", "anger": "disgust", "disgust": "anger",
    "contempt": "anger", "sadness": "neutral", "happiness": "surprise",
}  # fmt: skip
_PRONOUNS = {"her": ("she", "is"), "his": ("he", "is"), "their": ("they", "are")}


def _intensities(category: str, emotions: tuple[str, ...], level: str, rng: random.Random) -> np.ndarray:
    values = np.zeros(8)
    index = {e: i for i, e in enumerate(EMO3D_EMOTIONS)}
    if category == "neutral":
        values[0] = rng.choice((1.0, 1.0, 0.9, 0.8)) if level == "high" else rng.choice((0.7, 0.8))
        if values[0] < 1.0:
            values[index[rng.choice(("sadness", "contempt", "surprise"))]] = round(1.0 - values[0], 1) / 2
        return np.round(values, 1)
    if len(emotions) == 1:
        main = rng.choice(_LEVEL_MAIN[level])
        values[index[emotions[0]]] = main
        values[0] = round(max(0.0, 1.0 - main), 1) if level != "high" else 0.0
        trace = _NATURAL_TRACE.get(emotions[0])
        if trace and rng.random() < 0.35:
            values[index[trace]] += 0.1 if level != "high" else 0.2
    else:
        first, second = _LEVEL_PAIR[level]
        values[index[emotions[0]]] = rng.choice(first)
        values[index[emotions[1]]] = rng.choice(second)
        if level == "low":
            values[0] = 0.3
    return np.round(np.clip(values, 0.0, 1.0), 1)


def _sentence(frame: str, person: tuple[str, str], adj: str, cue: str) -> str:
    subject, pos = person
    pron, be = _PRONOUNS[pos]
    cue = cue.format(pos=pos)
    lower = subject[0].lower() + subject[1:]
    if "{Subject}'s face" in frame and (" with " in subject or " in " in subject):
        frame = frame.replace("{Subject}'s face", "The face of {subject}")
    text = frame.format(
        Subject=subject, subject=lower, adj=adj, cue=cue, cue_with=f"with {cue}", pron_subj=pron, be=be
    )
    return text[0].upper() + text[1:]


def build_pool(seed: int = 7) -> list[dict[str, object]]:
    """Rows (id, category, text, 8 intensities), every text distinct."""
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    seen: set[str] = set()
    for category, (emotions, cues) in CUES.items():
        wanted = SINGLE_PER_CATEGORY if len(emotions) == 1 else COMPOUND_PER_CATEGORY
        made = 0
        attempt = 0
        while made < wanted:
            level, adj, cue = cues[attempt % len(cues)]  # cycle cues so each is used evenly
            attempt += 1
            text = _sentence(rng.choice(FRAMES), rng.choice(PEOPLE), adj, cue)
            if text in seen:
                continue
            seen.add(text)
            values = _intensities(category, emotions, level, rng)
            row = {"id": f"p{len(rows):04d}", "category": category, "text": text}
            rows.append({**row, **dict(zip(EMO3D_EMOTIONS, values))})
            made += 1
    return rows


def write_shipped_pool(path: Path | None = None, seed: int = 7) -> Path:
    import csv

    from emo_app.metric.pool import SHIPPED_POOL

    path = path or SHIPPED_POOL
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "category", "text", *EMO3D_EMOTIONS])
        for row in build_pool(seed):
            numbers = [f"{float(row[e]):.1f}" for e in EMO3D_EMOTIONS]
            writer.writerow([row["id"], row["category"], row["text"], *numbers])
    return path


if __name__ == "__main__":
    print(write_shipped_pool())
