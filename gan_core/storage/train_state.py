"""The full training state (G, D, EMA, optimisers, step, RNG) of a run: torch.save'd atomically, loaded safely."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from gan_core.storage.checkpoint import CheckpointError
from gan_core.storage.files import atomic_write


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
