"""Train the digit classifier behind digit accuracy (gan_core/evaluation/digits.py) and write its shipped weights.

Trains on the first 55,000 MNIST training digits and holds apart the last 5,000 (55,000..59,999) to report its
accuracy; on one CPU thread it takes a few minutes. Run from the repo root (after `pip install -e .`):
    python scripts/train_digit_classifier.py [--epochs 3] [--out gan_core/assets/digit_classifier.safetensors]
"""
from __future__ import annotations

import sys

import torch
import torch.nn.functional as F

from gan_core.data.images import load_images
from gan_core.evaluation.digits import HELD_APART, SIZE, WEIGHTS, classify, digit_net
from gan_core.evaluation.fitting import begin, fit, reader_arguments, save_weights


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """uint8 images -> floats in [-1, 1], the classifier's input range."""
    return x.float() / 127.5 - 1


def main(argv: list[str] | None = None) -> int:
    args = begin(argv, reader_arguments(__doc__, WEIGHTS, epochs=3, batch=128, threads=1))
    mnist = load_images("mnist", SIZE, 1)  # the 32x32 framing the generators train on
    images, labels = to_unit(mnist.images), mnist.labels
    x_held, y_held = images[HELD_APART:], labels[HELD_APART:]
    net = digit_net()
    accuracy = 0.0

    def check(net: torch.nn.Module) -> str:
        nonlocal accuracy
        accuracy = (classify(x_held, net) == y_held).float().mean().item()
        return f"held-apart accuracy {accuracy:.4%}"

    fit(net, images[:HELD_APART], labels[:HELD_APART], lambda x, y: F.cross_entropy(net(x), y), args, check)
    save_weights(net, args.out, {"train_digits": f"mnist 0..{HELD_APART - 1}",
                                 "held_apart_accuracy": f"{accuracy:.4f}"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
