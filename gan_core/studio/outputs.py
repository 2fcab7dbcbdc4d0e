"""The folder each request writes its files into, kept under an age and a size cap so a long-running server's
disk never fills: every new request folder first prunes the oldest ones."""
from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path

MAX_AGE_S = 3600.0  # request folders older than this are deleted (Gradio has copied their files by then)
MAX_BYTES = 256 * 2 ** 20  # and the oldest go first while the whole folder holds more than this


def folder_bytes(path: Path) -> int:
    """Bytes of the regular files under `path`."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


class OutputFolder:
    """A temporary root of per-request folders, pruned by age and total size whenever a new one is made."""

    def __init__(self, root: str | Path | None = None, max_age_s: float = MAX_AGE_S, max_bytes: int = MAX_BYTES,
                 keep: int = 8) -> None:
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="gan-studio-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_age_s, self.max_bytes, self.keep = max_age_s, max_bytes, keep
        self._lock = threading.Lock()
        self._sizes: dict[Path, int] = {}  # sizes of finished folders, measured once

    def new(self) -> Path:
        """A fresh folder for one request's files, after pruning the old ones."""
        with self._lock:
            self.prune()
            return Path(tempfile.mkdtemp(dir=self.root))

    def prune(self) -> None:
        """Delete folders past max_age_s, then the oldest while over max_bytes; the newest `keep` always stay
        (requests still writing or being copied into Gradio's cache)."""
        folders = sorted((p.stat().st_mtime, p) for p in self.root.iterdir() if p.is_dir())
        old, now = folders[:max(len(folders) - self.keep, 0)], time.time()
        for _, p in old:
            self._sizes.setdefault(p, folder_bytes(p))
        total = sum(self._sizes.get(p) or folder_bytes(p) for _, p in folders)
        for mtime, p in old:
            if now - mtime > self.max_age_s or total > self.max_bytes:
                shutil.rmtree(p, ignore_errors=True)
                total -= self._sizes.pop(p)
