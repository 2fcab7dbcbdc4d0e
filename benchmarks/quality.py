"""The quality ablation: each row a recipe trained for the same wall-clock budget on the same data, then scored.

    python benchmarks/quality.py --data anime --minutes 15 --n 2000 --rows dcgan,style,style+step,style+step+both

Rows (ratios are against the first): `dcgan` the seeds' DCGAN and its recipe; `style` ours as issue 16
found it (noise inputs on); `+step` the cheaper step (noise inputs off, bf16 where the CPU has it);
`+projected` / `+both` the projected discriminator alone or beside the residual one; `+relativistic` R3GAN's
relativistic pairing loss with R1 + R2 instead of the logistic loss with R1; `+noaug` D sees the images as they
are (no DiffAugment); `+dwide` the residual D has twice G's channels. `--init-from checkpoints/NAME` fine-tunes
that shipped generator in every row (a fresh D each, trained alone for `--d-warmup` steps first), for rows of its
own architecture. `--phase train` only trains (each row's EMA generator to OUT/<row>/export, its speed and the
machine's state to bench.json); `--phase score` scores those exports later, e.g. on a machine that has the
Inception weights.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from benchlib import bench_trainer, machine_state, print_table

from gan_core.data.images import is_grey_source, load_images
from gan_core.evaluation.scores import evaluate_generator
from gan_core.models import ModelConfig
from gan_core.storage.checkpoint import CheckpointError, load_generator
from gan_core.train import add_warm_start_options, check_warm_start
from gan_core.training.config import hardware, pick_device

# row name -> (arch, model overrides, loop overrides)
ROWS: dict[str, tuple[str, dict, dict]] = {
    "dcgan": ("dcgan", {}, {}),
    "style": ("style", {"noise": True}, {"amp": "off"}),
    "style+step": ("style", {"noise": False}, {"amp": "auto"}),
    "style+step+projected": ("style", {"noise": False}, {"amp": "auto", "d": "projected"}),
    "style+step+both": ("style", {"noise": False}, {"amp": "auto", "d": "both"}),
    "style+step+relativistic": ("style", {"noise": False}, {"amp": "auto", "loss": "relativistic"}),
    "style+step+relativistic+noaug": ("style", {"noise": False}, {"amp": "auto", "loss": "relativistic",
                                                                  "augment": "none"}),
    "style+step+relativistic+dwide": ("style", {"noise": False}, {"amp": "auto", "loss": "relativistic",
                                                                  "d_width": 2.0}),
    # the shipped faces' recipe, then with the face critic (CelebA; with --init-from as in docs/measurements.md)
    "style+step+both+relativistic": ("style", {"noise": False}, {"amp": "auto", "d": "both", "loss": "relativistic",
                                                                 "d_width": 0.5}),
    "style+step+both+relativistic+faces": ("style", {"noise": False}, {"amp": "auto", "d": "both",
                                                                       "loss": "relativistic", "d_width": 0.5,
                                                                       "face_critic": 1.0}),
}
DEFAULT_ROWS = "dcgan,style+step"


def train(row: str, args: argparse.Namespace, data, channels: int, start: tuple[torch.nn.Module, ModelConfig] | None
          ) -> None:
    """Train `row` for args.minutes (from the `start` generator if given); export its EMA generator, speed and
    machine state under OUT/row."""
    arch, model, loop = ROWS[row]
    batch = 64 if arch == "dcgan" else args.batch  # the seeds' DCGAN used batch 64
    out = Path(args.out) / row
    state = machine_state()
    print(f"{row}: {state}", flush=True)
    trainer = bench_trainer(arch, data, out, args.device, batch, args.res, channels, args.minutes, args.seed,
                            model=model, shape=start and start[1], **loop)
    if start:
        trainer.warm_start(start[0], args.init_from, args.d_warmup)
    trainer.run(export_to=out / "export")
    speed = dict(row=row, steps=trainer.step, batch=batch, minutes=args.minutes, device=hardware(trainer.device),
                 img_s=trainer.nimg / max(trainer.train_seconds, 1e-9), machine=state)
    (out / "bench.json").write_text(json.dumps(speed, indent=1))


def score(row: str, args: argparse.Namespace, source: str) -> dict:
    """The speed record of OUT/row plus FID/KID/precision/recall of its exported generator against `source`."""
    out = Path(args.out) / row
    device = pick_device(args.device)
    G, _ = load_generator(out / "export", device)
    return json.loads((out / "bench.json").read_text()) | evaluate_generator(G, source, args.n, device=device)


def parse_rows(text: str, p: argparse.ArgumentParser) -> list[str]:
    """Comma-separated row names, each one of ROWS."""
    rows = [r.strip() for r in text.split(",") if r.strip()]
    unknown = [r for r in rows if r not in ROWS]
    if unknown or not rows:
        p.error(f"--rows: unknown row {', '.join(unknown) or '(none given)'}; choose from {', '.join(ROWS)}")
    return rows


def load_start(path: str, rows: list[str], p: argparse.ArgumentParser) -> tuple[torch.nn.Module, ModelConfig]:
    """The generator to fine-tune and its shape; every row must build that same shape."""
    try:
        G, config = load_generator(path)
    except CheckpointError as exc:
        p.error(f"--init-from: {exc}")
    shape = ModelConfig.from_dict(config["model"])
    mismatched = [row for row in rows if ROWS[row][0] != shape.arch
                  or any(getattr(shape, key) != value for key, value in ROWS[row][1].items())]
    if mismatched:
        p.error(f"--init-from {path}: rows {', '.join(mismatched)} build another model than its {shape.arch} "
                f"(noise {shape.noise}); choose rows that match it")
    return G, shape


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="anime")
    p.add_argument("--res", type=int, default=64)
    p.add_argument("--minutes", type=float, default=15.0, help="training budget per row")
    p.add_argument("--device", default="auto")
    p.add_argument("--n", type=int, default=2000, help="images per evaluation")
    p.add_argument("--batch", type=int, default=32, help="batch of the style rows")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/quality")
    add_warm_start_options(p, "fine-tune this exported generator in every row (its resolution and channels)")
    p.add_argument("--phase", choices=("all", "train", "score"), default="all")
    p.add_argument("--rows", default=DEFAULT_ROWS, help=f"comma-separated, the baseline first: {', '.join(ROWS)}")
    args = p.parse_args(argv)
    rows = parse_rows(args.rows, p)
    check_warm_start(p, args)
    if args.phase == "score":
        missing = [row for row in rows if not (Path(args.out) / row / "bench.json").is_file()]
        if missing:
            p.error(f"nothing trained for {', '.join(missing)} in {args.out}: run --phase train first")
    if args.threads:
        torch.set_num_threads(args.threads)
    start = load_start(args.init_from, rows, p) if args.init_from and args.phase != "score" else None
    if start:
        args.res, channels = start[1].resolution, start[1].img_channels
    else:
        channels = 1 if is_grey_source(args.data) else 3
    data = load_images(args.data, args.res, channels) if args.phase != "score" else None
    results = []
    for row in rows:  # each row scored before the next trains, so the numbers appear as they come
        if data is not None:
            train(row, args, data, channels, start)
        if args.phase != "train":
            results.append(score(row, args, args.data))
            print(f"{row}: FID {results[-1]['fid']:.1f}, precision {results[-1]['precision']:.3f}", flush=True)
    if args.phase == "train":
        return 0
    base = results[0]
    print(f"\n{args.data}, {args.res}px{f', fine-tuning {args.init_from}' if args.init_from else ''}, "
          f"{base['minutes']:g} min each on {base['device']}, n={args.n}")
    for r in results:
        print(f"  {r['row']}: {r['machine']}")
    print()
    print_table(["row", "steps x batch", "img/s", "FID", "KID", "precision", "recall", f"FID ratio vs {base['row']}"],
                [[r["row"], f"{r['steps']} x {r['batch']}", f"{r['img_s']:.1f}", f"{r['fid']:.1f}",
                  f"{r['kid']:.4f} ± {r['kid_std']:.4f}", f"{r['precision']:.3f}", f"{r['recall']:.3f}",
                  f"{r['fid'] / base['fid']:.2f}"] for r in results])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
