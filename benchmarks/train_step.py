"""Cost of one training step, seed DCGAN vs our style model: tensor ops dispatched (and GPU kernels), ms/step.

    python benchmarks/train_step.py --batch 64 --device auto

On a GPU a small GAN is bound by how many operations a step launches, not by arithmetic, so the op
count is the number to cut; ratios are against the DCGAN measured in the same run.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from benchlib import ARCHS, bench_trainer, machine_state, print_table, step_ms
from torch.profiler import ProfilerActivity, profile

from gan_core.data.images import ImageSet
from gan_core.training.config import AMP_MODES, hardware, pick_device
from gan_core.training.loop import Trainer


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def count_ops(trainer: Trainer) -> tuple[int, int]:
    """(tensor ops dispatched by Python, autograd and the optimiser; GPU activities) of one step without R1."""
    trainer.step = 1  # lazy R1 runs on steps divisible by r1_every: profile an ordinary step
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if trainer.device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        trainer.train_step()
        sync(trainer.device)
    events = prof.events()
    ops = sum(e.name.startswith("aten::") and not (e.cpu_parent and e.cpu_parent.name.startswith("aten::"))
              for e in events)
    kernels = sum(e.device_type == torch.autograd.DeviceType.CUDA for e in events)  # kernels, copies, memsets
    return ops, kernels


def measure(arch: str, args: argparse.Namespace, data: ImageSet, device: torch.device) -> dict:
    trainer = bench_trainer(arch, data, Path(args.out) / arch, device, args.batch, args.res, amp=args.amp)
    for _ in range(args.warmup):
        trainer.train_step()
    ops, kernels = count_ops(trainer)
    ms = step_ms(trainer, args.steps)
    return dict(arch=arch, ops=ops, kernels=kernels, ms=ms, img_s=args.batch / ms * 1000)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--res", type=int, default=64)
    p.add_argument("--steps", type=int, default=20, help="timed steps per model")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--amp", choices=AMP_MODES, default="auto", help="bf16 autocast, as train.py --amp")
    p.add_argument("--out", default="runs/train_step")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    state = machine_state()
    images = torch.randint(0, 256, (max(256, args.batch), 3, args.res, args.res), dtype=torch.uint8)
    data = ImageSet(images, None, "random uint8 images")  # speed only: the pixels do not matter
    rows = [measure(arch, args, data, device) for arch in ARCHS]
    base = rows[0]
    print(f"\none training step, batch {args.batch}, {args.res}px, on {hardware(device)}, amp {args.amp}\n{state}\n")
    print_table(["model", "ops/step", "GPU kernels/step", "ms/step", "img/s", "ops vs DCGAN", "time vs DCGAN"],
                [[r["arch"], r["ops"], r["kernels"] or "-", f"{r['ms']:.1f}", f"{r['img_s']:.1f}",
                  f"{r['ops'] / base['ops']:.2f}x", f"{r['ms'] / base['ms']:.2f}x"] for r in rows])
    return 0


if __name__ == "__main__":
    sys.exit(main())
