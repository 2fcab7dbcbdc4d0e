"""Model zoo: build a generator / discriminator from a ModelConfig."""
from __future__ import annotations

from torch import nn

from .config import ARCHS, ModelConfig
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .mlp import MLPDiscriminator, MLPGenerator
from .projected import ProjectedDiscriminator, build_projected_discriminator
from .style import StyleDiscriminator, StyleGenerator

_PAIRS = {
    "style": (StyleGenerator, StyleDiscriminator),
    "dcgan": (DCGANGenerator, DCGANDiscriminator),
    "mlp": (MLPGenerator, MLPDiscriminator),
}

# Per-arch defaults: the style model, and the seeds' exact DCGAN and Keras-MLP setups.
ARCH_DEFAULTS = {
    "style": dict(z_dim=128, w_dim=128, mapping_layers=4, channel_base=1024, channel_max=256),
    "dcgan": dict(z_dim=100, channel_base=2048, channel_max=512),
    "mlp": dict(z_dim=100, resolution=28, img_channels=1),
}


def default_config(arch: str, **overrides) -> ModelConfig:
    """The arch's default hyper-parameters, with overrides applied on top."""
    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}; expected one of {', '.join(ARCHS)}")
    return ModelConfig(arch=arch, **{**ARCH_DEFAULTS[arch], **overrides})


def build_generator(cfg: ModelConfig) -> nn.Module:
    if cfg.num_classes and cfg.arch != "style":
        raise ValueError(f"arch {cfg.arch!r} is unconditional; only 'style' supports classes")
    return _PAIRS[cfg.arch][0](cfg)


def build_discriminator(cfg: ModelConfig) -> nn.Module:
    return _PAIRS[cfg.arch][1](cfg)


__all__ = ["ARCHS", "ModelConfig", "ProjectedDiscriminator", "build_discriminator", "build_generator",
           "build_projected_discriminator", "default_config"]
