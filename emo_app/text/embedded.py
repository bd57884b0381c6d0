"""The embedded text model: works offline, needs no training data, deterministic.

text -> (1) rules (emotion words and event words with negation and degree, explicit facial
         cues with sides, see ``cues.py``) + (2) MiniLM similarity to emotion anchors
         (``words/emotion_anchors.json``: face descriptions and situations), calibrated
         -> 8 Emo3D intensities
     -> FACS prior (``facs.py``: emotion -> AUs -> ARKit, with compound prototypes) for the
        regions the text does not describe, overridden/combined with the explicit cues
     -> 52 blendshapes, the C2A2 point (its arousal also read from the words: ``arousal.py``),
        and per-shape explanations.

Calibration of the similarity part (why these constants): MiniLM cosine similarities of face
descriptions to the anchors sit in about 0.1-0.7; the best emotion's margin over the others is
what carries the signal, so a softmax over emotions with temperature ``SIM_TEMPERATURE`` gives
the shares, and how close the text is to ANY anchor (``SIM_FLOOR``..``SIM_FULL``) gives the
overall strength. Emotion words, when present, are more reliable than similarity (MiniLM
places "not happy" next to "happy"), so similarity is down-weighted to ``SIM_WEIGHT_WITH_WORDS``.

Situations ("My dog died this morning.") are far from every face description, so they are read
apart, from situation anchors. MiniLM similarity there is mostly topic (a sentence about a car
is near every car anchor), so a situation is read along emotion DIRECTIONS instead: each
emotion's mean anchor minus the mean neutral situation (the neutral ones share the emotional
ones' topics, so the topic cancels). A text's projections on them, measured from the neutral
mean, give the shares (softmax, ``SIM_TEMPERATURE``); the strength grows with the largest
projection (``SITUATION_ZERO``..``SITUATION_FULL``) and with its lead over the second
(``SITUATION_LEAD``), so a text torn between two emotions stays mild, and fades when the
nearest neutral anchors are nearer than the emotion's own (``SITUATION_NEUTRAL_SLACK``) or,
for a lead under ``SITUATION_SURE_LEAD``, another emotion's nearest anchors are
(``SITUATION_AGREE_SLACK``: the direction and the nearest sentences disagree, and a calm face
is better than a wrong one).
The constants were chosen on the 112 sentences of ``lab/expressions/situations_dev.json``; the
96 of ``situations_heldout.json`` were seen when the anchor set was (``python -m
lab.expressions.situations`` scores both).
Short mundane sentences ("The man stands.", "She turns her head.") sit far from every anchor
but closer to some emotion's by chance (fear 0.89 and happiness 0.83), so the neutral anchors of
both registers also hold ``flat`` sentences: looks, everyday actions, head turns, NPC lines,
camera directions, made-up words, questions (``python -m lab.expressions.situations`` scores the
flat dev and held-out sets written with them). A line said with feeling (an exclamation mark or
a trailing "...": ``exclaimed``) is read without them: they share its topics ("Don't come any
closer!" sat by "Did you lock the back door?") and drew such lines to a neutral face.
The two channels are combined by their maximum (a face description keeps its face anchors'
reading); a text that names its feeling, or negates one ("nobody died"), is not read as a
situation at all (MiniLM does not read negation), nor is one that says what the face does
("blows a kiss"), nor one of under ``SITUATION_MIN_WORDS``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from emo_app.blendshapes import Blendshapes, mirror_name
from emo_app.blendshapes.schema import ARKIT_NAMES, INDEX
from emo_app.config import Settings
from emo_app.emotion.emotions import EMO3D_EMOTIONS, EmotionIntensities
from emo_app.models.manager import quiet_transformers
from emo_app.text.arousal import WEIGHT, WEIGHT_WITH_FACE_CUES, ArousalReader, with_arousal
from emo_app.text.base import TextModel, TextPrediction
from emo_app.text.cues import NEGATED_LEANS, EmotionHit, TextAnalysis, analyse
from emo_app.text.facs import emotion_prior
from emo_app.text.tokens import side_neutral_text

SIM_TEMPERATURE = 0.035
SIM_FLOOR = 0.15
SIM_FULL = 0.55
SIM_WEIGHT_WITH_WORDS = 0.5
SIM_WEIGHT_CUES_ONLY = 0.6  # a text that only describes the face: the cues already draw it
WORDS_BESIDE_FACE = 5  # a text with this many words beside its face cues says more than the face
# a text that only directs the face ("He glances to the left."): MiniLM read "He shifts his jaw to
# the left." as anger (0.56) and "She blows him a kiss." as anger (0.47)
SIM_WEIGHT_DIRECTIONS_ONLY = 0.3
# the text's only feeling words say "no feeling" ("calm", "bored", "deadpan"): MiniLM's reading
# of them is mostly noise ("She is calm." read as fear 0.42, with wide eyes)
SIM_WEIGHT_NEUTRAL_WORDS = 0.2
# a smile put on ("pretends to be happy", "fake happiness") does not reach the eyes: the cheek
# squint (AU6, what tells a felt smile) is capped at this
UNFELT_CHEEK_SQUINT = 0.2
CAPPED_UNLESS = 0.6  # a fear or surprise word stronger than this ("terrified" 1.0) lifts the caps
NEGATED_FACTOR = 0.1
VOICED_NAMED_AT_LEAST = 0.5  # a named feeling this strong is what a scream or a yell voices
OPPOSITE_SIDE_FACTOR = 0.15
SITUATION_ZERO = 0.10
SITUATION_FULL = 0.30
SITUATION_LEAD = 0.06
SITUATION_NEIGHBOURS = 2
SITUATION_NEUTRAL_SLACK = 0.10
SITUATION_AGREE_SLACK = 0.10
SITUATION_SURE_LEAD = 0.20  # a lead this large stands even where the nearest sentences disagree
AT_REST_BELOW = 0.3  # a text whose every feeling is weaker than this says so in its notes
SITUATION_MIN_WORDS = 3  # "What?" and "Hmm." tell no situation (they read as contempt remarks)
MAX_TOKENS = 128
ANCHORS_FILE = Path(__file__).with_name("words") / "emotion_anchors.json"


def load_emotion_anchors() -> dict[str, dict[str, list[str]]]:
    """{"faces" | "situations": {emotion: sentences}, "flat": {"neutral": sentences}} from
    ``words/emotion_anchors.json``; the flat sentences join the neutral anchors of both registers
    for texts that are not exclaimed (module doc)."""
    data = json.loads(ANCHORS_FILE.read_text(encoding="utf-8"))
    return {"faces": data["faces"], "situations": data["situations"], "flat": {"neutral": data["flat"]}}


def exclaimed(text: str) -> bool:
    """A line said with feeling ("Don't come any closer!", "Something's following us..."): the
    flat anchors, which share its topics (doors, shops, the road), are no measure of it."""
    return "!" in text or "..." in text or "\u2026" in text


class MiniLMEncoder:
    """all-MiniLM-L6-v2 as sentence-transformers runs it (mean pooling, L2 norm), loaded from a
    local folder with ``local_files_only`` so it never touches the network.

    The transformer is traced and frozen with TorchScript once at load (``trace=True``): on a
    one-sentence input the eager model spends a fifth of its time in Python module calls, and
    the frozen graph gives the same numbers for any length and padding (a test checks)."""

    def __init__(self, folder: str, device: str = "cpu", trace: bool = True):
        import torch
        from transformers import AutoModel, AutoTokenizer

        self._torch = torch
        self.device = device
        self._lock = threading.Lock()
        with quiet_transformers():  # tracing reads every attribute, transformers' loss chatter too
            self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            self.model = (
                AutoModel.from_pretrained(folder, local_files_only=True, return_dict=False).to(device).eval()
            )
            self._forward = self._trace() if trace else None

    def _trace(self):
        import warnings

        torch = self._torch
        example = self.tokenizer(["a calm face"], return_tensors="pt").to(self.device)
        try:
            with warnings.catch_warnings(), torch.inference_mode():
                warnings.simplefilter("ignore")
                traced = torch.jit.trace(
                    self.model, (example["input_ids"], example["attention_mask"]), strict=False
                )
                return torch.jit.freeze(traced)
        except Exception:  # an unusual torch build: the eager model gives the same numbers
            return None

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        torch = self._torch
        batch = self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
        ).to(self.device)
        with self._lock, torch.inference_mode():
            forward = self._forward or self.model
            hidden = forward(batch["input_ids"], batch["attention_mask"])[0]
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
        return pooled.float().cpu().numpy()


class AnchorSet:
    """One register of emotion anchors, embedded once; scores texts by their nearest anchors,
    with or without the flat sentences among the neutral ones."""

    def __init__(self, encoder: MiniLMEncoder, anchors: dict[str, list[str]], flat: Sequence[str] = ()):
        sentences = [sentence for emotion in EMO3D_EMOTIONS for sentence in anchors[emotion]] + list(flat)
        counts = [len(anchors[e]) for e in EMO3D_EMOTIONS]
        emotion_of = np.concatenate([np.repeat(np.arange(len(EMO3D_EMOTIONS)), counts),
                                     np.zeros(len(flat), int)])
        is_flat = np.arange(len(sentences)) >= sum(counts)
        self.embeddings = encoder.encode(sentences)
        self.groups = [np.flatnonzero(emotion_of == e) for e in range(len(EMO3D_EMOTIONS))]
        self.core_groups = [np.flatnonzero((emotion_of == e) & ~is_flat) for e in range(len(EMO3D_EMOTIONS))]
        self._layouts = {True: _layout(self.groups), False: _layout(self.core_groups)}

    def nearest_mean(self, embeddings: np.ndarray, k: int, with_flat: np.ndarray | None = None) -> np.ndarray:
        """(n, 8) mean cosine similarity of each text to its ``k`` nearest anchors per emotion,
        the flat ones among the neutral anchors where ``with_flat`` (default: for every text)."""
        sims = embeddings @ self.embeddings.T
        needed = {True} if with_flat is None else set(with_flat.tolist()) or {True}  # skip unused layouts
        means = {}
        for flat in needed:
            columns, padding = self._layouts[flat]
            near = np.where(padding, -np.inf, sims[:, columns])  # (n, 8, width)
            means[flat] = np.sort(near, axis=2)[:, :, -k:].mean(axis=2)
        if len(means) == 1:
            return next(iter(means.values()))
        return np.where(with_flat[:, None], means[True], means[False])


def _layout(groups: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(8, most anchors) columns of each emotion's anchors, padded with a repeat of the first, and
    the padding's mask, so one sort scores all emotions at once."""
    width = max(len(g) for g in groups)
    columns = np.array([np.pad(g, (0, width - len(g)), mode="edge") for g in groups])
    return columns, np.array([[j >= len(g) for j in range(width)] for g in groups])


def _emotion_directions(anchors: AnchorSet, groups: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(the neutral anchors' mean, (7, d) unit directions from it to each emotion's mean)."""
    means = np.stack([anchors.embeddings[group].mean(axis=0) for group in groups])
    directions = means[1:] - means[0]
    return means[0], directions / np.linalg.norm(directions, axis=1, keepdims=True)


_PLEASANT = {"happiness"}
_UNPLEASANT = {"sadness", "anger", "fear", "disgust", "contempt"}
AGAINST_EVENTS_FACTOR = 0.3


def _against_the_events(analysis: TextAnalysis) -> np.ndarray:
    """(8,) factors for MiniLM's reading: where every event word says something pleasant happened
    ('got a promotion'), MiniLM's unpleasant readings (topic: work, where anchors are passed over)
    are damped, and the other way round. Surprise has no side; a spoiling word ('they forgot my
    birthday party', which MiniLM places among happy birthdays) is an unpleasant one."""
    factors = np.ones(len(EMO3D_EMOTIONS))
    felt = {e for hit in analysis.emotion_hits if hit.event and not (hit.negated or hit.earlier)
            for e, v in hit.emotions.items() if v >= 0.3} - {"surprise", "neutral"}
    if analysis.spoiled:
        felt.add("sadness")
    if not felt:
        return factors
    for side, other in ((_PLEASANT, _UNPLEASANT), (_UNPLEASANT, _PLEASANT)):
        if felt <= side:
            for e in other:
                factors[EMO3D_EMOTIONS.index(e)] = AGAINST_EVENTS_FACTOR
    return factors


def _negated_note(analysis: TextAnalysis, hit: EmotionHit) -> str:
    how = f"spoiled ('{analysis.said(hit.spoiled_by)}')" if hit.spoiled_by else "negated"
    return f"'{analysis.said(hit.word)}' is {how}: {', '.join(hit.emotions)} suppressed"


def _names_a_feeling(hit: EmotionHit) -> bool:
    """A feeling named outright ("rage"; not a trait such as "the shy intern"): what a scream or a
    yell in the same text voices."""
    strongest = max((v for e, v in hit.emotions.items() if e != "neutral"), default=0.0)
    return not (hit.event or hit.negated) and hit.degree * strongest >= VOICED_NAMED_AT_LEAST


def _put_on(analysis: TextAnalysis, values: np.ndarray, explanation: dict[str, list]) -> list[str]:
    """Cap the cheek squint of a smile the text says is put on (``UNFELT_CHEEK_SQUINT``); the
    note for it, or none."""
    hit = next((h for h in analysis.emotion_hits if h.unfelt and not h.negated), None)
    if hit is None:
        return []
    for shape in ("cheekSquintLeft", "cheekSquintRight"):
        if values[INDEX[shape]] > UNFELT_CHEEK_SQUINT:
            values[INDEX[shape]] = UNFELT_CHEEK_SQUINT
            explanation.setdefault(shape, []).append(("put on: the smile does not reach the eyes",
                                                      UNFELT_CHEEK_SQUINT))
    return [f"'{analysis.said(hit.word)}' is put on: the smile does not reach the eyes"]


def _kept_small(analysis: TextAnalysis, values: np.ndarray, explanation: dict[str, list]) -> list[str]:
    """Apply the caps of the text's cues to the emotion prior's shapes ("worried": fear's brows
    without a terrified face's wide eyes and stretched mouth; worried, nervous and terrified had
    drawn one face), unless a fear or surprise word stronger than ``CAPPED_UNLESS`` asks for
    them ("nervous and terrified", "worried and shocked"); a note for each capping cue."""
    if any(hit.emotions.get(e, 0.0) > CAPPED_UNLESS for hit in analysis.emotion_hits
           if not (hit.negated or hit.earlier) for e in ("fear", "surprise")):
        return []
    notes = []
    for cue in (cue for cue in analysis.cues if not cue.negated):
        capped = [shape for shape, cap in cue.caps.items() if values[INDEX[shape]] > cap]
        for shape in capped:
            values[INDEX[shape]] = cue.caps[shape]
            explanation.setdefault(shape, []).append((f"cue: '{cue.phrase}' keeps it small", cue.caps[shape]))
        if capped:
            notes.append(f"'{cue.phrase}': worry, not terror: the eyes and mouth stay near rest")
    return notes


class EmbeddedTextModel(TextModel):
    """Rules + MiniLM + FACS prior (module doc). Build with ``load``; use via get_text_model."""

    name = "embedded"
    description = "Offline: MiniLM similarity + emotion words + facial cues + FACS prior (no training)"

    def __init__(self, encoder: MiniLMEncoder, settings: Settings | None = None):
        super().__init__(settings)
        self.encoder = encoder
        anchors = load_emotion_anchors()
        flat = anchors["flat"]["neutral"]
        self.face_anchors = AnchorSet(encoder, anchors["faces"], flat)
        self.situation_anchors = AnchorSet(encoder, anchors["situations"], flat)
        self.situation_directions = {  # with and without the flat sentences
            with_flat: _emotion_directions(self.situation_anchors, groups)
            for with_flat, groups in ((True, self.situation_anchors.groups),
                                      (False, self.situation_anchors.core_groups))}
        self.arousal_reader = ArousalReader(encoder.encode)

    @classmethod
    def load(cls, settings: Settings | None = None, device: str = "cpu") -> EmbeddedTextModel:
        from emo_app.models import resolve

        settings = settings or Settings.from_env()
        folder = resolve("minilm", settings)
        return cls(MiniLMEncoder(str(folder), device), settings)

    # emotions ---------------------------------------------------------------------------
    def similarity_scores(self, embeddings: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """(n, 2, 8) calibrated similarity-based intensities of ``texts`` (embedded): the
        face-description reading and the situation reading (module doc); ``_emotions`` picks
        between them."""
        with_flat = np.array([not exclaimed(t) for t in texts], bool)
        return np.stack([self._face_scores(embeddings, with_flat),
                         self._situation_scores(embeddings, with_flat)], axis=1)

    def _face_scores(self, embeddings: np.ndarray, with_flat: np.ndarray) -> np.ndarray:
        per_emotion = self.face_anchors.nearest_mean(embeddings, 2, with_flat)
        logits = (per_emotion - per_emotion.max(axis=1, keepdims=True)) / SIM_TEMPERATURE
        shares = np.exp(logits)
        shares /= shares.sum(axis=1, keepdims=True)
        strength = np.clip((per_emotion.max(axis=1) - SIM_FLOOR) / (SIM_FULL - SIM_FLOOR), 0.0, 1.0)
        return shares / shares.max(axis=1, keepdims=True) * strength[:, None]

    def _situation_scores(self, embeddings: np.ndarray, with_flat: np.ndarray) -> np.ndarray:
        """Shares among the 7 emotions along the situation directions (module doc); neutral
        itself is left to ``_emotions`` (1 - the strongest emotion)."""
        projections = np.where(with_flat[:, None], *(
            (embeddings - origin) @ directions.T  # (n, 7)
            for origin, directions in (self.situation_directions[True], self.situation_directions[False])))
        shares = np.exp((projections - projections.max(axis=1, keepdims=True)) / SIM_TEMPERATURE)
        ranked = np.sort(projections, axis=1)
        reach = np.clip((ranked[:, -1] - SITUATION_ZERO) / (SITUATION_FULL - SITUATION_ZERO), 0.0, 1.0)
        gap = ranked[:, -1] - ranked[:, -2]
        lead = np.clip(gap / SITUATION_LEAD, 0.0, 1.0)
        # topic can still leak along a direction ("a blue front door" towards a door that is
        # forced open), so the emotion's own nearest anchors must be about as near as neutral ones
        near = self.situation_anchors.nearest_mean(embeddings, SITUATION_NEIGHBOURS, with_flat)
        nearest_feeling = near[:, 1:].max(axis=1)
        beside = np.clip(1.0 + (nearest_feeling - near[:, 0]) / SITUATION_NEUTRAL_SLACK, 0.0, 1.0)
        # and, unless the direction leads by far, about as near as any other emotion's: "My test
        # results came back." lay along the happiness direction, 0.07 ahead, but nearest the
        # sadness and fear anchors, and made a full grin
        own = near[np.arange(len(near)), np.argmax(projections, axis=1) + 1]
        nearest_agree = np.clip(1.0 + (own - nearest_feeling) / SITUATION_AGREE_SLACK, 0.0, 1.0)
        sure = np.clip(gap / SITUATION_SURE_LEAD, 0.0, 1.0)
        agree = sure + (1.0 - sure) * nearest_agree
        scores = np.zeros((len(embeddings), len(EMO3D_EMOTIONS)))
        scores[:, 1:] = shares / shares.max(axis=1, keepdims=True) * (reach * lead * beside * agree)[:, None]
        return scores

    def _emotions(self, analysis: TextAnalysis, similarity: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """8 intensities from the words and ``similarity`` (2, 8): face and situation readings."""
        notes: list[str] = []
        lexical = np.zeros(len(EMO3D_EMOTIONS))
        negated: set[int] = set()
        found_words = False
        degrees = []
        felt = False  # a feeling word other than a neutral one
        names_feeling = any(_names_a_feeling(hit) for hit in analysis.emotion_hits if not hit.earlier)
        # "used to be angry, now calm": a still face shows the last feeling, and MiniLM, which reads
        # the whole text, must not bring the earlier one back (as for a negated word)
        later = {e for hit in analysis.emotion_hits if not (hit.earlier or hit.negated) for e in hit.emotions}
        over = {EMO3D_EMOTIONS.index(e) for hit in analysis.emotion_hits if hit.earlier
                for e in hit.emotions if e not in later and e != "neutral"}
        for hit in analysis.emotion_hits:
            if hit.earlier:
                notes.append(f"'{analysis.said(hit.word)}' is over by the end of the text: "
                             "the face shows what comes after")
                continue
            if hit.voiced and names_feeling:  # "Rage, screaming": the scream voices the rage
                continue
            if hit.negated:
                for emotion in hit.emotions:
                    negated.add(EMO3D_EMOTIONS.index(emotion))
                    for lean, value in NEGATED_LEANS.get(emotion, {"neutral": 0.4}).items():
                        i = EMO3D_EMOTIONS.index(lean)
                        lexical[i] = 1 - (1 - lexical[i]) * (1 - value)
                notes.append(_negated_note(analysis, hit))
                continue
            if hit.ironic:
                notes.append(f"'{analysis.said(hit.word)}' reads as irony: {', '.join(hit.emotions)}")
            if not hit.event:  # an event word is weaker evidence: similarity keeps its weight
                found_words = True
                degrees.append(hit.degree)
                felt = felt or set(hit.emotions) != {"neutral"}
            else:
                said, feelings = analysis.said(hit.word), " and ".join(hit.emotions)
                notes.append(f"'{said}' voices {feelings}" if hit.voiced else
                             f"'{said}' tells what happened: most people would feel {feelings}")
            for emotion, strength in hit.emotions.items():
                i = EMO3D_EMOTIONS.index(emotion)
                lexical[i] = 1 - (1 - lexical[i]) * (1 - min(1.0, strength * hit.degree))
        words = analysis.word_count
        face_words = sum(len(cue.phrase.split()) for cue in analysis.cues)
        if found_words:  # the words' own degree ("slightly happy") scales the similarity too
            weight = SIM_WEIGHT_WITH_WORDS if felt else SIM_WEIGHT_NEUTRAL_WORDS
            weight *= min(1.0, float(np.mean(degrees)))
        else:
            only_face = analysis.cues and words - face_words < WORDS_BESIDE_FACE
            directions = only_face and all(cue.direction for cue in analysis.cues)
            damping = SIM_WEIGHT_DIRECTIONS_ONLY if directions else SIM_WEIGHT_CUES_ONLY if only_face else 1.0
            weight = analysis.global_degree * damping
        # a text that names (or negates) its feeling is not read as a situation ("he is
        # content" is no remark; MiniLM places "nobody died" beside "died"), nor one that says
        # what the face does ("puffs out his cheeks" sat near the disgust situations; reading
        # those with 5 or more other words as situations lost 2 of the 84 FER descriptions and
        # gained none)
        earlier = any(hit.earlier for hit in analysis.emotion_hits)  # a feeling was named, if over
        situational = (not (found_words or negated or earlier or analysis.describes_face)
                       and words >= SITUATION_MIN_WORDS)
        reading = similarity.max(axis=0) if situational else similarity[0]
        against = _against_the_events(analysis)
        situation = similarity[1] * weight * against
        if situational and situation.max() > max(0.3, (similarity[0] * weight).max()):
            felt = EMO3D_EMOTIONS[int(np.argmax(situation))]
            notes.append(f"no emotion word: read as a situation, near those that make people feel {felt} "
                         f"({situation.max():.2f}, MiniLM)")
        semantic = np.clip(reading * weight, 0.0, 1.0) * against
        values = 1 - (1 - lexical) * (1 - semantic)
        for i in negated | over:
            values[i] *= NEGATED_FACTOR
        values[0] = max(values[0], 1.0 - values[1:].max())
        if not (analysis.emotion_hits or analysis.cues) and values[1:].max() < AT_REST_BELOW:
            notes.append("no feeling, face movement or situation in the text: the face stays at rest")
        return np.clip(values, 0.0, 1.0), notes

    def analyse_emotions(self, texts: Sequence[str]) -> list[EmotionIntensities]:
        """8 intensities per text: the emotion analyser other text models borrow."""
        clean = [self._validate(t) for t in texts]
        embeddings = self.encoder.encode([side_neutral_text(t) for t in clean])
        similarity = self.similarity_scores(embeddings, clean)
        return [EmotionIntensities(self._emotions(analyse(t), s)[0]) for t, s in zip(clean, similarity)]

    # faces ------------------------------------------------------------------------------
    def _predict_batch_clean(self, texts: list[str]) -> list[TextPrediction]:
        embeddings = self.encoder.encode([side_neutral_text(t) for t in texts])
        similarity = self.similarity_scores(embeddings, texts)
        arousal = self.arousal_reader.read(embeddings)
        return [self._one(*row) for row in zip(texts, similarity, arousal)]

    def _one(self, text: str, similarity: np.ndarray, arousal: float) -> TextPrediction:
        analysis = analyse(text)
        intensities, notes = self._emotions(analysis, similarity)
        prior = emotion_prior(intensities, analysis.one_sided_default("Right"))
        values, explanation = prior.values.copy(), {k: list(v) for k, v in prior.explanation.items()}
        notes.extend(_kept_small(analysis, values, explanation))
        cue_values: dict[str, float] = {}
        cue_sources: dict[str, list[tuple[str, float]]] = {}
        restrained: set[str] = set()
        suppressed: set[str] = set()
        shut: dict[str, str] = {}  # shape -> the cue keeping it shut ("lips pressed"), unless one opens it
        sided: set[str] = set()
        cue_names: list[str] = []
        for cue in analysis.cues:
            label = ("not " if cue.negated else "") + cue.phrase
            cue_names.append(label)
            notes.extend(cue.notes)
            shut.update(dict.fromkeys(() if cue.negated else cue.closes, cue.phrase))
            for shape, value in cue.shapes.items():
                if shape in cue.closes:  # a held-back laugh does not open the jaw it keeps shut
                    continue
                if cue.negated:
                    suppressed.add(shape)
                    continue
                cue_values[shape] = max(cue_values.get(shape, 0.0), value)
                cue_sources.setdefault(shape, []).append((f"cue: '{cue.phrase}'", value))
                if cue.degree < 1.0:
                    restrained.add(shape)
                if cue.sided:
                    sided.add(shape)
        for shape, value in cue_values.items():
            i = INDEX[shape]
            if shape in restrained:
                values[i] = value
                if prior.values[i] > value:
                    notes.append(
                        f"{shape}: the text's degree word limits it to {value:.2f} "
                        f"(the emotion prior alone gives {prior.values[i]:.2f})"
                    )
                    explanation.pop(shape, None)
            else:
                values[i] = max(values[i], value)
            explanation[shape] = cue_sources[shape] + explanation.get(shape, [])
        for shape in sided:
            other = mirror_name(shape)
            if other not in cue_values:
                j = INDEX[other]
                values[j] *= OPPOSITE_SIDE_FACTOR
                if other in explanation:
                    named = "left" if shape.endswith("Left") else "right"
                    explanation[other].append(
                        (f"cue: only the {named} side is named, so this side is damped", float(values[j]))
                    )
        for shape in suppressed | (set(shut) - set(cue_values)):
            i = INDEX[shape]
            values[i] *= NEGATED_FACTOR
            why = "cue: negated in the text" if shape in suppressed else f"cue: '{shut[shape]}' keeps it shut"
            explanation.setdefault(shape, []).append((why, float(values[i])))
        notes.extend(_put_on(analysis, values, explanation))
        if prior.compounds:
            notes.append("compound expression: " + ", ".join(f"{n} ({s:.2f})" for n, s in prior.compounds))
        notes.append(
            "emotions from emotion words (negation, degree), event words and MiniLM similarity to "
            "anchor faces and situations; face from the FACS prior plus the facial cues in the text"
        )
        arousal_weight = WEIGHT_WITH_FACE_CUES if analysis.describes_face else WEIGHT
        notes.append(
            f"C2A2 arousal leans towards the words' own arousal ({arousal:+.2f}, from MiniLM "
            f"similarity to rated state words; weight {arousal_weight:.2f})"
        )
        explanation = {
            name: explanation[name]
            for name in ARKIT_NAMES
            if name in explanation and values[INDEX[name]] > 1e-3
        }
        emotions = EmotionIntensities(intensities)
        return TextPrediction(
            text=text,
            model=self.name,
            emotions=emotions,
            shapes=Blendshapes(np.clip(values, 0.0, 1.0)),
            point=with_arousal(emotions.to_point(), arousal, arousal_weight),
            explanation=explanation,
            cues=cue_names,
            notes=notes,
        )
