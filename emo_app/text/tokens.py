"""Text as the rules read it: lower-case words and clause punctuation, with chat contractions
given back their apostrophe and each phrase of ``cues.json`` "phrases" replaced by the one word it
means ("over the moon": "delighted"). The word lists themselves load here, once, for ``cues``."""

from __future__ import annotations

import json
import re
from pathlib import Path

CUE_WORDS: dict = json.loads(Path(__file__).with_name("cues.json").read_text(encoding="utf-8"))

WORD = re.compile(r"[a-z]+(?:'[a-z]+)?|[.,;:!?()]")
CLAUSE_PUNCT = set(".,;:!?()")
CLAUSE_WORDS = set(CUE_WORDS["clause_words"])

# several words that mean one of the lists' words ("lost in thought": "thinking"), matched as
# whole words; a phrase may also start or end with punctuation ("?!")
_EDGE = r"(?:(?<!\w)|(?!\w))"
_PHRASES = [(re.compile(_EDGE + "(?:" + pattern.replace(" ", r"\s+") + ")" + _EDGE), word)
            for pattern, word in CUE_WORDS["phrases"]]

# "dont" -> "don't": chat-style contractions (cues.json "without_apostrophe")
_APOSTROPHES: dict[str, str] = CUE_WORDS["without_apostrophe"]
_NO_APOSTROPHE = re.compile(r"\b(?:" + "|".join(map(re.escape, _APOSTROPHES)) + r")\b")


def tokens_and_phrases(text: str) -> tuple[list[str], dict[str, str]]:
    """Lower-case words and clause punctuation (hyphens split words: "wide-eyed" -> wide eyed; a
    contraction typed without its apostrophe gets it back; a phrase of cues.json "phrases" becomes
    the word it means), and each such stand-in word -> the phrase as typed ("alas" -> "oh no"), so
    what the rules say about it can quote the user's words."""
    text = text.lower().replace("-", " ").replace("\u2019", "'")
    text = _NO_APOSTROPHE.sub(lambda m: _APOSTROPHES[m.group(0)], text)
    said_as: dict[str, str] = {}

    def stand_in(match: re.Match[str], word: str) -> str:
        replaced = match.expand(word)
        phrase = " ".join(match.group(0).split())
        for new in set(WORD.findall(replaced)) - set(WORD.findall(phrase)):
            said_as.setdefault(new, phrase)
        return replaced

    for pattern, word in _PHRASES:
        text = pattern.sub(lambda match, word=word: stand_in(match, word), text)
    return WORD.findall(text), said_as


def clauses(tokens: list[str]) -> list[tuple[int, int]]:
    """(start, end) token spans between clause punctuation and clause words ("but")."""
    spans, start = [], 0
    for i, tok in enumerate(tokens):
        if tok in CLAUSE_PUNCT or tok in CLAUSE_WORDS:
            if i > start:
                spans.append((start, i))
            start = i + 1
    if start < len(tokens):
        spans.append((start, len(tokens)))
    return spans


def side_neutral_text(text: str) -> str:
    """The text with 'left'/'right' removed, so the sentence encoder sees no side (mirror symmetry)."""
    return re.sub(r"\b(left|right)\b\s*", "", text, flags=re.IGNORECASE)
