"""The C2A2 generator: Stable Diffusion 1.4 conditioned on a point of the C2A2 emotion space
(NumberEncoder injection or prompt mode), DreamBooth training, walks and galleries.

Importing this package imports neither torch nor diffusers; the names below load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "generate_for_point": "emo_app.generation.api",
    "generate_for_points": "emo_app.generation.api",
    "generator_status": "emo_app.generation.api",
    "get_pipeline": "emo_app.generation.api",
    "unload_generator": "emo_app.generation.api",
    "C2A2Pipeline": "emo_app.generation.pipeline",
    "GenerationRequest": "emo_app.generation.pipeline",
    "DEFAULT_TEMPLATE": "emo_app.generation.pipeline",
    "DEFAULT_NEGATIVE_PROMPT": "emo_app.generation.pipeline",
    "prompt_mode_prompts": "emo_app.generation.pipeline",
    "NumberEncoder": "emo_app.generation.number_encoder",
    "NumberEncoderConfig": "emo_app.generation.number_encoder",
    "PRESETS": "emo_app.generation.schedulers",
    "get_preset": "emo_app.generation.schedulers",
    "TrainConfig": "emo_app.generation.train",
    "train_c2a2": "emo_app.generation.train",
    "WalkResult": "emo_app.generation.walks",
    "axis_walk_images": "emo_app.generation.walks",
    "circle_walk_images": "emo_app.generation.walks",
    "class_walk_images": "emo_app.generation.walks",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'emo_app.generation' has no attribute {name!r}")
