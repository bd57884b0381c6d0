"""CLIP through open_clip, shared by the Emo3D metric and the CLIP text baselines: batched image
encoding and cached text embeddings.

The paper's model is OpenAI CLIP ViT-B/32 (open_clip ``ViT-B-32-quickgelu`` with ``openai``
weights); its weights come through the resolver (``clip-vit-b-32``), so offline without the file
``get_clip`` raises ``MissingWeightsError`` and callers fall back to the offline judges. Any
other open_clip model works by name with a pretrained tag (fetched through the resolver's
``hf-hub:`` reference) or a local weights path. The prompt pool's text embeddings are computed
once per (model, pool texts) and kept on disk as ``.npy`` (no pickle), because re-encoding a
400-prompt pool costs more than scoring a face.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from emo_app.config import Settings
from emo_app.errors import InvalidInputError, MissingWeightsError
from emo_app.models.manager import get_manager
from emo_app.models.registry import KNOWN_MODELS
from emo_app.models.resolver import resolve

log = logging.getLogger(__name__)

DEFAULT_CLIP_MODEL = "ViT-B-32-quickgelu"
DEFAULT_CLIP_PRETRAINED = "openai"
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
_OPENAI_B32 = {("ViT-B-32-quickgelu", "openai"), ("ViT-B-32", "openai")}


class ClipEncoder:
    """An open_clip model with its tokenizer and image normalisation, encoding in batches.

    ``model_id`` names the weights (it keys the text-embedding cache), so two encoders with the
    same id must produce the same embeddings.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Callable[[Sequence[str]], Any],
        *,
        model_id: str,
        image_size: int | None = None,
        mean: Sequence[float] = OPENAI_MEAN,
        std: Sequence[float] = OPENAI_STD,
        device: str = "cpu",
    ):
        import torch

        self.model = model.eval()
        self.tokenizer = tokenizer
        self.model_id = model_id
        self.device = device
        if image_size is None:
            size = getattr(getattr(model, "visual", None), "image_size", 224)
            image_size = int(size[0] if isinstance(size, (tuple, list)) else size)
        self.image_size = int(image_size)
        self._dtype = next(model.parameters()).dtype
        self._mean = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        self._std = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)

    def _prepare(self, image: np.ndarray) -> Any:
        """uint8 (H, W, 3|4) or (H, W) -> normalised (3, S, S): resize shortest side, center crop."""
        import torch
        import torch.nn.functional as F

        array = np.asarray(image)
        if array.ndim == 2:
            array = np.repeat(array[:, :, None], 3, axis=2)
        if array.ndim != 3 or array.shape[2] not in (3, 4):
            raise InvalidInputError(f"A face image must be (H, W, 3) RGB; got shape {array.shape}.")
        array = array[:, :, :3]
        if array.dtype != np.uint8:
            array = np.clip(array * (255.0 if array.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
        # a read-only image (a render handed out as read-only) is copied: torch warns on those
        pixels = np.require(array, requirements=["C", "W"])
        tensor = torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 255.0
        height, width = tensor.shape[-2:]
        scale = self.image_size / min(height, width)
        new_size = (max(self.image_size, round(height * scale)), max(self.image_size, round(width * scale)))
        if new_size != (height, width):
            tensor = F.interpolate(tensor, size=new_size, mode="bicubic", antialias=True, align_corners=False)
        top = (tensor.shape[-2] - self.image_size) // 2
        left = (tensor.shape[-1] - self.image_size) // 2
        tensor = tensor[..., top : top + self.image_size, left : left + self.image_size].clamp(0, 1)
        return ((tensor - self._mean) / self._std)[0]

    def encode_images(
        self, images: Sequence[np.ndarray], batch_size: int = 32, *, normalise: bool = True
    ) -> np.ndarray:
        """(M, D) float32 image embeddings: unit length for cosine similarity (the metric), or
        ``normalise=False`` for the raw ``encode_image`` output the Emo3D heads were trained on."""
        import torch

        if len(images) == 0:
            return np.zeros((0, self.embed_dim), dtype=np.float32)
        chunks = []
        with torch.inference_mode():
            for start in range(0, len(images), batch_size):
                batch = torch.stack([self._prepare(im) for im in images[start : start + batch_size]])
                features = self.model.encode_image(batch.to(self.device, self._dtype))
                features = features.float().cpu().numpy()
                chunks.append(_unit(features) if normalise else features.astype(np.float32))
        return np.concatenate(chunks)

    def encode_texts(
        self, texts: Sequence[str], batch_size: int = 128, *, normalise: bool = True
    ) -> np.ndarray:
        """(N, D) float32 text embeddings: unit length, or raw ``encode_text`` output with
        ``normalise=False`` (see ``encode_images``)."""
        import torch

        chunks = []
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                tokens = self.tokenizer(list(texts[start : start + batch_size])).to(self.device)
                features = self.model.encode_text(tokens).float().cpu().numpy()
                chunks.append(_unit(features) if normalise else features.astype(np.float32))
        return np.concatenate(chunks) if chunks else np.zeros((0, self.embed_dim), dtype=np.float32)

    @property
    def embed_dim(self) -> int:
        projection = getattr(getattr(self.model, "visual", None), "output_dim", None)
        return int(projection) if projection else int(self.encode_texts(["a face"]).shape[1])


def _unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32)


def _weights_path(model_name: str, pretrained: str, settings: Settings) -> Path:
    """Every CLIP weight file comes through the resolver (MissingWeightsError offline)."""
    import open_clip

    if Path(pretrained).expanduser().exists():
        return Path(pretrained).expanduser()
    if (model_name, pretrained) in _OPENAI_B32:
        return resolve("clip-vit-b-32", settings)
    if pretrained in KNOWN_MODELS:
        return resolve(pretrained, settings)
    if pretrained.startswith("hf-hub:"):
        return resolve(pretrained, settings)
    cfg = open_clip.get_pretrained_cfg(model_name, pretrained)
    if not cfg:
        tags = open_clip.list_pretrained_tags_by_model(model_name)
        raise InvalidInputError(
            f"open_clip has no weights '{pretrained}' for '{model_name}'. "
            f"Known tags: {', '.join(tags) or 'none'}; or pass a local weights file."
        )
    if not cfg.get("hf_hub"):
        raise MissingWeightsError(
            f"{model_name}:{pretrained}", pretrained, [], "Download the weights and pass their path."
        )
    repo = cfg["hf_hub"].strip("/")
    try:
        return resolve(f"hf-hub:{repo}/open_clip_model.safetensors", settings)
    except MissingWeightsError:
        return resolve(f"hf-hub:{repo}/open_clip_pytorch_model.bin", settings)


def load_clip(
    model_name: str = DEFAULT_CLIP_MODEL,
    pretrained: str | None = DEFAULT_CLIP_PRETRAINED,
    *,
    device: str = "cpu",
    dtype: Any = None,
    settings: Settings | None = None,
) -> ClipEncoder:
    """Build an encoder. ``pretrained=None`` gives random weights (timing only, never scores)."""
    import open_clip

    settings = settings or Settings.from_env()
    if model_name not in open_clip.list_models():
        raise InvalidInputError(
            f"'{model_name}' is not an open_clip model; try {DEFAULT_CLIP_MODEL} "
            "or see open_clip.list_models()."
        )
    mean, std = OPENAI_MEAN, OPENAI_STD
    if pretrained:
        path = _weights_path(model_name, pretrained, settings)
        cfg = open_clip.get_pretrained_cfg(model_name, pretrained) or {}
        mean, std = cfg.get("mean", mean), cfg.get("std", std)
        model = open_clip.create_model(model_name, pretrained=str(path), device=device)
        stat = path.stat()
        model_id = f"open_clip:{model_name}:{pretrained}:{path.name}:{stat.st_size}"
    else:
        model = open_clip.create_model(model_name, pretrained=None, device=device)
        model_id = f"open_clip:{model_name}:random"
    if dtype is not None:
        model = model.to(dtype=dtype)
    tokenizer = open_clip.get_tokenizer(model_name)
    return ClipEncoder(model, tokenizer, model_id=model_id, mean=mean, std=std, device=device)


def get_clip(
    model_name: str = DEFAULT_CLIP_MODEL,
    pretrained: str = DEFAULT_CLIP_PRETRAINED,
    settings: Settings | None = None,
) -> ClipEncoder:
    """The shared encoder, loaded once through the ModelManager; MissingWeightsError offline."""
    settings = settings or Settings.from_env()
    _weights_path(model_name, pretrained, settings)  # fail fast, before the manager wraps errors
    manager = get_manager()
    name = f"clip:{model_name}:{pretrained}"
    if not manager.is_registered(name):
        manager.register(
            name, lambda device, dtype: load_clip(model_name, pretrained, device=device, settings=settings)
        )
    return manager.get(name)


def clip_available(
    model_name: str = DEFAULT_CLIP_MODEL, pretrained: str = DEFAULT_CLIP_PRETRAINED,
    settings: Settings | None = None,
) -> tuple[bool, str]:
    """(True, "") when the CLIP weights are on disk, else (False, the plain reason) - no download."""
    settings = settings or Settings.from_env()
    try:
        if (model_name, pretrained) in _OPENAI_B32:
            resolve("clip-vit-b-32", settings, allow_download=False)
        else:
            _weights_path(model_name, pretrained, settings)
    except MissingWeightsError as exc:
        return False, str(exc)
    return True, ""


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:60]


class TextEmbeddingCache:
    """Pool text embeddings on disk, one ``.npy`` per (model id, pool text hash)."""

    def __init__(self, root: str | Path | None = None, settings: Settings | None = None):
        if root is None:
            root = (settings or Settings.from_env()).data_dir / "cache" / "metric-text"
        self.root = Path(root)
        self.hits = 0
        self.misses = 0

    def path_for(self, model_id: str, text_hash: str) -> Path:
        model_key = hashlib.sha256(model_id.encode()).hexdigest()[:12]
        return self.root / f"{_slug(model_id)}-{model_key}-{text_hash[:20]}.npy"

    def embeddings(self, encoder: ClipEncoder, texts: Sequence[str], text_hash: str) -> np.ndarray:
        """Cached embeddings when the file matches, else encode and store them."""
        path = self.path_for(encoder.model_id, text_hash)
        if path.exists():
            try:
                cached = np.load(path, allow_pickle=False)
                if cached.ndim == 2 and cached.shape[0] == len(texts):
                    self.hits += 1
                    return cached
            except (OSError, ValueError) as exc:
                log.warning("Ignoring unreadable embedding cache %s: %s", path, exc)
        self.misses += 1
        embeddings = encoder.encode_texts(list(texts))
        self.root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=self.root, suffix=".npy", delete=False) as tmp:
            np.save(tmp, embeddings, allow_pickle=False)
        os.replace(tmp.name, path)
        return embeddings

    def pool_embeddings(self, encoder: ClipEncoder, pool: Any) -> np.ndarray:
        """Embeddings of a ``PromptPool``'s texts, keyed by the pool's text hash."""
        return self.embeddings(encoder, pool.texts, pool.text_hash)
