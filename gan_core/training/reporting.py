"""What a training run shows: the progress bar, sample grids with a timelapse GIF, and the loss plot."""
from __future__ import annotations

import math
import shutil
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import torch
import torchvision.utils as vutils
from tqdm import tqdm

from gan_core.storage.files import atomic_write

LOGGED = ("loss_g", "loss_d", "r1")


def accumulate(acc: dict[str, torch.Tensor], logs: dict[str, torch.Tensor]) -> None:
    """Add one step's losses to running sums and counts, on the device (no per-step host sync)."""
    for key, value in logs.items():
        acc[key] = acc.get(key, 0) + value
        acc[f"{key}_n"] = acc.get(f"{key}_n", 0) + 1


def mean_logs(acc: dict[str, torch.Tensor]) -> dict[str, float]:
    """Mean of each logged loss over the steps that produced it (R1 runs lazily; NaN where none did)."""
    return {key: float(acc[key]) / acc[f"{key}_n"] if key in acc else math.nan for key in LOGGED}


GIF_FRAMES = 40  # the timelapse keeps the newest grids only, so it stays small however long the run
GIF_FPS = 4


class Reporter:
    """Rank 0's view of a run in `out`: tqdm bar, samples/ (step grids, latest.png, progress.gif), loss.png."""

    def __init__(self, out: Path, title: str, total: int, initial: int, enabled: bool = True) -> None:
        self.out, self.title, self.enabled = out, title, enabled
        self.bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, mininterval=2.0,
                        disable=not enabled)

    def step(self) -> None:
        self.bar.update(1)

    def show(self, losses: dict[str, float], img_s: float, world: int) -> None:
        """Put the latest mean losses and images/s on the bar."""
        rate = f"{img_s:.1f}" + (f" ({img_s / world:.1f}/rank)" if world > 1 else "")
        self.bar.set_postfix(g=f"{losses['loss_g']:.3f}", d=f"{losses['loss_d']:.3f}", img_s=rate)

    def write(self, message: str) -> None:
        self.bar.write(message)

    def close(self) -> None:
        self.bar.close()

    def samples(self, images: torch.Tensor, step: int) -> Path:
        """Save a 4-wide grid of [-1, 1] images as samples/step_N.png and latest.png; refresh progress.gif."""
        grid = vutils.make_grid(images, nrow=4, normalize=True, value_range=(-1, 1))
        folder = self.out / "samples"
        path = folder / f"step_{step:07d}.png"
        atomic_write(path, lambda tmp: vutils.save_image(grid, tmp, format="png"))
        atomic_write(folder / "latest.png", lambda tmp: shutil.copyfile(path, tmp))  # encoded once
        self.timelapse()
        return path

    def timelapse(self) -> Path:
        """samples/progress.gif: the newest GIF_FRAMES step grids, oldest first, looping."""
        frames = [iio.imread(p) for p in sorted((self.out / "samples").glob("step_*.png"))[-GIF_FRAMES:]]
        shape = frames[-1].shape
        frames = np.stack([f for f in frames if f.shape == shape])  # a grid from another model size is dropped
        path = self.out / "samples" / "progress.gif"
        atomic_write(path, lambda tmp: iio.imwrite(tmp, frames, extension=".gif", duration=1000 / GIF_FPS, loop=0))
        return path

    def loss_plot(self, history: dict[str, list[float]]) -> None:
        """loss.png: G and D loss curves, and R1 where it was logged (nothing before the first log)."""
        if not history["step"]:
            return
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4))
        for key in ("loss_g", "loss_d", "r1"):
            points = [(s, v) for s, v in zip(history["step"], history[key]) if not math.isnan(v)]
            if points:
                ax.plot(*zip(*points), label=key, linewidth=0.8)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.legend()
        ax.set_title(self.title)
        fig.tight_layout()
        atomic_write(self.out / "loss.png", lambda tmp: fig.savefig(tmp, format="png", dpi=90))
        plt.close(fig)
