"""GANmut-3D hyper-parameters in one dataclass, saved as JSON beside every checkpoint so a
checkpoint rebuilds the exact networks that wrote it. Defaults are GANmut's (the C2A2
supplementary, section 2.1: "we follow the original implementation of GANmut")."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from emo_app.errors import InvalidInputError

# The 7 AffectNet classes D_cls predicts, in AffectNet's label order (0..6; 7 Contempt and the
# non-face labels are not used). Names follow emo_app.emotion.space.
GANMUT_CLASSES: tuple[str, ...] = (
    "Neutral", "Happy", "Sad", "Surprised", "Fearful", "Disgusted", "Angry",
)  # fmt: skip
NEUTRAL_INDEX = 0


@dataclass
class GanmutConfig:
    """Networks, losses and optimiser settings of GANmut-3D.

    ``image_size`` and the channel widths are configurable so tests can train 32 px toy models;
    the defaults are the paper's 128 px StarGAN backbone.
    """

    image_size: int = 128
    code_dim: int = 3  # (valence, arousal, Z)
    num_classes: int = 7
    g_conv_dim: int = 64  # first 7x7 conv; doubles at each of the two downsamplings (-> 256)
    g_repeat_num: int = 6  # residual blocks
    d_conv_dim: int = 64
    d_repeat_num: int = 0  # 0 = log2(image_size) - 1 (6 at 128 px, as in StarGAN)
    lambda_cls: float = 1.0
    lambda_rec: float = 10.0
    lambda_gp: float = 10.0
    lambda_info: float = 1.0  # lambda_info_G of eq. (8)
    lambda_info_d: float = 1.0  # lambda_info_D of eq. (7)
    lambda_rho: float = 1.0
    lambda_av: float = 1.0  # weight of L_av in eq. (7) (the supplementary writes it unweighted)
    lambda_au_z: float = 1.0  # weight of L_AU_Y in eq. (7)
    g_lr: float = 1e-4
    d_lr: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.999
    batch_size: int = 16
    n_critic: int = 5  # discriminator steps per generator step
    rho_min: float = 0.2  # expression strengths below this are neutral
    rho_max: float = 1.0
    neutral_prob: float = 1.0 / 7.0  # share of sampled target codes that are neutral
    off_axis_codes: int = 5  # GANmut's n_r: codes per batch in a random direction (compounds)
    code_noise_std: float = 0.075  # GANmut's Gaussian noise on every on-axis code
    seed: int = 0

    def __post_init__(self) -> None:
        if self.image_size < 16 or self.image_size % 4 or self.image_size & (self.image_size - 1):
            raise InvalidInputError(
                f"image_size must be a power of two >= 16 (e.g. 32 or 128); got {self.image_size}."
            )
        if self.code_dim != 3:
            raise InvalidInputError("GANmut-3D codes are 3D (valence, arousal, Z); code_dim must be 3.")
        if self.num_classes != len(GANMUT_CLASSES):
            raise InvalidInputError(f"num_classes must be {len(GANMUT_CLASSES)} (AffectNet's 7 classes).")
        if self.off_axis_codes < 0 or self.code_noise_std < 0:
            raise InvalidInputError("off_axis_codes and code_noise_std must not be negative.")
        for name in ("g_conv_dim", "d_conv_dim", "batch_size", "n_critic"):
            if getattr(self, name) < 1:
                raise InvalidInputError(f"{name} must be at least 1; got {getattr(self, name)}.")
        if not 0.0 <= self.rho_min < self.rho_max <= 1.0:
            raise InvalidInputError("Need 0 <= rho_min < rho_max <= 1 for the expression strength.")

    @property
    def discriminator_depth(self) -> int:
        """Stride-2 convolutions in the PatchGAN; its last feature map is 2x2."""
        return self.d_repeat_num or int(math.log2(self.image_size)) - 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GanmutConfig:
        """Ignore unknown keys, so a checkpoint's JSON (which also holds the step) loads."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def save(self, path: str | Path, **extra: Any) -> None:
        Path(path).write_text(json.dumps({**self.to_dict(), **extra}, indent=2))

    @classmethod
    def load(cls, path: str | Path) -> GanmutConfig:
        return cls.from_dict(json.loads(Path(path).read_text()))
