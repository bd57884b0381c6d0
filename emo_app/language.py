"""Is a description English? The text models understand English only; a description in
another language would silently give a near-neutral face, so the app says so instead.

A small heuristic, no model: text mostly in a non-Latin script is not English; Latin-script
text is not English when it holds more function words of another common European language
than English ones (or, without any English function word, letters English does not use).
Short English fragments ("furious!", "a smirk") pass: they hold no foreign function word.
"""

from __future__ import annotations

import re
import unicodedata

ENGLISH = frozenset(
    "a an the and or but if of to in on at by for with from into onto over under about as is are was "
    "were be been being am has have had do does did not no nor so than then that this these those it "
    "its he she they we you i me him her them us my his their our your who whom which what when where "
    "why how very too quite rather just only also all any some each both more most less much many one "
    "out up down off while after before because like looks look seems face eyes mouth smile".split()
)
OTHER = {
    "German": "der die das und ist nicht ein eine einen mit sie er es ich du wir ihr sehr auf zu den "
              "dem des sich auch aber wie noch nur schon sind war hat".split(),
    "French": "le la les et est un une des du de il elle ils elles je tu nous vous très pas avec sur "
              "dans pour qui que ne se sont était son sa ses au aux".split(),
    "Spanish": "el la los las y es un una unos unas del que muy con por para está están estaba su sus "
               "pero como se lo le".split(),
    "Italian": "il lo la gli le e è un una uno di che non con per molto sono era suo sua della nel".split(),
    "Portuguese": "o a os as e é um uma de do da que não com por para muito está são era seu sua".split(),
    "Dutch": "de het een en is niet met hij zij ze ik jij wij zeer heel erg op te van zijn was".split(),
}
FOREIGN = frozenset(word for words in OTHER.values() for word in words) - ENGLISH
WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def _is_latin(char: str) -> bool:
    return "LATIN" in unicodedata.name(char, "")


def looks_english(text: str) -> bool:
    """False when ``text`` is clearly in another language or script (see the module doc)."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return True  # nothing to judge: emoji, digits (the validator has its own sentence)
    latin = sum(1 for c in letters if _is_latin(c))
    if latin < 0.5 * len(letters):
        return False
    words = [w.lower() for w in WORD.findall(text)]
    english = sum(1 for w in words if w in ENGLISH)
    foreign = sum(1 for w in words if w in FOREIGN)
    if foreign > english:
        return False
    if english == 0 and any(not c.isascii() for c in letters):
        return False  # accented words and not one English function word: "wütend", "furieuse"
    return True


def not_english_note(text: str) -> str:
    """A plain sentence when ``text`` does not look English, else ""."""
    if looks_english(text):
        return ""
    return ("Only English descriptions are understood, and this one does not look English, so the "
            "face may stay near neutral. Please describe the face in English.")
