"""Seed DCGAN vs our style model: same data, device and wall-clock budget, in one run; FID/KID of each.

    python benchmarks/quality.py --data anime --minutes 10 --device auto --n 2000

`--phase train` only trains (each model's EMA generator is exported to OUT/<arch>/export with its
speed in bench.json), `--arch` one of the two models only (so each run fits a per-command time limit);
`--phase score` scores those exports later, e.g. on a machine that has the Inception weights when the
GPU machine that trained them has not.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from benchlib import ARCHS, bench_trainer, print_table
from gan_core.checkpoint import load_generator
from gan_core.data import is_grey_source, load_images
from gan_core.metrics import evaluate_generator
from gan_core.train_config import hardware, pick_device


def train(arch: str, args: argparse.Namespace, data, channels: int) -> None:
    """Train `arch` for args.minutes with its own recipe; export its EMA generator and speed under OUT/arch."""
    batch = 64 if arch == "dcgan" else args.batch  # the seeds' DCGAN used batch 64
    out = Path(args.out) / arch
    trainer = bench_trainer(arch, data, out, args.device, batch, args.res, channels, args.minutes, args.seed)
    trainer.run(export_to=out / "export")
    speed = dict(arch=arch, steps=trainer.step, batch=batch, minutes=args.minutes, device=hardware(trainer.device),
                 img_s=trainer.nimg / max(trainer.train_seconds, 1e-9))
    (out / "bench.json").write_text(json.dumps(speed, indent=1))


def score(arch: str, args: argparse.Namespace, source: str) -> dict:
    """The speed record of OUT/arch plus FID/KID of its exported generator against `source`."""
    out = Path(args.out) / arch
    device = pick_device(args.device)
    G, _ = load_generator(out / "export", device)
    return json.loads((out / "bench.json").read_text()) | evaluate_generator(G, source, args.n, device=device)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="anime")
    p.add_argument("--res", type=int, default=64)
    p.add_argument("--minutes", type=float, default=10.0, help="training budget per model")
    p.add_argument("--device", default="auto")
    p.add_argument("--n", type=int, default=2000, help="images per FID/KID evaluation")
    p.add_argument("--batch", type=int, default=32, help="batch of the style model")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/quality")
    p.add_argument("--phase", choices=("all", "train", "score"), default="all")
    p.add_argument("--arch", choices=("both", *ARCHS), default="both", help="with --phase train: train only this one")
    args = p.parse_args(argv)
    if args.arch != "both" and args.phase != "train":
        p.error("--arch picks the model to train: use it with --phase train")
    if args.phase == "score":
        missing = [arch for arch in ARCHS if not (Path(args.out) / arch / "bench.json").is_file()]
        if missing:
            p.error(f"nothing trained for {', '.join(missing)} in {args.out}: run --phase train first")
    if args.threads:
        torch.set_num_threads(args.threads)
    channels = 1 if is_grey_source(args.data) else 3
    if args.phase != "score":  # scoring needs only the exports: real images come from the metrics' cache or source
        data = load_images(args.data, args.res, channels)
        for arch in ARCHS if args.arch == "both" else (args.arch,):
            train(arch, args, data, channels)
    if args.phase == "train":
        return 0
    rows = [score(arch, args, args.data) for arch in ARCHS]
    base = rows[0]
    print(f"\n{args.data}, {args.res}px, {base['minutes']:g} min each on {base['device']}, FID/KID at n={args.n}\n")
    print_table(["model", "steps x batch", "img/s", "FID", "KID", "FID ratio vs DCGAN"],
                [[r["arch"], f"{r['steps']} x {r['batch']}", f"{r['img_s']:.1f}", f"{r['fid']:.1f}",
                  f"{r['kid']:.4f} ± {r['kid_std']:.4f}", f"{r['fid'] / base['fid']:.2f}"] for r in rows])
    return 0


if __name__ == "__main__":
    sys.exit(main())
