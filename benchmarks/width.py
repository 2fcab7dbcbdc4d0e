"""What a wider style generator costs: parameters, the app's 16-sample request and one training step, per width.

    python benchmarks/width.py --bases 1024,2048,4096 --threads 2 --batch 32 --d both

Each row is the 64 px style model (noise inputs off, as the shipped face models) at one `channel_base`
(feature channels at resolution r: min(channel_base / r, channel_max)); G and the residual D share that
config, so both widen. Random weights: speed only. Ratios are against the first width, in the same run.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch
from benchlib import bench_trainer, machine_state, median_ms, print_table, step_ms
from inference import TARGETS_MS

from gan_core.data.images import ImageSet
from gan_core.latent import sampling
from gan_core.models import build_generator, default_config
from gan_core.studio import media
from gan_core.training.config import hardware

SAMPLE_BUDGET_MS = TARGETS_MS["16 samples"]  # the app's target on 2 CPU threads


def layer_widths(base: int, channel_max: int, res: int) -> str:
    """Feature channels from 4 px up to `res`, e.g. '256-128-64-32-16'."""
    cfg = default_config("style", resolution=res, channel_base=base, channel_max=channel_max)
    return "-".join(str(cfg.width(4 * 2 ** i)) for i in range(res.bit_length() - 2))


def measure(base: int, args: argparse.Namespace, data: ImageSet, out: Path) -> dict:
    """One width's generator size, 16-sample wall ms and training step ms."""
    model = dict(channel_base=base, channel_max=args.channel_max, noise=False)
    G = build_generator(default_config("style", resolution=args.res, **model)).eval().requires_grad_(False)
    sample_ms, _ = median_ms(lambda: media.to_pil(sampling.generate(G, list(range(16)), 0.7)), args.repeats)
    trainer = bench_trainer("style", data, out / str(base), "cpu", args.batch, args.res, model=model, d=args.d)
    return dict(base=base, widths=layer_widths(base, args.channel_max, args.res),
                params=sum(p.numel() for p in G.parameters()), sample_ms=sample_ms,
                step_ms=step_ms(trainer, args.steps, args.warmup))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bases", default="1024,2048,4096", help="channel_base values; the first is the baseline")
    p.add_argument("--channel-max", type=int, default=256)
    p.add_argument("--res", type=int, default=64)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--d", choices=("residual", "projected", "both"), default="both", help="as train.py --d")
    p.add_argument("--steps", type=int, default=5, help="timed training steps per width")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeats", type=int, default=7, help="16-sample runs per width (median)")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    state = machine_state()
    images = torch.randint(0, 256, (max(256, args.batch), 3, args.res, args.res), dtype=torch.uint8)
    data = ImageSet(images, None, "random uint8 images")  # speed only: the pixels do not matter
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(int(b), args, data, Path(tmp)) for b in args.bases.split(",")]
    base = rows[0]
    print(f"\nstyle G {args.res}px (noise off), 16 samples at batch 16; training step at batch {args.batch} with "
          f"--d {args.d}; on {hardware(torch.device('cpu'))}\n{state}\n")
    print_table(["channel_base", "channels 4px..", "G params", "16 samples (ms)", f"within {SAMPLE_BUDGET_MS} ms",
                 "train step (ms)", "img/s", "step vs first"],
                [[r["base"], r["widths"], f"{r['params'] / 1e6:.2f} M", f"{r['sample_ms']:.0f}",
                  "yes" if r["sample_ms"] <= SAMPLE_BUDGET_MS else "no", f"{r['step_ms']:.0f}",
                  f"{args.batch / r['step_ms'] * 1000:.1f}", f"{r['step_ms'] / base['step_ms']:.2f}x"] for r in rows])
    return 0


if __name__ == "__main__":
    sys.exit(main())
