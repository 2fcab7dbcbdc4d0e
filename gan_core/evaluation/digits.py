"""Digit accuracy: the share of class-conditional MNIST samples that a small CNN reads as the asked digit.

The CNN takes 32x32 grey digits in [-1, 1], the framing the generators train on (MNIST's 28x28 resized to 32,
antialiased bilinear). `scripts/train_digit_classifier.py` trained it on MNIST training digits 0..54,999 and holds
apart the last 5,000 (55,000..59,999) to measure it; the weights ship as safetensors, so loading runs no code.
"""
from __future__ import annotations

import functools
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from gan_core.data.images import resolve_source
from gan_core.evaluation.metrics import MetricsError
from gan_core.latent.sampling import generated_images

WEIGHTS = Path(__file__).resolve().parents[1] / "assets" / "digit_classifier.safetensors"
SIZE = 32
NUM_DIGITS = 10
HELD_APART = 55_000  # MNIST training digits from this index on are never trained on


def digit_net() -> nn.Sequential:
    """The untrained classifier: three conv-BN-ReLU-maxpool blocks (16, 32, 64 channels), then 10 logits."""
    def block(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2)]

    return nn.Sequential(*block(1, 16), *block(16, 32), *block(32, 64), nn.Flatten(),
                         nn.Linear(64 * (SIZE // 8) ** 2, NUM_DIGITS))


@functools.lru_cache(maxsize=1)
def load_digit_classifier() -> nn.Sequential:
    """The shipped, trained classifier in eval mode (loaded once)."""
    net = digit_net()
    net.load_state_dict(load_file(WEIGHTS))
    return net.eval().requires_grad_(False)


@torch.inference_mode()
def classify(images: torch.Tensor, net: nn.Module | None = None, batch: int = 500) -> torch.Tensor:
    """Predicted digits of grey images [N, 1, H, W] in [-1, 1], resized to 32x32 if needed."""
    net = net if net is not None else load_digit_classifier()
    out = []
    for i in range(0, len(images), batch):
        x = images[i:i + batch].float()
        if x.shape[-2:] != (SIZE, SIZE):
            x = F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=False, antialias=True)
        out.append(net(x).argmax(1))
    return torch.cat(out)


def is_digit_model(G: nn.Module, real_source: str) -> bool:
    """True for a 10-class greyscale generator scored against MNIST, the models digit accuracy is meant for."""
    return (getattr(G, "num_classes", 0) == NUM_DIGITS and G.cfg.img_channels == 1
            and resolve_source(real_source) == resolve_source("mnist"))


def digit_accuracy(G: nn.Module, n: int, psi: float = 1.0, batch: int = 50) -> float:
    """Share of the images of seeds 0..n-1, each asked for digit seed % 10, that the classifier reads as that digit."""
    if getattr(G, "num_classes", 0) != NUM_DIGITS or G.cfg.img_channels != 1:
        raise MetricsError("digit accuracy needs a class-conditional greyscale generator with 10 classes")
    if n < 1:
        raise MetricsError("n must be at least 1")
    hits = sum(int((classify(images) == torch.tensor(classes)).sum()) for classes, images in
               generated_images(G, n, psi, batch))
    return hits / n
