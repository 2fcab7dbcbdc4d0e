"""torch.distributed for train.py under torchrun: process group from env, gradient all-reduce, buffer sync.

Gradients are averaged with one flat all_reduce per optimiser step (as StyleGAN3's training loop does;
StyleGAN2-ADA used DDP), because the lazy R1 penalty's double backward does not go through
DistributedDataParallel's hooks. Rank 0 alone evaluates FID while the others wait in the next
collective, so the process group's timeout is long enough for an evaluation (COLLECTIVE_TIMEOUT).
"""
from __future__ import annotations

import datetime
import os
import socket
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


def free_port() -> int:
    """A free TCP port on 127.0.0.1, for a single-machine rendezvous (torchrun, a test server)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# how long a rank waits in a collective: rank 0 may be evaluating FID (minutes on a CPU) meanwhile
COLLECTIVE_TIMEOUT = datetime.timedelta(hours=2)


@dataclass(frozen=True)
class Dist:
    """This process's rank and the world size (0 and 1 when not distributed)."""

    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_from_env(device: torch.device) -> tuple[Dist, torch.device]:
    """Join the torchrun process group (NCCL on GPUs, gloo on CPUs) and pick this rank's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Dist(), device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=COLLECTIVE_TIMEOUT)
    return Dist(dist.get_rank(), dist.get_world_size()), device


GRAD_LIMIT = 1e5


def average_gradients(module: nn.Module, world: int) -> None:
    """Average every parameter's gradient across ranks (missing gradients count as zero), NaN / inf guarded."""
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    flat = torch.cat([p.grad.flatten() for p in params])
    dist.all_reduce(flat)
    flat /= world
    flat.nan_to_num_(nan=0.0, posinf=GRAD_LIMIT, neginf=-GRAD_LIMIT)
    for p, g in zip(params, flat.split([p.numel() for p in params])):
        p.grad.copy_(g.view_as(p))


def sanitize_gradients(module: nn.Module) -> None:
    """Replace NaN gradients by 0 and clamp infinite ones (StyleGAN2-ADA's guard): one bad batch cannot poison Adam."""
    for p in module.parameters():
        if p.grad is not None:
            p.grad.nan_to_num_(nan=0.0, posinf=GRAD_LIMIT, neginf=-GRAD_LIMIT)


def average(t: torch.Tensor, world: int) -> torch.Tensor:
    """Mean of t across ranks (in place)."""
    dist.all_reduce(t)
    return t.div_(world)


def rank0_choice(flag: bool, world: int, device: torch.device) -> bool:
    """Rank 0's `flag` on every rank (a choice each rank measured, such as bf16 autocast, must agree)."""
    if world == 1:
        return flag
    t = torch.tensor([int(flag)], device=device)  # on the process group's device (NCCL takes CUDA tensors only)
    dist.broadcast(t, 0)
    return bool(t.item())


def broadcast_buffers(module: nn.Module) -> None:
    """Copy rank 0's buffers (BatchNorm statistics) to every rank so the replicas stay identical."""
    for b in module.buffers():
        dist.broadcast(b, 0)


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
