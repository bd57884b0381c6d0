"""Emoji and emoticons as the words they stand for ("😂" -> "laughing so hard"), so a
description typed as an emoji reads like one typed in words; the table is data
(``words/emoji.json``)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

_TABLE = json.loads((Path(__file__).with_name("words") / "emoji.json").read_text(encoding="utf-8"))
_EMOJI: dict[str, str] = _TABLE["emoji"]
_EMOTICONS: dict[str, str] = _TABLE["emoticons"]
# variation selectors, skin tones and joiners change how an emoji looks, not what it says
_MODIFIERS = re.compile("[\ufe0e\ufe0f\u200d\U0001f3fb-\U0001f3ff]")


def _any_of(signs: dict[str, str]) -> str:
    """A regex alternation of ``signs``, longest first (">:(" before ":(")."""
    return "|".join(re.escape(sign) for sign in sorted(signs, key=len, reverse=True))


# a run of the same emoji ("😂😂😂") is read once
_EMOJI_PATTERN = re.compile(f"({_any_of(_EMOJI)})\\1*")
# an emoticon is a word of its own: between spaces (or at either end), maybe before . , ! ?
_EMOTICON_PATTERN = re.compile(rf"(?<!\S)({_any_of(_EMOTICONS)})(?=[.,!?]*(\s|$))")


def emoji_as_words(text: Any) -> tuple[Any, list[tuple[str, str]]]:
    """``text`` with each known emoji and emoticon replaced by its words, and the (sign, words)
    pairs read; any other value comes back unchanged (the validator names what is wrong)."""
    if not isinstance(text, str):
        return text, []
    read: list[tuple[str, str]] = []

    def words(match: re.Match[str], table: dict[str, str]) -> str:
        sign = match.group(1)
        if (sign, table[sign]) not in read:
            read.append((sign, table[sign]))
        return f" {table[sign]}, "

    plain = _MODIFIERS.sub("", text)
    plain = _EMOJI_PATTERN.sub(lambda m: words(m, _EMOJI), plain)
    plain = _EMOTICON_PATTERN.sub(lambda m: words(m, _EMOTICONS), plain)
    if not read:
        return text, []
    return " ".join(plain.replace(" ,", ",").split()).strip(", ") or text, read
