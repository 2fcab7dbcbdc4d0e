"""Stream images larger-than-memory from a folder, a zip or WebDataset-style .tar shards with a DataLoader."""
from __future__ import annotations

import io
import logging
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from gan_core.data.images import IMAGE_EXTS, DataError, resolve_source, to_square

log = logging.getLogger(__name__)


def _members(path: Path) -> list[tuple[str, str]]:
    """(container, member) pairs for every image: container is the zip/tar, or '' for plain files."""
    if path.is_dir():
        tars = sorted(path.glob("*.tar"))
        if tars:
            return [(str(t), m.name) for t in tars for m in tarfile.open(t) if m.name.lower().endswith(IMAGE_EXTS)]
        return [("", str(p)) for p in sorted(path.rglob("*")) if p.suffix.lower() in IMAGE_EXTS]
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as zf:
            return [(str(path), n) for n in sorted(zf.namelist()) if n.lower().endswith(IMAGE_EXTS)]
    if path.suffix == ".tar":
        return [(str(path), m.name) for m in tarfile.open(path) if m.name.lower().endswith(IMAGE_EXTS)]
    raise DataError(f"cannot stream {path}: give a folder (of images or .tar shards), a .zip or a .tar")


class StreamingImages(IterableDataset):
    """Endless shuffled uint8 images; each (rank, worker) reads its own slice of every epoch."""

    def __init__(self, source: str, resolution: int, channels: int = 3, rank: int = 0, world: int = 1,
                 seed: int = 0) -> None:
        path = Path(resolve_source(source))
        if not path.exists():
            raise DataError(f"dataset not found: {path}")
        self.items = _members(path)
        if not self.items:
            raise DataError(f"no images found in {path}")
        self.resolution, self.channels, self.rank, self.world, self.seed = resolution, channels, rank, world, seed

    def _read(self, container: str, member: str, handles: dict) -> bytes:
        if not container:
            return Path(member).read_bytes()
        if container not in handles:
            handles[container] = zipfile.ZipFile(container) if container.endswith(".zip") else tarfile.open(container)
        h = handles[container]
        return h.read(member) if isinstance(h, zipfile.ZipFile) else h.extractfile(member).read()

    def __iter__(self) -> Iterator[torch.Tensor]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        handles: dict = {}
        epoch = 0
        while True:
            order = torch.randperm(len(self.items), generator=torch.Generator().manual_seed(self.seed + epoch))
            for i in order[self.rank * workers + worker:: self.world * workers].tolist():
                container, member = self.items[i]
                try:
                    with Image.open(io.BytesIO(self._read(container, member, handles))) as img:
                        yield to_square(img, self.resolution, self.channels)
                except Exception as exc:  # a bad file must not stop a long run
                    log.warning("skipping unreadable image %s: %s", member, exc)
            epoch += 1


@dataclass
class StreamSet:
    """What the trainer needs of a streamed set: its name, size and an endless batch iterator."""

    source: str
    size: int
    batches: Iterator[torch.Tensor]
    labels: None = None
    skipped: int = 0
    num_classes: int = 0

    def __len__(self) -> int:
        return self.size


def stream_images(source: str, resolution: int, channels: int, batch: int, rank: int = 0, world: int = 1,
                  workers: int = 2, seed: int = 0) -> StreamSet:
    """Uint8 batches [batch, C, H, W] (batch = this rank's share) decoded by DataLoader worker processes."""
    dataset = StreamingImages(source, resolution, channels, rank, world, seed)
    loader = DataLoader(dataset, batch_size=batch, num_workers=workers, pin_memory=torch.cuda.is_available(),
                        persistent_workers=workers > 0, prefetch_factor=4 if workers else None)
    return StreamSet(source, len(dataset.items), iter(loader))
