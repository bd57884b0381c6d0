"""Misspelt feeling and face words, corrected ("hapy" -> "happy", "furius" -> "furious"): a
typo left a word no rule reads, and MiniLM drew such texts as contempt (1.0 for "He is angy.").

A word is corrected only when the English dictionary of ``pyspellchecker`` (MIT) does not know
it, and only to one of the dictionary's words that a text rule reads (``cues.reads_word``):
one edit away (the most frequent such word), or for a word of ``LONG_WORD`` letters or more the
closest by ``difflib`` at ``LONG_WORD_CUTOFF`` within a letter of its length ("greatful",
"dissapointed"). Names and slang the rules do not read ("Zoe", "TikTok") stay as typed; a
short made-up word is no typo, nor is a rare long one ("repotting" is no "rotting"). A word
stretched for emphasis, as in chat ("sooo happyyy", "yesss"), is read as the word it stretches.
"""

from __future__ import annotations

import difflib
import functools
import re
import threading
from typing import Any

from spellchecker import SpellChecker

from emo_app.text.cues import reads_word

MIN_LENGTH = 4  # "sda" has too many near words to guess from
MAX_LENGTH = 20
LONG_WORD = 7
LONG_WORD_CUTOFF = 0.85
_WORD = re.compile(r"[A-Za-z]+")
_LOCK = threading.Lock()


@functools.cache
def _dictionary() -> tuple[SpellChecker, tuple[str, ...]]:
    """The English dictionary (0.1 s to load) and its words the rules read, sorted (0.3 s to
    find; difflib's ties go to the first)."""
    checker = SpellChecker(distance=1)
    readable = sorted(w for w in checker.word_frequency.dictionary
                      if w.isalpha() and len(w) >= MIN_LENGTH - 1 and reads_word(w))
    return checker, tuple(readable)


_ELONGATED = re.compile(r"(\w)\1{2,}")


def _unstretched(word: str, checker: SpellChecker) -> str | None:
    """The dictionary word a stretched one ("sooo", "happyyy", "yesss") stands for: each run of
    three or more letters cut to two, then to one; None if neither is a word."""
    if not _ELONGATED.search(word):
        return None
    for keep in (r"\1\1", r"\1"):
        short = _ELONGATED.sub(keep, word)
        if short in checker or reads_word(short):
            return short
    return None


@functools.lru_cache(maxsize=4096)
def correction(word: str) -> str | None:
    """The word a rule reads that lower-case ``word`` is a typo of, the word a stretched one
    stands for ("happyyy"), or None."""
    with _LOCK:  # functools.cache does not stop two threads building the dictionary at once
        checker, readable = _dictionary()
    if word in checker or reads_word(word):
        return None
    unstretched = _unstretched(word, checker)
    if unstretched is not None:
        return unstretched
    near = [w for w in checker.edit_distance_1(word) if w in checker and reads_word(w)]
    if near:
        return max(near, key=lambda w: (checker.word_usage_frequency(w), w))
    if len(word) >= LONG_WORD:  # a typo keeps the length within a letter ("repotting" is no "rotting")
        close = difflib.get_close_matches(word, readable, n=3, cutoff=LONG_WORD_CUTOFF)
        return next((w for w in close if abs(len(w) - len(word)) <= 1), None)
    return None


def corrected_spelling(text: Any) -> tuple[Any, list[tuple[str, str]]]:
    """``text`` with its misspelt feeling and face words corrected, and the (typed, read) pairs;
    any other value comes back unchanged (the validator names what is wrong)."""
    if not isinstance(text, str):
        return text, []
    fixes: dict[str, str] = {}
    for match in _WORD.finditer(text):
        word = match.group(0).lower()
        if MIN_LENGTH <= len(word) <= MAX_LENGTH and word not in fixes:
            fixed = correction(word)
            if fixed is not None:
                fixes[word] = fixed
    if not fixes:
        return text, []
    spelled = _WORD.sub(lambda m: fixes.get(m.group(0).lower(), m.group(0)), text)
    return spelled, list(fixes.items())
