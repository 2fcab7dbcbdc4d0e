"""Atomic, durable writes: files get the umask's mode, data and renames are fsynced, and an export folder is
replaced as one unit (a crash leaves the complete old or new export), keeping the files a user added."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import torch
from conftest import make_generator

from gan_core.storage import files
from gan_core.storage.checkpoint import (
    CARD,
    CONFIG,
    WEIGHTS,
    load_generator,
    save_generator,
)
from gan_core.storage.files import atomic_write, remove_stale_temps
from gan_core.storage.train_state import save_train_state


@pytest.fixture
def umask():
    """Set the process umask for a test; the old one is restored afterwards."""
    old = os.umask(0o022)
    try:
        yield os.umask
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _siblings(folder: Path) -> list[str]:
    """Hidden temp / old names beside `folder` (what a save leaves if it is killed)."""
    return sorted(p.name for p in folder.parent.glob(f".{folder.name}.*"))


def _export(folder: Path, seed: int, card: str | None = "# card\n") -> torch.nn.Module:
    G = make_generator("style", seed=seed)
    save_generator(G, folder, meta={"seed": seed}, card=card)
    return G


def _assert_export(folder: Path, G: torch.nn.Module, seed: int) -> None:
    """`folder` loads as G's export with its own config."""
    G2, config = load_generator(folder)
    assert config["meta"] == {"seed": seed}
    assert all(torch.equal(a, b) for a, b in zip(G.state_dict().values(), G2.state_dict().values()))


@pytest.mark.parametrize("mask, file_mode", [(0o022, 0o644), (0o077, 0o600)])
def test_written_files_get_the_umask_mode(tmp_path, umask, mask, file_mode):
    umask(mask)
    folder = tmp_path / "export"
    _export(folder, 0)
    _export(folder, 1)  # a re-export too
    save_train_state(tmp_path / "run" / "train_state.pt", {"step": 1})
    atomic_write(tmp_path / "run" / "note.txt", lambda tmp: Path(tmp).write_text("hi"))
    files = [folder / WEIGHTS, folder / CONFIG, folder / CARD, tmp_path / "run" / "train_state.pt",
             tmp_path / "run" / "note.txt"]
    assert {p.name: oct(_mode(p)) for p in files} == {p.name: oct(file_mode) for p in files}
    assert _mode(folder) == 0o777 & ~mask


def _record_fsyncs(monkeypatch, watched: Path) -> list[tuple[bool, int, bool]]:
    """Record each os.fsync as (a folder?, inode, does `watched` exist yet?)."""
    calls, real = [], os.fsync

    def fsync(fd: int) -> None:
        st = os.fstat(fd)
        calls.append((stat.S_ISDIR(st.st_mode), st.st_ino, watched.exists()))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return calls


def test_atomic_write_fsyncs_file_before_rename_and_folder_after(tmp_path, monkeypatch):
    path = tmp_path / "a.txt"
    calls = _record_fsyncs(monkeypatch, path)
    atomic_write(path, lambda tmp: Path(tmp).write_text("hello"))
    assert (False, path.stat().st_ino, False) in calls  # the data, before it was renamed into place
    assert (True, tmp_path.stat().st_ino, True) in calls  # the folder, after the rename


def test_export_fsyncs_files_and_folders_before_the_swap_and_the_parent_after(tmp_path, monkeypatch):
    folder = tmp_path / "export"
    calls = _record_fsyncs(monkeypatch, folder)
    _export(folder, 0)
    for p in (folder / WEIGHTS, folder / CONFIG, folder / CARD):
        assert (False, p.stat().st_ino, False) in calls, p.name
    assert (True, folder.stat().st_ino, False) in calls  # the new folder's entries, before the swap
    assert (True, tmp_path.stat().st_ino, True) in calls  # the parent, after it


@pytest.mark.parametrize("failing", [CONFIG, CARD])
def test_crash_mid_export_keeps_the_previous_export(tmp_path, monkeypatch, failing):
    folder = tmp_path / "export"
    G_old = _export(folder, 0)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    real = Path.write_text

    def write_text(self: Path, *args, **kwargs):
        if self.name == failing:
            raise OSError(28, "No space left on device")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", write_text)
    with pytest.raises(OSError, match="No space"):
        _export(folder, 1)  # weights (and config) written before the failure
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert _siblings(folder) == []
    _assert_export(folder, G_old, 0)


def test_stale_temps_of_a_killed_export_are_removed(tmp_path):
    folder = tmp_path / "export"
    _export(folder, 0)
    (tmp_path / f".{folder.name}.0a1b.tmp").mkdir()  # killed while writing the new folder
    (tmp_path / f".{folder.name}.0a1b.tmp" / WEIGHTS).write_bytes(b"half")
    (tmp_path / f".{folder.name}.2c3d.old").mkdir()  # killed before removing the replaced folder
    (tmp_path / "other").mkdir()
    assert [p.name for p in remove_stale_temps(folder)] == [".export.0a1b.tmp", ".export.2c3d.old"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export", "other"]
    (tmp_path / f".{folder.name}.4e5f.tmp").mkdir()
    G = _export(folder, 1)  # an export cleans up after a killed one itself
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export", "other"]
    _assert_export(folder, G, 1)


def test_user_files_in_the_export_folder_survive_a_reexport(tmp_path):
    folder = tmp_path / "export"
    _export(folder, 0, card="# old card\n")
    (folder / "notes.txt").write_text("mine")
    (folder / "samples").mkdir()
    (folder / "samples" / "grid.png").write_bytes(b"png")
    (folder / "link").symlink_to("notes.txt")
    G = _export(folder, 1, card=None)  # this export writes no card: the old one is the user's to keep
    assert sorted(p.name for p in folder.iterdir()) == sorted([WEIGHTS, CONFIG, CARD, "notes.txt", "samples", "link"])
    assert (folder / "notes.txt").read_text() == "mine" and (folder / "samples" / "grid.png").read_bytes() == b"png"
    assert os.readlink(folder / "link") == "notes.txt" and (folder / CARD).read_text() == "# old card\n"
    _assert_export(folder, G, 1)
    _export(folder, 2, card="# new card\n")
    assert (folder / CARD).read_text() == "# new card\n" and (folder / "notes.txt").read_text() == "mine"
    assert _siblings(folder) == []


def test_export_through_a_symlinked_folder_replaces_its_target(tmp_path):
    real, link = tmp_path / "real", tmp_path / "link"
    _export(real, 0)
    link.symlink_to(real)
    G = _export(link, 1)
    assert link.is_symlink() and os.readlink(link) == str(real)
    _assert_export(real, G, 1)


def test_export_onto_a_file_fails_and_keeps_it(tmp_path):
    path = tmp_path / "export"
    path.write_text("not a folder")
    with pytest.raises(NotADirectoryError):
        _export(path, 0)
    assert path.read_text() == "not a folder" and _siblings(path) == []


def test_reexport_swaps_the_folder_in_one_step(tmp_path, monkeypatch):
    """Where renameat2(RENAME_EXCHANGE) works there is no moment without a folder: no rename is needed."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    if not files._exchange(a, b):
        pytest.skip("no atomic exchange of paths on this OS / filesystem")
    folder = tmp_path / "export"
    _export(folder, 0)

    def no_rename(*args):
        raise AssertionError(f"renamed {args}: the export folder would be missing in between")

    monkeypatch.setattr(os, "rename", no_rename)
    G = _export(folder, 1)
    _assert_export(folder, G, 1)
    assert _siblings(folder) == []


def test_without_exchange_a_crash_between_the_renames_is_recovered(tmp_path, monkeypatch):
    """The fallback: old folder renamed aside, new one renamed in; killed in between, the old one is put back."""
    monkeypatch.setattr(files, "_exchange", lambda a, b: False)
    folder = tmp_path / "export"
    _export(folder, 0)
    G_old = _export(folder, 1)  # the fallback swap itself works
    _assert_export(folder, G_old, 1)
    assert _siblings(folder) == []

    real, renames = os.rename, []

    def rename(src, dst):
        renames.append(dst)
        if len(renames) == 2:
            raise KeyboardInterrupt  # "killed" after moving the old export aside
        real(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(KeyboardInterrupt):
        _export(folder, 2)
    assert not folder.exists() and len(_siblings(folder)) == 1
    monkeypatch.setattr(os, "rename", real)
    assert remove_stale_temps(folder) == []  # nothing to delete: the old export was put back
    _assert_export(folder, G_old, 1)
    assert _siblings(folder) == []
