"""Reading a description the way a person would: words, clauses, negation, degree words,
emotion words and explicit facial cues ("furrowed brow", "her left eyebrow is raised").

Everything here is a small hand-written rule set over our own word lists (``cues.json``, no
third-party lexicon), so each number it produces can be traced back to the words that caused
it. The embedded model combines it with MiniLM similarity (for descriptions that name no
emotion word) and the FACS prior (for the face regions the text does not describe).

Sides follow ARKit: ``Left`` is the SUBJECT's left ("her left eyebrow" -> browOuterUpLeft).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from emo_app.text.tokens import CUE_WORDS as _WORDS
from emo_app.text.tokens import clauses, tokens_and_phrases

NEGATION_SCOPE = 4  # words after a negator that it can reach (within the clause)


def _word_pattern(pattern: str) -> re.Pattern[str]:
    """A cues.json regex, matched against ONE whole lower-case word."""
    return re.compile(rf"^(?:{pattern})$")


NEGATORS = set(_WORDS["negators"])
# after a negator these turn it into emphasis ("can't believe I won", "can't stop smiling"); the
# idiom itself may say what is felt ("can't believe": surprise; "can't wait": eagerness)
_UNNEGATING: dict[str, dict[str, float]] = _WORDS["unnegating"]
_HOLDING_BACK = set(_WORDS["holding_back"])  # "trying not to cry": held back, not denied
_QUIET_WORDS = set(_WORDS["quiet_words"])
_SPOILING_WORDS = set(_WORDS["spoiling_words"])  # "ruined": a pleasant event spoiled (_spoil)
_UNFELT = set(_WORDS["unfelt"])  # "fake happiness": put on, so the smile does not reach the eyes
# words a degree word may stand behind ("a very big smile"); any other word ends the search
_FILLERS = set(_WORDS["filler_words"])
# Degree words multiply the intensity of the emotion word or cue they modify.
DEGREE_BEFORE: dict[str, float] = _WORDS["degree_before"]
DEGREE_AFTER: dict[str, float] = _WORDS["degree_after"]
# "wide" is a degree word only right before a standalone cue ("wide grin"), never before "eyes".
_DEGREE_ONLY_BEFORE_STANDALONE = set(_WORDS["degree_only_before_standalone"])
_NOT_LOOSE_DEGREE = set(_WORDS["not_a_loose_degree"])  # too common to scale the whole face

# "cross" is a feeling only when it describes someone ("is cross", "a cross look", "cross with")
_ADJECTIVE_FEELINGS = set(_WORDS["adjective_feelings"])
_ADJECTIVE_BEFORE = set(_WORDS["adjective_before"]) | set(DEGREE_BEFORE)
_ADJECTIVE_AFTER = set(_WORDS["adjective_after"])


def _describes_someone(tokens: list[str], i: int, start: int, end: int) -> bool:
    """Whether the word at ``i`` stands where an adjective describing someone would."""
    before = tokens[i - 1] if i > start else ""
    linked = before in _ADJECTIVE_BEFORE or before.endswith(("'s", "'m", "'re"))  # "he's cross"
    return linked or (i + 1 < end and tokens[i + 1] in _ADJECTIVE_AFTER)


# Emotion words, then event words ("died", "stole"): regex over ONE word -> {emotion: strength
# in [0, 1]}, and whether it is an event word.
_EMOTION_KINDS = ("emotion_words", "event_words", "voiced_words")
# (pattern, emotions, kind): kind says how a hit counts (``EmotionHit.event`` and ``.voiced``)
_EMOTION_PATTERNS = [
    (_word_pattern(pat), emos, kind) for kind in _EMOTION_KINDS for pat, emos in _WORDS[kind]
]
# Every word a rule reads (emotion, event, feature, descriptor and degree words, words that are a
# cue by themselves), as one pattern: a misspelt word is only corrected towards these (``spelling``).
_READ_WORDS = _word_pattern("|".join(
    [pat for kind in (*_EMOTION_KINDS, "features", "standalone") for pat, *_ in _WORDS[kind]]
    + [row[0] for rows in _WORDS["descriptors"].values() for row in rows]
    + [re.escape(word) for word in {*DEGREE_BEFORE, *DEGREE_AFTER} if word.isalpha()]
))


def reads_word(word: str) -> bool:
    """Whether some rule reads ``word`` (lower case, one word)."""
    return _READ_WORDS.match(word) is not None


# What a negated emotion word means instead: "not happy" leans sad; others lean neutral.
NEGATED_LEANS: dict[str, dict[str, float]] = _WORDS["negated_leans"]
# Facial features: word regex -> feature id ("corner" only near a mouth word).
_FEATURE_PATTERNS = [(_word_pattern(pat), fid) for pat, fid in _WORDS["features"]]
_CORNER_CONTEXT = set(_WORDS["corner_context"])
# (feature, descriptor regex) -> {shape base: weight}, options. A base without "Left"/"Right"
# and listed in SIDED gets the side(s) the text names (both when it names none). Options:
# "direction", the movement says nothing of the feeling ("opens his mouth"), see ``Cue.direction``;
# "direction_when_one_sided", the same for one side only ("raises an eyebrow"); "closes", shapes
# the cue keeps shut whatever the emotions do ("lips pressed tight"), see ``Cue.closes``.
SIDED = set(_WORDS["sided"])
_DESCRIPTOR_PATTERNS = {
    fid: [(_word_pattern(row[0]), row[1], row[2] if len(row) > 2 else {}) for row in rows]
    for fid, rows in _WORDS["descriptors"].items()
}
# Words that are a facial cue by themselves: (regex, shapes, default side for one-sided cues,
# options). Options: "other_side", shapes for the other side of a one-sided cue (a confused look
# raises one brow, on the side the text names if it names one, and lowers the other); "state",
# the word names a state (tired, confused), whose face follows from it: see ``Cue.state``;
# "activity", an everyday action of the mouth (eats, talks, sneezes): see ``Cue.activity``;
# "direction" and "closes" as for descriptors; "caps", see ``Cue.caps``.
_STANDALONE_PATTERNS = [
    (_word_pattern(row[0]), row[1], row[2], row[3] if len(row) > 3 else {})
    for row in _WORDS["standalone"]
]
_OTHER_SIDE = {"Left": "Right", "Right": "Left"}
_FEELING_OR_CUE = [p for p, _, kind in _EMOTION_PATTERNS if kind == "emotion_words"] + [
    p for p, *_ in _STANDALONE_PATTERNS
]
# Where the eyes turn ("looks to the left", "glances down"): a look verb, then a direction
# within a few words (cues.json "gaze_about" says which words are skipped and why).
_GAZE_VERB = _word_pattern(_WORDS["gaze_verbs"])
_GAZE_DIRECTIONS = [(_word_pattern(pat), shapes) for pat, shapes in _WORDS["gaze_directions"]]
_GAZE_SIDEWAYS = _word_pattern(_WORDS["gaze_sideways"][0])
_GAZE_SIDEWAYS_SHAPES: dict[str, float] = _WORDS["gaze_sideways"][1]
_GAZE_SKIP = set(_WORDS["gaze_skip"])
GAZE_WINDOW = int(_WORDS["gaze_window"])
# A jaw or mouth moved to a side: feature id -> [(direction regex, shapes)] (cues.json "sideways_about")
_SIDEWAYS = {fid: [(_word_pattern(pat), shapes) for pat, shapes in table.items()]
             for fid, table in _WORDS["sideways"].items()}
SIDEWAYS_WINDOW = int(_WORDS["sideways_window"])

DESCRIPTOR_WINDOW = 5


def _shapes_for(table: list[tuple[re.Pattern[str], dict[str, float]]], token: str) -> dict[str, float] | None:
    """The shapes of the first row of ``table`` whose word pattern ``token`` matches."""
    return next((shapes for pattern, shapes in table if pattern.match(token)), None)

SIDE_WINDOW = 4
# an everyday action ("eats") moves the face only in a short direction ("Eating an apple."); in a
# longer text it is what someone did ("The cook sneezed into the soup": the face is the observer's)
ACTIVITY_OTHER_WORDS = 4


@dataclass
class EmotionHit:
    """One emotion word (or event word) found in the text, after degree and negation."""

    word: str
    emotions: dict[str, float]
    degree: float = 1.0
    negated: bool = False
    event: bool = False  # says what happened ("died"), not what is felt
    voiced: bool = False  # how a feeling is voiced ("screams"): it counts only if no feeling is named
    ironic: bool = False  # a stock phrase said in irony ("Oh joy, more paperwork.")
    unfelt: bool = False  # a degree word says the feeling is put on ("pretends to be happy")
    at: int = -1  # the word's token index (-1: a phrase of several)
    earlier: bool = False  # another feeling follows it ("used to be angry, now calm"): see _mark_earlier
    spoiled_by: str = ""  # the word that spoils a pleasant event ("ruined"): see _spoil


@dataclass
class Cue:
    """One facial cue: the phrase it came from and the ARKit shapes (with sides) it sets."""

    phrase: str
    shapes: dict[str, float]
    degree: float = 1.0
    negated: bool = False
    sided: str | None = None  # "Left" / "Right" when the text names one side
    notes: list[str] = field(default_factory=list)
    # the word names a state ("tired") rather than a movement ("frown"): the text still says
    # how aroused the person is, where a described face would say it through its emotions
    state: bool = False
    # a movement that says nothing of the feeling (a glance, the jaw to a side, a kiss): a text
    # of these alone is a direction for the face, and MiniLM's reading of it is mostly noise
    direction: bool = False
    # an everyday action of the mouth ("eats", "talks", "sneezes"): it moves the face, but a text
    # that mentions one tells a situation, not a face ("The cook sneezed into the soup")
    activity: bool = False
    # shapes this cue keeps shut whatever the emotions do ("quietly furious": anger's open mouth)
    closes: tuple[str, ...] = ()
    # the most the emotion prior may give these shapes ("worried": no wide eyes): embedded._kept_small
    caps: dict[str, float] = field(default_factory=dict)
    at: int = -1  # the token index of its first word (-1: not placed), for _mark_earlier


@dataclass
class TextAnalysis:
    """What the rules read from one description."""

    tokens: list[str]
    emotion_hits: list[EmotionHit]
    cues: list[Cue]
    global_degree: float  # degree words not attached to anything (they scale the whole face)
    text_side: str | None = None  # the first side the text names: where one-sided defaults go
    ironic_tokens: set[int] = field(default_factory=set)  # words of ironic phrases: not read as said
    said_as: dict[str, str] = field(default_factory=dict)  # a phrase's stand-in word -> the phrase

    def said(self, word: str) -> str:
        """How the text said ``word``: the phrase it stands in for ('oh no' for 'alas'), so notes
        quote the user's words."""
        return self.said_as.get(word, word)

    @property
    def spoiled(self) -> bool:
        """A spoiling word ("ruined", "forgot") is in the text: see ``_spoil``."""
        return any(token in _SPOILING_WORDS for token in self.tokens)

    @property
    def word_count(self) -> int:
        """Words, not punctuation."""
        return sum(token[0].isalpha() for token in self.tokens)

    @property
    def describes_face(self) -> bool:
        """Some cue is a movement of the face, not a state word or an everyday action ("frown",
        not "tired" or "eats")."""
        return any(not (cue.state or cue.activity) for cue in self.cues)

    def one_sided_default(self, default: str) -> str:
        """Side for a one-sided expression the text does not place (contempt, a smirk): the side
        the text talks about if it names one (so mirrored text gives a mirrored face), else ``default``."""
        return self.text_side or default


_COULD_NOT = {"couldn't", "can't", "cannot"}


def _is_negator(token: str) -> bool:
    return token in NEGATORS or token.endswith("n't")


def _feels_at(tokens: list[str], index: int, step: int) -> bool:
    """The word next to ``index`` in direction ``step`` (past one comma: "a quiet, satisfied
    smile") is an emotion word or a cue by itself."""
    j = index + step
    if 0 <= j < len(tokens) and tokens[j] == ",":
        j += step
    return 0 <= j < len(tokens) and any(p.match(tokens[j]) for p in _FEELING_OR_CUE)


_HIDING_WORDS = set(_WORDS["hiding_words"])
HIDING_WINDOW = int(_WORDS["hiding_window"])
HIDDEN_DEGREE = float(_WORDS["hidden_degree"])


def _clause_at(spans: list[tuple[int, int]], at: int) -> tuple[int, int] | None:
    """The clause span holding token ``at`` (None for -1: a hit or cue not placed)."""
    return next(((start, end) for start, end in spans if start <= at < end), None)


def _spoil(tokens: list[str], spans: list[tuple[int, int]], found: TextAnalysis) -> None:
    """A pleasant event word in a clause with a spoiling word ("holiday ... ruined") counts as
    negated, and says by what (cues.json "spoiling_about")."""
    for hit in found.emotion_hits:
        if not hit.event or hit.at < 0 or set(hit.emotions) != {"happiness"}:
            continue
        start, end = _clause_at(spans, hit.at)
        spoiler = next((t for t in tokens[start:end] if t in _SPOILING_WORDS), None)
        if spoiler is not None:
            hit.negated, hit.spoiled_by = True, spoiler


def _hide(tokens: list[str], spans: list[tuple[int, int]], found: TextAnalysis) -> None:
    """'trying to hide their anger': each feeling word or cue that a hiding word comes just before
    (in its clause) shows at ``HIDDEN_DEGREE``, and one cue per hiding word shuts the mouth."""
    hiders: dict[int, Cue] = {}
    for item in [*found.emotion_hits, *found.cues]:
        clause = _clause_at(spans, item.at)
        if clause is None or item.negated:
            continue
        first = max(clause[0], item.at - HIDING_WINDOW)
        hider = next((j for j in range(item.at - 1, first - 1, -1) if tokens[j] in _HIDING_WORDS), None)
        if hider is None:
            continue
        item.degree *= HIDDEN_DEGREE
        if isinstance(item, Cue):
            item.shapes = {k: v * HIDDEN_DEGREE for k, v in item.shapes.items()}
        shapes, closes = _HELD_BACK_MOUTH
        cue = hiders.setdefault(hider, Cue(tokens[hider], dict(shapes), state=True, closes=closes, at=hider))
        word = item.word if isinstance(item, EmotionHit) else item.phrase
        note = f"'{word}' is hidden: it shows weaker, behind a shut mouth"
        if note not in cue.notes:  # "suppresses a smile": a feeling word and a cue
            cue.notes.append(note)
    found.cues.extend(hiders.values())


def _quiet_cues(tokens: list[str], start: int, end: int) -> list[Cue]:
    """'quietly furious', 'weeps quietly': a quiet word beside a feeling or a cue shuts the mouth;
    beside anything else ('the surgeon said quietly') it says nothing of the face."""
    shapes, closes = _QUIET_MOUTH
    return [Cue(tokens[i], dict(shapes), state=True, closes=closes) for i in range(start, end)
            if tokens[i] in _QUIET_WORDS and (_feels_at(tokens, i, -1) or _feels_at(tokens, i, 1))]


def _holds_back(tokens: list[str], j: int, start: int) -> bool:
    """Token ``j`` is the 'not' of 'trying not to': it holds a feeling back, it does not deny it."""
    return tokens[j] == "not" and j > start and tokens[j - 1] in _HOLDING_BACK


def _held_back(tokens: list[str], index: int, start: int) -> bool:
    """'trying not to <word>': the feeling is there and held back."""
    return any(_holds_back(tokens, j, start) for j in range(max(start, index - NEGATION_SCOPE), index))


def _negated(tokens: list[str], index: int, start: int) -> bool:
    for j in range(max(start, index - NEGATION_SCOPE), index):
        tok = tokens[j]
        if _is_negator(tok):
            if j + 1 < index and tokens[j + 1] in _UNNEGATING:  # "can't stop smiling"
                continue  # a later negator still counts: "can't believe he's not happy"
            if _holds_back(tokens, j, start):
                continue
            # "I couldn't be happier" says the most, not the opposite
            could_not = tok in _COULD_NOT or (tok == "not" and j > start and tokens[j - 1] == "could")
            return not (could_not and tokens[index].endswith("ier"))
    return False


def _degree(
    tokens: list[str], index: int, start: int, end: int, standalone: bool = False
) -> tuple[float, list[int]]:
    """Degree multiplier for the word at ``index``: words just before it, or one just after."""
    factor, used = 1.0, []
    j = index - 1
    while j >= start and index - j <= 3:
        tok = tokens[j]
        if tok in DEGREE_BEFORE and (standalone or tok not in _DEGREE_ONLY_BEFORE_STANDALONE):
            factor *= DEGREE_BEFORE[tok]
            used.append(j)
        elif tok not in _FILLERS:
            break
        j -= 1
    if index + 1 < end and tokens[index + 1] in DEGREE_AFTER:
        factor *= DEGREE_AFTER[tokens[index + 1]]
        used.append(index + 1)
    elif index + 2 < end and tokens[index + 1] == "a" and tokens[index + 2] in {"little", "bit"}:
        factor *= DEGREE_AFTER["a_little"]  # two tokens: "smiling a little", "frowning a bit"
        used.extend((index + 1, index + 2))
    return factor, used


def _side_near(tokens: list[str], index: int, start: int, end: int) -> str | None:
    """'left'/'right' just before a feature ('her left eyebrow', 'the left corner of ...')."""
    for j in range(index - 1, max(start, index - SIDE_WINDOW) - 1, -1):
        if tokens[j] == "left":
            return "Left"
        if tokens[j] == "right":
            return "Right"
        if tokens[j] in {"both", "two"}:
            return None
    # "one eyebrow raised", "a lopsided smile": a single unnamed side; ARKit needs one, we pick
    # the subject's left.
    if index - 1 >= start and tokens[index - 1] in _ONE_SIDED_WORDS:
        return ONE_SIDE
    if index + 1 < end and tokens[index + 1] in _ONE_SIDED_AFTER:  # "smiles smugly"
        return ONE_SIDE
    # "one corner of his mouth": the side the corner has
    if index - 4 >= start and tokens[index - 2] == "of" and tokens[index - 3] in {"corner", "side"} \
            and tokens[index - 4] in _ONE_SIDED_WORDS:
        return ONE_SIDE
    return None


ONE_SIDE = "Left"  # the side "one eyebrow" means, and then every one-sided cue of that text
_ONE_SIDED_WORDS = set(_WORDS["one_sided_words"])
_ONE_SIDED_AFTER = set(_WORDS["one_sided_after"])


_SIDED_THINGS = [p for p, _ in _FEATURE_PATTERNS] + [p for p, *_ in _STANDALONE_PATTERNS]


def _one_feature(tokens: list[str]) -> bool:
    """The text says 'one <feature>' ("raises one eyebrow skeptically", "a lopsided smile")."""
    pairs = list(zip(tokens, tokens[1:]))
    before = any(a in _ONE_SIDED_WORDS and any(p.match(b) for p in _SIDED_THINGS) for a, b in pairs)
    return before or any(b in _ONE_SIDED_AFTER and any(p.match(a) for p in _SIDED_THINGS) for a, b in pairs)


def _both_sides(bases: Sequence[str]) -> tuple[str, ...]:
    """ARKit names of shape bases on both sides ("jawOpen", "mouthLowerDownLeft", ...Right)."""
    return tuple(_expand(dict.fromkeys(bases, 1.0), None, 1.0))


def _expand(shapes: dict[str, float], side: str | None, factor: float) -> dict[str, float]:
    out: dict[str, float] = {}
    for base, weight in shapes.items():
        value = min(1.0, weight * factor)
        if base in SIDED:
            for s in (side,) if side else ("Left", "Right"):
                out[base + s] = max(out.get(base + s, 0.0), value)
        else:
            out[base] = max(out.get(base, 0.0), value)
    return out


# the pressed, shut mouth of a feeling held back ("trying not to laugh") or hidden, and of a quiet
# one ("quietly furious"): (shapes, the shapes it keeps shut), built once
_HELD_BACK_MOUTH = (_expand(_WORDS["held_back_shapes"], None, 1.0), _both_sides(_WORDS["held_back_closes"]))
_QUIET_MOUTH = (_expand(_WORDS["quiet_shapes"], None, 1.0), _both_sides(_WORDS["quiet_closes"]))


def _scan_clause(
    tokens: list[str], start: int, end: int, text_side: str | None, found: TextAnalysis, used_degree: set[int]
) -> list[tuple[int, str]]:
    """Emotion words and standalone cues of one clause go into ``found``; returns the clause's
    facial features as (index, feature id)."""
    features = []
    for i in range(start, end):
        tok = tokens[i]
        if i > start and _UNNEGATING.get(tok) and _is_negator(tokens[i - 1]):
            idiom = f"{tokens[i - 1]} {tok}"
            found.emotion_hits.append(EmotionHit(idiom, dict(_UNNEGATING[tok]), event=True))
        as_feeling = tok not in _ADJECTIVE_FEELINGS or _describes_someone(tokens, i, start, end)
        for pattern, emotions, kind in _EMOTION_PATTERNS:
            if as_feeling and i not in found.ironic_tokens and pattern.match(tok):
                factor, used = _degree(tokens, i, start, end)
                used_degree.update(used)
                unfelt = any(tokens[k] in _UNFELT for k in used)
                found.emotion_hits.append(
                    EmotionHit(tok, dict(emotions), factor, _negated(tokens, i, start),
                               event=kind != "emotion_words", voiced=kind == "voiced_words", unfelt=unfelt,
                               at=i)
                )
                break
        for pattern, fid in _FEATURE_PATTERNS:
            if pattern.match(tok):
                if fid == "corner" and not any(
                    tokens[k] in _CORNER_CONTEXT for k in range(max(start, i - 2), min(end, i + 4))
                ):
                    break
                features.append((i, fid))
                break
        for pattern, shapes, default_side, options in _STANDALONE_PATTERNS:
            if pattern.match(tok):
                factor, used = _degree(tokens, i, start, end, standalone=True)
                used_degree.update(used)
                side = _side_near(tokens, i, start, end)
                if side is None and default_side:
                    side = text_side or default_side
                expanded = _expand(shapes, side, factor)
                if side and "other_side" in options:
                    expanded.update(_expand(options["other_side"], _OTHER_SIDE[side], factor))
                closes = _both_sides(options.get("closes", []))
                if _held_back(tokens, i, start):
                    expanded.update(_HELD_BACK_MOUTH[0])
                    closes = _HELD_BACK_MOUTH[1]
                cue = Cue(tok, expanded, factor, _negated(tokens, i, start), side,
                          state=options.get("state", False), direction=options.get("direction", False),
                          activity=options.get("activity", False), closes=closes,
                          caps=_expand(options.get("caps", {}), None, 1.0), at=i)
                if default_side and text_side is None:
                    cue.notes.append(
                        f"'{tok}' is one-sided; the text names no side, so the subject's "
                        f"{default_side.lower()} is used"
                    )
                found.cues.append(cue)
                break
    return features


def _gaze_cues(tokens: list[str], start: int, end: int, used_degree: set[int]) -> list[Cue]:
    """Eye turns from a look verb and the direction after it ("glances nervously to the left")."""
    cues = []
    for i in range(start, end):
        if not _GAZE_VERB.match(tokens[i]):
            continue
        shapes, last = None, i
        for j in range(i + 1, min(end, i + 1 + GAZE_WINDOW)):
            found = _shapes_for(_GAZE_DIRECTIONS, tokens[j])
            if found is not None:
                shapes, last = found, j
                break
            if _GAZE_SIDEWAYS.match(tokens[j]):  # "looks away": a named side may still follow
                shapes, last = _GAZE_SIDEWAYS_SHAPES, j
            elif tokens[j] not in _GAZE_SKIP:
                break
        if shapes is None:
            continue
        factor, used = _degree(tokens, i, start, end, standalone=True)
        used_degree.update(used)
        phrase = " ".join(tokens[i : last + 1])
        cues.append(Cue(phrase, {k: min(1.0, v * factor) for k, v in shapes.items()}, factor,
                        _negated(tokens, i, start), direction=True))
    return cues


def _sideways_cues(tokens: list[str], start: int, end: int, features: list[tuple[int, str]]) -> list[Cue]:
    """A jaw or mouth moved to a side: the first direction word after the feature."""
    cues = []
    for fi, fid in features:
        for j in range(fi + 1, min(end, fi + 1 + SIDEWAYS_WINDOW)):
            shapes = _shapes_for(_SIDEWAYS.get(fid, []), tokens[j])
            if shapes is not None:
                cues.append(Cue(" ".join(tokens[fi : j + 1]), dict(shapes), 1.0, _negated(tokens, fi, start),
                                direction=True))
                break
    return cues


def _descriptor_cues(
    tokens: list[str], start: int, end: int, features: list[tuple[int, str]], used_degree: set[int]
) -> list[Cue]:
    """Each descriptor word of a clause goes to the nearest feature that accepts it."""
    cues = []
    feature_indices = {i for i, _ in features}
    for i in range(start, end):
        if i in feature_indices:
            continue
        best = None
        for fi, fid in features:
            distance = abs(fi - i)
            if distance > DESCRIPTOR_WINDOW:
                continue
            for pattern, shapes, options in _DESCRIPTOR_PATTERNS.get(fid, []):
                if pattern.match(tokens[i]):
                    key = (distance, 0 if fi > i else 1)  # ties: the feature that follows
                    if best is None or key < best[0]:
                        best = (key, fi, fid, shapes, options)
                    break
        if best is None:
            continue
        _, fi, fid, shapes, options = best
        factor, used = _degree(tokens, i, start, end)
        used_degree.update(used)
        side = _side_near(tokens, fi, start, end)
        lo, hi = min(i, fi), max(i, fi)
        phrase = " ".join(tokens[max(start, lo - (1 if side else 0)) : hi + 1])
        if side and tokens[fi - 1] not in {"left", "right"}:
            phrase = f"{side.lower()} {phrase}"
        negated = _negated(tokens, lo, start) or any(t in NEGATORS for t in tokens[lo:hi])
        direction = options.get("direction", False) or bool(side and options.get("direction_when_one_sided"))
        closes = _both_sides(options.get("closes", []))
        cues.append(Cue(phrase, _expand(shapes, side, factor), factor, negated, side, direction=direction,
                        closes=closes, at=lo))
    return cues


_IRONY_PHRASES = {tuple(phrase.split()) for phrase in _WORDS["irony_phrases"]}
_IRONY_EMOTIONS: dict[str, float] = _WORDS["irony_emotions"]


def _find_irony(tokens: list[str], spans: list[tuple[int, int]], found: TextAnalysis) -> None:
    """Stock ironic phrases that stand as a clause of their own (or two, "Yeah, right."), in a
    text that says more than the phrase ("Just perfect." alone may be meant)."""
    total = found.word_count
    for k, (start, end) in enumerate(spans):
        for stop in (end, spans[k + 1][1] if k + 1 < len(spans) and tokens[end] == "," else None):
            if stop is None:
                continue
            words = tuple(t for t in tokens[start:stop] if t[0].isalpha())
            if words in _IRONY_PHRASES and (total > len(words) or words[0] in {"yeah", "thanks"}):
                found.ironic_tokens.update(range(start, stop))
                found.emotion_hits.append(EmotionHit(" ".join(words), dict(_IRONY_EMOTIONS), ironic=True))
                break


def analyse(text: str) -> TextAnalysis:
    """Tokenise ``text`` and find emotion words and facial cues with negation, degree and sides."""
    tokens, said_as = tokens_and_phrases(text)
    text_side = next(({"left": "Left", "right": "Right"}[t] for t in tokens if t in {"left", "right"}), None)
    if text_side is None and _one_feature(tokens):  # "raises one eyebrow": every one-sided cue there
        text_side = ONE_SIDE
    found = TextAnalysis(tokens, [], [], 1.0, text_side, said_as=said_as)
    spans = clauses(tokens)
    _find_irony(tokens, spans, found)
    used_degree: set[int] = set()
    degree_positions = [i for i, t in enumerate(tokens) if t in DEGREE_BEFORE or t in DEGREE_AFTER]
    for start, end in spans:
        features = _scan_clause(tokens, start, end, text_side, found, used_degree)
        found.cues.extend(_descriptor_cues(tokens, start, end, features, used_degree))
        found.cues.extend(_gaze_cues(tokens, start, end, used_degree))
        found.cues.extend(_sideways_cues(tokens, start, end, features))
        found.cues.extend(_quiet_cues(tokens, start, end))
    # degree words attached to nothing scale the whole face: the one that departs most from 1
    loose = [
        DEGREE_BEFORE.get(tokens[i], DEGREE_AFTER.get(tokens[i], 1.0))
        for i in degree_positions
        if i not in used_degree and tokens[i] not in _NOT_LOOSE_DEGREE
    ]
    found.global_degree = float(min(loose, key=lambda f: -abs(f - 1.0))) if loose else 1.0
    _hide(tokens, spans, found)
    _spoil(tokens, spans, found)
    _mark_earlier(tokens, found)
    if found.word_count - sum(cue.activity for cue in found.cues) > ACTIVITY_OTHER_WORDS:
        found.cues = [cue for cue in found.cues if not cue.activity]
    return found


CHANGE_WORDS = set(_WORDS["change_words"])
_STOPPING_WORDS = set(_WORDS["stopping_words"])


def _mark_earlier(tokens: list[str], found: TextAnalysis) -> None:
    """Mark the feeling words a still face no longer shows, and drop such face cues: those before
    the last change word that a feeling word follows ("then", "now"; "to" after "from" and a
    feeling word), and those right after a stopping word ("stopped crying")."""
    feelings = [h for h in found.emotion_hits if h.at >= 0 and not h.negated]
    starts = [i for i, t in enumerate(tokens) if t == "from"]
    changes = [i for i, t in enumerate(tokens) if t in CHANGE_WORDS or (  # "from sad to", not "ear to ear"
        t == "to" and any(f < h.at < i for f in starts for h in feelings))]
    last = max((i for i in changes if any(h.at > i for h in feelings)), default=-1)

    def over(at: int) -> bool:
        return at >= 0 and (at < last or (at > 0 and tokens[at - 1] in _STOPPING_WORDS))

    for hit in feelings:
        hit.earlier = over(hit.at)
    found.cues = [cue for cue in found.cues if not over(cue.at)]
