"""Sampling maths: seeds -> z -> w, truncation, interpolation and style mixing."""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch

MAX_SEED = 2 ** 32 - 1
MAX_SEEDS = 64  # images per request, the documented cap
CHUNK = 8  # every forward pass runs on exactly this many rows, so a row's result never depends on the batch
LAYER_GROUPS = ("coarse", "middle", "fine")


def z_from_seed(seed: int, z_dim: int) -> torch.Tensor:
    """The latent of `seed`: its own CPU generator, so it never depends on batch, device or run."""
    return torch.randn(z_dim, generator=torch.Generator().manual_seed(int(seed)))


def zs_from_seeds(seeds: list[int], z_dim: int) -> torch.Tensor:
    return torch.stack([z_from_seed(s, z_dim) for s in seeds])


def _device(G: torch.nn.Module) -> torch.device:
    return next(G.parameters()).device


def _labels(G: torch.nn.Module, classes: int | list[int] | None, n: int) -> torch.Tensor | None:
    if not G.num_classes:
        return None
    classes = [0 if classes is None else classes] * n if not isinstance(classes, list) else classes
    return torch.tensor(classes, dtype=torch.long, device=_device(G))


def chunked(fn, *tensors: torch.Tensor | None) -> torch.Tensor:
    """fn over fixed-size chunks (the last padded by repeating its final row), results concatenated.

    CPU kernels pick different code paths for different batch sizes (1e-6 differences); fixed
    chunks make the image of a seed bit-identical alone, in a grid, or in another process.
    """
    n = tensors[0].shape[0]
    outs = []
    for i in range(0, n, CHUNK):
        parts = []
        for t in tensors:
            if t is None:
                parts.append(None)
                continue
            part = t[i:i + CHUNK]
            pad = CHUNK - part.shape[0]
            parts.append(torch.cat([part, part[-1:].expand(pad, *part.shape[1:])]) if pad else part)
        outs.append(fn(*parts)[: min(CHUNK, n - i)])
    return torch.cat(outs)


def is_style(G: torch.nn.Module) -> bool:
    """True for generators with per-layer styles (mixing and w-space interpolation)."""
    return getattr(G, "num_ws", 0) > 0


@torch.inference_mode()
def ws_from_seeds(G: torch.nn.Module, seeds: list[int], psi: float = 1.0,
                  classes: int | list[int] | None = None) -> torch.Tensor:
    """Seeds -> ws [N, num_ws, w_dim] with truncation psi."""
    z = zs_from_seeds(seeds, G.z_dim).to(_device(G))
    return chunked(lambda z_, c_: G.map(z_, c_, psi), z, _labels(G, classes, len(seeds)))


@torch.inference_mode()
def synthesize(G: torch.nn.Module, ws: torch.Tensor) -> torch.Tensor:
    """ws -> images in [-1, 1] on the CPU, noise fixed so results are reproducible."""
    return chunked(lambda w: G.synthesis(w, noise_mode="const"), ws.to(_device(G))).clamp(-1, 1).cpu()


@torch.inference_mode()
def generate(G: torch.nn.Module, seeds: list[int], psi: float = 1.0,
             classes: int | list[int] | None = None) -> torch.Tensor:
    """Seeds -> images [N, C, H, W] in [-1, 1]; the image of a seed never depends on the others."""
    return from_z(G, zs_from_seeds(seeds, G.z_dim), psi, classes)


@torch.inference_mode()
def from_z(G: torch.nn.Module, z: torch.Tensor, psi: float, classes: int | list[int] | None) -> torch.Tensor:
    """z rows -> images in [-1, 1], in fixed chunks, for any architecture."""
    z = z.to(_device(G))
    if is_style(G):
        ws = chunked(lambda z_, c_: G.map(z_, c_, psi), z, _labels(G, classes, z.shape[0]))
        return synthesize(G, ws)
    return chunked(lambda z_: G(z_, None, psi), z).clamp(-1, 1).cpu()


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between rows a and b at fractions t (shape [T, 1])."""
    a_n, b_n = a / a.norm(), b / b.norm()
    omega = torch.arccos((a_n * b_n).sum().clamp(-1, 1))
    if omega.abs() < 1e-6:
        return torch.lerp(a, b, t)
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


def _segment_t(frames: int, segments: int, loop: bool) -> list[tuple[int, float]]:
    """(segment, fraction) for each frame across the key seeds; last frame is the last key unless looping."""
    total = frames if loop else frames - 1
    out = []
    for i in range(frames):
        pos = i * segments / max(total, 1)
        seg = min(int(pos), segments - 1)
        out.append((seg, pos - seg))
    return out


@torch.inference_mode()
def interpolate(G: torch.nn.Module, seeds: list[int], frames: int, mode: str = "z-slerp",
                psi: float = 1.0, classes: int | None = None, loop: bool = False,
                start: torch.Tensor | None = None) -> torch.Tensor:
    """Frames walking through the seeds' latents: 'z-slerp' or 'w-lerp' (style models only); `start`, a W+
    latent [num_ws, w_dim] such as a projected image's, is the walk's first key (w-lerp only, not truncated)."""
    if len(seeds) + (start is not None) < 2:
        raise ValueError("interpolation needs at least two seeds")
    if mode not in ("z-slerp", "w-lerp"):
        raise ValueError("mode must be 'z-slerp' or 'w-lerp'")
    if start is not None and mode != "w-lerp":
        raise ValueError("a walk from a projected latent needs mode w-lerp")
    if mode == "w-lerp":
        if not is_style(G):
            raise ValueError("w-lerp needs a style-based model; use z-slerp")
        kw = with_extra(ws_from_seeds(G, seeds, psi, classes).cpu(), start)
        kw = torch.cat([kw, kw[:1]]) if loop else kw
        ws = torch.stack([torch.lerp(kw[s], kw[s + 1], t) for s, t in _segment_t(frames, len(kw) - 1, loop)])
        return synthesize(G, ws)
    keys = seeds + seeds[:1] if loop else seeds
    plan = _segment_t(frames, len(keys) - 1, loop)
    kz = zs_from_seeds(keys, G.z_dim)
    z = torch.stack([slerp(kz[s], kz[s + 1], torch.tensor(t)) for s, t in plan])
    return from_z(G, z, psi, classes)


def layer_groups(G: torch.nn.Module) -> dict[str, list[int]]:
    """coarse (4-8 px), middle (16-32 px) and fine (64 px and up) w indices of a style model."""
    groups: dict[str, list[int]] = {g: [] for g in LAYER_GROUPS}
    for i, res in enumerate(G.ws_resolutions):
        groups["coarse" if res <= 8 else "middle" if res <= 32 else "fine"].append(i)
    if not groups["fine"]:  # 32 px models: their top resolution is the fine detail
        groups["fine"] = [i for i, r in enumerate(G.ws_resolutions) if r == max(G.ws_resolutions)]
        groups["middle"] = [i for i in groups["middle"] if i not in groups["fine"]]
    return groups


@dataclass
class StyleMixing:
    """A style-mixing figure's images in [-1, 1]: the rows' and columns' own [R or C, ch, H, W], mixed
    [R, C, ch, H, W]."""

    rows: torch.Tensor
    cols: torch.Tensor
    grid: torch.Tensor


@torch.inference_mode()
def style_mix(G: torch.nn.Module, row_seeds: list[int], col_seeds: list[int], layers: list[int],
              psi: float = 1.0, classes: int | None = None, extra: torch.Tensor | None = None) -> StyleMixing:
    """Each row seed's ws with the column seed's ws on `layers`, and the seeds' own images. `extra`, a W+ latent
    [num_ws, w_dim] such as a projected image's (not truncated), is the first row and the first column."""
    if not is_style(G):
        raise ValueError("style mixing needs a style-based model with per-layer styles")
    row_ws, col_ws = (with_extra(ws_from_seeds(G, s, psi, classes).cpu(), extra) for s in (row_seeds, col_seeds))
    mixed = row_ws[:, None].repeat(1, col_ws.shape[0], 1, 1)
    if layers:
        mixed[:, :, layers] = col_ws[None, :, layers]
    rows, cols, grid = synthesize(G, torch.cat([row_ws, col_ws, mixed.flatten(0, 1)])).split(
        [len(row_ws), len(col_ws), mixed.shape[0] * mixed.shape[1]])
    return StyleMixing(rows, cols, grid.view(row_ws.shape[0], col_ws.shape[0], *grid.shape[1:]))


def with_extra(ws: torch.Tensor, extra: torch.Tensor | None) -> torch.Tensor:
    """ws [N, num_ws, w_dim] with the W+ latent `extra` put first, when given."""
    return ws if extra is None else torch.cat([extra[None].float(), ws])


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] float images -> uint8, NHWC for PIL/imageio."""
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1)


def grid_shape(n: int) -> int:
    """Columns for a near-square grid of n images."""
    return max(1, math.ceil(math.sqrt(n)))


def generated_images(G: torch.nn.Module, n: int, psi: float = 1.0,
                     batch: int = 50) -> Iterator[tuple[list[int] | None, torch.Tensor]]:
    """Images [B, C, H, W] in [-1, 1] of seeds 0..n-1, `batch` at a time, with their classes (seed % num_classes)."""
    num_classes = int(getattr(G, "num_classes", 0) or 0)
    for i in range(0, n, batch):
        seeds = list(range(i, min(i + batch, n)))
        classes = [s % num_classes for s in seeds] if num_classes else None
        yield classes, generate(G, seeds, psi, classes)
