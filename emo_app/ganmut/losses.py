"""The losses of the C2A2 supplementary, section 2.2, one function per term, in 3D.

Notation: x a real image, G(x, z) a fake, z = rho * d_c a target code, D = (D_src, D_cls, D_coor).
Equation (1) includes the gradient penalty with a minus sign, so the discriminator minimises
-L_adv (eq. 7) and the generator minimises L_adv (eq. 8), of which only -E[D_src(G(x, z))]
depends on G. Masks let batches mix images with and without (valence, arousal) and AU labels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from emo_app.ganmut.config import GanmutConfig


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """E[(||grad D_src(x_hat)||_2 - 1)^2] on x_hat sampled on the lines between real and fake.

    Patch scores are summed per image before differentiating (StarGAN's convention), so a
    critic that is 1-Lipschitz per image has a zero penalty."""
    alpha = torch.rand(real.size(0), 1, 1, 1, generator=generator).to(real)
    x_hat = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    scores = critic(x_hat)
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    norms = grad.flatten(1).norm(2, dim=1)
    return ((norms - 1) ** 2).mean()


def adversarial_loss(
    real_src: torch.Tensor, fake_src: torch.Tensor, penalty: torch.Tensor | float, lambda_gp: float
) -> torch.Tensor:
    """Eq. (1): L_adv = E[D_src(x)] - E[D_src(G(x, z))] - lambda_gp * GP."""
    return real_src.mean() - fake_src.mean() - lambda_gp * penalty


def classification_fake_loss(
    fake_cls: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Eq. (2): -log D_cls(c | G(x, z_{c,rho})): fakes must look like their target class.
    ``mask`` (B,) keeps the rows whose code follows a class axis (off-axis codes have no class)."""
    return _masked_mean(F.cross_entropy(fake_cls, target, reduction="none"), mask)


def classification_real_loss(real_cls: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    """Eq. (3): -log D_cls(c' | x) on real images with their annotated class c'."""
    return F.cross_entropy(real_cls, label)


def info_loss(fake_coor: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
    """Eq. (4): ||D_coor(G(x, z)) - z||_2^2: the code must be recoverable from the fake.
    Averaged over images and coordinates, as GANmut's ``F.mse_loss`` does, so lambda_info
    weighs it as in GANmut."""
    return F.mse_loss(fake_coor, code)


def strength_loss(rho_hat: torch.Tensor, rho: torch.Tensor, threshold: float = 0.2) -> torch.Tensor:
    """Eq. (5): ||rho-hat(G(x, z_{., rho})) - rho||^2 counted only where rho > threshold
    (weaker codes are neutral), averaged over the counted codes as GANmut divides by the mask's
    sum; 0 when no code counts."""
    return _masked_mean((rho_hat - rho) ** 2, rho > threshold)


def reconstruction_loss(real: torch.Tensor, reconstructed: torch.Tensor) -> torch.Tensor:
    """Eq. (6): ||x - G(G(x, z), D_coor(x))||_1 (mean absolute error per pixel)."""
    return (real - reconstructed).abs().mean()


def valence_arousal_loss(
    real_coor: torch.Tensor, va: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """L_av of eq. (7): D_coor's first two coordinates regress the annotated valence/arousal of
    real images. ``mask`` (B,) drops images without an annotation."""
    errors = ((real_coor[:, :2] - va) ** 2).sum(dim=1)
    return _masked_mean(errors, mask)


def au_z_loss(
    real_coor: torch.Tensor, z_target: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """L_AU_Y of eq. (7): D_coor's Z of real images regresses the Z read from action units
    (``emo_app.ganmut.au``). ``mask`` (B,) drops images whose AUs could not be estimated."""
    errors = (real_coor[:, 2] - z_target) ** 2
    return _masked_mean(errors, mask)


def _masked_mean(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return values.mean()
    weights = mask.to(values.dtype)
    safe = torch.where(mask.bool(), values, torch.zeros_like(values))  # NaN targets of dropped rows
    return (safe * weights).sum() / weights.sum().clamp_min(1.0)


@dataclass
class LossTerms:
    """One objective and its named parts (floats, for logs and progress bars)."""

    total: torch.Tensor
    parts: dict[str, float]


def _terms(total: torch.Tensor, parts: dict[str, torch.Tensor], total_name: str) -> LossTerms:
    logged = {k: float(v.detach()) for k, v in parts.items()}
    return LossTerms(total, logged | {total_name: float(total.detach())})


def discriminator_objective(
    *,
    adv: torch.Tensor,
    cls_real: torch.Tensor,
    info: torch.Tensor,
    av: torch.Tensor,
    au_z: torch.Tensor,
    config: GanmutConfig,
) -> LossTerms:
    """Eq. (7): L_D = -L_adv + lambda_cls L_cls^r + lambda_info_D L_info + L_av + L_AU_Y."""
    total = (
        -adv
        + config.lambda_cls * cls_real
        + config.lambda_info_d * info
        + config.lambda_av * av
        + config.lambda_au_z * au_z
    )
    parts = {"D/adv": -adv, "D/cls_real": cls_real, "D/info": info, "D/av": av, "D/au_z": au_z}
    return _terms(total, parts, "D/total")


def generator_objective(
    *,
    adv: torch.Tensor,
    cls_fake: torch.Tensor,
    rec: torch.Tensor,
    info: torch.Tensor,
    rho: torch.Tensor,
    config: GanmutConfig,
) -> LossTerms:
    """Eq. (8): L_G = L_adv + lambda_cls L_cls^f + lambda_rec L_rec + lambda_info_G L_info
    + lambda_rho L_rho."""
    total = (
        adv
        + config.lambda_cls * cls_fake
        + config.lambda_rec * rec
        + config.lambda_info * info
        + config.lambda_rho * rho
    )
    parts = {"G/adv": adv, "G/cls_fake": cls_fake, "G/rec": rec, "G/info": info, "G/rho": rho}
    return _terms(total, parts, "G/total")
