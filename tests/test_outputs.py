"""The request output folder stays under its age and size caps."""
from __future__ import annotations

import os
import time

from gan_core.studio.outputs import OutputFolder, folder_bytes


def _fill(folder, nbytes: int) -> None:
    (folder / "out.png").write_bytes(b"x" * nbytes)


def test_oldest_folders_go_once_over_the_size_cap(tmp_path):
    out = OutputFolder(tmp_path / "o", max_bytes=10_000, keep=2)
    made = []
    for _ in range(30):
        made.append(out.new())
        _fill(made[-1], 1_000)
    assert folder_bytes(out.root) <= 10_000 + 2 * 1_000  # the cap, plus the newest folders still being written
    assert made[-1].is_dir() and made[-2].is_dir() and not made[0].exists()


def test_folders_past_their_age_are_deleted_and_new_ones_kept(tmp_path):
    out = OutputFolder(tmp_path / "o", max_age_s=60, keep=1)
    stale, fresh = out.new(), out.new()
    _fill(stale, 10)
    past = time.time() - 120
    os.utime(stale, (past, past))
    out.new()
    assert not stale.exists() and fresh.is_dir()


def test_the_newest_folders_survive_even_when_they_alone_exceed_the_cap(tmp_path):
    out = OutputFolder(tmp_path / "o", max_bytes=100, keep=3)
    first = out.new()
    _fill(first, 1_000)
    second = out.new()
    assert first.is_dir() and second.is_dir()
