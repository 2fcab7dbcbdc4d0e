"""The generator format: model.safetensors + config.json + README.md model card, saved as one unit, loaded safely."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from gan_core.models import ModelConfig, build_generator
from gan_core.storage import hub
from gan_core.storage.files import Writer, atomic_write_folder
from gan_core.storage.modelcard import model_card

FORMAT = "gan-studio/1"
WEIGHTS = "model.safetensors"
CONFIG = "config.json"
CARD = "README.md"
DIRECTIONS = "directions.safetensors"  # optional: the model's named edits (gan_core.latent.named)
FILES = (WEIGHTS, CONFIG, CARD, DIRECTIONS)  # what a checkpoint folder holds on disk and on the Hub


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, corrupt or of another architecture; the message names the file."""


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
    """Write a CPU copy of G (with `weights` loaded instead, e.g. a best evaluation's) + config + model card; a
    class-conditional style G gets its exact per-class truncation centres first."""
    G = copy.deepcopy(G).to("cpu", memory_format=torch.contiguous_format)
    if weights is not None:
        G.load_state_dict(weights)
    if getattr(getattr(G, "mapping", None), "num_classes", 0):
        G.mapping.measure_class_averages()
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
        return hub.download(hub_repo, revision, list(FILES))
    except hub.HubError as exc:
        raise CheckpointError(f"model {name!r}: no local folder {folder}; {exc}") from exc


def push_to_hub(folder: str | Path, repo_id: str, dry_run: bool = False) -> list[Path]:
    """Upload an exported checkpoint (weights, config, card and named directions if any) to a Hub model repo;
    returns the files sent."""
    folder = Path(folder)
    load_generator(folder)  # never publish a checkpoint that does not load
    names = [n for n in FILES if (folder / n).is_file()]
    return [folder / op.path_in_repo for op in hub.push(folder, repo_id, names, dry_run)]
