"""GAN Studio's settings in one place: read from the environment when the app or a command first asks, not at import.

    from gan_core.settings import settings
    settings().checkpoint_dir      # the model folders the app offers

Variable (field): default
- GAN_STUDIO_CHECKPOINTS (checkpoint_dir): the repository's checkpoints/ in a source checkout or an editable install;
  after `pip install .` (gan_core in site-packages, no repository around it) ./checkpoints in the working directory.
- GAN_STUDIO_DATA (data_root): ../shared/data beside the repository in a checkout; otherwise ./data.
- GAN_STUDIO_CACHE (cache_dir): ~/.cache/gan-studio; FID features and the ONNX Inception go in its fid/ folder.
- GAN_STUDIO_FID_BACKEND (fid_backend): auto (onnxruntime when installed, else TorchScript), torch or onnx.
- GAN_STUDIO_OUTPUT_MB (output_mb): 256, the app's output folders in all, in MiB.
- GAN_STUDIO_CACHE_SECONDS (cache_seconds): 3600, how long the app keeps the files it served.
- GAN_STUDIO_HUB_REPO_<NAME> (hub_repos[NAME]): the Hugging Face repo of model `name` (also offers a Hub-only model).
- GAN_STUDIO_HUB_REVISION_<NAME> (hub_revisions[NAME]): its pinned revision (a commit hash; default main).

`settings()` reads the environment once and keeps the result; `settings.cache_clear()` makes the next call read it
again (tests set variables with monkeypatch, then clear). A relative path is taken against the working directory of
that first call.
"""
from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "GAN_STUDIO_"
HUB_REPO_ENV = PREFIX + "HUB_REPO_"  # + NAME: the Hub repo of model `name` (also adds a Hub-only model)
HUB_REVISION_ENV = PREFIX + "HUB_REVISION_"  # + NAME: its pinned revision (a commit hash; default main)
FID_BACKENDS = ("auto", "torch", "onnx")
_SOURCE_ROOT = Path(__file__).resolve().parents[1]  # the repository, when gan_core runs from a source checkout


def _in_checkout() -> bool:
    """True when gan_core sits in the repository (a clone or `pip install -e .`), not copied into site-packages."""
    return (_SOURCE_ROOT / "pyproject.toml").is_file() and (_SOURCE_ROOT / "checkpoints").is_dir()


def default_checkpoint_dir() -> Path:
    """The repository's checkpoints/ (the shipped models) in a checkout; after `pip install .` ./checkpoints."""
    return _SOURCE_ROOT / "checkpoints" if _in_checkout() else Path.cwd() / "checkpoints"


def default_data_root() -> Path:
    """The offline data sets: ../shared/data beside the repository in a checkout; after `pip install .` ./data."""
    return _SOURCE_ROOT.parent / "shared" / "data" if _in_checkout() else Path.cwd() / "data"


def env_key(name: str) -> str:
    """The NAME part of GAN_STUDIO_HUB_REPO_<NAME> for model `name`: non-word characters as _, upper case."""
    return re.sub(r"\W", "_", name).upper()


def _number(env: Mapping[str, str], var: str, default: float) -> float:
    text = env.get(var)
    if text is None or not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{var} must be a number, not {text!r}") from None
    if not value >= 0:  # also NaN
        raise ValueError(f"{var} must be 0 or more, not {text!r}")
    return value


def _path(env: Mapping[str, str], var: str, default: Path) -> Path:
    text = env.get(var)
    return Path(text).expanduser().absolute() if text else default


@dataclass(frozen=True)
class Settings:
    """Everything GAN Studio takes from its environment; build one with from_env() or by hand (tests, embedding)."""

    checkpoint_dir: Path = field(default_factory=default_checkpoint_dir)
    data_root: Path = field(default_factory=default_data_root)
    cache_dir: Path = field(default_factory=lambda: Path.home() / ".cache" / "gan-studio")
    fid_backend: str = "auto"  # checked where it is used, so a bad value fails only FID, not the app
    output_mb: float = 256.0
    cache_seconds: int = 3600
    hub_repos: Mapping[str, str] = field(default_factory=dict)  # env_key(name) -> Hub repo (owner/name)
    hub_revisions: Mapping[str, str] = field(default_factory=dict)  # env_key(name) -> revision

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from `env` (default os.environ); unset or empty variables keep their defaults."""
        env = os.environ if env is None else env
        defaults = cls()
        return cls(
            checkpoint_dir=_path(env, PREFIX + "CHECKPOINTS", defaults.checkpoint_dir),
            data_root=_path(env, PREFIX + "DATA", defaults.data_root),
            cache_dir=_path(env, PREFIX + "CACHE", defaults.cache_dir),
            fid_backend=env.get(PREFIX + "FID_BACKEND") or defaults.fid_backend,
            output_mb=_number(env, PREFIX + "OUTPUT_MB", defaults.output_mb),
            cache_seconds=int(_number(env, PREFIX + "CACHE_SECONDS", defaults.cache_seconds)),
            hub_repos={var[len(HUB_REPO_ENV):]: env[var] for var in sorted(env)
                       if var.startswith(HUB_REPO_ENV) and env[var]},
            hub_revisions={var[len(HUB_REVISION_ENV):]: env[var] for var in sorted(env)
                           if var.startswith(HUB_REVISION_ENV) and env[var]},
        )

    @property
    def output_bytes(self) -> int:
        """output_mb in bytes, for the app's OutputFolder(max_bytes=...)."""
        return int(self.output_mb * 2 ** 20)

    @property
    def fid_cache_dir(self) -> Path:
        """Where FID keeps real-set features and the ONNX export of the Inception."""
        return self.cache_dir / "fid"

    def hub_repo(self, name: str, default: str | None = None) -> str | None:
        return self.hub_repos.get(env_key(name), default)

    def hub_revision(self, name: str, default: str | None = None) -> str | None:
        return self.hub_revisions.get(env_key(name), default)


@functools.cache
def settings() -> Settings:
    """The process's settings, read from the environment on the first call (settings.cache_clear() to re-read)."""
    return Settings.from_env()
