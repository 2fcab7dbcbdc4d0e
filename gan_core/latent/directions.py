"""Closed-form latent directions (SeFa, Shen & Zhou 2021): eigenvectors of the first weights, no training.

Style models: W stacks the affine (style) weights of every demodulated 3x3 conv whose w index is in the
chosen layer group ('all' = every conv, as SeFa does; toRGB layers left out), one row per modulated channel,
each row scaled to unit norm as in SeFa. The directions are the eigenvectors of W^T W in w space, strongest
first. An edit moves the truncated w by alpha * sigma * d on the group's w indices, where sigma is the spread
of w along d over SIGMA_SEEDS seeds. Models without styles (DCGAN, MLP): the first layer's weight reshaped to
[z_dim, -1] plays W^T and an edit moves z by alpha * d before the model's truncation (z ~ N(0, I): sigma = 1).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from gan_core.latent import sampling

GROUPS = ("all", "coarse", "middle", "fine")
SIGMA_SEEDS = 512  # seeds 0..511 measure the spread of w along each direction
SPAN = 3.0  # a preview strip runs from -SPAN to +SPAN sigmas


@dataclass(frozen=True)
class Directions:
    """Unit directions (rows, strongest first), the latent's spread along each, and the w indices edits move."""

    space: str  # "w" or "z"
    vectors: torch.Tensor  # [K, dim], float64
    sigmas: torch.Tensor  # [K], float64
    layers: list[int]  # w indices an edit moves; [] in z space


def eigen_directions(W: torch.Tensor) -> torch.Tensor:
    """Eigenvectors (rows) of W^T W after scaling W's rows to unit norm; largest eigenvalue first, sign fixed."""
    W = W.double()
    W = W / W.norm(dim=1, keepdim=True).clamp_min(1e-12)
    vecs = torch.linalg.eigh(W.T @ W).eigenvectors.flip(1).T.contiguous()
    sign = torch.sign(vecs.gather(1, vecs.abs().argmax(1, keepdim=True)))  # largest entry positive
    return vecs * sign


def first_layer_weight(G: nn.Module) -> torch.Tensor:
    """The first layer of a model without styles as [fan_out, z_dim] (ConvTranspose2d or Linear)."""
    layer = next(m for m in G.modules() if isinstance(m, (nn.ConvTranspose2d, nn.Linear)))
    w = layer.weight.reshape(layer.weight.shape[0], -1).T if isinstance(layer, nn.ConvTranspose2d) else layer.weight
    if w.shape[1] != G.z_dim:
        raise ValueError(f"first layer takes {w.shape[1]} inputs, not z_dim={G.z_dim}")
    return w


@torch.inference_mode()
def compute(G: nn.Module, group: str = "all") -> Directions:
    """SeFa directions of G; `group` (all/coarse/middle/fine) picks the style layers of a style model."""
    if not sampling.is_style(G):
        vecs = eigen_directions(first_layer_weight(G))
        return Directions("z", vecs, torch.ones(len(vecs), dtype=torch.float64), [])
    layers = list(range(G.num_ws)) if group == "all" else sampling.layer_groups(G)[group]
    W = torch.cat([conv.affine.weight for i, conv in G.modulated_convs() if i in layers])
    vecs = eigen_directions(W)
    seeds = list(range(SIGMA_SEEDS))
    classes = [s % G.num_classes for s in seeds] if G.num_classes else None
    w = sampling.ws_from_seeds(G, seeds, 1.0, classes)[:, 0].double().cpu()
    return Directions("w", vecs, ((w - w.mean(0)) @ vecs.T).std(0), layers)


def shift(d: Directions, strengths: list[float]) -> torch.Tensor:
    """sum_k strengths[k] * sigma_k * d_k as float32 (zero strengths add exactly nothing)."""
    a = torch.tensor(strengths, dtype=torch.float64)
    k = len(strengths)
    return (a[:, None] * d.sigmas[:k, None] * d.vectors[:k]).sum(0).float()


@torch.inference_mode()
def render(G: nn.Module, d: Directions, seed: int, psi: float, label: int | None,
           edits: list[list[float]], base: torch.Tensor | None = None) -> torch.Tensor:
    """One image in [-1, 1] per list of strengths: the seed's latent (or the W+ latent `base`, such as a projected
    image's) moved along the directions."""
    deltas = torch.stack([shift(d, e) for e in edits])
    if d.space == "z":
        if base is not None:
            raise ValueError("a W+ base latent needs a style-based model")
        return sampling.from_z(G, sampling.z_from_seed(seed, G.z_dim) + deltas, psi, label)
    start = sampling.ws_from_seeds(G, [seed], psi, label).cpu() if base is None else base[None].float()
    ws = start.repeat(len(edits), 1, 1)
    ws[:, d.layers] += deltas[:, None]
    return sampling.synthesize(G, ws)


def strip_strengths(k: int, frames: int) -> list[list[float]]:
    """For each of the top k directions, `frames` strengths from -SPAN to +SPAN on it alone."""
    steps = torch.linspace(-SPAN, SPAN, frames, dtype=torch.float64).tolist()
    return [[0.0] * j + [a] for j in range(k) for a in steps]
