"""Shared by the benchmark scripts: the two models compared, a trainer that only trains, markdown tables.

The scripts run from the repository root after `pip install -e .` (gan_core importable), as
`python benchmarks/NAME.py`: Python puts benchmarks/ on sys.path, so they import this file as `benchlib`.
"""
from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from zipfile import ZipFile

import torch
from PIL import Image

from gan_core.data.images import NAMED_SETS, ImageSet, data_root
from gan_core.data.streaming import StreamSet
from gan_core.models import ModelConfig, default_config
from gan_core.training.config import TrainConfig
from gan_core.training.loop import Trainer

ARCHS = ("dcgan", "style")  # the seed baseline first: ratios are against it
NEVER = 10 ** 9


def bench_trainer(arch: str, data: ImageSet | StreamSet, out: Path, device: str | torch.device, batch: int,
                  res: int, channels: int = 3, minutes: float = 0.0, seed: int = 0, model: dict | None = None,
                  shape: ModelConfig | None = None, **loop) -> Trainer:
    """A trainer with `arch`'s own recipe (`model`/`loop` override its settings; `shape`, when given, replaces the
    arch's model) that writes no samples or checkpoints."""
    return Trainer(shape or default_config(arch, resolution=res, img_channels=channels, **(model or {})),
                   TrainConfig(steps=NEVER, minutes=minutes, batch=batch, sample_every=NEVER, save_every=NEVER,
                               seed=seed, **{"hflip": channels == 3, **loop}),  # digits never flip, as in train.py
                   data, out, device)


def step_ms(trainer: Trainer, steps: int, warmup: int = 0) -> float:
    """Mean wall ms of one training step over `steps` steps, after `warmup` untimed ones (GPU work waited for)."""
    def sync() -> None:
        if trainer.device.type == "cuda":
            torch.cuda.synchronize(trainer.device)
    for _ in range(warmup):
        trainer.train_step()
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    sync()
    return (time.perf_counter() - start) / steps * 1000


def median_ms(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall and CPU time of fn in ms, after one warm-up call."""
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall) * 1000, statistics.median(cpu) * 1000


def celeba_photo(index: int, canvas: tuple[int, int] | None = None) -> Image.Image:
    """CelebA zip image `index` (sorted names; -1 is held apart from every evaluation) enlarged 3x on grey, as a
    camera shows more than the face: centred on a `canvas`-sized picture, or near the top of one 5x4 the face's size."""
    with ZipFile(data_root() / NAMED_SETS["celeba"]) as z:
        face = Image.open(z.open(sorted(n for n in z.namelist() if n.endswith(".jpg"))[index])).convert("RGB")
    big = face.resize((face.width * 3, face.height * 3), Image.Resampling.LANCZOS)
    photo = Image.new("RGB", canvas or (face.width * 5, face.height * 4), (128, 128, 128))
    photo.paste(big, ((photo.width - big.width) // 2, (photo.height - big.height) // 2) if canvas
                else (face.width, face.height // 2))
    return photo


def cpu_busy(seconds: float = 1.0) -> float:
    """Share of all CPUs' time spent busy over `seconds` while this process sleeps: what others are using now."""
    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait
    if not Path("/proc/stat").is_file():
        return float("nan")
    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    return 1.0 - (idle1 - idle0) / max(total1 - total0, 1)


def machine_state() -> str:
    """CPU model, torch's CPU kernel level and what other processes use: print it with every table, so figures
    compare."""
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").is_file() \
        else platform.processor()
    busy = cpu_busy()
    policy = {getattr(os, "SCHED_FIFO", -1): "real-time (SCHED_FIFO: other work gets only idle CPU time)",
              getattr(os, "SCHED_RR", -1): "real-time (SCHED_RR)"}.get(
        os.sched_getscheduler(0) if hasattr(os, "sched_getscheduler") else 0, "normal")
    return (f"machine: {model}, {os.cpu_count()} cores, torch {torch.__version__} "
            f"cpu capability {torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads; "
            f"others use {busy:.0%} of the CPUs at start ({'idle' if busy < 0.1 else 'BUSY: figures are slowed'}); "
            f"scheduling {policy}")


def print_table(headers: list[str], rows: list[list[object]]) -> None:
    """Print a markdown table."""
    print("| " + " | ".join(headers) + " |")
    print("|" + "---|" * len(headers))
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")
