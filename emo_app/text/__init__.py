"""Text -> 8 emotion intensities -> 52 blendshapes (+ the C2A2 point and an explanation).

``get_text_model("embedded")`` works offline with no training data; the Emo3D baselines are
trainable (``train.py``) and loadable by checkpoint folder name. Imports here stay light:
torch and transformers load only when a model does.
"""

from emo_app.text.base import TextModel, TextPrediction
from emo_app.text.registry import get_text_model, list_text_models

__all__ = ["TextModel", "TextPrediction", "get_text_model", "list_text_models"]
