"""Widening a trained style generator: the same images at the start, new channels that train, no narrowing."""
from __future__ import annotations

import dataclasses

import pytest
import torch
from conftest import TINY_TRAIN, make_generator

from gan_core import train
from gan_core.models.widening import widen_generator
from gan_core.storage.checkpoint import load_generator
from gan_core.storage.train_state import load_train_state


def test_the_wider_generator_draws_the_same_images():
    G = make_generator("style", seed=1)  # 16 px, channel_base 64, channel_max 32: 8 channels at 8 px
    wider = widen_generator(G, dataclasses.replace(G.cfg, channel_base=256, channel_max=64)).eval()
    assert wider.blocks[-1].conv1.conv.weight.shape[0] == 16 > G.blocks[-1].conv1.conv.weight.shape[0]
    z, c = torch.randn(6, G.z_dim), None
    with torch.no_grad():
        for psi in (1.0, 0.5):
            torch.testing.assert_close(wider(z, c, psi), G(z, c, psi), atol=1e-5, rtol=1e-5)
    assert torch.equal(wider.w_avg, G.w_avg)


def test_the_added_channels_get_gradients():
    G = make_generator("style", seed=1)
    wider = widen_generator(G, dataclasses.replace(G.cfg, channel_base=256, channel_max=64)).requires_grad_(True)
    wider(torch.randn(4, G.z_dim)).square().mean().backward()
    old_in = G.blocks[-1].conv1.conv.weight.shape[1]
    reads_added = wider.blocks[-1].conv1.conv.weight.grad[:, old_in:]  # the weights that start at zero
    assert reads_added.abs().max() > 0


def test_narrowing_is_refused():
    G = make_generator("style", seed=1)
    with pytest.raises(ValueError, match="cannot widen"):
        widen_generator(G, dataclasses.replace(G.cfg, channel_base=32))


def test_init_from_with_a_larger_channel_base_trains_the_widened_generator(image_folder, tmp_path, capsys):
    ck, run = tmp_path / "ck", tmp_path / "run"
    assert train.main(["--data", str(image_folder), "--out", str(tmp_path / "first"), *TINY_TRAIN, "--steps", "2",
                       "--export", str(ck)]) == 0  # channel_base 64, channel_max 32
    G, _ = load_generator(ck)
    start = ["--data", str(image_folder), "--init-from", str(ck), "--batch", "8", "--device", "cpu", "--threads", "1",
             "--amp", "off", "--channel-base", "128", "--channel-max", "64"]
    assert train.main([*start, "--out", str(run), "--steps", "0", "--export", str(run / "ck")]) == 0
    wide, config = load_generator(run / "ck")
    assert (config["model"]["channel_base"], config["model"]["channel_max"]) == (128, 64)
    z = torch.randn(4, G.z_dim)
    with torch.no_grad():
        torch.testing.assert_close(wide(z), G(z), atol=1e-5, rtol=1e-5)
    assert train.main([*start, "--out", str(tmp_path / "on"), "--steps", "2", "--d-warmup", "1"]) == 0
    assert load_train_state(tmp_path / "on" / "train_state.pt")["step"] == 2
    assert train.main([*start[:-4], "--channel-base", "32", "--out", str(tmp_path / "bad"), "--steps", "1"]) == 2
    assert "--channel-base 32 is below the warm start's 64" in capsys.readouterr().err
    assert train.main([*start, "--z-dim", "32", "--out", str(tmp_path / "bad"), "--steps", "1"]) == 2
    assert "--z-dim 32 (the checkpoint has 16)" in capsys.readouterr().err
