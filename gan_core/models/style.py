"""Compact StyleGAN2-style generator (mapping + modulated synthesis) and residual discriminator."""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig
from .layers import EqualConv2d, EqualLinear, ModulatedConv2d, lrelu, per_channel

NOISE_MODES = ("random", "const", "none")


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Scale each row to unit root-mean-square."""
    return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + eps)


def upsample2x(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


class MappingNetwork(nn.Module):
    """z (+ class) -> w, tracking the running means used by truncation: w_avg, and w_avg_class per class."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.num_classes, self.z_dim = cfg.num_classes, cfg.z_dim
        self.embed = EqualLinear(cfg.num_classes, cfg.w_dim) if cfg.num_classes else None
        in_dim = cfg.z_dim + (cfg.w_dim if cfg.num_classes else 0)
        dims = [in_dim] + [cfg.w_dim] * cfg.mapping_layers
        self.layers = nn.Sequential(*[EqualLinear(a, b, lr_mul=0.01, activate=True) for a, b in zip(dims, dims[1:])])
        self.register_buffer("w_avg", torch.zeros(cfg.w_dim))
        if cfg.num_classes:
            self.register_buffer("w_avg_class", torch.zeros(cfg.num_classes, cfg.w_dim))
            self.register_load_state_dict_pre_hook(_fill_w_avg_class)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        x = normalize_2nd_moment(z)
        if self.embed is not None:
            if c is None:
                raise ValueError("this model is class-conditional: a class label is required")
            onehot = F.one_hot(c.long(), self.num_classes).to(z.dtype)
            x = torch.cat([x, normalize_2nd_moment(self.embed(onehot))], dim=1)
        return self.layers(x)

    def w_avg_of(self, c: torch.Tensor | None) -> torch.Tensor:
        """The truncation centre: w_avg_class rows [B, w_dim] for labels c, else the global w_avg [w_dim]."""
        return self.w_avg if c is None or not self.num_classes else self.w_avg_class[c.long()]

    @torch.no_grad()
    def track_w_avg(self, w: torch.Tensor, c: torch.Tensor | None = None, beta: float = 0.995,
                    reduce: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
        """avg = lerp(batch mean, avg, beta) for w_avg and for the w_avg_class row of each class in the batch.

        reduce (e.g. an all-reduce sum or mean across ranks) gets the stats [1 + num_classes, w_dim + 1]:
        per row the sum of w then the count, global row first; classes with a zero count are left as they are.
        """
        w = w.detach().float()
        rows = torch.cat([w, torch.ones_like(w[:, :1])], dim=1)
        stats = rows.sum(0, keepdim=True)
        avgs = self.w_avg[None]
        if self.num_classes:
            stats = torch.cat([stats, rows.new_zeros(self.num_classes, rows.shape[1]).index_add_(0, c.long(), rows)])
            avgs = torch.cat([avgs, self.w_avg_class])
        if reduce is not None:
            stats = reduce(stats)
        sums, counts = stats[:, :-1], stats[:, -1:]
        new = torch.where(counts > 0, (sums / counts).lerp(avgs, beta), avgs)
        self.w_avg.copy_(new[0])
        if self.num_classes:
            self.w_avg_class.copy_(new[1:])


    @torch.no_grad()
    def measure_class_averages(self, per_class: int = 4096, seed: int = 0) -> None:
        """Set w_avg_class to the exact mean of w over `per_class` fixed z for each class, so that psi 0 draws the
        asked class (the running means of training drift, and older checkpoints have only the global one)."""
        z = torch.randn(per_class, self.z_dim, generator=torch.Generator().manual_seed(seed)).to(self.w_avg.device)
        for c in range(self.num_classes):
            self.w_avg_class[c] = self(z, torch.full((per_class,), c, device=z.device)).float().mean(0)


def _fill_w_avg_class(module: MappingNetwork, state: dict, prefix: str, *_) -> None:
    """Checkpoints from before per-class tracking: every class starts at the global w_avg."""
    if prefix + "w_avg_class" not in state and prefix + "w_avg" in state:
        state[prefix + "w_avg_class"] = state[prefix + "w_avg"].expand(module.num_classes, -1)


class StyleLayer(nn.Module):
    """Modulated 3x3 conv + per-pixel noise + bias + activation, optionally upsampling first.

    noise_seed draws this layer's constant noise map; StyleGenerator gives each layer its own (its index).
    """

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, res: int, up: bool, noise_seed: int) -> None:
        super().__init__()
        self.up = up
        self.conv = ModulatedConv2d(in_ch, out_ch, 3, w_dim)
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        noise = torch.randn(1, 1, res, res, generator=torch.Generator().manual_seed(noise_seed))
        self.register_buffer("noise_const", noise)

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str) -> torch.Tensor:
        if self.up:
            x = upsample2x(x)
        x = self.conv(x, w)
        if noise_mode == "random":
            noise = torch.randn(x.shape[0], 1, x.shape[2], x.shape[3], device=x.device, dtype=x.dtype)
            x = torch.addcmul(x, noise, self.noise_strength)
        elif noise_mode == "const":
            x = torch.addcmul(x, self.noise_const.to(x.dtype), self.noise_strength)
        return lrelu(x + per_channel(self.bias))


class ToRGB(nn.Module):
    """Modulated 1x1 conv to image channels, without demodulation."""

    def __init__(self, in_ch: int, img_ch: int, w_dim: int) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, img_ch, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(img_ch))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.conv(x, w) + per_channel(self.bias)


class SynthesisBlock(nn.Module):
    """One resolution: two style layers (the first upsamples) and a skip toRGB; consumes 3 ws.

    layer is the index of conv0 among all style layers (conv1 is layer + 1), seeding their noise maps.
    """

    def __init__(self, in_ch: int, out_ch: int, img_ch: int, w_dim: int, res: int, layer: int) -> None:
        super().__init__()
        self.conv0 = StyleLayer(in_ch, out_ch, w_dim, res, up=True, noise_seed=layer)
        self.conv1 = StyleLayer(out_ch, out_ch, w_dim, res, up=False, noise_seed=layer + 1)
        self.torgb = ToRGB(out_ch, img_ch, w_dim)

    def forward(self, x: torch.Tensor, img: torch.Tensor, ws: torch.Tensor, noise_mode: str):
        x = self.conv0(x, ws[:, 0], noise_mode)
        x = self.conv1(x, ws[:, 1], noise_mode)
        return x, upsample2x(img) + self.torgb(x, ws[:, 2])


class StyleGenerator(nn.Module):
    """Mapping network + synthesis network with one w per layer (num_ws) for mixing and truncation."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.z_dim, self.w_dim, self.num_classes = cfg.z_dim, cfg.w_dim, cfg.num_classes
        log_res = int(math.log2(cfg.resolution))
        self.num_ws = 2 * log_res - 2
        self.mapping = MappingNetwork(cfg)
        ch4 = cfg.width(4)
        self.const = nn.Parameter(torch.randn(ch4, 4, 4))
        self.conv4 = StyleLayer(ch4, ch4, cfg.w_dim, 4, up=False, noise_seed=0)
        self.torgb4 = ToRGB(ch4, cfg.img_channels, cfg.w_dim)
        self.blocks = nn.ModuleList(
            SynthesisBlock(cfg.width(2 ** (r - 1)), cfg.width(2 ** r), cfg.img_channels, cfg.w_dim, 2 ** r,
                           layer=2 * r - 5)  # r=3 -> style layers 1, 2 (conv4 is layer 0)
            for r in range(3, log_res + 1)
        )
        # resolution each w index drives: [4, 4, 8, 8, 8->16 rgb ...] used to name coarse/middle/fine
        self.ws_resolutions = [4, 4] + [2 ** r for r in range(3, log_res + 1) for _ in range(2)]

    @property
    def w_avg(self) -> torch.Tensor:
        return self.mapping.w_avg

    def map(self, z: torch.Tensor, c: torch.Tensor | None = None, psi: float = 1.0) -> torch.Tensor:
        """z -> ws of shape [B, num_ws, w_dim], truncated by psi towards the class's w_avg (global if none)."""
        w = self.mapping(z, c)
        if psi != 1.0:
            w = self.mapping.w_avg_of(c).lerp(w, psi)
        return w[:, None, :].expand(-1, self.num_ws, -1)

    def synthesis(self, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        """ws [B, num_ws, w_dim] -> images in [-1, 1] (roughly), NCHW."""
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}")
        noise_mode = noise_mode if self.cfg.noise else "none"
        # channels_last activations: about 20% faster convs and upsampling on CPU
        x = self.const[None].expand(ws.shape[0], -1, -1, -1).contiguous(memory_format=torch.channels_last)
        x = self.conv4(x, ws[:, 0], noise_mode)
        img = self.torgb4(x, ws[:, 1])
        for i, block in enumerate(self.blocks):
            x, img = block(x, img, ws[:, 1 + 2 * i: 4 + 2 * i], noise_mode)
        return img

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, psi: float = 1.0,
                noise_mode: str = "const") -> torch.Tensor:
        return self.synthesis(self.map(z, c, psi), noise_mode)

    def modulated_convs(self) -> list[tuple[int, ModulatedConv2d]]:
        """(w index, layer) of every demodulated 3x3 conv in synthesis order; toRGB layers are left out."""
        convs = [(0, self.conv4.conv)]
        for i, block in enumerate(self.blocks):
            convs += [(1 + 2 * i, block.conv0.conv), (2 + 2 * i, block.conv1.conv)]
        return convs


class DiscriminatorBlock(nn.Module):
    """Residual block: conv at res, 2x average-pool, conv at res/2, plus a pooled 1x1 skip."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv0 = EqualConv2d(in_ch, in_ch, 3, activate=True)
        self.conv1 = EqualConv2d(in_ch, out_ch, 3, activate=True)
        self.skip = EqualConv2d(in_ch, out_ch, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.skip(F.avg_pool2d(x, 2))
        x = self.conv1(F.avg_pool2d(self.conv0(x), 2))
        return (x + skip) * (1 / math.sqrt(2))


def minibatch_stddev(x: torch.Tensor, group: int = 4) -> torch.Tensor:
    """Append one channel holding the std-dev across groups of samples (StyleGAN's mbstd)."""
    b, c, h, w = x.shape
    g = min(group, b)
    while b % g:
        g -= 1
    y = x.reshape(g, -1, c, h, w)
    y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))
    y = y.reshape(-1, 1, 1, 1).repeat(g, 1, h, w)
    return torch.cat([x, y], dim=1)


class StyleDiscriminator(nn.Module):
    """Residual discriminator with minibatch std-dev; projection on the class when conditional."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        log_res = int(math.log2(cfg.resolution))
        self.fromrgb = EqualConv2d(cfg.img_channels, cfg.width(cfg.resolution), 1, activate=True)
        self.blocks = nn.Sequential(*[DiscriminatorBlock(cfg.width(2 ** r), cfg.width(2 ** (r - 1)))
                                      for r in range(log_res, 2, -1)])
        ch4 = cfg.width(4)
        self.conv = EqualConv2d(ch4 + 1, ch4, 3, activate=True)
        self.fc = EqualLinear(ch4 * 16, ch4, activate=True)
        self.num_classes = cfg.num_classes
        self.out = EqualLinear(ch4, ch4 if cfg.num_classes else 1)
        self.cmap = EqualLinear(cfg.num_classes, ch4) if cfg.num_classes else None

    def forward(self, img: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        x = self.blocks(self.fromrgb(img))
        x = self.out(self.fc(self.conv(minibatch_stddev(x)).flatten(1)))
        if self.cmap is not None:
            cmap = self.cmap(F.one_hot(c.long(), self.num_classes).to(x.dtype))
            x = (x * cmap).sum(dim=1, keepdim=True) / math.sqrt(cmap.shape[1])
        return x.squeeze(1)
