"""Run under torchrun by test_distributed.py: a few steps, logging weight hashes per rank and who saved."""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import torch

from gan_core.data.images import load_images
from gan_core.models import default_config
from gan_core.training.config import TrainConfig
from gan_core.training.distributed import init_from_env, shutdown
from gan_core.training.loop import Trainer


def weights_hash(*modules: torch.nn.Module) -> str:
    flat = torch.cat([p.detach().flatten() for m in modules for p in m.parameters()])
    return hashlib.sha256(flat.numpy().tobytes()).hexdigest()


def main(data: str, out: Path) -> None:
    torch.set_num_threads(1)
    dist, device = init_from_env(torch.device("cpu"))
    cfg = default_config("style", resolution=16, channel_base=64, channel_max=32, z_dim=16, w_dim=16, mapping_layers=2)
    trainer = Trainer(cfg, TrainConfig(steps=4, batch=8, save_every=2, sample_every=2, r1_every=2),
                      load_images(data, 16, 3), out, device, dist)
    step, save = trainer.train_step, trainer.save
    hashes = out.parent / f"hashes-rank{dist.rank}.txt"

    def logged_step():
        logs = step()
        with hashes.open("a") as f:
            f.write(weights_hash(trainer.G, trainer.D) + "\n")
        return logs

    def logged_save():
        with (out.parent / "saves.txt").open("a") as f:
            f.write(f"{dist.rank}\n")
        save()

    trainer.train_step, trainer.save = logged_step, logged_save
    trainer.run()
    shutdown()


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
