"""The face critic: the attribute reader's own frozen features under trainable projected-D heads."""
from __future__ import annotations

import pytest
import torch

from gan_core.evaluation.attributes import load_reader
from gan_core.models import ModelConfig
from gan_core.training.config import TrainConfig
from gan_core.training.face_critic import build_face_critic
from gan_core.training.loss import build_critics


@pytest.fixture(scope="module")
def D() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_face_critic(ModelConfig(resolution=64))


def test_its_features_are_the_readers_own(D):
    reader, _ = load_reader()
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        maps = D.features(x)
        assert [m.shape[1:] for m in maps] == [(32, 32, 32), (64, 16, 16), (128, 8, 8), (192, 4, 4), (256, 2, 2)]
        # the reader's remaining layers (pool, dropout, linear) on the last map give the reader's own logits
        torch.testing.assert_close(reader[15:](maps[-1]), reader(x))


def test_heads_train_the_reader_stays_frozen_and_G_gets_gradients(D):
    frozen = {k: v.clone() for k, v in D.features.named_buffers()}
    D.train().requires_grad_(True)
    assert frozen and not D.features.training
    assert all(not n.startswith("features.") for n, _ in D.named_parameters())
    img = (torch.rand(3, 3, 32, 32) * 2 - 1).requires_grad_(True)  # resized up to the reader's 64 px
    out = D(img)
    assert out.shape == (3, 77)  # 5x5 + 5x5 + 5x5 + 1 + 1 patch logits
    opt = torch.optim.Adam(D.parameters(), lr=1e-2)
    out.mean().backward()
    assert img.grad is not None and img.grad.abs().sum() > 0
    heads_before = [p.detach().clone() for p in D.parameters()]
    opt.step()
    assert any(not torch.equal(a, p) for a, p in zip(heads_before, D.parameters()))
    assert all(torch.equal(frozen[k], v) for k, v in D.features.named_buffers())
    assert not any("features." in k for k in D.state_dict())  # loaded from the shipped asset, not from run states


def test_grey_models_are_refused():
    with pytest.raises(ValueError, match="--face-critic reads RGB faces; this model has 1 channel"):
        build_face_critic(ModelConfig(resolution=32, img_channels=1))


@pytest.mark.parametrize("d, face, message", [("residual", 1.0, "--face-critic needs"),
                                             ("both", 0.0, "--d both needs"),
                                             ("projected", 1.0, "--d projected and --face-critic needs")])
def test_other_archs_are_refused_naming_what_was_asked(d, face, message):
    with pytest.raises(ValueError, match=f"{message} the style arch, not 'dcgan'"):
        build_critics(ModelConfig(arch="dcgan", resolution=64), TrainConfig(d=d, face_critic=face))
