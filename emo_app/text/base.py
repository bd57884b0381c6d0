"""What every text model returns and the interface the UI, API and CLI call."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from emo_app.blendshapes import Blendshapes
from emo_app.blendshapes.pose import HeadPose
from emo_app.config import Settings
from emo_app.emotion.emotions import EmotionIntensities
from emo_app.emotion.space import EmotionPoint, nearest_classes
from emo_app.errors import InvalidInputError
from emo_app.text.emoji import emoji_as_words
from emo_app.text.head_pose import keep_eye_contact, read_head_pose
from emo_app.text.spelling import corrected_spelling
from emo_app.validation import validate_text


@dataclass
class TextPrediction:
    """One description turned into a face, with the reasons for each shape."""

    text: str
    model: str
    emotions: EmotionIntensities
    shapes: Blendshapes
    point: EmotionPoint
    explanation: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    cues: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    pose: HeadPose = field(default_factory=HeadPose)  # the head's turn, nod and tilt the words ask for

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (the API and `python -m emo_app text --json` write this)."""
        theta, phi, r = self.point.to_spherical()
        return {
            "text": self.text,
            "model": self.model,
            "emotions": self.emotions.to_dict(),
            "dominant_emotion": self.emotions.dominant(),
            "blendshapes": self.shapes.to_dict(),
            "head_pose": self.pose.to_dict(),
            "point": {
                "valence": round(self.point.valence, 4),
                "arousal": round(self.point.arousal, 4),
                "z": round(self.point.z, 4),
                "theta": round(theta, 4),
                "phi": round(phi, 4),
                "r": round(r, 4),
                "nearest_classes": [[n, round(d, 4)] for n, d in nearest_classes(self.point, 3)],
            },
            "explanation": {
                shape: [[source, round(float(value), 4)] for source, value in rows]
                for shape, rows in self.explanation.items()
            },
            "cues": list(self.cues),
            "notes": list(self.notes),
        }


def read_description(text: Any) -> tuple[Any, list[tuple[str, str]]]:
    """The description as the text models read it, and the (typed, read) pairs that differ:
    emoji and emoticons as words ("😂" -> "laughing so hard"), then misspelt feeling and face
    words corrected ("hapy" -> "happy")."""
    words, emoji = emoji_as_words(text)
    spelled, fixes = corrected_spelling(words)
    return spelled, emoji + fixes


def validate_description(text: Any, settings: Settings | None = None) -> str:
    """``read_description``'s text, checked and cleaned (``validation.validate_text``)."""
    return validate_text(read_description(text)[0], settings)


def _note_readings(prediction: TextPrediction, readings: list[tuple[str, str]]) -> TextPrediction:
    """Say how the text's emoji and typos were read (``read_description``), first among the
    prediction's notes; then turn the head as the words ask (``read_head_pose``), whichever
    model read the feelings, and say which words did."""
    prediction.notes[:0] = [f"'{typed}' read as '{read}'" for typed, read in readings]
    reading = read_head_pose(prediction.text)
    prediction.pose = reading.pose
    prediction.notes.extend(reading.notes)
    prediction.shapes, changed = keep_eye_contact(prediction.shapes, reading)
    for shape, weight in changed.items():
        prediction.explanation.setdefault(shape, []).append(
            ("the chin is raised: the eyes look down to keep the viewer", weight))
    return prediction


class TextModel(ABC):
    """A text -> face model. Subclasses implement ``_predict_clean`` on validated text."""

    name: str = "text-model"
    description: str = ""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings.from_env()

    def _validate(self, text: Any) -> str:
        return validate_description(text, self.settings)

    def _read(self, text: Any) -> tuple[str, list[tuple[str, str]]]:
        """The validated text as the model reads it, and what was read differently."""
        read, readings = read_description(text)
        return validate_text(read, self.settings), readings

    def predict(self, text: str) -> TextPrediction:
        """Validate the text (InvalidInputError on empty, huge or non-text input), then predict."""
        clean, readings = self._read(text)
        return _note_readings(self._predict_batch_clean([clean])[0], readings)

    def predict_batch(self, texts: Sequence[str]) -> list[TextPrediction]:
        """Predict many texts at once (one encoder pass); every text is validated first."""
        if isinstance(texts, str) or not isinstance(texts, Sequence):
            raise InvalidInputError("predict_batch expects a list of descriptions.")
        if not texts:
            raise InvalidInputError("The list of descriptions is empty; give at least one.")
        clean, readings = zip(*(self._read(t) for t in texts))
        return [_note_readings(p, r) for p, r in zip(self._predict_batch_clean(list(clean)), readings)]

    @abstractmethod
    def _predict_batch_clean(self, texts: list[str]) -> list[TextPrediction]:
        """Predict validated texts."""
