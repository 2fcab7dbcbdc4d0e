"""Save and load generators: model.safetensors + config.json + README.md model card; atomic, durable writes."""
from __future__ import annotations

import copy
import ctypes
import errno
import glob
import json
import os
import secrets
import shutil
import stat
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from . import hub
from .models import ModelConfig, build_generator

FORMAT = "gan-studio/1"
WEIGHTS = "model.safetensors"
CONFIG = "config.json"
CARD = "README.md"
Writer = Callable[[str], object]  # write(path): a library writer that opens `path` itself


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, corrupt or of another architecture; the message names the file."""


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


def save_generator(G: nn.Module, folder: str | Path, meta: dict[str, Any], card: str | None = None) -> Path:
    """Write G's weights (with w_avg), its config + metadata and the card as one unit (atomic_write_folder)."""
    folder = Path(folder)
    state = {k: v.detach().cpu().contiguous().clone() for k, v in G.state_dict().items()}
    config = json.dumps({"format": FORMAT, "model": G.cfg.to_dict(), "meta": meta}, indent=2) + "\n"
    files: dict[str, Writer] = {WEIGHTS: lambda tmp: save_file(state, tmp, metadata={"format": FORMAT}),
                                CONFIG: lambda tmp: Path(tmp).write_text(config)}
    if card is not None:
        files[CARD] = lambda tmp: Path(tmp).write_text(card)
    atomic_write_folder(folder, files)
    return folder


def export_generator(G: nn.Module, folder: str | Path, meta: dict[str, Any],
                     weights: dict[str, torch.Tensor] | None = None) -> Path:
    """Write a CPU copy of G (with `weights` loaded instead, e.g. a best evaluation's) + config + model card."""
    from .modelcard import model_card

    G = copy.deepcopy(G).to("cpu", memory_format=torch.contiguous_format)
    if weights is not None:
        G.load_state_dict(weights)
    return save_generator(G, folder, meta, model_card(Path(folder).name, G.cfg.to_dict(), meta))


def read_config(folder: str | Path) -> dict[str, Any]:
    """Parse and check config.json of a checkpoint folder."""
    path = Path(folder) / CONFIG
    if not path.is_file():
        raise CheckpointError(f"checkpoint config not found: {path}")
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(config, dict) or config.get("format") != FORMAT or not isinstance(config.get("model"), dict):
        raise CheckpointError(f"{path} is not a GAN Studio checkpoint config (expected format {FORMAT!r})")
    return config


def load_generator(folder: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Build the generator described by config.json and load its safetensors weights; no code runs."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"checkpoint folder not found: {folder}")
    config = read_config(folder)
    try:
        G = build_generator(ModelConfig.from_dict(config["model"]))
    except (TypeError, ValueError, ArithmeticError, RuntimeError) as exc:  # e.g. negative or zero sizes
        raise CheckpointError(f"{folder / CONFIG}: invalid model config: {exc}") from exc
    weights = folder / WEIGHTS
    if not weights.is_file():
        raise CheckpointError(f"checkpoint weights not found: {weights}")
    try:
        state = load_file(weights)
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights} is corrupt or not a safetensors file: {exc}") from exc
    try:
        G.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise CheckpointError(f"{weights} does not match the architecture in {CONFIG}: {first}") from exc
    return G.eval().requires_grad_(False).to(device), config


def resolve(name: str, checkpoint_dir: str | Path, hub_repo: str | None = None, revision: str | None = None) -> Path:
    """The folder of model `name`: checkpoint_dir/name if it exists, else its Hub repo at the pinned revision."""
    folder = Path(checkpoint_dir) / name
    if folder.is_dir():
        return folder
    if not hub_repo:
        raise CheckpointError(f"checkpoint folder not found: {folder} "
                              f"(and no Hugging Face Hub repo is set for {name!r})")
    try:
        return hub.download(hub_repo, revision, [WEIGHTS, CONFIG, CARD])
    except hub.HubError as exc:
        raise CheckpointError(f"model {name!r}: no local folder {folder}; {exc}") from exc


def push_to_hub(folder: str | Path, repo_id: str, dry_run: bool = False) -> list[Path]:
    """Upload an exported checkpoint (weights, config, card) to a Hub model repo; returns the files sent."""
    folder = Path(folder)
    load_generator(folder)  # never publish a checkpoint that does not load
    names = [n for n in (WEIGHTS, CONFIG, CARD) if (folder / n).is_file()]
    return [folder / op.path_in_repo for op in hub.push(folder, repo_id, names, dry_run)]


def save_train_state(path: str | Path, state: dict[str, Any]) -> None:
    """Full training state (G, D, EMA, optimisers, step, RNG), written atomically."""
    atomic_write(Path(path), lambda tmp: torch.save(state, tmp))


def load_train_state(path: str | Path) -> dict[str, Any]:
    """Load a training state with weights_only=True, so a malicious pickle cannot run code."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"training state not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling errors come in many types
        raise CheckpointError(f"{path} is corrupt or not a safe training state: {exc}") from exc
