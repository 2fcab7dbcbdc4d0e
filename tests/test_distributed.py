"""torchrun with 2 CPU processes (gloo): identical replicas, rank 0 alone saves, 1-process resume works."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gan_core import train
from gan_core.storage.train_state import load_train_state
from gan_core.training.distributed import free_port

pytestmark = pytest.mark.slow  # torchrun with 2 processes: not in plain `pytest` (the fast tier)

HERE = Path(__file__).resolve().parent
# the workers run as scripts from tests/: they find gan_core in the checkout through PYTHONPATH (or an install)
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE.parent), os.environ.get("PYTHONPATH")]))}


def test_two_processes_stay_identical_and_resume_alone(tmp_path):
    data = tmp_path / "images"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(32):
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(data / f"{i}.png")
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(free_port()), str(HERE / "ddp_worker.py"), str(data), str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=ENV)
    assert proc.returncode == 0, proc.stderr[-3000:]

    rank0 = (tmp_path / "hashes-rank0.txt").read_text().split()
    rank1 = (tmp_path / "hashes-rank1.txt").read_text().split()
    assert len(rank0) == 4 and rank0 == rank1, "replicas diverged"
    assert len(set(rank0)) == 4, "weights did not change between steps"
    assert set((tmp_path / "saves.txt").read_text().split()) == {"0"}, "a rank other than 0 saved"
    assert load_train_state(out / "train_state.pt")["step"] == 4

    argv = ["--data", str(data), "--out", str(out), "--resume", "--steps", "6", "--threads", "1"]
    assert train.main(argv) == 0
    assert load_train_state(out / "train_state.pt")["step"] == 6


def test_two_processes_give_the_one_process_gradients_of_the_global_batch(tmp_path):
    import torch
    from ddp_grad_worker import loss_of, model_and_batch  # tests/ is on sys.path, as for conftest

    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(free_port()), str(HERE / "ddp_grad_worker.py"), str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=ENV)
    assert proc.returncode == 0, proc.stderr[-3000:]
    model, x = model_and_batch()
    loss_of(model, x).backward()
    for rank in (0, 1):
        grads = torch.load(tmp_path / f"grads-rank{rank}.pt", weights_only=True)
        for got, want in zip(grads, (p.grad for p in model.parameters())):
            torch.testing.assert_close(got, want)


def test_process_group_waits_long_enough_for_an_evaluation(monkeypatch):
    import torch

    from gan_core.training import distributed

    seen = {}
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr(distributed.dist, "is_initialized", lambda: False)
    monkeypatch.setattr(distributed.dist, "init_process_group", lambda backend, timeout: seen.update(timeout=timeout))
    monkeypatch.setattr(distributed.dist, "get_rank", lambda: 1)
    monkeypatch.setattr(distributed.dist, "get_world_size", lambda: 2)
    assert distributed.init_from_env(torch.device("cpu"))[0].rank == 1
    assert seen["timeout"].total_seconds() >= 3600  # torch's default is 30 minutes; a CPU FID can take longer


def test_throughput_benchmark_prints_three_rows(tmp_path, capsys):
    import distributed as bench

    data = tmp_path / "images"
    data.mkdir()
    rng = np.random.default_rng(1)
    for i in range(16):
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(data / f"{i}.png")
    argv = ["--data", str(data), "--limit", "0", "--steps", "2", "--batch", "8", "--res", "16", "--workers", "0",
            "--channel-base", "64", "--channel-max", "32", "--z-dim", "16"]
    assert bench.main(argv) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and "img/s" not in line]
    assert [r.split(" | ")[0] for r in rows] == ["| 1 process, in memory", "| 2 processes, in memory",
                                                 "| 1 process, --stream"]
    assert all(float(r.split(" | ")[1]) > 0 for r in rows)
