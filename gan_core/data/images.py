"""Load training images (folder, zip, MNIST .npz, torchvision dataset) as cached uint8 tensors."""
from __future__ import annotations

import io
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torchvision.transforms.functional as TF
from PIL import Image

from gan_core.settings import settings

log = logging.getLogger(__name__)

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif")
# Short names for the offline sets under the data root (GAN_STUDIO_DATA; ../shared/data, see its README).
NAMED_SETS = {
    "mnist": "mnist/mnist-train.npz",
    "anime": "anime/anime-faces-64.zip",
    "celeba": "celeba/celeba-align-89x109.zip",
}


def data_root() -> Path:
    """Where the named sets live: the settings' data_root (GAN_STUDIO_DATA, default ../shared/data)."""
    return settings().data_root


class DataError(ValueError):
    """A dataset that cannot be used, with a message naming it."""


@dataclass
class ImageSet:
    """Decoded images, uint8 NCHW, with optional integer class labels."""

    images: torch.Tensor
    labels: torch.Tensor | None
    source: str
    skipped: int = 0

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def num_classes(self) -> int:
        return int(self.labels.max()) + 1 if self.labels is not None else 0


def is_grey_source(source: str) -> bool:
    """Grey digit data (the named MNIST set or any .npz): one channel, no flips, 32 px by default."""
    return source == "mnist" or source.endswith(".npz")


def resolve_source(source: str) -> str:
    """Map a short name (mnist, anime, celeba) to its file under the shared data root."""
    return str(data_root() / NAMED_SETS[source]) if source in NAMED_SETS else source


def to_square(img: Image.Image, resolution: int, channels: int) -> torch.Tensor:
    """Centre-crop to a square, resize to `resolution`, convert to uint8 CHW with `channels`."""
    img = img.convert("RGB" if channels == 3 else "L")
    side = min(img.size)
    img = TF.center_crop(img, [side, side])
    if side != resolution:
        img = TF.resize(img, [resolution, resolution], interpolation=TF.InterpolationMode.BICUBIC, antialias=True)
    return TF.pil_to_tensor(img)


def _decode_all(named_bytes, resolution: int, channels: int, source: str, limit: int | None) -> ImageSet:
    images, skipped = [], 0
    for name, read in named_bytes:
        if limit is not None and len(images) >= limit:
            break
        try:
            with Image.open(io.BytesIO(read())) as img:
                images.append(to_square(img, resolution, channels))
        except Exception as exc:  # PIL raises many types for bad files
            skipped += 1
            log.warning("skipping unreadable image %s in %s: %s", name, source, exc)
    if skipped:
        log.warning("%s: skipped %d unreadable file(s)", source, skipped)
    if not images:
        raise DataError(f"no readable images found in {source}")
    return ImageSet(torch.stack(images), None, source, skipped)


def _load_zip(path: Path, resolution: int, channels: int, limit: int | None) -> ImageSet:
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise DataError(f"{path} is not a readable zip file: {exc}") from exc
    with zf:
        names = sorted(n for n in zf.namelist() if not n.endswith("/"))
        return _decode_all(((n, lambda n=n: zf.read(n)) for n in names), resolution, channels, str(path), limit)


def _load_folder(path: Path, resolution: int, channels: int, limit: int | None) -> ImageSet:
    files = sorted(p for p in path.rglob("*") if p.is_file())
    return _decode_all(((str(p), p.read_bytes) for p in files), resolution, channels, str(path), limit)


def _load_npz(path: Path, resolution: int, channels: int, limit: int | None) -> ImageSet:
    """Keras-style MNIST: x_train uint8 (N, H, W) and optional y_train labels."""
    with np.load(path) as f:
        if "x_train" not in f:
            raise DataError(f"{path} has no 'x_train' array (expected the Keras mnist.npz layout)")
        x = torch.from_numpy(f["x_train"][:limit])
        y = torch.from_numpy(f["y_train"][:limit]).long() if "y_train" in f else None
    x = x[:, None] if x.ndim == 3 else x.permute(0, 3, 1, 2)
    if x.shape[-1] != resolution:
        x = TF.resize(x, [resolution, resolution], antialias=True)
    if x.shape[1] != channels:
        x = (x.expand(-1, channels, -1, -1).contiguous() if channels == 3
             else x.float().mean(1, keepdim=True).round().byte())
    return ImageSet(x.contiguous(), y, str(path))


def _load_torchvision(name: str, resolution: int, channels: int, limit: int | None) -> ImageSet:
    """`tv:CIFAR10` etc.: a torchvision dataset, downloaded to the cache dir (GAN_STUDIO_CACHE, default
    ~/.cache/gan-studio; needs internet)."""
    import torchvision.datasets as tvd

    cls = getattr(tvd, name, None)
    if cls is None:
        raise DataError(f"torchvision has no dataset named {name!r}")
    ds = cls(root=str(settings().cache_dir), download=True)
    n = len(ds) if limit is None else min(limit, len(ds))
    pairs = [ds[i] for i in range(n)]
    images = torch.stack([to_square(img, resolution, channels) for img, _ in pairs])
    labels = torch.tensor([int(y) for _, y in pairs]) if isinstance(pairs[0][1], int) else None
    return ImageSet(images, labels, f"tv:{name}")


def load_images(source: str, resolution: int, channels: int = 3, limit: int | None = None) -> ImageSet:
    """Decode every image of `source` (name, folder, zip, .npz or tv:NAME) into memory."""
    if source.startswith("tv:"):
        return _load_torchvision(source[3:], resolution, channels, limit)
    path = Path(resolve_source(source))
    loaders = {".zip": _load_zip, ".npz": _load_npz}
    if not path.exists():
        raise DataError(f"dataset not found: {path}")
    loader = _load_folder if path.is_dir() else loaders.get(path.suffix)
    if loader is None:
        raise DataError(f"unsupported dataset {path}: give a folder, a .zip of images, a .npz or tv:NAME")
    images = loader(path, resolution, channels, limit)
    images.source = source  # keep the short name (anime, mnist, ...) so metadata stays portable
    return images
