"""Train the digit classifier behind digit accuracy (gan_core/evaluation/digits.py) and write its shipped weights.

Trains on the first 55,000 MNIST training digits and holds apart the last 5,000 (55,000..59,999) to report its
accuracy; on one CPU thread it takes a few minutes. Run from the repo root (after `pip install -e .`):
    python scripts/train_digit_classifier.py [--epochs 3] [--out gan_core/assets/digit_classifier.safetensors]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from gan_core.data.images import load_images
from gan_core.evaluation.digits import HELD_APART, SIZE, WEIGHTS, classify, digit_net
from gan_core.storage.files import atomic_write


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """uint8 images -> floats in [-1, 1], the classifier's input range."""
    return x.float() / 127.5 - 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3, help="peak Adam learning rate (one-cycle schedule)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=WEIGHTS)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    mnist = load_images("mnist", SIZE, 1)  # the 32x32 framing the generators train on
    images, labels = mnist.images, mnist.labels
    x_train, y_train = images[:HELD_APART], labels[:HELD_APART]
    x_held, y_held = images[HELD_APART:], labels[HELD_APART:]
    net = digit_net()
    steps_per_epoch = -(-len(x_train) // args.batch)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=args.epochs * steps_per_epoch)
    t0 = time.time()
    for epoch in range(args.epochs):
        net.train()
        order = torch.randperm(len(x_train))
        for i in range(0, len(order), args.batch):
            idx = order[i:i + args.batch]
            loss = F.cross_entropy(net(to_unit(x_train[idx])), y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        net.eval()
        acc = (classify(to_unit(x_held), net) == y_held).float().mean().item()
        print(f"epoch {epoch + 1}/{args.epochs}: loss {loss.item():.4f}, held-apart accuracy {acc:.4%} "
              f"({time.time() - t0:.0f} s)", flush=True)

    state = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
    meta = {"train_digits": f"mnist 0..{HELD_APART - 1}", "held_apart_accuracy": f"{acc:.4f}"}
    atomic_write(args.out, lambda tmp: save_file(state, tmp, metadata=meta))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KB, "
          f"{sum(p.numel() for p in net.parameters()):,} parameters)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
