"""Conditional codes of GANmut-3D: z_{c,rho} = rho * d_c with a learned unit direction d_c per
non-neutral class and an expression strength rho.

GANmut initialises its class angles so that codes cover only the positive quadrant/octant;
C2A2 needs Fear above and Sad below the valence/arousal plane, so the directions here start
uniformly over the whole sphere (seeded) and are learned by the generator's optimiser through
eqs. (2), (4) and (5). rho ~ U[rho_min, rho_max] = U[0.2, 1] for emotional targets; neutral
targets have rho < 0.2 in a uniformly random direction (a ball around the origin).
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
    code: torch.Tensor  # (B, 3) = rho * d_c (neutral: a short random vector)
    target: torch.Tensor  # (B,) class index c
    rho: torch.Tensor  # (B,) expression strength


def sample_codes(
    directions: torch.Tensor,
    batch: int,
    config: GanmutConfig,
    generator: torch.Generator | None = None,
) -> SampledCodes:
    """Random targets for a batch: the class, then rho, then the code (differentiable in
    ``directions`` so eq. (2) and (5) move the class directions)."""
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
    target = target.to(directions.device)
    rho = rho.to(directions.device)
    class_dirs = directions[target]
    unit = torch.where(neutral.to(directions.device)[:, None], random_dirs.to(directions.device), class_dirs)
    return SampledCodes(rho[:, None] * unit, target, rho)


def estimate_strength(coor: torch.Tensor, cls_logits: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """rho-hat: the estimated code projected on the direction of the most likely class (the
    supplementary: "based on the class to which image x belongs most likely"); for images judged
    neutral, the code's length."""
    likely = cls_logits.argmax(dim=1)
    projected = (coor * directions[likely]).sum(dim=1)
    return torch.where(likely == NEUTRAL_INDEX, coor.norm(dim=1), projected)
