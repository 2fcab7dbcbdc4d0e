"""Properties read off an image without labels, for the named edits of models that have no attribute labels:
stroke thickness and slant of a digit (as Morpho-MNIST, Castro et al. 2019, measures them) and the hair colour
of an anime face (the top band of the 64 px crop is hair in nearly every face)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

HAIR_BAND = 0.3  # the top 30% of rows


def ink(images: torch.Tensor) -> torch.Tensor:
    """Grey digits [N, 1, H, W] in [-1, 1] -> ink intensity [N, H, W] in [0, 1]."""
    return ((images[:, 0].float() + 1) / 2).clamp(0, 1)


def thickness(images: torch.Tensor) -> torch.Tensor:
    """Mean stroke thickness in pixels: 2 x area / perimeter of the thresholded digit (a stroke of length L and
    width t has area L t and perimeter about 2 L)."""
    mask = (ink(images) > 0.5).float()[:, None]
    interior = -F.max_pool2d(-F.pad(mask, (1, 1, 1, 1)), 3, stride=1)  # ink whose 8 neighbours are all ink
    perimeter = (mask - interior).sum(dim=(1, 2, 3)).clamp(min=1)
    return 2 * mask.sum(dim=(1, 2, 3)) / perimeter


def slant(images: torch.Tensor) -> torch.Tensor:
    """Slant in radians, positive leaning right: atan(-mu11 / mu02) of the ink's second moments (y pointing down)."""
    x = ink(images)
    h, w = x.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(h, dtype=x.dtype), torch.arange(w, dtype=x.dtype), indexing="ij")
    mass = x.sum(dim=(1, 2)).clamp(min=1e-6)
    cy, cx = (x * ys).sum(dim=(1, 2)) / mass, (x * xs).sum(dim=(1, 2)) / mass
    dy, dx = ys - cy[:, None, None], xs - cx[:, None, None]
    mu11, mu02 = (x * dx * dy).sum(dim=(1, 2)), (x * dy * dy).sum(dim=(1, 2)).clamp(min=1e-6)
    return torch.atan(-mu11 / mu02)


def hair_colour(images: torch.Tensor) -> dict[str, torch.Tensor]:
    """RGB faces [N, 3, H, W] in [-1, 1] -> the top band's lightness, redness and blueness, each [N] in 0..1 units."""
    rgb = ((images.float() + 1) / 2).clamp(0, 1)[:, :, : max(1, round(images.shape[-2] * HAIR_BAND))]
    r, g, b = rgb.mean(dim=(2, 3)).unbind(1)
    return {"Light_Hair": 0.299 * r + 0.587 * g + 0.114 * b, "Red_Hair": r - (g + b) / 2, "Blue_Hair": b - (r + g) / 2}
