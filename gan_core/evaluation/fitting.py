"""Training the project's small readers (the digit classifier, the attribute reader): their shared command-line
options, a one-cycle AdamW loop with a held-apart check after each epoch, and an atomic safetensors write."""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

from gan_core.storage.files import atomic_write


def reader_arguments(doc: str, weights: Path, epochs: int, batch: int, threads: int) -> argparse.ArgumentParser:
    """--epochs, --batch, --lr, --threads, --seed and --out, with a reader's defaults."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--batch", type=int, default=batch)
    p.add_argument("--lr", type=float, default=3e-3, help="peak AdamW learning rate (one-cycle schedule)")
    p.add_argument("--threads", type=int, default=threads)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=weights)
    return p


def begin(argv: list[str] | None, parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse the options, then set the threads and the seed (before the net is made: its initial weights)."""
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    return args


def fit(net: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        args: argparse.Namespace, check: Callable[[nn.Module], str], weight_decay: float = 0.0) -> None:
    """Train net on (x, y) for args.epochs with a one-cycle AdamW schedule (rows already as the net takes them,
    drawn in a new order each epoch); after each epoch print check(net) (in eval mode)."""
    steps_per_epoch = -(-len(x) // args.batch)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=args.epochs * steps_per_epoch)
    t0 = time.time()
    for epoch in range(args.epochs):
        net.train()
        order = torch.randperm(len(x))
        for i in range(0, len(order), args.batch):
            idx = order[i:i + args.batch]
            loss = loss_fn(x[idx], y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        net.eval()
        print(f"epoch {epoch + 1}/{args.epochs}: loss {loss.item():.4f}, {check(net)} ({time.time() - t0:.0f} s)",
              flush=True)


def save_weights(net: nn.Module, path: Path, meta: dict[str, str]) -> None:
    """The net's weights (and `meta` as text) as safetensors, written atomically."""
    state = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
    atomic_write(path, lambda tmp: save_file(state, tmp, metadata=meta))
    size, params = path.stat().st_size / 1024, sum(p.numel() for p in net.parameters())
    print(f"wrote {path} ({size:.0f} KB, {params:,} parameters)")
