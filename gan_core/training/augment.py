"""DiffAugment (Zhao et al. 2020): differentiable colour / translation / cutout for D's inputs."""
from __future__ import annotations

import torch
import torch.nn.functional as F

POLICIES = ("color", "translation", "cutout")


def _rand(x: torch.Tensor, *shape: int) -> torch.Tensor:
    return torch.rand(x.shape[0], *shape, device=x.device, dtype=x.dtype)


def color(x: torch.Tensor) -> torch.Tensor:
    """Random brightness, saturation and contrast per sample."""
    x = x + (_rand(x, 1, 1, 1) - 0.5)
    if x.shape[1] > 1:
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (_rand(x, 1, 1, 1) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_rand(x, 1, 1, 1) + 0.5) + mean


def translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each sample by up to ratio*size pixels, filling with zeros."""
    b, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (b, 1, 1), device=x.device)
    dx = torch.randint(-sw, sw + 1, (b, 1, 1), device=x.device)
    gy, gx = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    gy = (gy[None] + dy).clamp(-1, h)  # -1 and h index the zero padding
    gx = (gx[None] + dx).clamp(-1, w)
    padded = F.pad(x, [1, 1, 1, 1])
    idx = ((gy + 1) * (w + 2) + (gx + 1)).flatten(1)  # [B, H*W] into the padded plane
    flat = padded.flatten(2)
    return flat.gather(2, idx[:, None, :].expand(-1, x.shape[1], -1)).view_as(x)


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero one random square of side ratio*size per sample."""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=x.device)
    gy = torch.arange(h, device=x.device)[None, :, None]
    gx = torch.arange(w, device=x.device)[None, None, :]
    inside = ((gy - cy + ch // 2).clamp(min=-1) // ch == 0) & ((gx - cx + cw // 2).clamp(min=-1) // cw == 0)
    return x * (~inside)[:, None].to(x.dtype)


_FUNCS = {"color": color, "translation": translation, "cutout": cutout}


def parse_policy(policy: str) -> list[str]:
    """'color,translation' -> ['color', 'translation']; '' or 'none' -> []."""
    names = [p.strip() for p in policy.split(",") if p.strip() and p.strip() != "none"]
    bad = [p for p in names if p not in _FUNCS]
    if bad:
        raise ValueError(f"unknown augmentation {bad}; choose from {', '.join(POLICIES)}")
    return names


def diff_augment(x: torch.Tensor, policy: list[str]) -> torch.Tensor:
    """Apply the listed augmentations in order; gradients flow through all of them."""
    for name in policy:
        x = _FUNCS[name](x)
    return x.contiguous()
