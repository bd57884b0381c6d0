"""Reading a description the way a person would: words, clauses, negation, degree words,
emotion words and explicit facial cues ("furrowed brow", "her left eyebrow is raised").

Everything here is a small hand-written rule set (our own word lists, no third-party lexicon),
so each number it produces can be traced back to the words that caused it. The embedded model
combines it with MiniLM similarity (for descriptions that name no emotion word) and the FACS
prior (for the face regions the text does not describe).

Sides follow ARKit: ``Left`` is the SUBJECT's left ("her left eyebrow" -> browOuterUpLeft).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from emo_app.emotion.emotions import EMO3D_EMOTIONS

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?|[.,;:!?()]")
CLAUSE_PUNCT = set(".,;:!?()")
CLAUSE_WORDS = {"but", "while", "whereas", "yet", "although", "though"}
NEGATORS = {
    "not",
    "no",
    "never",
    "without",
    "nor",
    "isn't",
    "wasn't",
    "aren't",
    "weren't",
    "don't",
    "doesn't",
    "didn't",
    "hasn't",
    "haven't",
    "cannot",
    "can't",
    "neither",
    "lacks",
    "lacking",
}
NEGATION_SCOPE = 4  # words after a negator that it can reach (within the clause)

# Degree words multiply the intensity of the emotion word or cue they modify.
DEGREE_BEFORE: dict[str, float] = {
    "barely": 0.25, "hardly": 0.25, "faintly": 0.35, "slightly": 0.4, "slight": 0.45, "faint": 0.4,
    "tiny": 0.35, "subtle": 0.45, "subtly": 0.45, "mildly": 0.5, "mild": 0.5, "little": 0.5,
    "bit": 0.5, "small": 0.5, "weak": 0.5, "somewhat": 0.6, "kind": 0.6, "moderately": 0.7,
    "fairly": 0.8, "rather": 0.9, "quite": 1.15, "bright": 1.15, "very": 1.3, "really": 1.25,
    "so": 1.25, "big": 1.3, "broad": 1.3, "broadly": 1.3, "wide": 1.3, "widely": 1.35,
    "huge": 1.5, "deeply": 1.4, "deep": 1.3, "truly": 1.3, "highly": 1.35, "intensely": 1.5,
    "intense": 1.5, "extremely": 1.6, "incredibly": 1.6, "utterly": 1.6, "completely": 1.5,
    "totally": 1.5, "absolutely": 1.6, "overwhelmingly": 1.6, "terribly": 1.5, "profoundly": 1.5,
    "immensely": 1.6, "overwhelming": 1.6, "strong": 1.3, "strongly": 1.3, "pure": 1.4,
    "visibly": 1.1, "clearly": 1.1, "obviously": 1.1,
}  # fmt: skip
DEGREE_AFTER: dict[str, float] = {
    "slightly": 0.4, "faintly": 0.35, "a_little": 0.5, "widely": 1.35, "broadly": 1.3,
    "intensely": 1.5, "wildly": 1.5, "hard": 1.3, "heavily": 1.4, "softly": 0.6, "gently": 0.6,
}  # fmt: skip
# "wide" is a degree word only right before a standalone cue ("wide grin"), never before "eyes".
_DEGREE_ONLY_BEFORE_STANDALONE = {"wide", "broad", "big", "bright"}

_E = {e: i for i, e in enumerate(EMO3D_EMOTIONS)}

# Emotion words (our own list): regex over ONE word -> {emotion: strength in [0, 1]}.
_EMOTION_WORDS: list[tuple[str, dict[str, float]]] = [
    # happiness
    (r"happ(y|ier|iest|ily|iness)", {"happiness": 0.75}),
    (r"joy(ful|fully|ous|ously)?", {"happiness": 0.85}),
    (r"cheer(ful|fully|y|ing)?", {"happiness": 0.7}),
    (r"delight(ed|ful|fully)?", {"happiness": 0.85}),
    (r"glad(ly|ness)?|pleased|pleasant|content(ed|ment)?|satisfied", {"happiness": 0.5}),
    (r"ecstatic|euphoric|overjoyed|jubilant|elated|elation|bliss(ful)?|rapturous", {"happiness": 1.0}),
    (r"thrilled|gleeful(ly)?|glee|merry|jolly|exuberant|radiant", {"happiness": 0.85}),
    (r"amused|amusement|playful", {"happiness": 0.6}),
    (r"laugh(s|ing|ed|ter)?|giggl(e|es|ing)|chuckl(e|es|ing)", {"happiness": 0.85}),
    (r"smil(e|es|ing|ed)|grin(s|ning|ned)?|beam(s|ing)?", {"happiness": 0.65}),
    (r"bittersweet", {"happiness": 0.55, "sadness": 0.6}),
    # sadness
    (r"sad(ly|ness|der|dest)?|unhappy|unhappily", {"sadness": 0.75}),
    (r"sorrow(ful|fully)?|mournful(ly)?|mourning|griev(e|es|ing|ed)|grief", {"sadness": 0.9}),
    (r"despair(ing)?|desperate|hopeless(ly|ness)?|heartbroken|devastated|anguish(ed)?", {"sadness": 0.95}),
    (r"depress(ed|ing|ion)|miserable|misery|desolate|crestfallen|dejected|forlorn", {"sadness": 0.85}),
    (r"gloom(y)?|melanchol(y|ic)|somber|sombre|downcast|glum|wistful|pensive", {"sadness": 0.65}),
    (r"tear(s|ful|fully|y)|cry(ing)?|cried|cries|weep(s|ing)?|wept|sob(s|bing|bed)?", {"sadness": 0.85}),
    (r"disappoint(ed|ment)|lonely|loneliness|hurt|regretful", {"sadness": 0.55}),
    # anger
    (r"ang(ry|rily|rier|er|ered)", {"anger": 0.8}),
    (r"furious(ly)?|fury|rage|raging|enraged|livid|irate|infuriated|seething|wrath(ful)?", {"anger": 1.0}),
    (r"outrage(d)?|fuming|hostile|hostility|snarl(s|ing|ed)?", {"anger": 0.85}),
    (r"mad|indignant|resentful|resentment|bitter|exasperated", {"anger": 0.6}),
    (r"irritat(ed|ion)|annoy(ed|ance)|frustrat(ed|ion)|grumpy|cross", {"anger": 0.45}),
    (r"scowl(s|ing|ed)?|glar(e|es|ing|ed)", {"anger": 0.65}),
    # surprise
    (r"surpris(e|ed|ing|ingly)", {"surprise": 0.8}),
    (r"astonish(ed|ment)|amaz(ed|ement)|astound(ed)|stunned|dumbfounded|flabbergasted", {"surprise": 0.9}),
    (r"shock(ed)?", {"surprise": 0.8, "fear": 0.3}),
    (r"startled", {"surprise": 0.8, "fear": 0.3}),
    (
        r"bewilder(ed|ment)|baffled|puzzled|perplexed|confused|aback|speechless|awe(struck)?",
        {"surprise": 0.6},
    ),
    (r"gasp(s|ing|ed)?", {"surprise": 0.7, "fear": 0.2}),
    # disgust
    (r"disgust(ed|ing|edly)?|revolted|revolting|revulsion|repuls(ed|ive|ion)", {"disgust": 0.9}),
    (r"gross(ed)?|sicken(ed|ing)|nauseated|nauseous|queasy|yuck|icky", {"disgust": 0.7}),
    (r"loath(ing|e)|abhor(rence|red)?", {"disgust": 0.75, "anger": 0.3}),
    (r"distaste(ful)?|aversion", {"disgust": 0.55}),
    (r"grimac(e|es|ing|ed)", {"disgust": 0.4}),
    # fear
    (r"fear(ful|fully|s|ed)?|afraid|scared|frightened|fright", {"fear": 0.85}),
    (r"terrified|terror|petrified|panic(ked|ky|king)?|horrified|horror", {"fear": 1.0}),
    (r"anxious(ly)?|anxiety|nervous(ly)?|worried|worry|uneasy|apprehensive|tense", {"fear": 0.55}),
    (r"dread(ful)?|alarmed|spooked|scary|frightening|threatened", {"fear": 0.75}),
    (r"timid|wary|insecure", {"fear": 0.4}),
    # contempt
    (r"contempt(uous|uously)?|disdain(ful|fully)?|scorn(ful|fully)?|derisive|derision", {"contempt": 0.9}),
    (r"condescending|haughty|patroniz(ing|ed)|patronis(ing|ed)|sneer(s|ing|ed)?", {"contempt": 0.75}),
    (r"smug(ly)?|smirk(s|ing|ed)?", {"contempt": 0.6, "happiness": 0.2}),
    (r"mocking|sarcastic|dismissive|arrogant|superior|unimpressed|disrespectful", {"contempt": 0.55}),
    # neutral
    (r"neutral|expressionless|emotionless|impassive|deadpan|blank|stoic", {"neutral": 0.95}),
    (r"calm(ly)?|composed|relaxed|serene|placid|indifferent|bored|unmoved|unbothered", {"neutral": 0.6}),
]
_EMOTION_PATTERNS = [(re.compile(rf"^(?:{pat})$"), emos) for pat, emos in _EMOTION_WORDS]

# What a negated emotion word means instead: "not happy" leans sad; others lean neutral.
NEGATED_LEANS: dict[str, dict[str, float]] = {
    "happiness": {"sadness": 0.3, "neutral": 0.4},
    "sadness": {"neutral": 0.5},
    "neutral": {},
}

# Facial features: word regex -> feature id.
_FEATURES: list[tuple[str, str]] = [
    (r"eyebrows?|brows?|browline", "brow"),
    (r"forehead", "forehead"),
    (r"eyes?|eyed|gaze|stare", "eyes"),
    (r"eyelids?|lids?", "lids"),
    (r"mouths?|mouthed|lips?|lipped", "mouth"),
    (r"corners?", "corner"),
    (r"jaws?|jawline", "jaw"),
    (r"chin", "chin"),
    (r"cheeks?", "cheeks"),
    (r"nose|nostrils?", "nose"),
    (r"teeth", "teeth"),
    (r"tongue", "tongue"),
]
_FEATURE_PATTERNS = [(re.compile(rf"^(?:{pat})$"), fid) for pat, fid in _FEATURES]

# (feature, descriptor regex) -> {shape base: weight}. A base without "Left"/"Right" and listed
# in SIDED gets the side(s) the text names (both when it names none).
SIDED = {
    "browDown", "browOuterUp", "cheekSquint", "eyeBlink", "eyeSquint", "eyeWide", "eyeLookDown",
    "eyeLookUp", "mouthDimple", "mouthFrown", "mouthLowerDown", "mouthPress", "mouthSmile",
    "mouthStretch", "mouthUpperUp", "noseSneer",
}  # fmt: skip
_DESCRIPTORS: dict[str, list[tuple[str, dict[str, float]]]] = {
    "brow": [
        (
            r"raised|raising|raises|raise|lifted|lifting|arched|arching|up|high|upward",
            {"browOuterUp": 0.85, "browInnerUp": 0.35},
        ),
        (
            r"furrow(ed|ing|s)?|knit(ted)?|knotted|lowered|lowering|frowning|creased|scrunched|"
            r"pinched|drawn|down|together|heavy|sullen|angled",
            {"browDown": 0.8},
        ),
        (r"worried|slanted|upturned|tilted|pleading", {"browInnerUp": 0.8}),
    ],
    "forehead": [
        (r"wrinkled|wrinkling|creased|lined", {"browInnerUp": 0.5, "browOuterUp": 0.3}),
        (r"furrowed|furrowing|knotted|tense", {"browDown": 0.6}),
    ],
    "eyes": [
        (r"wide|widened|widening|bulging|saucer|huge|popping|open|opened", {"eyeWide": 0.8}),
        (r"narrow(ed|ing)?|squint(ed|ing|y)?|slitted|slits", {"eyeSquint": 0.7}),
        (r"closed|shut|clenched", {"eyeBlink": 1.0}),
        (r"droop(y|ing)|half|heavy|sleepy|tired|hooded|lowered", {"eyeBlink": 0.45}),
        (r"downcast|down|downward|floor", {"eyeLookDown": 0.6}),
        (r"rolled|rolling|roll|upward|skyward|heavenward", {"eyeLookUp": 0.6}),
        (r"staring|stare|unblinking|fixed", {"eyeWide": 0.3}),
        (r"crinkled|crinkling|smiling|twinkling|sparkling", {"eyeSquint": 0.35, "cheekSquint": 0.3}),
    ],
    "lids": [
        (r"droop(y|ing)|heavy|half|lowered|hooded", {"eyeBlink": 0.45}),
        (r"raised|wide|lifted", {"eyeWide": 0.7}),
        (r"tight|tightened|narrowed", {"eyeSquint": 0.6}),
        (r"closed|shut", {"eyeBlink": 1.0}),
    ],
    "mouth": [
        (
            r"agape|open|opened|gaping|gape|hanging|dropped|ajar|parted",
            {"jawOpen": 0.65, "mouthLowerDown": 0.2},
        ),
        (r"pressed|tight|tightly|tightened|thin|firm|compressed|clamped|sealed", {"mouthPress": 0.7}),
        (r"purs(ed|ing)", {"mouthPucker": 0.6, "mouthPress": 0.3}),
        (r"puckered|pouting|pouty|pout", {"mouthPucker": 0.7, "mouthShrugLower": 0.3}),
        (r"downturned|drooping|droopy|sagging|frowning|down|downward|lowered", {"mouthFrown": 0.75}),
        (r"upturned|upward|up|smiling|curved|lifted|raised", {"mouthSmile": 0.6}),
        (r"trembling|quivering|shaking|wobbling", {"mouthShrugLower": 0.45, "mouthFrown": 0.25}),
        (r"stretched|taut|tense|strained|pulled|drawn", {"mouthStretch": 0.6}),
        (r"curled|curling|twisted|snarling", {"mouthUpperUp": 0.6, "noseSneer": 0.3}),
        (r"bitten|biting|bites|bite", {"mouthRollLower": 0.6}),
        (r"rounded|round|o|funneled|funnelled", {"mouthFunnel": 0.6}),
        (r"closed|shut", {"mouthClose": 0.2}),
    ],
    "corner": [
        (r"raised|up|upturned|lifted|curled|upward|turned", {"mouthSmile": 0.7}),
        (r"down|downturned|lowered|drooping|sagging|downward", {"mouthFrown": 0.75}),
        (r"tightened|tight|pulled|dimpled|tucked", {"mouthDimple": 0.6, "mouthPress": 0.3}),
    ],
    "jaw": [
        (r"dropped|open|opened|slack|hanging|agape|fell|falling|dropping", {"jawOpen": 0.75}),
        (r"clenched|clenching|tight|tightened|set|locked|rigid", {"mouthPress": 0.5, "jawForward": 0.2}),
        (r"jutting|jutted|thrust|forward|protruding", {"jawForward": 0.7}),
    ],
    "chin": [
        (r"raised|wrinkled|dimpled|puckered|trembling|quivering|jutting", {"mouthShrugLower": 0.6}),
    ],
    "cheeks": [
        (r"puffed|puffy|puffing|inflated|bulging|blown", {"cheekPuff": 0.8}),
        (r"raised|lifted|rounded|bunched|squinting", {"cheekSquint": 0.6}),
    ],
    "nose": [
        (
            r"wrinkled|wrinkling|wrinkles|scrunched|scrunching|crinkled|crinkling|sneering",
            {"noseSneer": 0.75},
        ),
        (r"flared|flaring", {"noseSneer": 0.5}),
    ],
    "teeth": [
        (
            r"bared|baring|showing|exposed|visible",
            {"mouthUpperUp": 0.5, "mouthLowerDown": 0.45, "mouthStretch": 0.35},
        ),
        (r"clenched|gritted|grinding|gritting", {"mouthPress": 0.4, "mouthStretch": 0.5}),
    ],
    "tongue": [
        (r"out|sticking|stuck|poking|protruding", {"tongueOut": 0.9}),
    ],
}
_DESCRIPTOR_PATTERNS = {
    fid: [(re.compile(rf"^(?:{pat})$"), shapes) for pat, shapes in rows] for fid, rows in _DESCRIPTORS.items()
}

# Words that are a facial cue by themselves. (regex, shapes, default side for one-sided cues)
_STANDALONE: list[tuple[str, dict[str, float], str | None]] = [
    (r"smil(e|es|ing|ed)", {"mouthSmile": 0.6, "cheekSquint": 0.3}, None),
    (
        r"grin(s|ning|ned)?",
        {"mouthSmile": 0.8, "cheekSquint": 0.45, "mouthUpperUp": 0.15, "jawOpen": 0.1},
        None,
    ),
    (r"beam(s|ing|ed)?", {"mouthSmile": 0.7, "cheekSquint": 0.4}, None),
    (
        r"laugh(s|ing|ed)?|laughter",
        {"mouthSmile": 0.85, "jawOpen": 0.45, "cheekSquint": 0.5, "eyeSquint": 0.3},
        None,
    ),
    (r"smirk(s|ing|ed)?", {"mouthSmile": 0.5, "mouthDimple": 0.4}, "Right"),
    (r"frown(s|ing|ed)?", {"browDown": 0.6, "mouthFrown": 0.5}, None),
    (r"scowl(s|ing|ed)?", {"browDown": 0.8, "eyeSquint": 0.3, "mouthFrown": 0.3}, None),
    (r"sneer(s|ing|ed)?", {"noseSneer": 0.6, "mouthUpperUp": 0.5}, "Right"),
    (r"pout(s|ing|ed)?", {"mouthPucker": 0.5, "mouthShrugLower": 0.4, "mouthFrown": 0.2}, None),
    (r"gasp(s|ing|ed)?", {"jawOpen": 0.6, "eyeWide": 0.4, "browInnerUp": 0.3}, None),
    (r"yawn(s|ing|ed)?", {"jawOpen": 1.0, "eyeBlink": 0.5}, None),
    (r"wink(s|ing|ed)?", {"eyeBlink": 1.0, "cheekSquint": 0.3}, "Left"),
    (r"squint(s|ing|ed)?", {"eyeSquint": 0.7}, None),
    (r"glar(e|es|ing|ed)", {"browDown": 0.6, "eyeSquint": 0.4}, None),
    (r"grimac(e|es|ing|ed)", {"mouthStretch": 0.6, "eyeSquint": 0.4, "browDown": 0.4}, None),
    (r"winc(e|es|ing|ed)", {"eyeSquint": 0.6, "browDown": 0.4, "mouthStretch": 0.3}, None),
    (r"snarl(s|ing|ed)?", {"noseSneer": 0.7, "mouthUpperUp": 0.6, "browDown": 0.5}, None),
    (r"sob(s|bing|bed)?|crying|weeping", {"browInnerUp": 0.6, "mouthFrown": 0.5, "eyeSquint": 0.3}, None),
]
_STANDALONE_PATTERNS = [(re.compile(rf"^(?:{pat})$"), shapes, side) for pat, shapes, side in _STANDALONE]

DESCRIPTOR_WINDOW = 5
SIDE_WINDOW = 4


@dataclass
class EmotionHit:
    """One emotion word found in the text, after degree and negation."""

    word: str
    emotions: dict[str, float]
    degree: float = 1.0
    negated: bool = False


@dataclass
class Cue:
    """One facial cue: the phrase it came from and the ARKit shapes (with sides) it sets."""

    phrase: str
    shapes: dict[str, float]
    degree: float = 1.0
    negated: bool = False
    sided: str | None = None  # "Left" / "Right" when the text names one side
    notes: list[str] = field(default_factory=list)


@dataclass
class TextAnalysis:
    """What the rules read from one description."""

    tokens: list[str]
    emotion_hits: list[EmotionHit]
    cues: list[Cue]
    global_degree: float  # degree words not attached to anything (they scale the whole face)
    text_side: str | None = None  # the first side the text names: where one-sided defaults go

    def one_sided_default(self, default: str) -> str:
        """Side for a one-sided expression the text does not place (contempt, a smirk): the side
        the text talks about if it names one (so mirrored text gives a mirrored face), else ``default``."""
        return self.text_side or default


def tokenize(text: str) -> list[str]:
    """Lower-case words and clause punctuation; hyphens split words ("wide-eyed" -> wide eyed)."""
    return _WORD.findall(text.lower().replace("-", " ").replace("\u2019", "'"))


def _clauses(tokens: list[str]) -> list[tuple[int, int]]:
    spans, start = [], 0
    for i, tok in enumerate(tokens):
        if tok in CLAUSE_PUNCT or tok in CLAUSE_WORDS:
            if i > start:
                spans.append((start, i))
            start = i + 1
    if start < len(tokens):
        spans.append((start, len(tokens)))
    return spans


def _negated(tokens: list[str], index: int, start: int) -> bool:
    for j in range(max(start, index - NEGATION_SCOPE), index):
        tok = tokens[j]
        if tok in NEGATORS or tok.endswith("n't"):
            return True
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
        elif tok not in {"a", "an", "the", "her", "his", "their", "its", "of", "is", "was", "are", "were"}:
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
    # "one eyebrow raised": a single unnamed side; ARKit needs one, we pick the subject's left.
    if index - 1 >= start and tokens[index - 1] == "one":
        return "Left"
    return None


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


def analyse(text: str) -> TextAnalysis:
    """Tokenise ``text`` and find emotion words and facial cues with negation, degree and sides."""
    tokens = tokenize(text)
    text_side = next(({"left": "Left", "right": "Right"}[t] for t in tokens if t in {"left", "right"}), None)
    hits: list[EmotionHit] = []
    cues: list[Cue] = []
    used_degree: set[int] = set()
    degree_positions = [i for i, t in enumerate(tokens) if t in DEGREE_BEFORE or t in DEGREE_AFTER]
    for start, end in _clauses(tokens):
        features = []  # (index, feature id)
        for i in range(start, end):
            tok = tokens[i]
            for pattern, emotions in _EMOTION_PATTERNS:
                if pattern.match(tok):
                    factor, used = _degree(tokens, i, start, end)
                    used_degree.update(used)
                    hits.append(EmotionHit(tok, dict(emotions), factor, _negated(tokens, i, start)))
                    break
            for pattern, fid in _FEATURE_PATTERNS:
                if pattern.match(tok):
                    if fid == "corner" and not any(
                        tokens[k] in {"mouth", "lip", "lips"}
                        for k in range(max(start, i - 2), min(end, i + 4))
                    ):
                        break
                    features.append((i, fid))
                    break
            for pattern, shapes, default_side in _STANDALONE_PATTERNS:
                if pattern.match(tok):
                    factor, used = _degree(tokens, i, start, end, standalone=True)
                    used_degree.update(used)
                    side = _side_near(tokens, i, start, end)
                    if side is None and default_side:
                        side = text_side or default_side
                    cue = Cue(tok, _expand(shapes, side, factor), factor, _negated(tokens, i, start), side)
                    if default_side and text_side is None:
                        cue.notes.append(
                            f"'{tok}' is one-sided; the text names no side, so the subject's "
                            f"{default_side.lower()} is used"
                        )
                    cues.append(cue)
                    break
        # Each descriptor word goes to the nearest feature that accepts it.
        feature_indices = {i for i, _ in features}
        for i in range(start, end):
            if i in feature_indices:
                continue
            best = None
            for fi, fid in features:
                distance = abs(fi - i)
                if distance > DESCRIPTOR_WINDOW:
                    continue
                for pattern, shapes in _DESCRIPTOR_PATTERNS.get(fid, []):
                    if pattern.match(tokens[i]):
                        key = (distance, 0 if fi > i else 1)  # ties: the feature that follows
                        if best is None or key < best[0]:
                            best = (key, fi, fid, shapes)
                        break
            if best is None:
                continue
            _, fi, fid, shapes = best
            factor, used = _degree(tokens, i, start, end)
            used_degree.update(used)
            side = _side_near(tokens, fi, start, end)
            lo, hi = min(i, fi), max(i, fi)
            phrase = " ".join(tokens[max(start, lo - (1 if side else 0)) : hi + 1])
            if side and tokens[fi - 1] not in {"left", "right"}:
                phrase = f"{side.lower()} {phrase}"
            negated = _negated(tokens, lo, start) or any(t in NEGATORS for t in tokens[lo:hi])
            cues.append(Cue(phrase, _expand(shapes, side, factor), factor, negated, side))
    loose = [
        DEGREE_BEFORE.get(tokens[i], DEGREE_AFTER.get(tokens[i], 1.0))
        for i in degree_positions
        if i not in used_degree and tokens[i] not in {"so", "kind", "little", "bit"}
    ]
    global_degree = float(min(loose, key=lambda f: -abs(f - 1.0))) if loose else 1.0
    return TextAnalysis(tokens, hits, cues, global_degree, text_side)


def side_neutral_text(text: str) -> str:
    """The text with 'left'/'right' removed, so the sentence encoder sees no side (mirror symmetry)."""
    return re.sub(r"\b(left|right)\b\s*", "", text, flags=re.IGNORECASE)
