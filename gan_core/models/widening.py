"""Widen a trained style generator to more channels without changing what it draws (Net2Net-style growth).

Each added channel gets a fresh random filter, but every weight that reads an added channel starts at zero, so
the wider generator draws the same images at the start; training then puts the new channels to use. Equalised
learning rate scales a conv by 1/sqrt(fan-in), so kept weights are multiplied back by sqrt(new/old fan-in).
"""
from __future__ import annotations

import math

import torch

from .config import ModelConfig
from .style import StyleGenerator


def widen_generator(G: StyleGenerator, wider: ModelConfig, seed: int = 0) -> StyleGenerator:
    """A StyleGenerator of `wider`'s channels that draws what `G` draws; ValueError if any layer would shrink."""
    with torch.random.fork_rng(devices=[]):  # the added channels' random filters, without touching global RNG
        torch.manual_seed(seed)
        grown = StyleGenerator(wider)
    state = grown.state_dict()  # detached views of grown's own tensors: writing them writes the model
    for name, old in G.state_dict().items():
        new = state[name]
        if old.shape == new.shape:
            new.copy_(old)
            continue
        if old.ndim != new.ndim or any(o > n for o, n in zip(old.shape, new.shape)):
            raise ValueError(f"cannot widen {name} from {tuple(old.shape)} to {tuple(new.shape)}: give a "
                             f"channel_base and channel_max at least the model's ({G.cfg.channel_base}, "
                             f"{G.cfg.channel_max})")
        kept = tuple(slice(0, size) for size in old.shape)
        if name.endswith("weight") and new.ndim == 4:  # a modulated conv [out, in, k, k]: fan-in may have grown
            new[:, old.shape[1]:] = 0
            new[kept] = old * math.sqrt(new.shape[1] / old.shape[1])
        else:  # biases, styles' affine rows, the constant input: the kept part as it was
            new[kept] = old
    return grown
