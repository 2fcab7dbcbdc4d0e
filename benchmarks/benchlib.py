"""Shared by the benchmark scripts: the two models compared, a trainer that only trains, markdown tables."""
from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gan_core.data import ImageSet  # noqa: E402
from gan_core.models import default_config  # noqa: E402
from gan_core.streaming import StreamSet  # noqa: E402
from gan_core.train_config import TrainConfig  # noqa: E402
from gan_core.training import Trainer  # noqa: E402

ARCHS = ("dcgan", "style")  # the seed baseline first: ratios are against it
NEVER = 10 ** 9


def bench_trainer(arch: str, data: ImageSet | StreamSet, out: Path, device: str | torch.device, batch: int,
                  res: int, channels: int = 3, minutes: float = 0.0, seed: int = 0, amp: str = "auto") -> Trainer:
    """A trainer with `arch`'s own recipe that writes no samples or checkpoints on its own."""
    return Trainer(default_config(arch, resolution=res, img_channels=channels),
                   TrainConfig(steps=NEVER, minutes=minutes, batch=batch, sample_every=NEVER, save_every=NEVER,
                               seed=seed, amp=amp),
                   data, out, device)


def machine_state() -> str:
    """CPU model, torch's CPU kernel level and the 1-minute load: print it with every table, so figures compare."""
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").is_file() \
        else platform.processor()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"machine: {model}, {os.cpu_count()} cores, torch {torch.__version__} "
            f"cpu capability {torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads; "
            f"load average {load:.2f} at start ({'idle' if load < 0.5 else 'BUSY: figures are slowed'})")


def print_table(headers: list[str], rows: list[list[object]]) -> None:
    """Print a markdown table."""
    print("| " + " | ".join(headers) + " |")
    print("|" + "---|" * len(headers))
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")
