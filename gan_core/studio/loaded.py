"""A generator loaded for the studio: its registry entry, config, checkpoint hash and cached SeFa directions."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import nn

from gan_core.latent import directions, sampling
from gan_core.latent.named import NamedDirections
from gan_core.storage.registry import ModelEntry


@dataclass
class LoadedModel:
    """A generator ready to sample, with what the UI shows about it."""

    entry: ModelEntry
    G: nn.Module
    config: dict[str, Any]
    sha256: str
    named: NamedDirections | None = None  # the checkpoint's directions.safetensors, if it has one
    _directions: dict[str, directions.Directions] = field(default_factory=dict, repr=False)

    @property
    def num_classes(self) -> int:
        return self.G.num_classes

    @property
    def is_style(self) -> bool:
        return sampling.is_style(self.G)

    def sefa(self, group: str) -> directions.Directions:
        """The model's latent directions for a layer group, computed on first use and then cached."""
        if group not in self._directions:
            self._directions[group] = directions.compute(self.G, group)
        return self._directions[group]

    def summary(self) -> str:
        m, meta = self.config["model"], self.config.get("meta", {})
        parts = [f"**{self.entry.label}**: `{m['arch']}` {m['resolution']}px"]
        if m.get("num_classes"):
            parts.append(f"{m['num_classes']} classes")
        if meta.get("steps"):
            parts.append(f"{meta['steps']:,} steps on {meta.get('num_images', 0):,} images")
        if "fid" in meta:
            parts.append(f"FID {meta['fid']}")
        return " · ".join(parts)
