"""Run under torchrun by test_distributed.py: each rank takes its half of one fixed batch and averages gradients."""
from __future__ import annotations

import sys
from pathlib import Path

import torch

from gan_core.training.distributed import average_gradients, init_from_env, shutdown

GLOBAL_BATCH = 8


def model_and_batch() -> tuple[torch.nn.Module, torch.Tensor]:
    """The same small net and the same global batch in every process."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    return model, torch.randn(GLOBAL_BATCH, 4)


def loss_of(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    return model(x).square().mean()  # a per-batch mean, as every GAN loss here


def main(out: Path) -> None:
    torch.set_num_threads(1)
    dist, _ = init_from_env(torch.device("cpu"))
    model, x = model_and_batch()
    share = GLOBAL_BATCH // dist.world
    loss_of(model, x[dist.rank * share:(dist.rank + 1) * share]).backward()
    average_gradients(model, dist.world)
    torch.save([p.grad for p in model.parameters()], out / f"grads-rank{dist.rank}.pt")
    shutdown()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
