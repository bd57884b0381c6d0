"""Edit a face photo towards any C2A2 point with a trained GANmut-3D generator.

The photo is centre-cropped to a square and resized to the model's resolution (128 px by
default); the result is returned at that resolution. The checkpoint is found through
``resolve("ganmut-c2a2")`` unless a path is given, and loaded once through the model manager.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from emo_app.config import Settings
from emo_app.emotion.space import EmotionPoint
from emo_app.errors import InvalidInputError, MissingWeightsError

MODEL_NAME = "ganmut-c2a2"


def ganmut_available(settings: Settings | None = None) -> bool:
    """Whether a GANmut-3D checkpoint is on this machine (never downloads)."""
    from emo_app.models import resolve

    try:
        resolve(MODEL_NAME, settings, allow_download=False)
    except MissingWeightsError:
        return False
    return True


def load_editor(checkpoint: str | Path | None = None, settings: Settings | None = None) -> Any:
    """The GanmutTrainer of ``checkpoint`` (default: the ``ganmut-c2a2`` model), cached."""
    from emo_app.models import get_manager, resolve

    path = Path(resolve(checkpoint if checkpoint is not None else MODEL_NAME, settings, allow_download=False))
    manager = get_manager()
    key = f"{MODEL_NAME}:{path.resolve()}"
    if not manager.is_registered(key):

        def loader(device: str, dtype: Any) -> Any:
            from emo_app.ganmut.train import GanmutTrainer

            return GanmutTrainer.from_checkpoint(path, device, with_training_state=False)

        manager.register(key, loader)
    return manager.get(key)


def _as_point(point: EmotionPoint | Any) -> EmotionPoint:
    if isinstance(point, EmotionPoint):
        return point
    if point is None:
        raise InvalidInputError("No target emotion was given; pass (valence, arousal, z).")
    return EmotionPoint.from_array(point)


def edit_photo(
    image: Any,
    point: EmotionPoint,
    checkpoint: str | Path | None = None,
    settings: Settings | None = None,
) -> np.ndarray:
    """Move the face in ``image`` (path, bytes, PIL or array) to ``point``; RGB uint8 square
    image at the model's resolution."""
    import torch

    from emo_app.ganmut.data import square_resize, to_tensor, to_uint8
    from emo_app.validation import load_image

    target = _as_point(point)
    photo = load_image(image, settings)
    editor = load_editor(checkpoint, settings)
    size = editor.config.image_size
    batch = to_tensor(square_resize(photo, size)[None])
    code = torch.from_numpy(target.as_array()[None]).float()
    return to_uint8(editor.translate(batch, code))[0]


def estimate_point(
    image: Any, checkpoint: str | Path | None = None, settings: Settings | None = None
) -> EmotionPoint:
    """Where D_coor places the face of ``image`` in C2A2 space (the pseudo-label of one photo)."""
    from emo_app.ganmut.data import square_resize, to_tensor
    from emo_app.validation import load_image

    photo = load_image(image, settings)
    editor = load_editor(checkpoint, settings)
    coords = editor.coordinates(to_tensor(square_resize(photo, editor.config.image_size)[None]))[0]
    values = np.clip(coords.cpu().numpy().astype(np.float64), -10.0, 10.0)
    return EmotionPoint(*values)
