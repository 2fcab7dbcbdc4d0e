"""The named models the app offers and where their checkpoints live (local folder, then the Hub)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from gan_core.settings import HUB_REPO_ENV, HUB_REVISION_ENV, Settings, settings

__all__ = ["HUB_REPO_ENV", "HUB_REVISION_ENV", "SHIPPED", "ModelEntry", "entries", "unknown_model_message"]


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


def _with_hub(entry: ModelEntry, config: Settings) -> ModelEntry:
    """The entry with its Hub repo / revision overridden by GAN_STUDIO_HUB_REPO_<NAME> / _REVISION_<NAME>."""
    return replace(entry, hub_repo=config.hub_repo(entry.name, entry.hub_repo),
                   revision=config.hub_revision(entry.name, entry.revision))


def entries(checkpoint_dir: Path | None = None, config: Settings | None = None) -> dict[str, ModelEntry]:
    """Shipped models first, then other folders in checkpoint_dir (default: the settings'), then Hub-only models
    named in the settings (GAN_STUDIO_HUB_REPO_<NAME>)."""
    config = config or settings()
    root = Path(checkpoint_dir or config.checkpoint_dir)
    names = list(SHIPPED)
    if root.is_dir():  # every folder, even a broken one, so its error can be shown
        names += [f.name for f in sorted(root.iterdir()) if f.is_dir() and not f.name.startswith((".", "_"))]
    names += [key.lower() for key in config.hub_repos]
    found = {name: SHIPPED.get(name) or ModelEntry(name, name.replace("_", " ").replace("-", " ")) for name in names}
    return {name: _with_hub(entry, config) for name, entry in found.items()}


def unknown_model_message(name: object, known: list[str]) -> str:
    return f"model: unknown model {repr(name)[:60]}; choose one of {', '.join(known)}"
