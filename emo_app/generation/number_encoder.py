"""The NumberEncoder: a C2A2 point (valence, arousal, z) -> one CLIP token embedding.

The paper does not publish its architecture; we use random-free Fourier features of the point
(so nearby points get nearby but distinguishable codes) and a small MLP, added to a learned
base embedding. The base starts at the embedding of a real word ("person" by default), so an
untrained encoder already produces a sensible token and training only learns the offset."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from emo_app.errors import ModelLoadError

WEIGHTS_NAME = "number_encoder.safetensors"
CONFIG_NAME = "number_encoder.json"


@dataclass(frozen=True)
class NumberEncoderConfig:
    """Shape of the encoder. ``embedding_dim`` must match the text encoder (768 for SD 1.4)."""

    embedding_dim: int = 768
    num_frequencies: int = 6
    hidden_dim: int = 256
    # Features are sin/cos(pi * f * coordinate) for f = 1 .. max_frequency, log-spaced: with the
    # defaults f = 1, 1.52, 2.30, 3.48, 5.28, 8, i.e. 0.5 to 4 cycles per unit of a coordinate
    # (``NumberEncoder.cycles_per_unit``); the slowest is half a cycle across [-1, 1]'s width of 2.
    max_frequency: float = 8.0
    initial_offset_scale: float = 0.1  # keeps the untrained offset small next to the base token


class NumberEncoder(nn.Module):
    """(batch, 3) points -> (batch, embedding_dim) token embeddings."""

    def __init__(self, config: NumberEncoderConfig | None = None):
        super().__init__()
        self.config = config or NumberEncoderConfig()
        c = self.config
        frequencies = torch.logspace(0.0, math.log2(c.max_frequency), c.num_frequencies, base=2.0)
        self.register_buffer("frequencies", frequencies * math.pi, persistent=False)
        in_dim = 3 + 3 * 2 * c.num_frequencies
        self.mlp = nn.Sequential(
            nn.Linear(in_dim, c.hidden_dim),
            nn.SiLU(),
            nn.Linear(c.hidden_dim, c.hidden_dim),
            nn.SiLU(),
            nn.Linear(c.hidden_dim, c.embedding_dim),
        )
        with torch.no_grad():
            self.mlp[-1].weight.mul_(c.initial_offset_scale)
            self.mlp[-1].bias.zero_()
        self.base = nn.Parameter(torch.zeros(c.embedding_dim))

    @property
    def cycles_per_unit(self) -> torch.Tensor:
        """The features' real frequencies in cycles per unit of a coordinate (f / 2)."""
        return self.frequencies / (2 * math.pi)

    def fourier_features(self, points: torch.Tensor) -> torch.Tensor:
        angles = points[..., :, None] * self.frequencies  # (batch, 3, F)
        features = torch.cat([angles.sin(), angles.cos()], dim=-1).flatten(-2)
        return torch.cat([points, features], dim=-1)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        points = points.to(self.base.device, torch.float32)
        if points.ndim == 1:
            points = points[None]
        return self.base + self.mlp(self.fourier_features(points))

    @torch.no_grad()
    def initialize_base(self, token_embedding: torch.Tensor) -> None:
        """Start from a real word's embedding so the untrained token already reads as a word."""
        self.base.copy_(token_embedding.detach().float().to(self.base.device))

    def save_pretrained(self, folder: str | Path) -> Path:
        """Weights as safetensors with the config as JSON beside them."""
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().float().contiguous() for k, v in self.state_dict().items()}
        save_file(state, str(folder / WEIGHTS_NAME))
        (folder / CONFIG_NAME).write_text(json.dumps(asdict(self.config), indent=2), encoding="utf-8")
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> NumberEncoder:
        from emo_app.models import load_state_dict

        folder = Path(folder)
        config_path, weights_path = folder / CONFIG_NAME, folder / WEIGHTS_NAME
        if not config_path.exists() or not weights_path.exists():
            raise ModelLoadError(
                f"'{folder}' has no {WEIGHTS_NAME} + {CONFIG_NAME}; it is not a C2A2 pipeline folder "
                "(train one with `python -m emo_app train-c2a2`)."
            )
        try:
            raw: dict[str, Any] = json.loads(config_path.read_text(encoding="utf-8"))
            config = NumberEncoderConfig(**raw)
        except (ValueError, TypeError) as exc:
            raise ModelLoadError(f"{config_path} is not a valid NumberEncoder config: {exc}") from exc
        encoder = cls(config)
        try:
            encoder.load_state_dict(load_state_dict(weights_path))
        except RuntimeError as exc:
            raise ModelLoadError(f"{weights_path} does not match its config: {exc}") from exc
        return encoder
