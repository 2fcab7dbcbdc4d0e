"""The named models the app offers and where their checkpoints live (local folder, then the Hub)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CHECKPOINT_DIR = Path(os.environ.get("GAN_STUDIO_CHECKPOINTS", Path(__file__).resolve().parents[1] / "checkpoints"))


@dataclass(frozen=True)
class ModelEntry:
    """A model the app offers: its folder name, its label and an optional Hub repo."""

    name: str
    label: str
    hub_repo: str | None = None
    revision: str | None = None


SHIPPED = {
    "anime": ModelEntry("anime", "Anime faces"),
    "celeba": ModelEntry("celeba", "CelebA faces"),
    "mnist": ModelEntry("mnist", "MNIST digits"),
}


def entries(checkpoint_dir: Path | None = None) -> dict[str, ModelEntry]:
    """Shipped models first, then any other checkpoint folder found in checkpoint_dir."""
    root = Path(checkpoint_dir or CHECKPOINT_DIR)
    found = dict(SHIPPED)
    if root.is_dir():
        for folder in sorted(root.iterdir()):
            if folder.name not in found and (folder / "config.json").is_file():
                found[folder.name] = ModelEntry(folder.name, folder.name.replace("_", " ").replace("-", " "))
    return found


def unknown_model_message(name: object, known: list[str]) -> str:
    return f"model: unknown model {name!r}; choose one of {', '.join(known)}"
