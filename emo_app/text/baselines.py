"""The Emo3D paper's baselines as torch modules, plus the TextModel wrappers that run them.

Architectures follow ``reference/emo3d.md``: the regression head of every baseline is the
released CLIP + MLP head (Linear 256 -> ReLU -> Linear 128 -> ReLU -> Linear 51 -> Sigmoid, keys
``network.0/2/4``) so CLIP_Baseline.pth loads strictly; VAE-CLIP keeps the released key names
(``encoder.0``, ``fc_mu``, ``fc_logvar``, ``decoder.0``, ``decoder.3``). Outputs are Emo3D's 51
values (MediaPipe order without ``_neutral``); ``Blendshapes.from_mediapipe`` adds tongueOut = 0.

CLIP features reach the heads RAW, as the released notebooks train and run them (OpenAI CLIP's
``encode_text`` / ``encode_image`` output, not L2-normalised): the released checkpoints only
give MediaPipe-like values at that scale. Unit-length features are for cosine similarity (the
metric, VAE-CLIP's alignment loss, which is scale-free anyway).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from emo_app.models.manager import quiet_transformers

N_SHAPES = 51
N_EMOTIONS = 8


class Emo3DHead(nn.Module):
    """The Emo3D regression MLP: in -> 256 -> 128 -> 51, sigmoid (keys network.0/2/4)."""

    def __init__(self, in_features: int = 512, out_features: int = N_SHAPES):
        super().__init__()
        self.network = nn.Sequential(
            nn.Linear(in_features, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
            nn.Linear(128, out_features), nn.Sigmoid(),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x)


class VAEClip(nn.Module):
    """Emo3D's VAE-CLIP: blendshapes -> latent (CLIP-sized) -> blendshapes; at inference a CLIP
    text embedding goes straight into the decoder."""

    def __init__(self, latent: int = 512, hidden: int = 256, dropout: float = 0.2):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(N_SHAPES, hidden), nn.ReLU())
        self.fc_mu = nn.Linear(hidden, latent)
        self.fc_logvar = nn.Linear(hidden, latent)
        self.decoder = nn.Sequential(
            nn.Linear(latent, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, N_SHAPES),
            nn.Sigmoid(),
        )

    def encode(self, shapes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(shapes)
        return self.fc_mu(h), self.fc_logvar(h)

    def forward(self, shapes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(shapes)
        if self.training:
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        else:
            z = mu
        return self.decoder(z), z, mu, logvar

    def decode(self, embedding: torch.Tensor) -> torch.Tensor:
        return self.decoder(embedding)


def vae_clip_loss(
    model_out: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
    target: torch.Tensor,
    text_embedding: torch.Tensor | None,
    image_embedding: torch.Tensor | None,
    text_weight: float = 0.004,
    image_weight: float = 0.002,
    kl_weight: float = 0.0,
) -> torch.Tensor:
    """As released: MSE + 0.004 (1 - cos(z, text)) + 0.002 (1 - cos(z, image)); KL optional."""
    recon, z, mu, logvar = model_out
    loss = nn.functional.mse_loss(recon, target)
    if text_embedding is not None:
        loss = loss + text_weight * (1 - nn.functional.cosine_similarity(z, text_embedding, dim=-1)).mean()
    if image_embedding is not None:
        loss = loss + image_weight * (1 - nn.functional.cosine_similarity(z, image_embedding, dim=-1)).mean()
    if kl_weight:
        kl = -0.5 * torch.mean(torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=-1))
        loss = loss + kl_weight * kl
    return loss


class TransformerTextEncoder(nn.Module):
    """Any transformers encoder by folder (a resolved name or a local path) -> one vector per text."""

    def __init__(self, folder: str, pooling: str = "mean", max_length: int = 128):
        super().__init__()
        from transformers import AutoModel, AutoTokenizer

        with quiet_transformers():
            self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            self.model = AutoModel.from_pretrained(folder, local_files_only=True)
        self.pooling = pooling
        self.max_length = max_length

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        device = next(self.model.parameters()).device
        batch = self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(device)
        hidden = self.model(**batch).last_hidden_state
        if self.pooling == "cls":
            return hidden[:, 0]
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    def save(self, folder: str) -> None:
        self.model.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)


class LMRegressor(nn.Module):
    """LM + MLP: pooled encoder output -> Emo3D head."""

    def __init__(self, encoder: TransformerTextEncoder):
        super().__init__()
        self.encoder = encoder
        self.head = Emo3DHead(encoder.hidden_size)

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        return self.head(self.encoder(texts))


class EmotionXLM(nn.Module):
    """Emotion-XLM: an emotion extractor predicts 8 intensities v and their one-hot o;
    [embedding, v, o] (768 + 16 = 784 for XLM-R) -> regression head."""

    def __init__(self, encoder: TransformerTextEncoder):
        super().__init__()
        self.encoder = encoder
        hidden = encoder.hidden_size
        self.extractor = nn.Sequential(
            nn.Linear(hidden, 256), nn.ReLU(), nn.Linear(256, N_EMOTIONS), nn.Sigmoid()
        )
        self.head = Emo3DHead(hidden + 2 * N_EMOTIONS)

    def forward(
        self,
        texts: Sequence[str],
        teacher: torch.Tensor | None = None,
        teacher_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (blendshapes, predicted emotions). Where ``teacher_mask`` is true the
        ground-truth emotions ``teacher`` replace the extractor's (teacher forcing)."""
        embedding = self.encoder(texts)
        emotions = self.extractor(embedding)
        used = emotions
        if teacher is not None and teacher_mask is not None:
            used = torch.where(teacher_mask.unsqueeze(-1), teacher, emotions)
        one_hot = nn.functional.one_hot(used.argmax(-1), N_EMOTIONS).to(used.dtype)
        return self.head(torch.cat([embedding, used, one_hot], dim=-1)), emotions


def emotion_xlm_loss(
    shapes: torch.Tensor,
    emotions: torch.Tensor,
    target_shapes: torch.Tensor,
    target_emotions: torch.Tensor,
    shape_weight: float = 1.0,
    emotion_weight: float = 0.5,
) -> torch.Tensor:
    """l1 * MSE(blendshapes) + l2 * MSE(emotions). The paper gives no l1, l2: the defaults
    (1.0, 0.5) are ours (``TrainConfig.shape_weight`` / ``emotion_weight``, ``--shape-weight``)."""
    return shape_weight * nn.functional.mse_loss(
        shapes, target_shapes
    ) + emotion_weight * nn.functional.mse_loss(emotions, target_emotions)
