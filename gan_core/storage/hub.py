"""Hugging Face Hub I/O: fetch a pinned repo snapshot (cache first, honouring HF_HUB_OFFLINE) and push files."""
from __future__ import annotations

import os
from pathlib import Path

from huggingface_hub import CommitOperationAdd, HfApi, constants, snapshot_download

DEFAULT_REVISION = "main"


class HubError(RuntimeError):
    """The Hub could not give or take a repo; the message says what was tried."""


def offline() -> bool:
    """HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE), read now rather than when huggingface_hub was imported."""
    flags = (os.environ.get("HF_HUB_OFFLINE"), os.environ.get("TRANSFORMERS_OFFLINE"))
    return constants.HF_HUB_OFFLINE or any((f or "").strip().upper() in {"1", "ON", "YES", "TRUE"} for f in flags)


def cache_dir() -> str:
    return os.environ.get("HF_HUB_CACHE") or constants.HF_HUB_CACHE


def download(repo_id: str, revision: str | None, files: list[str]) -> Path:
    """The cached snapshot folder of repo_id at revision holding `files`, downloaded first unless offline."""
    rev = revision or DEFAULT_REVISION
    try:
        return Path(snapshot_download(repo_id, revision=rev, cache_dir=cache_dir(), allow_patterns=files,
                                      local_files_only=offline()))
    except (OSError, ValueError) as exc:  # not cached / offline, unknown repo or revision, network, bad repo id
        first = (str(exc).strip().splitlines() or [""])[0]
        why = ("HF_HUB_OFFLINE=1, so nothing was downloaded" if offline()
               else f"download failed: {type(exc).__name__}: {first}")
        raise HubError(f"Hub repo {repo_id}@{rev} is not in the Hub cache {cache_dir()} ({why})") from exc


def push(folder: Path, repo_id: str, files: list[str], dry_run: bool = False) -> list[CommitOperationAdd]:
    """Upload folder/<file> for each of `files` to the model repo in one commit; dry_run builds the commit only."""
    ops = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(folder / name)) for name in files]
    if dry_run:
        return ops
    api = HfApi()
    try:
        api.create_repo(repo_id, exist_ok=True)
        api.create_commit(repo_id, ops, commit_message="Upload GAN Studio checkpoint")
    except (OSError, ValueError) as exc:  # no token, no network, no permission, bad repo id
        raise HubError(f"could not push {folder} to Hub repo {repo_id}: {type(exc).__name__}: {exc}") from exc
    return ops
