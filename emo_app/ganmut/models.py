"""The GANmut-3D networks: a StarGAN generator steered by a 3D code tiled over the image, and a
PatchGAN discriminator with the heads the losses need (D_src, D_cls, D_coor; the expression
strength rho-hat is D_cls's top softmax probability, ``codes.estimate_strength``)."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from emo_app.ganmut.config import GanmutConfig


class ResidualBlock(nn.Module):
    """StarGAN's residual block: conv-IN-ReLU-conv-IN plus the identity."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
            nn.InstanceNorm2d(channels, affine=True),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
            nn.InstanceNorm2d(channels, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Generator(nn.Module):
    """G(x, z): 7x7 conv, two stride-2 downs, residual blocks, two transposed-conv ups, 7x7 conv,
    tanh. The 3D code is tiled into 3 extra input channels, as StarGAN does with its labels.

    Instance norm without running statistics: outputs never depend on train/eval mode, so a
    saved checkpoint reproduces the same images."""

    def __init__(self, config: GanmutConfig):
        super().__init__()
        width = config.g_conv_dim
        layers: list[nn.Module] = [
            nn.Conv2d(3 + config.code_dim, width, 7, 1, 3, bias=False),
            nn.InstanceNorm2d(width, affine=True),
            nn.ReLU(inplace=True),
        ]
        for _ in range(2):
            layers += [
                nn.Conv2d(width, width * 2, 4, 2, 1, bias=False),
                nn.InstanceNorm2d(width * 2, affine=True),
                nn.ReLU(inplace=True),
            ]
            width *= 2
        layers += [ResidualBlock(width) for _ in range(config.g_repeat_num)]
        for _ in range(2):
            layers += [
                nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                nn.InstanceNorm2d(width // 2, affine=True),
                nn.ReLU(inplace=True),
            ]
            width //= 2
        layers += [nn.Conv2d(width, 3, 7, 1, 3, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        """``x`` in [-1, 1], shape (B, 3, H, W); ``code`` (B, 3) -> image in [-1, 1]."""
        tiled = code.view(code.size(0), code.size(1), 1, 1).expand(-1, -1, x.size(2), x.size(3))
        return self.main(torch.cat([x, tiled.to(x.dtype)], dim=1))


class DiscriminatorOutput(NamedTuple):
    src: torch.Tensor  # (B, 1, h, w) realness per patch (WGAN critic)
    cls: torch.Tensor  # (B, num_classes) logits
    coor: torch.Tensor  # (B, 3) estimated (valence, arousal, Z) coordinates


class Discriminator(nn.Module):
    """PatchGAN of stride-2 4x4 convs with leaky ReLU; three heads on the shared features."""

    def __init__(self, config: GanmutConfig):
        super().__init__()
        width = config.d_conv_dim
        depth = config.discriminator_depth
        layers: list[nn.Module] = [nn.Conv2d(3, width, 4, 2, 1), nn.LeakyReLU(0.01)]
        for _ in range(1, depth):
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1), nn.LeakyReLU(0.01)]
            width *= 2
        self.main = nn.Sequential(*layers)
        final = config.image_size // 2**depth
        self.src_head = nn.Conv2d(width, 1, 3, 1, 1, bias=False)
        self.cls_head = nn.Conv2d(width, config.num_classes, final, bias=False)
        self.coor_head = nn.Conv2d(width, config.code_dim, final, bias=False)

    def forward(self, x: torch.Tensor) -> DiscriminatorOutput:
        features = self.main(x)
        return DiscriminatorOutput(
            self.src_head(features),
            self.cls_head(features).flatten(1),
            self.coor_head(features).flatten(1),
        )
