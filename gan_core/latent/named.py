"""Named latent directions ("Smiling", "Thickness", "Blue_Hair"): one unit vector in W per name, the w layers it
moves and its scale, stored beside a checkpoint as directions.safetensors (gan_core.latent.named_fit finds them).

An edit is a strength per name in -5..5; strength s adds s x scale x vector to the named layers of the seed's
(or a projected image's) W+ latent, so strength 0 leaves the image exactly as it was.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from gan_core.latent import sampling
from gan_core.storage.checkpoint import DIRECTIONS as FILE
from gan_core.storage.files import Writer, atomic_write

STRENGTH_RANGE = (-5.0, 5.0)


@dataclass(frozen=True)
class NamedDirection:
    """A direction in W with its name (as edits spell it), the label a slider shows, the w indices it moves and
    the w distance of strength 1."""

    name: str
    label: str
    vector: torch.Tensor  # [w_dim], unit length
    layers: tuple[int, ...]
    scale: float


@dataclass(frozen=True)
class NamedDirections:
    """A model's named directions, in the order its sliders show them, and how they were found."""

    directions: tuple[NamedDirection, ...]
    method: str = ""

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.directions]

    def shift(self, ws: torch.Tensor, edits: dict[str, float]) -> torch.Tensor:
        """W+ latents [B, num_ws, w_dim] moved by the edits (name -> strength); zero strengths add nothing."""
        out = ws.clone()
        for d in self.directions:
            strength = edits.get(d.name, 0.0)
            if strength:
                out[:, list(d.layers)] += (strength * d.scale) * d.vector.to(out)
        return out


def writer(dirs: NamedDirections) -> Writer:
    """write(path) of a directions file (vectors and scales as tensors; names, labels, layers and method as
    metadata), for atomic_write or a whole-folder atomic_write_folder."""
    tensors = {"vectors": torch.stack([d.vector.float() for d in dirs.directions]).contiguous(),
               "scales": torch.tensor([d.scale for d in dirs.directions], dtype=torch.float32)}
    meta = {"names": json.dumps([d.name for d in dirs.directions]),
            "labels": json.dumps([d.label for d in dirs.directions]),
            "layers": json.dumps([list(d.layers) for d in dirs.directions]), "method": dirs.method}
    return lambda tmp: save_file(tensors, tmp, metadata=meta)


def save(dirs: NamedDirections, folder: str | Path) -> Path:
    """Write dirs as folder/directions.safetensors (see writer)."""
    path = Path(folder) / FILE
    atomic_write(path, writer(dirs))
    return path


def load(folder: str | Path, w_dim: int, num_ws: int) -> NamedDirections | None:
    """The named directions stored beside a checkpoint; None when it has none. Refuses a file that does not fit
    the model (ValueError naming the file)."""
    path = Path(folder) / FILE
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), "pt") as f:
            meta, vectors, scales = f.metadata(), f.get_tensor("vectors"), f.get_tensor("scales")
        names, labels, layers = (json.loads(meta[k]) for k in ("names", "labels", "layers"))
    except (SafetensorError, KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a named-directions file ({exc})") from None
    if vectors.shape != (len(names), w_dim) or len(scales) != len(names) or len(labels) != len(names) \
            or any(not 0 <= i < num_ws for ls in layers for i in ls):
        raise ValueError(f"{path}: its directions do not fit this model (w_dim {w_dim}, {num_ws} w layers)")
    return NamedDirections(tuple(NamedDirection(n, lb, v, tuple(ls), float(s))
                                 for n, lb, v, ls, s in zip(names, labels, vectors, layers, scales)),
                           meta.get("method", ""))


@torch.inference_mode()
def render(G: torch.nn.Module, dirs: NamedDirections, seed: int, psi: float, label: int | None,
           edits: list[dict[str, float]], base: torch.Tensor | None = None) -> torch.Tensor:
    """One image in [-1, 1] per edit: the seed's W+ latent (or `base`, such as a projected image's) moved."""
    start = sampling.ws_from_seeds(G, [seed], psi, label).cpu() if base is None else base[None].float()
    return sampling.synthesize(G, torch.cat([dirs.shift(start, e) for e in edits]))
