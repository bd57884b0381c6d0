"""Conditional codes of GANmut-3D: z_{c,rho} = rho * d_c with a learned unit direction d_c per
non-neutral class and an expression strength rho.

GANmut initialises its class angles so that codes cover only the positive quadrant/octant;
C2A2 needs Fear above and Sad below the valence/arousal plane, so the directions here start
uniformly over the whole sphere (seeded) and are learned by the generator's optimiser through
eqs. (2) and (4). rho ~ U[rho_min, rho_max] = U[0.2, 1] for emotional targets; neutral
targets have rho < 0.2 in a uniformly random direction (a ball around the origin).

As GANmut's training generator does, codes are not only the class axes: every code gets small
Gaussian noise (std ``code_noise_std`` = 0.075), and ``off_axis_codes`` (GANmut's n_r = 5) codes
per batch point in a uniformly random direction at their rho, so the generator also learns the
space between the axes, where the compound emotions live. GANmut draws those directions in the
positive quadrant; C2A2 needs the whole sphere. Off-axis codes have no class, so eq. (2) skips
them (``SampledCodes.on_axis``); eqs. (4) and (5) use them.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from emo_app.ganmut.config import NEUTRAL_INDEX, GanmutConfig


def uniform_sphere(count: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``count`` unit vectors uniform on the whole sphere (normalised Gaussians)."""
    vectors = torch.randn(count, 3, generator=generator)
    return vectors / vectors.norm(dim=1, keepdim=True).clamp_min(1e-8)


class ClassDirections(nn.Module):
    """Learned unit directions d_c in 3D for the non-neutral classes; neutral has none."""

    def __init__(self, config: GanmutConfig):
        super().__init__()
        seeded = torch.Generator().manual_seed(config.seed)
        self.raw = nn.Parameter(uniform_sphere(config.num_classes - 1, seeded))

    def forward(self) -> torch.Tensor:
        """(num_classes, 3): unit rows, with a zero row for Neutral."""
        unit = self.raw / self.raw.norm(dim=1, keepdim=True).clamp_min(1e-8)
        zero = unit.new_zeros(1, 3)
        return torch.cat([unit[:NEUTRAL_INDEX], zero, unit[NEUTRAL_INDEX:]], dim=0)


class SampledCodes(NamedTuple):
    code: torch.Tensor  # (B, 3) = rho * d_c + noise (neutral: a short random vector)
    target: torch.Tensor  # (B,) class index c (meaningless where on_axis is False)
    rho: torch.Tensor  # (B,) expression strength
    on_axis: torch.Tensor  # (B,) bool: the code follows its class axis (False: random direction)


def sample_codes(
    directions: torch.Tensor,
    batch: int,
    config: GanmutConfig,
    generator: torch.Generator | None = None,
) -> SampledCodes:
    """Random targets for a batch: the class, then rho, then the code (differentiable in
    ``directions`` so eqs. (2) and (4) move the class directions). The first
    ``min(off_axis_codes, batch - 1)`` rows point in random directions (at least one row keeps a
    class axis); the others get ``code_noise_std`` Gaussian noise."""
    num_emotional = config.num_classes - 1
    neutral = torch.rand(batch, generator=generator) < config.neutral_prob
    emotional = torch.randint(0, num_emotional, (batch,), generator=generator)
    emotional = emotional + (emotional >= NEUTRAL_INDEX).long()
    target = torch.where(neutral, torch.full_like(emotional, NEUTRAL_INDEX), emotional)
    u = torch.rand(batch, generator=generator)
    rho = torch.where(
        neutral, u * config.rho_min, config.rho_min + u * (config.rho_max - config.rho_min)
    )
    random_dirs = uniform_sphere(batch, generator)
    noise = torch.randn(batch, 3, generator=generator) * config.code_noise_std
    off_axis = torch.arange(batch) < min(config.off_axis_codes, batch - 1)
    device = directions.device
    target, rho = target.to(device), rho.to(device)
    class_dirs = directions[target]
    random_rows = (neutral | off_axis).to(device)[:, None]
    unit = torch.where(random_rows, random_dirs.to(device), class_dirs)
    code = rho[:, None] * unit + torch.where(off_axis.to(device)[:, None], 0.0, noise.to(device))
    return SampledCodes(code, target, rho, ~off_axis.to(device))


def estimate_strength(cls_logits: torch.Tensor) -> torch.Tensor:
    """rho-hat as GANmut computes it: the probability D_cls gives the most likely class (the
    supplementary: "the estimated expression strength based on the class to which image x
    belongs most likely"). A confident classifier reads a strong expression."""
    return torch.softmax(cls_logits, dim=1).max(dim=1).values
