"""The seeds' DCGAN: transposed-conv 4-2-1 stack with BatchNorm, N(0, 0.02) init."""
from __future__ import annotations

import math

import torch
from torch import nn

from .config import ModelConfig


def dcgan_init(module: nn.Module) -> None:
    """DCGAN paper init: conv weights N(0, 0.02), BatchNorm weights N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DCGANGenerator(nn.Module):
    """z -> 4x4 -> ... -> resolution, halving channels per doubling; tanh output."""

    num_ws = 0

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.z_dim, self.num_classes = cfg.z_dim, 0
        res = [2 ** r for r in range(2, int(math.log2(cfg.resolution)))]
        layers: list[nn.Module] = [nn.ConvTranspose2d(cfg.z_dim, cfg.width(4), 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(cfg.width(4)), nn.ReLU(True)]
        for r in res[1:]:
            layers += [nn.ConvTranspose2d(cfg.width(r // 2), cfg.width(r), 4, 2, 1, bias=False),
                       nn.BatchNorm2d(cfg.width(r)), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(cfg.width(res[-1]), cfg.img_channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, psi: float = 1.0,
                noise_mode: str = "const") -> torch.Tensor:
        """Truncation for a model without w: scale z towards its mean (0) by psi."""
        return self.net((z * psi)[:, :, None, None])


class DCGANDiscriminator(nn.Module):
    """Strided 4-2-1 convs, LeakyReLU 0.2, BatchNorm after the first; one logit out."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        res = [2 ** r for r in range(int(math.log2(cfg.resolution)) - 1, 1, -1)]
        layers: list[nn.Module] = [nn.Conv2d(cfg.img_channels, cfg.width(res[0]), 4, 2, 1, bias=False),
                                   nn.LeakyReLU(0.2, True)]
        for r in res[1:]:
            layers += [nn.Conv2d(cfg.width(r * 2), cfg.width(r), 4, 2, 1, bias=False),
                       nn.BatchNorm2d(cfg.width(r)), nn.LeakyReLU(0.2, True)]
        layers += [nn.Conv2d(cfg.width(4), 1, 4, 1, 0, bias=False)]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, img: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(img).flatten()
