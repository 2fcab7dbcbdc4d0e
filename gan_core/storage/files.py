"""Crash-safe, durable writes: a file or a whole folder appears complete or not at all, even after kill -9."""
from __future__ import annotations

import ctypes
import errno
import glob
import os
import secrets
import shutil
import stat
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

Writer = Callable[[str], object]  # write(path): a library writer that opens `path` itself


def _temp_name(path: Path, suffix: str) -> Path:
    """A fresh hidden name beside `path`: .<name>.<random><suffix>."""
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}{suffix}")


def _fsync(path: Path) -> None:
    """Flush a file's data, or a folder's entries (renames), to disk; folders are skipped on Windows (cannot open)."""
    if os.name == "nt" and path.is_dir():
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_new(path: Path, write: Writer) -> None:
    """Create `path` with the mode open() gives (0o666 & ~umask), call write(path), keep that mode (safetensors
    writes 0o600) and fsync the data; library writers open the path themselves, so it is reopened to sync."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    mode = stat.S_IMODE(os.fstat(fd).st_mode)
    os.close(fd)
    write(str(path))
    os.chmod(path, mode)
    _fsync(path)


def atomic_write(path: Path, write: Writer) -> None:
    """Call write(tmp_path) on a new temp file beside `path` (see _write_new), rename it over `path` and fsync the
    folder: `path` is the old or the new file after a kill or a power loss."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_name(path, ".tmp")
    try:
        _write_new(tmp, write)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync(path.parent)


def remove_stale_temps(path: Path) -> list[Path]:
    """Delete the temp files / folders that a killed atomic_write(path) or atomic_write_folder(path) left; first put
    back the old folder if a crash mid-swap (only without an atomic exchange) left it under its .old name."""
    pattern = f".{glob.escape(path.name)}.*"
    olds = list(path.parent.glob(pattern + ".old"))
    if olds and not os.path.lexists(path):
        newest = max(olds, key=lambda p: p.stat().st_mtime_ns)
        os.rename(newest, path)
        olds.remove(newest)
    stale = sorted(list(path.parent.glob(pattern + ".tmp")) + olds)
    for p in stale:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink(missing_ok=True)
    return stale


_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where the OS or filesystem cannot."""
    renameat2 = getattr(_LIBC, "renameat2", None)
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(a), None, str(b))


def _swap_in(new: Path, folder: Path) -> Path | None:
    """Put the folder `new` at `folder`, replacing any folder there; return where the replaced one now is."""
    if not folder.exists():
        os.rename(new, folder)
        return None
    if _exchange(new, folder):
        return new
    old = _temp_name(folder, ".old")  # a crash between these renames: remove_stale_temps(folder) puts `old` back
    os.rename(folder, old)
    os.rename(new, folder)
    return old


def _carry_over(old: Path, new: Path, ours: Iterable[str]) -> None:
    """Copy everything in `old` but the files named in `ours` (e.g. a user's notes or samples) into `new`."""
    for item in old.iterdir():
        if item.name in ours:
            continue
        if item.is_dir() and not item.is_symlink():
            shutil.copytree(item, new / item.name, symlinks=True)
        else:
            shutil.copy2(item, new / item.name, follow_symlinks=False)


def atomic_write_folder(folder: Path, files: dict[str, Writer]) -> None:
    """Write `files` (name -> write(path)) into a fresh temp sibling of `folder`, with the other files already in
    `folder`, fsync it all and swap it in: `folder` is the complete old or new set after a kill or a power loss.
    Stale temps of a killed earlier call are removed first (remove_stale_temps)."""
    folder = folder.resolve()  # a symlinked folder: swap the real one
    remove_stale_temps(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_name(folder, ".tmp")
    os.mkdir(tmp)
    try:
        for name, write in files.items():
            _write_new(tmp / name, write)
        if folder.exists():  # not a folder: NotADirectoryError, nothing replaced
            _carry_over(folder, tmp, files)
            shutil.copymode(folder, tmp)
        _fsync(tmp)
        old = _swap_in(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync(folder.parent)
    if old is not None:
        shutil.rmtree(old)
