"""The face-attribute reader: a small CNN that reads CelebA's 40 attributes (Smiling, Male, Eyeglasses, ...) off a
64 px face, as probabilities.

It sees faces framed as the CelebA generator trains on them (the centred 89x89 square, resized to 64 px), in
[-1, 1]. `scripts/train_attribute_reader.py` trained it on CelebA training faces 0..7,764 with their labels and
held apart the last 1,000 to measure it; the weights ship as safetensors with the names and the held-apart
accuracies in their metadata, so loading runs no code.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file
from torch import nn

WEIGHTS = Path(__file__).resolve().parents[1] / "assets" / "celeba_attributes.safetensors"
SIZE = 64
HELD_APART = 7_765  # CelebA faces (in file-name order) from this index on are never trained on


def attribute_net(num_attributes: int = 40) -> nn.Sequential:
    """The untrained reader: five conv-BN-ReLU blocks halving the size (32..256 channels), pooled, then logits."""
    def block(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    widths = [3, 32, 64, 128, 192, 256]
    layers = [m for cin, cout in zip(widths, widths[1:]) for m in block(cin, cout)]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2),
                         nn.Linear(widths[-1], num_attributes))


@functools.lru_cache(maxsize=1)
def load_reader() -> tuple[nn.Sequential, tuple[str, ...]]:
    """The shipped reader in eval mode and its attribute names (loaded once)."""
    with safe_open(str(WEIGHTS), "pt") as f:
        names = tuple(json.loads(f.metadata()["attributes"]))
    net = attribute_net(len(names))
    net.load_state_dict(load_file(WEIGHTS))
    return net.eval().requires_grad_(False), names


def held_apart_accuracy() -> dict[str, tuple[float, float]]:
    """Per attribute: the reader's accuracy on the held-apart faces and the majority-class rate there."""
    with safe_open(str(WEIGHTS), "pt") as f:
        return {k: tuple(v) for k, v in json.loads(f.metadata()["held_apart"]).items()}


def read(images: torch.Tensor, net: nn.Module | None = None, batch: int = 256) -> torch.Tensor:
    """Probabilities [N, num_attributes] for RGB faces [N, 3, H, W] in [-1, 1], resized to 64 px if needed."""
    net = net if net is not None else load_reader()[0]  # loaded outside inference mode: gradients may use it
    out = []
    with torch.inference_mode():
        for i in range(0, len(images), batch):
            x = images[i:i + batch].float()
            if x.shape[-2:] != (SIZE, SIZE):
                x = F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=False, antialias=True)
            out.append(torch.sigmoid(net(x)))
    return torch.cat(out)
