"""TextModels around trained baselines (our checkpoint folders) and the authors' released
Emo3D checkpoints. Models without an emotion head borrow the embedded model's emotion analyser
(and say so in ``notes``); their explanation names the learned model, not rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from emo_app.blendshapes import Blendshapes
from emo_app.config import Settings
from emo_app.emotion.emotions import EmotionIntensities
from emo_app.text.base import TextModel, TextPrediction


def _explain(shapes: Blendshapes, source: str) -> dict[str, list[tuple[str, float]]]:
    return {
        name: [(source, value)] for name, value in shapes.to_dict(include_zero=False).items() if value > 1e-3
    }


class _LearnedModel(TextModel):
    """Shared prediction code: subclasses give 51 shapes (and maybe emotions) per text."""

    def __init__(self, name: str, settings: Settings | None = None, emotion_source: Any = None):
        super().__init__(settings)
        self.name = name
        self._emotion_source = emotion_source

    def _emotion_analyser(self) -> Any:
        """Who estimates the emotions of a model without an emotion head: the ``emotion_source``
        given (the registry passes the embedded model), anything with ``analyse_emotions``."""
        if self._emotion_source is None:
            raise RuntimeError(f"'{self.name}' has no emotion head and was built without an emotion_source")
        return self._emotion_source

    def _shapes_and_emotions(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
        raise NotImplementedError

    def _shapes_from_clip(self, texts: list[str], vae: bool, raw: bool = True) -> np.ndarray:
        """(N, 51) shapes from the CLIP text embedding, through a CLIP+MLP head or, for
        VAE-CLIP, its decoder (``self._clip`` and ``self.module`` are set by the subclass).
        ``raw``: the un-normalised ``encode_text`` output, the scale the heads were trained on."""
        import torch

        with torch.inference_mode():
            embedding = torch.from_numpy(self._clip.encode_texts(texts, normalise=not raw))
            shapes = self.module.decode(embedding) if vae else self.module(embedding)
        return shapes.float().cpu().numpy()

    def _predict_batch_clean(self, texts: list[str]) -> list[TextPrediction]:
        shapes, emotions = self._shapes_and_emotions(texts)
        notes = [f"blendshapes from the trained '{self.name}' model"]
        if emotions is None:
            intensities = self._emotion_analyser().analyse_emotions(texts)
            notes.append(
                "this model has no emotion head: emotions estimated by the embedded model's analyser"
            )
        else:
            intensities = [EmotionIntensities(row) for row in emotions]
        out = []
        for text, row, emo in zip(texts, shapes, intensities):
            blend = Blendshapes.from_mediapipe(row)
            out.append(
                TextPrediction(
                    text,
                    self.name,
                    emo,
                    blend,
                    emo.to_point(),
                    _explain(blend, f"model: {self.name}"),
                    [],
                    list(notes),
                )
            )
        return out


class CheckpointTextModel(_LearnedModel):
    """One of our checkpoint folders (train.py format)."""

    def __init__(
        self,
        folder: Path,
        settings: Settings | None = None,
        name: str | None = None,
        clip_encoder: Any = None,
        emotion_source: Any = None,
    ):
        from emo_app.text.train import load_module

        super().__init__(name or Path(folder).name, settings, emotion_source)
        self.module, self.config, self.state = load_module(Path(folder), self.settings)
        self.kind = self.config.kind
        self.description = self.config.description or f"trained {self.kind} ({self.config.encoder})"
        self._clip = clip_encoder
        if self.kind in ("clip-mlp", "vae-clip") and self._clip is None:
            from emo_app.models.clip import get_clip

            self._clip = get_clip(settings=self.settings)

    def _shapes_and_emotions(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
        import torch

        with torch.inference_mode():
            if self.kind == "lm-mlp":
                return self.module(texts).float().cpu().numpy(), None
            if self.kind == "emotion-xlm":
                shapes, emotions = self.module(texts)
                return shapes.float().cpu().numpy(), emotions.float().cpu().numpy()
        raw = self.config.clip_features == "raw"
        return self._shapes_from_clip(texts, vae=self.kind == "vae-clip", raw=raw), None


class OfficialEmo3DModel(_LearnedModel):
    """The authors' CLIP_Baseline.pth / VAE_CLIP.pt (need OpenAI CLIP ViT-B/32 weights), fed
    raw CLIP text features as in the released notebooks."""

    def __init__(
        self,
        name: str,
        settings: Settings | None = None,
        clip_encoder: Any = None,
        emotion_source: Any = None,
    ):
        from emo_app.models import load_state_dict, resolve
        from emo_app.models.clip import get_clip
        from emo_app.text.baselines import Emo3DHead, VAEClip

        super().__init__(name, settings, emotion_source)
        self.module = Emo3DHead(512) if name == "emo3d-clip-baseline" else VAEClip()
        self.module.load_state_dict(load_state_dict(resolve(name, self.settings)), strict=True)
        self.module.eval()
        self.description = f"Emo3D authors' released {name} checkpoint"
        self._clip = clip_encoder or get_clip(settings=self.settings)

    def _shapes_and_emotions(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
        return self._shapes_from_clip(texts, vae=self.name != "emo3d-clip-baseline", raw=True), None
