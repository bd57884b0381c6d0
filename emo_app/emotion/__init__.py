"""Emotion spaces: the C2A2 sphere (valence, arousal, Z) and Emo3D's 8 emotion intensities."""

from emo_app.emotion.emotions import EMO3D_EMOTIONS, EmotionIntensities
from emo_app.emotion.space import C2A2_CLASSES, EmotionPoint, nearest_classes

__all__ = ["C2A2_CLASSES", "EMO3D_EMOTIONS", "EmotionIntensities", "EmotionPoint", "nearest_classes"]
