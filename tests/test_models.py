"""Every arch builds from its config; forward shapes; style generator's per-layer styles."""
from __future__ import annotations

import pytest
import torch

from conftest import tiny_config
from gan_core.models import ModelConfig, build_discriminator, build_generator, default_config

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
    z = torch.randn(3, G.z_dim)
    assert torch.equal(G.map(z, psi=0.0), G.w_avg.expand(3, G.num_ws, -1))
    assert torch.equal(G(z, noise_mode="const"), G(z, noise_mode="const"))
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
