"""Project an image into a style generator's W+ space: the per-layer w whose rendering best matches it.

Adam on one w per style layer, starting at the truncation centre (w_avg, or the class's average), with a
learning-rate ramp up and cosine ramp down as in stylegan2-ada's projector. The loss is pixel MSE plus a
perceptual distance on the frozen ImageNet features of EfficientNet-lite0 (gan_core.models.projected): that
network is already installed offline for the projected discriminator and is small and fast at 64-128 px,
where the Inception network the metrics load is 87 MB and slower. noise_mode="const" and no random draws make
a projection deterministic for the same inputs and thread count (other thread counts round differently).

A projected w is stored as text by encode_w: float16 values, base64 (num_ws * w_dim * 2 bytes before base64,
4/3 that after: 3,416 characters for the 64 px models' 10 x 128). Projection.w is already float16-rounded and
Projection.image is render(G, w), so an image rendered from decode_w(encode_w(w)) is bit-identical to it.
"""
from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from gan_core.data import images as data
from gan_core.latent import sampling
from gan_core.models.projected import TAPS, load_efficientnet_lite0
from gan_core.photos import alignment

DEFAULT_STEPS = 200  # 8-12 s at 64 px on 2 idle CPU cores (benchmarks/projection.py); 250: +30% time, +0.35 dB
MAX_STEPS = 5000
LR = 0.1  # peak Adam learning rate on w
LR_RAMPUP, LR_RAMPDOWN = 0.05, 0.25  # fractions of the steps: linear warm-up, cosine ramp-down
PERCEPTUAL_WEIGHT = 0.3  # of the feature distance, next to pixel MSE on [-1, 1] images
FEATURE_RESOLUTION = 128  # images are resized to this before EfficientNet-lite0
FEATURE_TAPS = TAPS[:3]  # stride 4, 8 and 16 features (stride 32 is 4x4 at 128 px)


@dataclass
class Projection:
    """A projected w [num_ws, w_dim] (float16-rounded, float32), its rendering [C, H, W] and PSNR in dB."""

    w: torch.Tensor
    image: torch.Tensor
    psnr: float


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB of two [-1, 1] images, measured in [0, 1] scale (peak 1); inf when they are identical."""
    mse = ((a.detach().float().clamp(-1, 1) - b.detach().float().clamp(-1, 1)) / 2).square().mean().item()
    return math.inf if mse == 0 else -10 * math.log10(mse)


def to_target(image: Image.Image, resolution: int, channels: int) -> torch.Tensor:
    """A PIL image as a projection target [channels, resolution, resolution] in [-1, 1] (centre-cropped, resized)."""
    return data.to_square(image, resolution, channels).float() / 127.5 - 1


def framed_target(photo: Image.Image, framing: str, G: nn.Module,
                  centre_crop: bool = False) -> tuple[alignment.Prepared, torch.Tensor]:
    """A photo framed as G's training images are (gan_core.photos.alignment), and the projection target made of it."""
    prepared = alignment.prepare(photo, framing, G.cfg.resolution, G.cfg.img_channels, centre_crop)
    return prepared, to_target(prepared.image, G.cfg.resolution, G.cfg.img_channels)


def render(G: nn.Module, w: torch.Tensor) -> torch.Tensor:
    """The image [C, H, W] in [-1, 1] of one w [num_ws, w_dim], exactly as the app renders it (CPU)."""
    return sampling.synthesize(G, w.float()[None])[0]


class Perceptual(nn.Module):
    """Frozen EfficientNet-lite0 stem and first blocks; distance = mean over taps of the squared difference of
    channel-normalised feature maps (LPIPS-style, without learned weights)."""

    def __init__(self, resolution: int = FEATURE_RESOLUTION) -> None:
        super().__init__()
        self.resolution = resolution
        net = load_efficientnet_lite0(resolution)
        self.stem = nn.Sequential(net._conv_stem, net._bn0, net._swish)
        self.blocks = nn.ModuleList(net._blocks[: FEATURE_TAPS[-1] + 1])
        self.eval().requires_grad_(False)

    def features(self, img: torch.Tensor) -> list[torch.Tensor]:
        """[B, C, H, W] in [-1, 1] (greyscale repeated to RGB) -> unit-norm-per-pixel feature maps."""
        if img.shape[1] == 1:
            img = img.expand(-1, 3, -1, -1)
        x = F.interpolate(img, size=(self.resolution,) * 2, mode="bilinear", align_corners=False)
        x = self.stem(x.contiguous(memory_format=torch.channels_last))  # as the synthesis: faster convs on CPU
        feats = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in FEATURE_TAPS:
                feats.append(x * torch.rsqrt(x.square().sum(1, keepdim=True) + 1e-10))
        return feats

    @staticmethod
    def distance(a: list[torch.Tensor], b: list[torch.Tensor]) -> torch.Tensor:
        return sum((x - y).square().sum(1).mean() for x, y in zip(a, b)) / len(a)


@cache
def _perceptual(device: torch.device, resolution: int) -> Perceptual:
    """One feature network per device and input size, loaded on first use."""
    return Perceptual(resolution).to(device, memory_format=torch.channels_last)


def _lr(step: int, steps: int) -> float:
    """stylegan's projector schedule: linear warm-up over LR_RAMPUP, cosine ramp-down over the last LR_RAMPDOWN
    (shifted one step so neither the first nor the last step has a learning rate of 0)."""
    down = 0.5 - 0.5 * math.cos(math.pi * min(1.0, (1 - step / steps) / LR_RAMPDOWN))
    return LR * down * min(1.0, (step + 1) / (steps * LR_RAMPUP))


def _check_target(G: nn.Module, target: torch.Tensor) -> None:
    want = [G.cfg.img_channels, G.cfg.resolution, G.cfg.resolution]
    if not isinstance(target, torch.Tensor):
        raise ValueError(f"target: expected an image tensor, got {type(target).__name__}")
    if list(target.shape) != want:
        raise ValueError(f"target: expected an image tensor of shape {want} (channels, height, width) for this "
                         f"{want[1]} px model, got {list(target.shape)}")
    if not target.is_floating_point() or not torch.isfinite(target).all():
        raise ValueError("target: expected finite floating-point values in [-1, 1]")


def start_w(G: nn.Module, label: int | None = None) -> torch.Tensor:
    """The truncation centre as a W+ latent [num_ws, w_dim]: the class's average w if given, else w_avg."""
    if label is not None:
        if not G.num_classes:
            raise ValueError("label: this model is not class-conditional")
        if not 0 <= label < G.num_classes:
            raise ValueError(f"label: {label} is not a class of this model (0..{G.num_classes - 1})")
    c = None if label is None else torch.tensor([label], device=G.w_avg.device)
    centre = G.mapping.w_avg_of(c).reshape(-1)
    return centre.detach().float()[None].repeat(G.num_ws, 1)


def project(G: nn.Module, target: torch.Tensor, steps: int = DEFAULT_STEPS, label: int | None = None,
            callback: Callable[[int, int, float], None] | None = None, perceptual: bool = True,
            feature_resolution: int = FEATURE_RESOLUTION) -> Projection:
    """The W+ latent whose rendering matches target [C, H, W] in [-1, 1]; callback(step, steps, loss) each step.
    The perceptual loss sees images resized to feature_resolution (smaller is faster and blurrier)."""
    if not sampling.is_style(G):
        raise ValueError("projection needs a style-based model with per-layer styles")
    _check_target(G, target)
    if steps < 0:
        raise ValueError(f"steps: expected 0 or more, got {steps}")
    device = G.w_avg.device
    goal = target.detach().float().to(device).clone()[None]  # a normal tensor even from inference mode
    feats = _perceptual(device, feature_resolution) if perceptual else None
    goal_feats = feats.features(goal) if feats else None
    w = start_w(G, label).requires_grad_(True)
    opt = torch.optim.Adam([w], lr=LR, betas=(0.9, 0.999))
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = _lr(step, steps)
        img = G.synthesis(w[None], noise_mode="const")
        loss = F.mse_loss(img, goal)
        if feats:
            loss = loss + PERCEPTUAL_WEIGHT * feats.distance(feats.features(img), goal_feats)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if callback:
            callback(step + 1, steps, loss.item())
    w = w.detach().half().float().cpu()
    image = render(G, w)
    return Projection(w=w, image=image, psnr=psnr(image, target.cpu()))


def encode_w(w: torch.Tensor) -> str:
    """w as base64 text of its float16 values (little-endian, row-major): num_ws * w_dim * 2 bytes before base64."""
    half = w.detach().cpu().to(torch.float16).contiguous().numpy().astype("<f2")
    if not np.isfinite(half).all():
        raise ValueError("w: has values that are not finite in float16 (NaN, infinity or beyond 65504)")
    return base64.b64encode(half.tobytes()).decode()


def decode_w(text: str, shape: tuple[int, int]) -> torch.Tensor:
    """encode_w's text back to a float32 tensor of `shape`; ValueError for text that is not one finite w."""
    if not isinstance(text, str):
        raise ValueError(f"w: expected base64 text, got {type(text).__name__}")
    want = math.prod(shape) * 2
    if len(text) != 4 * math.ceil(want / 3):
        raise ValueError(f"w: expected {4 * math.ceil(want / 3)} base64 characters for shape {list(shape)}, "
                         f"got {len(text):,}")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("w: not valid base64 text") from None
    if len(raw) != want:
        raise ValueError(f"w: decodes to {len(raw)} bytes, expected {want} for shape {list(shape)}")
    values = np.frombuffer(raw, dtype="<f2").astype(np.float32).reshape(shape)
    if not np.isfinite(values).all():
        raise ValueError("w: has values that are not finite (NaN or infinity)")
    return torch.from_numpy(values.copy())
