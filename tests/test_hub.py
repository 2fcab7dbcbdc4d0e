"""Model names resolve: local folder -> Hugging Face Hub snapshot (pinned revision) -> a clear offline error, tested
on a real Hub cache in huggingface_hub's own layout; train.py --push-to-hub --hub-dry-run lists what it would send."""
from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import pytest
import torch
from conftest import ROOT, TINY_TRAIN, make_generator, tiny_named_directions
from huggingface_hub import scan_cache_dir
from huggingface_hub.file_download import repo_folder_name
from packaging.requirements import Requirement
from packaging.version import Version

from gan_core import train
from gan_core.latent.sampling import generate
from gan_core.storage.checkpoint import (
    CARD,
    CONFIG,
    DIRECTIONS,
    WEIGHTS,
    CheckpointError,
    push_to_hub,
    save_generator,
)
from gan_core.storage.registry import entries
from gan_core.studio.studio import Studio

REPO = "gan-studio-tests/tiny"
MAIN, PINNED = "a" * 40, "b" * 40  # commit hashes: refs/main points at MAIN; PINNED is an older snapshot


def cache_snapshot(cache: Path, repo_id: str, commit: str, folder: Path, ref: str | None = None) -> None:
    """Put folder's files into the Hub cache as huggingface_hub does: blobs/<hash>, snapshots/<commit>/<file> -> blob
    symlinks, and refs/<ref> holding the commit."""
    repo = cache / repo_folder_name(repo_id=repo_id, repo_type="model")
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "blobs").mkdir(exist_ok=True)
    for f in folder.iterdir():
        data = f.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        link = repo / "snapshots" / commit / f.name
        link.symlink_to(os.path.relpath(blob, link.parent))
    if ref:
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / ref).write_text(commit)


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An offline Hub cache holding REPO at MAIN (generator seed 1) and PINNED (seed 2); an empty local dir."""
    cache, generators = tmp_path / "hub-cache", {}
    for commit, seed, ref in ((MAIN, 1, "main"), (PINNED, 2, None)):
        generators[commit] = make_generator("style", seed=seed)
        folder = save_generator(generators[commit], tmp_path / f"export-{seed}", meta={"seed": seed}, card="# tiny\n")
        if commit == MAIN:  # the newer snapshot carries named edits
            tiny_named_directions(folder)
        cache_snapshot(cache, REPO, commit, folder, ref)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("GAN_STUDIO_HUB_REPO_TINY_HUB", REPO)
    (tmp_path / "local").mkdir()
    return tmp_path / "local", cache, generators


def test_cache_is_in_the_library_layout(hub):
    _, cache, _ = hub
    repos = {r.repo_id: r for r in scan_cache_dir(cache).repos}
    assert set(repos) == {REPO} and not scan_cache_dir(cache).warnings
    revisions = {r.commit_hash: r for r in repos[REPO].revisions}
    assert set(revisions) == {MAIN, PINNED} and revisions[MAIN].refs == frozenset({"main"})
    assert {f.file_name for f in revisions[PINNED].files} == {WEIGHTS, CONFIG, CARD}


@pytest.mark.parametrize("revision", [None, MAIN, PINNED])
def test_hub_only_model_loads_from_cache_offline(hub, monkeypatch, revision):
    local, _, generators = hub
    if revision:
        monkeypatch.setenv("GAN_STUDIO_HUB_REVISION_TINY_HUB", revision)
    studio = Studio(local)
    assert "tiny_hub" in studio.names()
    m = studio.model("tiny_hub")
    assert torch.equal(generate(m.G, [3, 4]), generate(generators[revision or MAIN], [3, 4]))
    assert m.config["meta"]["seed"] == (2 if revision == PINNED else 1)


@pytest.mark.parametrize("revision, names", [(MAIN, {"Bright": "Bright", "Dark": "Dark"}), (PINNED, {})])
def test_hub_model_brings_its_named_edits(hub, monkeypatch, revision, names):
    local, _, _ = hub
    monkeypatch.setenv("GAN_STUDIO_HUB_REVISION_TINY_HUB", revision)  # PINNED's snapshot has no directions file
    assert Studio(local).edit_names("tiny_hub") == names


def test_push_sends_the_named_edits_beside_the_weights(tmp_path):
    folder = save_generator(make_generator("style"), tmp_path / "ck", meta={}, card="# tiny\n")
    tiny_named_directions(folder)
    sent = push_to_hub(folder, REPO, dry_run=True)
    assert sorted(p.name for p in sent) == sorted([WEIGHTS, CONFIG, CARD, DIRECTIONS])


def test_local_folder_wins_over_hub(hub):
    local, _, _ = hub
    save_generator(make_generator("style", seed=3), local / "tiny_hub", meta={"seed": 3})
    assert Studio(local).model("tiny_hub").config["meta"]["seed"] == 3


def test_shipped_name_can_point_at_hub(hub, monkeypatch):
    local, _, _ = hub
    monkeypatch.setenv("GAN_STUDIO_HUB_REPO_ANIME", REPO)
    monkeypatch.setenv("GAN_STUDIO_HUB_REVISION_ANIME", PINNED)
    assert entries(local)["anime"].hub_repo == REPO
    assert Studio(local).model("anime").config["meta"]["seed"] == 2


@pytest.mark.parametrize("repo, revision", [("gan-studio-tests/missing", None), (REPO, "c" * 40), (REPO, "v2")])
def test_offline_and_not_cached_is_a_clear_error(hub, monkeypatch, repo, revision):
    local, cache, _ = hub
    monkeypatch.setenv("GAN_STUDIO_HUB_REPO_TINY_HUB", repo)
    if revision:
        monkeypatch.setenv("GAN_STUDIO_HUB_REVISION_TINY_HUB", revision)
    with pytest.raises(CheckpointError) as err:
        Studio(local).model("tiny_hub")
    msg = str(err.value)
    for tried in (str(local / "tiny_hub"), f"{repo}@{revision or 'main'}", str(cache), "HF_HUB_OFFLINE=1"):
        assert tried in msg, msg


def test_no_folder_and_no_hub_repo(hub):
    local, _, _ = hub
    with pytest.raises(CheckpointError, match="no Hugging Face Hub repo"):
        Studio(local).model("celeba")


# ----- push -----
def test_push_to_hub_dry_run_lists_exactly_the_export(image_folder, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # a dry run must not need the network
    export = tmp_path / "export"
    argv = ["--data", str(image_folder), "--out", str(tmp_path / "run"), *TINY_TRAIN, "--steps", "2",
            "--save-every", "2", "--sample-every", "2", "--export", str(export), "--push-to-hub", REPO, "--hub-dry-run"]
    assert train.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert sorted(p.name for p in export.iterdir()) == sorted([WEIGHTS, CONFIG, CARD])
    sizes = {name: (export / name).stat().st_size for name in (WEIGHTS, CONFIG, CARD)}
    assert sorted(lines) == sorted(f"would upload {export / name} -> {REPO}/{name} ({size:,} bytes)"
                                   for name, size in sizes.items())


def test_push_refuses_a_checkpoint_that_does_not_load(tmp_path):
    folder = save_generator(make_generator("style"), tmp_path / "ck", meta={})
    (folder / WEIGHTS).write_bytes(b"not safetensors")
    with pytest.raises(CheckpointError, match=WEIGHTS):
        push_to_hub(folder, REPO, dry_run=True)


def test_push_to_hub_needs_export(capsys):
    with pytest.raises(SystemExit):
        train.parse_args(["--data", "x", "--out", "y", "--push-to-hub", REPO])
    assert "--export" in capsys.readouterr().err


def test_space_front_matter_pins_a_gradio_that_requirements_txt_allows():
    front = (ROOT / "README.md").read_text().split("---\n")[1]
    fields = dict(line.split(": ", 1) for line in front.strip().splitlines())
    assert fields["sdk"] == "gradio" and fields["app_file"] == "app.py"
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    gradio = [r for r in (Requirement(line.split("#")[0]) for line in lines if line.split("#")[0].strip())
              if r.name == "gradio"]
    assert len(gradio) == 1 and gradio[0].specifier, "requirements.txt: pin gradio to a range once"
    allowed = gradio[0].specifier  # a packaging.specifiers.SpecifierSet
    assert Version(fields["sdk_version"]) in allowed, f"sdk_version {fields['sdk_version']} is not gradio{allowed}"


def test_space_front_matter_pins_the_python_the_tests_run_on():
    """Spaces default to an older Python than the tests use: the front matter names ours."""
    front = (ROOT / "README.md").read_text().split("---\n")[1]
    fields = dict(line.split(": ", 1) for line in front.strip().splitlines())
    assert fields.get("python_version", "").strip('"') == f"{sys.version_info.major}.{sys.version_info.minor}"
