"""The loop's settings: each arch's recipe, the TrainConfig stored in every run, amp and device choice."""
from __future__ import annotations

import dataclasses
import functools
import platform
import time
from dataclasses import dataclass, field
from typing import Any

import torch

# loop settings a resumed run may change (each change is logged); the rest stay as the run started
RESUMABLE = ("batch", "lr", "r1_gamma", "augment", "hflip", "amp", "projected_weight")

# The seeds' DCGAN / MLP recipe (Adam 2e-4, beta1 0.5, plain BCE) vs ours for the style model.
RECIPES = {
    "style": dict(lr=0.002, betas=(0.0, 0.99), r1_gamma=-1.0, ema_kimg=10.0, augment="color,translation,cutout",
                  style_mixing=0.9),
    "dcgan": dict(lr=0.0002, betas=(0.5, 0.999), r1_gamma=0.0, ema_kimg=0.0, augment="", style_mixing=0.0),
    "mlp": dict(lr=0.0002, betas=(0.5, 0.999), r1_gamma=0.0, ema_kimg=0.0, augment="", style_mixing=0.0),
}


@dataclass
class TrainConfig:
    """Loop settings; None fields take the arch's recipe from RECIPES."""

    steps: int = 10_000
    minutes: float = 0.0
    batch: int = 32
    lr: float | None = None
    betas: tuple[float, float] | None = None
    r1_gamma: float | None = None  # < 0: StyleGAN2-ADA's heuristic 0.0002 * res^2 / batch
    r1_every: int = 16
    ema_kimg: float | None = None
    ema_rampup: float = 0.05  # the EMA's length grows with the images seen up to ema_kimg (0: full from the start)
    augment: str | None = None
    style_mixing: float | None = None
    hflip: bool | None = True
    sample_every: int = 200
    save_every: int = 200
    eval_every: int = 0  # steps between FID/KID evaluations (0: off); the best-FID EMA G is what gets exported
    eval_n: int = 2000
    snapshots: int = 0  # keep the EMA G of the newest N evaluations as exports in out/snapshots (to average)
    seed: int = 0
    amp: str = "auto"  # bf16 autocast: "on", "off", or "auto" (on for CUDA and CPUs where it measures faster)
    channels_last: bool = True
    d: str = "residual"  # discriminator: our residual D, the projected one (frozen EfficientNet-lite0), or both
    d_resolution: int = 128  # the projected D's input size (images are resized up to it)
    d_width: float = 1.0  # the residual D's channels relative to G's: D is never shipped, so width costs training only
    loss: str = "logistic"  # the residual D's loss: "logistic" (StyleGAN2) or "relativistic" (R3GAN, R1 + R2)
    d_warmup: int = 0  # steps at the start that train only D (a warm start's fresh D learns before G listens)
    d_lr: float | None = None  # the projected D's learning rate (default: lr / 10, projected-gan's balance)
    # the projected D's weight in G's loss: below 1 the residual D, which sees the class, leads (MNIST's digits
    # drift to other classes under the projected D's ImageNet features)
    projected_weight: float = 1.0
    # a third critic on the frozen face-attribute reader's features, with this weight in G's loss (0: none)
    face_critic: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def with_recipe(self, arch: str) -> TrainConfig:
        """Fill unset fields from the arch's recipe."""
        filled = {k: v for k, v in RECIPES[arch].items() if getattr(self, k) is None}
        cfg = dataclasses.replace(self, **filled)
        return cfg if cfg.d_lr is not None else dataclasses.replace(cfg, d_lr=cfg.lr / 10)


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


AMP_MODES = ("auto", "on", "off")


BF16_GAIN = 1.2  # CPU autocast is used only where it runs the probe below at least this much faster than fp32


def cpu_has_bf16() -> bool:
    """True where the CPU computes bf16 natively (AVX-512 BF16 or AMX); elsewhere autocast emulates it, far slower."""
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def _conv_block_seconds(reps: int = 5, warmup: int = 2) -> tuple[float, float]:
    """Best fp32 and bf16 times of `reps` forward + backward passes of two 64-channel 3x3 convs on 16 images of 32x32.

    The two precisions alternate pass by pass, so a busy moment on the machine slows both rather than one."""
    with torch.random.fork_rng(devices=[]):  # the probe leaves the training run's random stream as it was
        block = torch.nn.Sequential(torch.nn.Conv2d(64, 64, 3, padding=1), torch.nn.LeakyReLU(0.2),
                                    torch.nn.Conv2d(64, 64, 3, padding=1)).to(memory_format=torch.channels_last)
        x = torch.randn(16, 64, 32, 32).to(memory_format=torch.channels_last)
    best = {False: float("inf"), True: float("inf")}
    for rep in range(warmup + reps):  # the first passes warm the kernels (and oneDNN's bf16 weight casts) up
        for bf16 in (False, True):
            start = time.perf_counter()
            with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
                loss = block(x).float().square().mean()
            loss.backward()
            if rep >= warmup:
                best[bf16] = min(best[bf16], time.perf_counter() - start)
    return best[False], best[True]


@functools.cache
def cpu_bf16_is_faster() -> bool:
    """Whether bf16 autocast beats fp32 by BF16_GAIN on this CPU, measured once per process (~0.3 s): native bf16 is
    not always faster (with AMX it is; on a 2-core AVX-512 BF16 Xeon without AMX a training step took 1.4x longer)."""
    fp32_seconds, bf16_seconds = _conv_block_seconds()
    return fp32_seconds >= BF16_GAIN * bf16_seconds


def use_amp(mode: str | bool, device: torch.device) -> bool:
    """Resolve an amp setting (old states stored a bool) for `device`."""
    if isinstance(mode, bool):
        mode = "auto" if mode else "off"
    if mode not in AMP_MODES:
        raise ValueError(f"amp must be one of {', '.join(AMP_MODES)}, got {mode!r}")
    if mode == "auto":
        return device.type == "cuda" or (device.type == "cpu" and cpu_has_bf16() and cpu_bf16_is_faster())
    return mode == "on"


def hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"


