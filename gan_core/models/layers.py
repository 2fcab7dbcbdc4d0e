"""Equalized-learning-rate building blocks shared by the style generator and discriminator."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LRELU_GAIN = math.sqrt(2.0)


def per_channel(v: torch.Tensor) -> torch.Tensor:
    """[C] or [B, C] -> [C, 1, 1] or [B, C, 1, 1], to broadcast over NCHW maps in one view op."""
    return v.view(*v.shape, 1, 1)


def lrelu(x: torch.Tensor) -> torch.Tensor:
    """Leaky ReLU (0.2) with the gain that keeps activations at unit variance."""
    return F.leaky_relu(x, 0.2) * LRELU_GAIN


class EqualLinear(nn.Module):
    """Linear layer whose weights are scaled at run time (StyleGAN's equalized learning rate)."""

    def __init__(self, in_dim: int, out_dim: int, lr_mul: float = 1.0, bias_init: float = 0.0,
                 activate: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init)))
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul
        self.activate = activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.bias * self.lr_mul if self.lr_mul != 1 else self.bias
        x = F.linear(x, self.weight * self.scale, bias)
        return lrelu(x) if self.activate else x


class EqualConv2d(nn.Module):
    """Conv layer with equalized learning rate and 'same' padding."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, bias: bool = True, activate: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None
        self.scale = 1.0 / math.sqrt(in_ch * kernel * kernel)
        self.activate = activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(x, self.weight * self.scale, self.bias, padding=self.weight.shape[-1] // 2)
        return lrelu(x) if self.activate else x


class ModulatedConv2d(nn.Module):
    """StyleGAN2 modulated conv, non-fused: scale activations, one shared conv, then demodulate."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, w_dim: int, demodulate: bool = True) -> None:
        super().__init__()
        self.affine = EqualLinear(w_dim, in_ch, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.scale = 1.0 / math.sqrt(in_ch * kernel * kernel)
        self.demodulate = demodulate

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w)
        weight = self.weight * self.scale
        x = x * per_channel(styles)
        if weight.shape[-1] == 1:  # 1x1 as a matmul: same result for any CPU thread count
            x = torch.matmul(weight.flatten(1), x.flatten(2)).unflatten(2, x.shape[2:])
        else:
            x = F.conv2d(x, weight, padding=weight.shape[-1] // 2)
        if self.demodulate:
            demod = torch.rsqrt(styles.square() @ weight.square().sum(dim=(2, 3)).t() + 1e-8)
            x = x * per_channel(demod)
        return x
