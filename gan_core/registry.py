"""The named models the app offers and where their checkpoints live (local folder, then the Hub)."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

CHECKPOINT_DIR = Path(os.environ.get("GAN_STUDIO_CHECKPOINTS", Path(__file__).resolve().parents[1] / "checkpoints"))
HUB_REPO_ENV = "GAN_STUDIO_HUB_REPO_"  # + NAME: the Hub repo of model `name` (also adds a Hub-only model)
HUB_REVISION_ENV = "GAN_STUDIO_HUB_REVISION_"  # + NAME: its pinned revision (a commit hash; default main)


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


def _env_key(name: str) -> str:
    return re.sub(r"\W", "_", name).upper()


def _with_hub(entry: ModelEntry) -> ModelEntry:
    """The entry with its Hub repo / revision overridden by GAN_STUDIO_HUB_REPO_<NAME> / _REVISION_<NAME>."""
    key = _env_key(entry.name)
    return replace(entry, hub_repo=os.environ.get(HUB_REPO_ENV + key, entry.hub_repo),
                   revision=os.environ.get(HUB_REVISION_ENV + key, entry.revision))


def entries(checkpoint_dir: Path | None = None) -> dict[str, ModelEntry]:
    """Shipped models first, then other folders in checkpoint_dir, then Hub-only models named in the environment."""
    root = Path(checkpoint_dir or CHECKPOINT_DIR)
    names = list(SHIPPED)
    if root.is_dir():  # every folder, even a broken one, so its error can be shown
        names += [f.name for f in sorted(root.iterdir()) if f.is_dir() and not f.name.startswith((".", "_"))]
    names += [var[len(HUB_REPO_ENV):].lower() for var in sorted(os.environ) if var.startswith(HUB_REPO_ENV)]
    found = {name: SHIPPED.get(name) or ModelEntry(name, name.replace("_", " ").replace("-", " ")) for name in names}
    return {name: _with_hub(entry) for name, entry in found.items()}


def unknown_model_message(name: object, known: list[str]) -> str:
    return f"model: unknown model {repr(name)[:60]}; choose one of {', '.join(known)}"
