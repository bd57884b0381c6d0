"""How a description turns, nods or tilts the head ("head bowed", "chin up", "tilts her head
to the left"): the words of ``words/head_poses.json`` read into a ``HeadPose``, with a note
quoting each phrase that moved the head. A raised chin that still looks at you (proud,
defiant) turns the eyes down to keep the viewer (``keep_eye_contact``)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from emo_app.blendshapes import Blendshapes
from emo_app.blendshapes.pose import HeadPose
from emo_app.face.rig_shapes import GAZE_VERTICAL_DEG
from emo_app.text.tokens import CLAUSE_PUNCT, CLAUSE_WORDS, CUE_WORDS, WORD

POSES_PATH = Path(__file__).resolve().parent / "words" / "head_poses.json"
_NEGATORS = set(CUE_WORDS["negators"])


@dataclass(frozen=True)
class _PoseWords:
    pattern: re.Pattern[str]
    angles: dict[str, float]
    sided: bool
    eyes_on_viewer: bool


@dataclass
class PoseReading:
    """What the words do to the head: its ``pose``, a note per phrase, and whether the eyes
    stay on the viewer under a raised chin."""

    pose: HeadPose
    notes: list[str]
    eyes_on_viewer: bool = False


@lru_cache(maxsize=1)
def _table() -> tuple[list[_PoseWords], int, int]:
    data = json.loads(POSES_PATH.read_text(encoding="utf-8"))
    rows = [_PoseWords(re.compile(rf"(?<![a-z'])(?:{row['words']})(?![a-z'])"), dict(row["turn"]),
                       bool(row.get("sided")), bool(row.get("eyes_on_viewer"))) for row in data["poses"]]
    return rows, int(data["side_window"]), int(data["negation_window"])


def _clause_words(tokens: list[str]) -> list[str]:
    """``tokens`` up to the first clause break, as ``tokens.clauses`` breaks them."""
    words = []
    for token in tokens:
        if token in CLAUSE_PUNCT or token in CLAUSE_WORDS:
            break
        words.append(token)
    return words


def _side(matched: str, after: str, window: int) -> int:
    """+1 for 'left', -1 for 'right' in the matched words ("over his left shoulder") or among the
    next ``window`` words of the clause after them ("tilts her head to the left"), else 0."""
    for word in WORD.findall(matched) + _clause_words(WORD.findall(after))[:window]:
        if word in ("left", "leftward", "leftwards"):
            return 1
        if word in ("right", "rightward", "rightwards"):
            return -1
    return 0


def _negated(before: str, window: int) -> bool:
    """A negator among the last ``window`` words of the clause before the match."""
    clause = _clause_words(WORD.findall(before)[::-1])
    return any(word in _NEGATORS for word in clause[:window])


def read_head_pose(text: str) -> PoseReading:
    """The head pose the text asks for (at rest when it names none) and one note per phrase
    that moved it ("'head bowed': chin down 22°"). Several words for the same movement
    move the head once, as far as the strongest of them."""
    rows, side_window, negation_window = _table()
    lowered = text.lower().replace("\u2019", "'").replace("-", " ")
    # per axis the largest turn each way: "head bowed, eyes on the floor" bows once, not twice
    most: dict[tuple[str, bool], float] = {}
    notes: list[str] = []
    taken: list[tuple[int, int]] = []
    eyes_on_viewer = False
    for row in rows:
        for match in row.pattern.finditer(lowered):
            start, end = match.span()
            if any(start < e and s < end for s, e in taken) or _negated(lowered[:start], negation_window):
                continue
            taken.append((start, end))
            eyes_on_viewer = eyes_on_viewer or row.eyes_on_viewer
            side = _side(match.group(0), lowered[end:], side_window) if row.sided else 0
            angles = {axis: (abs(value) * side if side else value) for axis, value in row.angles.items()}
            for axis, value in angles.items():
                key = (axis, value > 0)
                most[key] = value if abs(value) > abs(most.get(key, 0.0)) else most[key]
            said = HeadPose.clipped(**angles).describe()
            notes.append(f"'{' '.join(match.group(0).split())}': {said}")
            break  # each kind of movement once
    totals = {axis: most.get((axis, True), 0.0) + most.get((axis, False), 0.0)
              for axis in ("yaw", "pitch", "roll")}
    return PoseReading(HeadPose.clipped(**totals), notes, eyes_on_viewer)


def keep_eye_contact(shapes: Blendshapes, reading: PoseReading) -> tuple[Blendshapes, dict[str, float]]:
    """``shapes`` with the eyes turned down as far as the chin is raised, so a proud or defiant
    face still looks at the viewer, and the weights that changed; unchanged when the words did
    not ask for it or already turn the eyes (any eyeLook shape at 0.1 or more)."""
    named = shapes.to_dict()
    if not reading.eyes_on_viewer or reading.pose.pitch <= 0 or max(
            value for name, value in named.items() if name.startswith("eyeLook")) >= 0.1:
        return shapes, {}
    down = round(min(1.0, reading.pose.pitch / GAZE_VERTICAL_DEG), 4)
    changed = {f"eyeLookDown{side}": down for side in ("Left", "Right")}
    return Blendshapes.from_dict({**named, **changed}), changed
