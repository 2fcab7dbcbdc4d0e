"""The app as a real server on a free localhost port, serving a copy of the shipped models plus broken ones."""
from __future__ import annotations

import contextlib
import json
import os
import pickle
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import CancelledError
from pathlib import Path

from conftest import ROOT, Payload

from gan_core.training.distributed import free_port

MODELS = ["anime", "celeba", "mnist"]
# broken model folder -> the file its error must name (see write_checkpoints)
BROKEN = {
    "broken-truncated": "model.safetensors",
    "broken-garbage": "model.safetensors",
    "broken-empty-weights": "model.safetensors",
    "broken-pickle": "model.safetensors",
    "broken-foreign-shape": "model.safetensors",
    "broken-empty-files": "config.json",
    "broken-empty-folder": "config.json",
    "broken-foreign-format": "config.json",
}
PICKLE_MARKER = "pickle-ran"  # created in the checkpoint dir if the broken-pickle payload ever runs


def write_checkpoints(root: Path) -> Path:
    """Copy the shipped models into root (a fixed snapshot while they are retrained) and add BROKEN ones."""
    for name in MODELS:
        shutil.copytree(ROOT / "checkpoints" / name, root / name)
    for name in BROKEN:
        (root / name).mkdir()
    good = root / "mnist"
    weights = (good / "model.safetensors").read_bytes()
    for name in ("broken-truncated", "broken-garbage", "broken-empty-weights", "broken-pickle"):
        shutil.copy(good / "config.json", root / name / "config.json")
    (root / "broken-truncated" / "model.safetensors").write_bytes(weights[: len(weights) // 2])
    (root / "broken-garbage" / "model.safetensors").write_bytes(os.urandom(len(weights)))
    (root / "broken-empty-weights" / "model.safetensors").write_bytes(b"")
    (root / "broken-pickle" / "model.safetensors").write_bytes(pickle.dumps(Payload(root / PICKLE_MARKER)))
    shutil.copy(root / "anime" / "config.json", root / "broken-foreign-shape" / "config.json")  # 64 px RGB config,
    shutil.copy(good / "model.safetensors", root / "broken-foreign-shape" / "model.safetensors")  # 32 px grey weights
    (root / "broken-empty-files" / "config.json").write_bytes(b"")
    (root / "broken-empty-files" / "model.safetensors").write_bytes(b"")
    foreign = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_layer": 12}  # another library's model
    (root / "broken-foreign-format" / "config.json").write_text(json.dumps(foreign))
    (root / "broken-foreign-format" / "pytorch_model.bin").write_bytes(pickle.dumps({"w": [0.0]}))
    return root


@contextlib.contextmanager
def serve(checkpoints: Path, log: Path, timeout: float = 300, env: dict[str, str] | None = None) -> Iterator[str]:
    """Run `python app.py` on a free port (set by GRADIO_SERVER_NAME / _PORT, as on Spaces) with `env` added; yield
    its URL."""
    from gradio_client import Client

    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GAN_STUDIO_CHECKPOINTS": str(checkpoints), "HF_HUB_OFFLINE": "1", **(env or {})}
    url = f"http://127.0.0.1:{port}/"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"app exited early:\n{log.read_text()[-3000:]}")
            try:
                Client(url, verbose=False)
                break
            except Exception:
                if time.time() > deadline:
                    raise RuntimeError(f"app did not start within {timeout} s:\n{log.read_text()[-3000:]}") from None
                time.sleep(1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def settle(client, job, args: Sequence[object], api_name: str, tries: int = 3) -> object:
    """job.result(); a job gradio_client dropped (CancelledError: its event registered just as the server closed
    the session's event stream, so the app never saw it) is sent again on its own."""
    for attempt in range(tries):
        try:
            return job.result()
        except CancelledError:
            if attempt == tries - 1:
                raise
            job = client.submit(*args, api_name=api_name)
