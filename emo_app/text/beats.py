"""The feelings a description goes through, in order: "Shocked at first, then delighted" ends
on delight (a still face shows the last feeling, ``cues._mark_earlier``), and a take plays the
shock first. Rules only, no model: the text model reads each part."""

from __future__ import annotations

import re

from emo_app.text.cues import CHANGE_WORDS, analyse

_CHANGE = re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, CHANGE_WORDS))) + r")\b", re.IGNORECASE)
_TRAILING = " \t\n,;:-–—"


def earlier_description(text: str) -> str | None:
    """The part of a (read, validated) description that names the feeling it had before the
    last one, or None when it names one feeling: the words before the last change word that
    leaves a feeling behind ("He used to be angry", "She was happy, then she"), else the earlier
    feeling words themselves ("crying" in "She stopped crying and smiled", "joy" in "from joy to
    sorrow")."""
    earlier = [hit for hit in analyse(text).emotion_hits if hit.earlier]
    if not earlier:
        return None
    for change in reversed(list(_CHANGE.finditer(text))):
        before = text[:change.start()].rstrip(_TRAILING)
        if before and any(not hit.negated for hit in analyse(before).emotion_hits):
            return before
    return " ".join(dict.fromkeys(hit.word for hit in earlier))
