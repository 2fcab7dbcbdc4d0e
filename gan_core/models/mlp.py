"""The seeds' Keras MNIST MLP GAN: 100-d z, 256-512-1024 LeakyReLU(0.2), tanh."""
from __future__ import annotations

import torch
from torch import nn

from .config import ModelConfig

HIDDEN = (256, 512, 1024)


class MLPGenerator(nn.Module):
    """Dense 256-512-1024 with LeakyReLU, then a tanh image."""

    num_ws = 0

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.z_dim, self.num_classes = cfg.z_dim, 0
        dims = (cfg.z_dim,) + HIDDEN
        layers: list[nn.Module] = []
        for a, b in zip(dims, dims[1:]):
            layers += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
        layers += [nn.Linear(dims[-1], cfg.img_channels * cfg.resolution ** 2), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, psi: float = 1.0,
                noise_mode: str = "const") -> torch.Tensor:
        """Truncation for a model without w: scale z towards its mean (0) by psi."""
        r = self.cfg.resolution
        return self.net(z * psi).view(-1, self.cfg.img_channels, r, r)


class MLPDiscriminator(nn.Module):
    """Dense 1024-512-256 with LeakyReLU and dropout 0.3; one logit out."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        dims = (cfg.img_channels * cfg.resolution ** 2,) + HIDDEN[::-1]
        layers: list[nn.Module] = [nn.Flatten()]
        for a, b in zip(dims, dims[1:]):
            layers += [nn.Linear(a, b), nn.LeakyReLU(0.2), nn.Dropout(0.3)]
        layers += [nn.Linear(dims[-1], 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, img: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(img).flatten()
