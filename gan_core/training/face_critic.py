"""The face critic: projected-D heads on the frozen face-attribute reader's features, so D judges a face by what
tells smiles, open mouths and narrow eyes apart (an ImageNet network rewards texture; CelebA's mouths and eyes bend)."""
from __future__ import annotations

import copy
import itertools
import operator

import torch
from torch import nn

from gan_core.evaluation.attributes import SIZE, load_reader
from gan_core.models import ModelConfig
from gan_core.models.projected import Frozen, ProjectedDiscriminator, frozen_as_buffers


class AttributeFeatures(Frozen):
    """The reader's conv-BN-ReLU blocks, frozen; returns each block's map (64 px in: 32, 16, 8, 4, 2 px)."""

    def __init__(self) -> None:
        super().__init__()
        reader = copy.deepcopy(load_reader()[0])  # the cached reader stays as it is for evaluations
        starts = [i for i, m in enumerate(reader) if isinstance(m, nn.Conv2d)]
        self.blocks = nn.ModuleList(reader[i:i + 3] for i in starts)
        self.channels = tuple(block[0].out_channels for block in self.blocks)  # read off the reader, not restated
        self.strides = tuple(itertools.accumulate((block[0].stride[0] for block in self.blocks), operator.mul))
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
