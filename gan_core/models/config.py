"""The architecture description stored in every checkpoint, so loading needs nothing else."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

ARCHS = ("style", "dcgan", "mlp")


@dataclass
class ModelConfig:
    """Hyper-parameters that fully define a generator/discriminator pair."""

    arch: str = "style"
    resolution: int = 64
    img_channels: int = 3
    z_dim: int = 128
    w_dim: int = 128
    num_classes: int = 0
    mapping_layers: int = 4
    channel_base: int = 2048
    channel_max: int = 256
    noise: bool = True  # style arch: per-pixel noise inputs; False turns them off in training and sampling
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"unknown arch {self.arch!r}; expected one of {', '.join(ARCHS)}")
        not_power_of_two = self.resolution < 8 or self.resolution & (self.resolution - 1)
        if not_power_of_two and not (self.arch == "mlp" and self.resolution == 28):
            raise ValueError(f"resolution must be a power of two >= 8, got {self.resolution}")

    def width(self, res: int) -> int:
        """Feature channels used at resolution `res` (StyleGAN's channel_base / res, capped)."""
        return min(self.channel_base // res, self.channel_max)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Build from a dict, rejecting unknown keys with a clear message."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        return cls(**data)
