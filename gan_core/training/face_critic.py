"""The face critic: projected-D heads on the frozen face-attribute reader's features, so D judges a face by what
tells smiles, open mouths and narrow eyes apart (an ImageNet network rewards texture; CelebA's mouths and eyes bend)."""
from __future__ import annotations

import copy

import torch
from torch import nn

from gan_core.evaluation.attributes import SIZE, load_reader
from gan_core.models import ModelConfig
from gan_core.models.projected import Frozen, ProjectedDiscriminator, frozen_as_buffers


class AttributeFeatures(Frozen):
    """The reader's five conv-BN-ReLU blocks, frozen; returns each block's map (64 px in: 32, 16, 8, 4, 2 px)."""

    channels, strides = (32, 64, 128, 192, 256), (2, 4, 8, 16, 32)

    def __init__(self) -> None:
        super().__init__()
        reader = copy.deepcopy(load_reader()[0])  # the cached reader stays as it is for evaluations
        self.blocks = nn.ModuleList(reader[i:i + 3] for i in range(0, 3 * len(self.channels), 3))
        frozen_as_buffers(self, persistent=False)  # re-loaded from the shipped asset: run states stay small
        self.train(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        maps = []
        for block in self.blocks:
            x = block(x)
            maps.append(x)
        return maps


def build_face_critic(cfg: ModelConfig) -> ProjectedDiscriminator:
    """A projected D on the attribute reader's features at its own 64 px, for RGB face generators."""
    if cfg.img_channels != 3:
        raise ValueError(f"--face-critic reads RGB faces; this model has {cfg.img_channels} channel(s)")
    return ProjectedDiscriminator(cfg, AttributeFeatures(), SIZE)
