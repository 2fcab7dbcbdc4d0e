"""Digit accuracy: the shipped classifier on held-apart real MNIST, the shipped generator, asked-for-wrong labels."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_generator
from safetensors import safe_open

from gan_core.data import images as data
from gan_core.evaluation import digits, metrics, scores
from gan_core.storage.checkpoint import export_generator, load_generator, read_config

MNIST_CKPT = Path(__file__).resolve().parents[1] / "checkpoints" / "mnist"


class ShiftedLabels(torch.nn.Module):
    """G asked for digit c + 1 whenever the caller asks for c: samples of the wrong digit."""

    def __init__(self, G: torch.nn.Module) -> None:
        super().__init__()
        self.G, self.cfg, self.num_classes, self.z_dim, self.num_ws = G, G.cfg, G.num_classes, G.z_dim, G.num_ws

    def map(self, z: torch.Tensor, c: torch.Tensor, psi: float) -> torch.Tensor:
        return self.G.map(z, (c + 1) % self.num_classes, psi)

    def synthesis(self, ws: torch.Tensor, **kwargs) -> torch.Tensor:
        return self.G.synthesis(ws, **kwargs)


@pytest.fixture(scope="module")
def mnist_G() -> torch.nn.Module:
    return load_generator(MNIST_CKPT)[0].eval()


def test_classifier_is_small_safetensors():
    assert digits.WEIGHTS.stat().st_size < 500_000
    with safe_open(str(digits.WEIGHTS), "pt") as f:
        assert f.metadata()["train_digits"] == f"mnist 0..{digits.HELD_APART - 1}"
    assert sum(p.numel() for p in digits.load_digit_classifier().parameters()) <= 100_000


def test_classifier_reads_held_apart_digits():
    with np.load(data.resolve_source("mnist")) as f:  # raw 28x28: classify resizes to 32 itself
        x = torch.from_numpy(f["x_train"][digits.HELD_APART:])[:, None]
        y = torch.from_numpy(f["y_train"][digits.HELD_APART:]).long()
    assert len(y) == 5000
    accuracy = (digits.classify(x.float() / 127.5 - 1) == y).float().mean().item()
    assert accuracy >= 0.98


def test_shipped_generator_draws_the_asked_digit(mnist_G):
    right = digits.digit_accuracy(mnist_G, 200)
    wrong = digits.digit_accuracy(ShiftedLabels(mnist_G), 200)
    assert right > 0.9 and wrong < 0.2


@pytest.mark.parametrize("psi", [0.0, 0.3])
def test_shipped_generator_truncates_towards_each_digits_own_average(mnist_G, psi):
    assert not torch.allclose(mnist_G.mapping.w_avg_class[0], mnist_G.mapping.w_avg_class[1])
    assert digits.digit_accuracy(mnist_G, 100, psi=psi) >= 0.95  # one global average drew the asked digit 10%


def test_export_measures_each_classs_average(tmp_path):
    G = make_generator("style", num_classes=3)
    export_generator(G, tmp_path / "ck", {"dataset": "test"})
    exported = load_generator(tmp_path / "ck")[0]
    z = torch.randn(4096, G.z_dim, generator=torch.Generator().manual_seed(0))
    for c in range(3):
        want = G.mapping(z, torch.full((4096,), c)).mean(0)
        torch.testing.assert_close(exported.mapping.w_avg_class[c], want)
    torch.testing.assert_close(G.mapping.w_avg_class, torch.zeros(3, G.w_dim))  # the caller's G is left alone


def test_digit_accuracy_only_for_ten_class_grey_models(mnist_G):
    assert digits.is_digit_model(mnist_G, "mnist") and not digits.is_digit_model(mnist_G, "celeba")
    rgb = make_generator("style", num_classes=10)
    assert not digits.is_digit_model(rgb, "mnist")
    with pytest.raises(metrics.MetricsError, match="10 classes"):
        digits.digit_accuracy(make_generator("style", img_channels=1), 10)


def test_evaluate_cli_writes_digit_accuracy(tmp_path, monkeypatch, capsys):
    from gan_core import evaluate

    rng = np.random.default_rng(0)  # stand-in Inception features: this test is about the digit path
    monkeypatch.setattr(scores, "real_stats", lambda *a, **k: rng.standard_normal((10, 8)))
    monkeypatch.setattr(scores, "generated_features", lambda *a, **k: rng.standard_normal((10, 8)))
    folder = tmp_path / "mnist"
    shutil.copytree(MNIST_CKPT, folder)
    assert evaluate.main(["--model", str(folder), "--n", "10", "--kid-subsets", "2", "--write-card"]) == 0
    assert "Digit accuracy:" in capsys.readouterr().out
    meta = read_config(folder)["meta"]
    assert meta["digit_accuracy"] >= 0.8 and meta["fid_n"] == 10
    assert f"- Digit accuracy: {meta['digit_accuracy']:.1%}" in (folder / "README.md").read_text()
