"""Where models come from (the resolver) and who holds them in memory (the manager)."""

from emo_app.models.manager import ModelManager, get_manager
from emo_app.models.registry import KNOWN_MODELS, ModelSpec
from emo_app.models.resolver import load_state_dict, resolve

__all__ = ["KNOWN_MODELS", "ModelManager", "ModelSpec", "get_manager", "load_state_dict", "resolve"]
