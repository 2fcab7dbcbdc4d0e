"""Every arch builds from its config; forward shapes; style generator's per-layer styles, noise and w averages."""
from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from conftest import tiny_config

from gan_core.models import (
    ModelConfig,
    build_discriminator,
    build_generator,
    default_config,
)
from gan_core.models.layers import ModulatedConv2d
from gan_core.models.style import StyleLayer

CASES = [
    ("style", dict(), 16, 3),
    ("style", dict(resolution=8, img_channels=1), 8, 1),
    ("style", dict(resolution=32, img_channels=1, num_classes=10), 32, 1),
    ("dcgan", dict(), 16, 3),
    ("dcgan", dict(resolution=8, img_channels=1), 8, 1),
    ("dcgan", dict(resolution=32), 32, 3),
    ("mlp", dict(), 28, 1),
    ("mlp", dict(resolution=16, img_channels=3), 16, 3),
]


@pytest.mark.parametrize("arch,overrides,res,ch", CASES)
def test_build_and_forward_shapes(arch, overrides, res, ch):
    torch.manual_seed(0)
    cfg = tiny_config(arch, **overrides)
    G, D = build_generator(cfg), build_discriminator(cfg)
    z = torch.randn(4, cfg.z_dim)
    c = torch.tensor([0, 1, 2, 9]) if cfg.num_classes else None
    img = G(z, c)
    assert img.shape == (4, ch, res, res) and torch.isfinite(img).all()
    logits = D(img, c)
    assert logits.shape == (4,) and torch.isfinite(logits).all()
    # gradients flow through D into G (what training needs)
    logits.sum().backward()
    assert all(p.grad is not None for p in G.parameters() if p.requires_grad)


@pytest.mark.parametrize("res", [8, 16, 32, 64])
def test_style_num_ws_matches_ws_resolutions(res):
    G = build_generator(tiny_config("style", resolution=res, channel_base=256))
    assert G.num_ws == len(G.ws_resolutions) == 2 * (res.bit_length() - 1) - 2
    assert G.ws_resolutions[0] == 4 and max(G.ws_resolutions) == res
    assert G.ws_resolutions == sorted(G.ws_resolutions)
    z = torch.randn(2, G.z_dim)
    ws = G.map(z)
    assert ws.shape == (2, G.num_ws, G.w_dim)
    assert G.synthesis(ws).shape == (2, 3, res, res)
    assert G.w_avg.shape == (G.w_dim,)


def test_style_every_w_is_used():
    """Changing any single w index changes the image (one w per layer, no dead indices)."""
    torch.manual_seed(0)
    G = build_generator(tiny_config("style")).eval()
    ws = G.map(torch.randn(1, G.z_dim)).clone()
    base = G.synthesis(ws)
    for i in range(G.num_ws):
        ws2 = ws.clone()
        ws2[:, i] += 1.0
        assert not torch.allclose(G.synthesis(ws2), base), i


def test_style_truncation_and_noise_modes():
    torch.manual_seed(0)
    G = build_generator(tiny_config("style")).eval()
    G.mapping.w_avg.normal_()
    for name, p in G.named_parameters():
        if name.endswith("noise_strength"):
            p.data.fill_(0.1)  # at the initial 0, noise would not show in any mode
    z = torch.randn(3, G.z_dim)
    assert torch.equal(G.map(z, psi=0.0), G.w_avg.expand(3, G.num_ws, -1))
    assert torch.equal(G(z, noise_mode="const"), G(z, noise_mode="const"))
    assert not torch.equal(G(z, noise_mode="random"), G(z, noise_mode="random"))
    with pytest.raises(ValueError):
        G.synthesis(G.map(z), noise_mode="bogus")


def test_style_without_noise_inputs_ignores_noise_mode():
    torch.manual_seed(0)
    G = build_generator(tiny_config("style", noise=False)).eval()
    for layer in G.modules():
        if hasattr(layer, "noise_strength"):
            layer.noise_strength.data.fill_(1.0)  # noise would show if it were added
    z = torch.randn(3, G.z_dim)
    ref = G(z, noise_mode="none")
    assert torch.equal(G(z, noise_mode="const"), ref) and torch.equal(G(z, noise_mode="random"), ref)
    G.cfg.noise = True
    assert not torch.equal(G(z, noise_mode="const"), ref)


def test_conditional_style_needs_label_and_baselines_refuse_classes():
    G = build_generator(tiny_config("style", num_classes=10))
    with pytest.raises(ValueError):
        G(torch.randn(2, G.z_dim), None)
    with pytest.raises(ValueError):
        build_generator(tiny_config("dcgan", num_classes=10))


def test_config_validation_and_round_trip():
    cfg = tiny_config("style", num_classes=3)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError):
        ModelConfig.from_dict({**cfg.to_dict(), "nope": 1})
    with pytest.raises(ValueError):
        default_config("bogus")
    with pytest.raises(ValueError):
        default_config("style", resolution=24)
    assert default_config("mlp").resolution == 28
    with pytest.raises(ValueError):
        default_config("style", resolution=28)


def test_mlp_baseline_keeps_the_seed_layout():
    """The seeds' Keras MLP: 100-d z, 256-512-1024 hidden, 28x28 grey out."""
    mlp = build_generator(default_config("mlp"))
    assert mlp.z_dim == 100
    assert [m.out_features for m in mlp.net if isinstance(m, torch.nn.Linear)] == [256, 512, 1024, 784]


# ----- constant noise: one map per layer -----
def style_layers(G) -> list[tuple[str, StyleLayer]]:
    return [(name, m) for name, m in G.named_modules() if isinstance(m, StyleLayer)]


def test_const_noise_is_drawn_per_layer():
    """Both convs of a block, and every pair of layers, get different maps (no seed shared across sizes)."""
    G = build_generator(tiny_config("style", resolution=32))
    for block in G.blocks:
        assert not torch.equal(block.conv0.noise_const, block.conv1.noise_const)
    layers = style_layers(G)
    assert len(layers) == 2 * len(G.blocks) + 1
    for (name_a, a), (name_b, b) in itertools.combinations(layers, 2):
        n = min(a.noise_const.numel(), b.noise_const.numel())  # the same seed would give the same first values
        assert not torch.equal(a.noise_const.flatten()[:n], b.noise_const.flatten()[:n]), (name_a, name_b)
    again = build_generator(tiny_config("style", resolution=32))
    assert all(torch.equal(a.noise_const, b.noise_const) for (_, a), (_, b) in zip(layers, style_layers(again)))


def test_old_checkpoints_keep_their_noise_maps():
    """A state dict from before per-layer seeds (maps seeded by resolution) loads strictly and keeps its maps."""
    G = build_generator(tiny_config("style"))
    old = G.state_dict()
    for name, layer in style_layers(G):
        res = layer.noise_const.shape[-1]
        old[f"{name}.noise_const"] = torch.randn(1, 1, res, res, generator=torch.Generator().manual_seed(res))
    G.load_state_dict(old, strict=True)
    for name, layer in style_layers(G):
        assert torch.equal(layer.noise_const, old[f"{name}.noise_const"]), name
    assert torch.equal(G.blocks[0].conv0.noise_const, G.blocks[0].conv1.noise_const)  # the old, shared map


# ----- modulated conv against an explicit per-sample grouped conv -----
def reference_modulated_conv(conv: ModulatedConv2d, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """StyleGAN2's fused form: modulate (and demodulate) each sample's weights, then one grouped conv."""
    b, in_ch, h, width = x.shape
    styles = F.linear(w, conv.affine.weight * conv.affine.scale, conv.affine.bias)  # [B, in]
    weight = conv.weight * conv.scale  # [out, in, k, k]
    weight = weight[None] * styles[:, None, :, None, None]  # [B, out, in, k, k]
    if conv.demodulate:
        weight = weight * torch.rsqrt(weight.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8)
    k = weight.shape[-1]
    out = F.conv2d(x.reshape(1, b * in_ch, h, width), weight.reshape(-1, in_ch, k, k), padding=k // 2, groups=b)
    return out.reshape(b, -1, h, width)


@pytest.mark.parametrize("kernel", [3, 1])
@pytest.mark.parametrize("demodulate", [True, False])
def test_modulated_conv_matches_grouped_conv_reference(kernel, demodulate):
    torch.manual_seed(0)
    conv = ModulatedConv2d(6, 5, kernel, w_dim=8, demodulate=demodulate).double()
    with torch.no_grad():
        conv.affine.bias.uniform_(0.2, 3.0)  # styles far from 1 and unequal, so demodulation matters
    x, w = torch.randn(4, 6, 7, 7, dtype=torch.float64), torch.randn(4, 8, dtype=torch.float64)
    got, ref = conv(x, w), reference_modulated_conv(conv, x, w)
    assert got.shape == (4, 5, 7, 7)
    torch.testing.assert_close(got, ref, rtol=1e-9, atol=1e-9)


# ----- truncation centres: one w average per class -----
@pytest.fixture
def digits():
    """A conditional generator whose per-class averages differ from each other and from the global one."""
    torch.manual_seed(0)
    G = build_generator(tiny_config("style", num_classes=10)).eval().requires_grad_(False)
    G.mapping.w_avg.normal_()
    G.mapping.w_avg_class.normal_()
    return G


def test_conditional_truncation_pulls_towards_the_class_average(digits):
    G = digits
    z, c = torch.randn(3, G.z_dim), torch.tensor([3, 7, 3])
    assert torch.equal(G.map(z, c, psi=0.0), G.mapping.w_avg_class[c][:, None].expand(-1, G.num_ws, -1))
    centre, w = G.mapping.w_avg_class[c], G.mapping(z, c)
    torch.testing.assert_close(G.map(z, c, psi=0.6)[:, 0], centre + 0.6 * (w - centre))
    imgs = G(z, c, psi=0.0)
    for img, k in zip(imgs, c.tolist()):
        mean_ws = G.mapping.w_avg_class[k][None, None].expand(1, G.num_ws, -1)
        assert torch.allclose(img, G.synthesis(mean_ws)[0], atol=1e-6)
    assert not torch.allclose(imgs[0], imgs[1], atol=1e-3)  # digit 3 and digit 7
    assert torch.equal(build_generator(tiny_config("style")).mapping.w_avg_of(c), torch.zeros(G.w_dim))


def test_track_w_avg_moves_the_global_and_present_classes_only(digits):
    m = digits.mapping
    glob, per_class = m.w_avg.clone(), m.w_avg_class.clone()
    w, c = torch.randn(6, m.w_avg.shape[0]), torch.tensor([1, 1, 4, 4, 4, 9])
    m.track_w_avg(w, c, beta=0.9)
    torch.testing.assert_close(m.w_avg, w.mean(0).lerp(glob, 0.9))
    for k, rows in ((1, w[:2]), (4, w[2:5]), (9, w[5:])):
        torch.testing.assert_close(m.w_avg_class[k], rows.mean(0).lerp(per_class[k], 0.9))
    absent = [k for k in range(10) if k not in (1, 4, 9)]
    assert torch.equal(m.w_avg_class[absent], per_class[absent])


def test_track_w_avg_reduce_sees_sums_and_counts_across_ranks(digits):
    """reduce gets [1 + classes, w_dim + 1] sums and counts; summing two ranks' = tracking both batches at once."""
    a, b = digits, build_generator(tiny_config("style", num_classes=10))
    b.load_state_dict(a.state_dict())
    w, c = torch.randn(8, a.w_dim), torch.tensor([0, 2, 2, 5, 2, 5, 5, 5])
    rank1: list[torch.Tensor] = []

    def keep(stats: torch.Tensor) -> torch.Tensor:
        rank1.append(stats.clone())
        return stats

    b.mapping.track_w_avg(w[4:], c[4:], reduce=keep)  # rank 1's batch: classes 2, 5, 5, 5
    assert rank1[0].shape == (11, a.w_dim + 1) and rank1[0][:, -1].tolist() == [4, 0, 0, 1, 0, 0, 3, 0, 0, 0, 0]
    torch.testing.assert_close(rank1[0][6, :-1], w[5:].sum(0))
    b.load_state_dict(a.state_dict())
    b.mapping.track_w_avg(w[:4], c[:4], reduce=lambda stats: stats + rank1[0])  # an all-reduce sum
    a.mapping.track_w_avg(w, c)
    torch.testing.assert_close(b.mapping.w_avg, a.mapping.w_avg)
    torch.testing.assert_close(b.mapping.w_avg_class, a.mapping.w_avg_class)


def test_unconditional_track_w_avg_is_the_old_update():
    G = build_generator(tiny_config("style"))
    G.mapping.w_avg.normal_()
    before, w = G.w_avg.clone(), torch.randn(5, G.w_dim)
    G.mapping.track_w_avg(w)
    torch.testing.assert_close(G.w_avg, w.mean(0).lerp(before, 0.995))
    assert "mapping.w_avg_class" not in G.state_dict()


def test_state_without_class_averages_loads_strictly_with_the_global_one(digits):
    state = {k: v for k, v in digits.state_dict().items() if k != "mapping.w_avg_class"}
    G = build_generator(tiny_config("style", num_classes=10))
    G.load_state_dict(state, strict=True)
    assert torch.equal(G.mapping.w_avg_class, digits.w_avg.expand(10, -1))
    assert "mapping.w_avg_class" not in state  # the caller's dict is left alone
