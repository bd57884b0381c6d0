"""Left/right mirroring of a description, for the baselines' mirror augmentation.

Only the words that are directions swap: "her left eyebrow", "to the right", "glances left",
"leftwards"; "She left the room", "the right answer" and "right now" stay. Case is kept
("LEFT" -> "RIGHT", "Left" -> "Right"). The word lists are data
(``words/mirror_directions.json``).
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

_WORDS_FILE = Path(__file__).with_name("words") / "mirror_directions.json"
_TOKEN = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|[^\sA-Za-z]")
_SIDE = re.compile(r"^(left|right)(wards?|most)?$", re.IGNORECASE)


@functools.cache
def _lists() -> dict[str, frozenset[str]]:
    data = json.loads(_WORDS_FILE.read_text(encoding="utf-8"))
    return {key: frozenset(value) for key, value in data.items() if not key.startswith("_")}


def _is_direction(words: list[str], i: int) -> bool:
    """Whether words[i] ('left'/'right', lower case) is a direction in its context."""
    lists = _lists()
    before = words[i - 1] if i > 0 else ""
    after = words[i + 1] if i + 1 < len(words) else ""
    after_next = words[i + 2] if i + 2 < len(words) else ""
    if _SIDE.match(words[i]).group(2):  # leftward(s), rightmost
        return True
    if after == "-":  # left-hand, right-sided
        after = after_next
    if after in lists["sided_nouns"]:
        return True
    if after in {"and", "or"} and _SIDE.match(after_next):  # "left and right eyes"
        return True
    ends_phrase = not after.isalpha() or after in lists["after_determiner"]
    if before in lists["determiners"] and ends_phrase:  # "to the left.", "the right of her face"
        return True
    if before in lists["motion_words"] and after not in lists["not_directions_after"]:
        return True  # "glances left", "turned right"
    if before in {"and", "or"} and i >= 2 and _SIDE.match(words[i - 2]):  # "left and right"
        return _is_direction(words, i - 2)
    return False


def _swap(word: str) -> str:
    match = _SIDE.match(word)
    new = ("right" if match.group(1).lower() == "left" else "left") + (match.group(2) or "").lower()
    if word.isupper():
        return new.upper()
    return new.capitalize() if word[0].isupper() else new


def mirror_text(text: str) -> str:
    """``text`` with its left/right directions swapped (module doc); everything else unchanged."""
    spans = [(m.start(), m.end(), m.group(0)) for m in _TOKEN.finditer(text)]
    words = [token.lower() for _, _, token in spans]
    out, last = [], 0
    for i, (start, end, token) in enumerate(spans):
        if _SIDE.match(token) and _is_direction(words, i):
            out.append(text[last:start] + _swap(token))
            last = end
    return "".join(out) + text[last:]
