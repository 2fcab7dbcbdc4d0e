"""Save and load generators: model.safetensors + config.json + README.md model card; atomic writes."""
from __future__ import annotations

import json
import os
import tempfile
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


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, corrupt or of another architecture; the message names the file."""


def atomic_write(path: Path, write) -> None:
    """Call write(tmp_path) on a temp file beside `path`, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def remove_stale_temps(path: Path) -> list[Path]:
    """Delete the temp files that atomic_write(path) left when killed mid-save; return them."""
    stale = sorted(path.parent.glob(f".{path.name}.*.tmp"))
    for tmp in stale:
        tmp.unlink(missing_ok=True)
    return stale


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def save_generator(G: nn.Module, folder: str | Path, meta: dict[str, Any], card: str | None = None) -> Path:
    """Write G's weights (with w_avg) and its config + metadata, each file atomically."""
    folder = Path(folder)
    state = {k: v.detach().cpu().contiguous().clone() for k, v in G.state_dict().items()}
    atomic_write(folder / WEIGHTS, lambda tmp: save_file(state, tmp, metadata={"format": FORMAT}))
    config = {"format": FORMAT, "model": G.cfg.to_dict(), "meta": meta}
    atomic_write_text(folder / CONFIG, json.dumps(config, indent=2) + "\n")
    if card is not None:
        atomic_write_text(folder / CARD, card)
    return folder


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
