"""Train a GAN on MNIST, the anime or CelebA faces, or any image folder / zip; export for the app.

`gan-train` after `pip install .`, or `python -m gan_core.train`, or `python train.py` in the repository:

    python train.py --data anime --arch style --res 64 --out runs/anime --minutes 60 --export checkpoints/anime
    python train.py --data anime --out runs/anime --resume --steps 20000 --export checkpoints/anime
    python train.py --data mine/ --out runs/mine --export checkpoints/mine --push-to-hub you/gan-mine [--hub-dry-run]
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path
from typing import Any

import torch

from gan_core.data.images import DataError, is_grey_source, load_images
from gan_core.data.streaming import stream_images
from gan_core.evaluation.metrics import MetricsError, inception_weights_path
from gan_core.models import ARCHS, ModelConfig, default_config
from gan_core.models.widening import widen_generator
from gan_core.storage.checkpoint import CheckpointError, load_generator, push_to_hub
from gan_core.storage.hub import HubError
from gan_core.training.config import AMP_MODES, RESUMABLE, TrainConfig, pick_device
from gan_core.training.distributed import init_from_env, shutdown
from gan_core.training.loop import STATE_FILE, WARM_START_D_STEPS, Trainer
from gan_core.training.loss import CRITICS, LOSSES

# the discriminator's settings (TrainConfig field: flag); fixed when a run starts
CRITIC_FLAGS = {"d": "--d", "loss": "--loss", "d_resolution": "--d-resolution", "d_width": "--d-width",
                "face_critic": "--face-critic"}
# the model's shape (argparse dest: ModelConfig field, flag), also fixed when a run starts
SHAPE_FLAGS = {"res": ("resolution", "--res"), "channels": ("img_channels", "--channels"),
               "channel_base": ("channel_base", "--channel-base"), "channel_max": ("channel_max", "--channel-max"),
               "z_dim": ("z_dim", "--z-dim")}


def add_warm_start_options(p: argparse.ArgumentParser, init_help: str) -> None:
    """--init-from and --d-warmup, shared by train.py and benchmarks/quality.py."""
    p.add_argument("--init-from", metavar="CHECKPOINT", default=None, help=init_help)
    p.add_argument("--d-warmup", type=int, default=None, metavar="STEPS",
                   help=f"with --init-from: steps that train only the fresh D before G (default {WARM_START_D_STEPS})")


def check_warm_start(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse --d-warmup without a warm start, or below 0."""
    if args.d_warmup is not None and (not args.init_from or args.d_warmup < 0):
        p.error(f"--d-warmup applies to a warm start: give --init-from and 0 or more steps, got {args.d_warmup}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="mnist | anime | celeba | a folder | a .zip | a .npz | tv:NAME")
    p.add_argument("--out", required=True, help="run folder: train_state.pt, samples/, loss.png")
    p.add_argument("--arch", choices=ARCHS, default="style")
    p.add_argument("--res", type=int, default=None, help="resolution (default 64; 32 for .npz digits; 28 for mlp)")
    p.add_argument("--channels", type=int, choices=(1, 3), default=None, help="1 grey / 3 RGB (default from data)")
    p.add_argument("--no-cond", action="store_true", help="ignore labels (default: class-conditional if labelled)")
    p.add_argument("--steps", type=int, default=10_000, help="stop at this total step")
    p.add_argument("--minutes", type=float, default=0.0, help="stop after this many minutes of this run (0: none)")
    p.add_argument("--batch", type=int, default=None, help="global batch (default 32; on --resume: the run's)")
    p.add_argument("--lr", type=float, default=None, help="Adam learning rate (default: the arch's recipe)")
    p.add_argument("--r1-gamma", type=float, default=None, help="R1 weight (<0: heuristic; default: recipe)")
    p.add_argument("--amp", choices=AMP_MODES, default=None,
                   help="bf16 autocast: auto (default: on for CUDA, and on CPUs where a quick probe finds it "
                        "faster than fp32) | on | off")
    p.add_argument("--d", choices=CRITICS, default=None,
                   help="discriminator: residual (ours, the default), projected (frozen EfficientNet-lite0 features) "
                        "or both")
    p.add_argument("--loss", choices=LOSSES, default=None,
                   help="residual D loss: logistic (StyleGAN2, R1; the default) or relativistic (R3GAN pairing, "
                        "R1 + R2)")
    p.add_argument("--d-resolution", type=int, default=None, help="input size of the projected D (default 128)")
    p.add_argument("--d-width", type=float, default=None,
                   help="the residual D's channels relative to G's (default 1; D is not shipped, so only training "
                        "slows)")
    p.add_argument("--projected-weight", type=float, default=None,
                   help="the projected D's weight in G's loss (default 1; below 1 the residual D, which sees the "
                        "class, leads; may change on --resume)")
    p.add_argument("--face-critic", type=float, default=None, metavar="WEIGHT",
                   help="add a critic on the frozen CelebA attribute reader's features (mouths, eyes, smiles), with "
                        "this weight in G's loss (default 0: none; RGB faces)")
    p.add_argument("--augment", default=None, help="DiffAugment policy, e.g. color,translation,cutout or none")
    p.add_argument("--hflip", action=argparse.BooleanOptionalAction, default=None,
                   help="random horizontal flips of real images (default: on for RGB, off for digits)")
    p.add_argument("--noise", action=argparse.BooleanOptionalAction, default=None,
                   help="style arch: per-pixel noise inputs (default on; --no-noise may also be given on --resume)")
    p.add_argument("--channel-base", type=int, default=None,
                   help="G's channels: channel_base / resolution, capped at --channel-max (style default 1024, 256); "
                        "with --init-from, larger values widen the warm start without changing what it draws")
    p.add_argument("--channel-max", type=int, default=None)
    p.add_argument("--z-dim", type=int, default=None)
    p.add_argument("--sample-every", type=int, default=200, help="steps between sample grids and loss plots")
    p.add_argument("--save-every", type=int, default=200, help="steps between checkpoints")
    p.add_argument("--eval-every", type=int, default=0,
                   help="steps between FID/KID evaluations (0: off); then --export keeps the best-FID generator")
    p.add_argument("--eval-n", type=int, default=2000, help="images generated (and real) per evaluation")
    p.add_argument("--snapshots", type=int, default=0, metavar="N",
                   help="keep the EMA generator of the newest N evaluations as export folders in OUT/snapshots "
                        "(to average with python -m gan_core.average; needs --eval-every)")
    p.add_argument("--export", default=None, help="also write an app-loadable checkpoint folder here")
    p.add_argument("--push-to-hub", metavar="REPO", default=None,
                   help="after training, upload the --export folder to this Hugging Face model repo (owner/name)")
    p.add_argument("--hub-dry-run", action="store_true", help="with --push-to-hub: list the files, send nothing")
    add_warm_start_options(p, "start G and its EMA from an exported checkpoint folder (its architecture; D starts "
                              "fresh)")
    p.add_argument("--resume", action="store_true", help=f"continue from OUT/{STATE_FILE}")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch default)")
    p.add_argument("--stream", action="store_true",
                   help="stream from disk with DataLoader workers instead of decoding the whole set into memory")
    p.add_argument("--workers", type=int, default=4, help="DataLoader worker processes with --stream")
    p.add_argument("--limit", type=int, default=None, help="use only the first N images")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.eval_every and args.eval_n < 4:
        p.error(f"--eval-n must be at least 4 (precision/recall need k=3 neighbours), got {args.eval_n}")
    if args.eval_every:
        try:  # before training, not at the first evaluation minutes or hours in
            inception_weights_path()
        except MetricsError as exc:
            p.error(f"--eval-every: {exc}")
    if args.snapshots and not args.eval_every or args.snapshots < 0:
        p.error(f"--snapshots keeps evaluated generators: give --eval-every too, and N >= 0 (got {args.snapshots})")
    if args.init_from and args.resume:
        p.error("--init-from starts a new run; --resume continues one: give one of them")
    check_warm_start(p, args)
    if args.push_to_hub and not args.export:
        p.error("--push-to-hub uploads the --export folder; give --export too")
    return args


def critic_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The discriminator flags given on the command line, by TrainConfig field (the rest keep its defaults)."""
    return {key: getattr(args, key) for key in CRITIC_FLAGS if getattr(args, key) is not None}


def shape_changes(args: argparse.Namespace, shape: ModelConfig, dests: tuple[str, ...], owner: str) -> list[str]:
    """The shape flags among `dests` that ask for something other than `shape`, each with `owner`'s value."""
    return [f"{flag} {getattr(args, dest)} ({owner} has {getattr(shape, field)})"
            for dest, (field, flag) in SHAPE_FLAGS.items()
            if dest in dests and getattr(args, dest) is not None and getattr(args, dest) != getattr(shape, field)]


def refuse_changes(args: argparse.Namespace, saved: TrainConfig, shape: ModelConfig) -> None:
    """A resumed run keeps the discriminator and model shape it was saved with: a flag asking for others is an error."""
    asked = [f"{CRITIC_FLAGS[key]} {value} (the run has {getattr(saved, key)})"
             for key, value in critic_settings(args).items() if value != getattr(saved, key)]
    asked += shape_changes(args, shape, tuple(SHAPE_FLAGS), "the run")
    if asked:
        raise ValueError(f"the discriminator and the model's shape are fixed when a run starts, so --resume cannot "
                         f"change them: {'; '.join(asked)}. Leave the flag out, or start a new run (--init-from an "
                         "export keeps G)")


def widened(G: torch.nn.Module, shape: ModelConfig,
            args: argparse.Namespace) -> tuple[torch.nn.Module, ModelConfig]:
    """The warm start's generator and shape, widened to --channel-base / --channel-max when asked (it then draws the
    same images). Other shape flags that differ from the checkpoint's are refused."""
    fixed = shape_changes(args, shape, ("res", "channels", "z_dim"), "the checkpoint")
    if fixed:
        raise ValueError(f"--init-from keeps the checkpoint's shape but for its width: {'; '.join(fixed)}")
    wider = {key: getattr(args, key) for key in ("channel_base", "channel_max") if getattr(args, key) is not None}
    if not wider or all(getattr(shape, key) == value for key, value in wider.items()):
        return G, shape
    if shape.arch != "style":
        raise ValueError(f"--channel-base/--channel-max with --init-from widen style generators; this one is "
                         f"{shape.arch!r}")
    for key, value in wider.items():
        if value < getattr(shape, key):
            raise ValueError(f"--{key.replace('_', '-')} {value} is below the warm start's {getattr(shape, key)}: "
                             "--init-from can widen a generator, not narrow it")
    wide = dataclasses.replace(shape, **wider)
    return widen_generator(G, wide), wide


def model_config(args: argparse.Namespace, grey: bool, num_classes: int):
    res = args.res or (28 if args.arch == "mlp" else 32 if grey else 64)
    overrides = dict(resolution=res, img_channels=args.channels or (1 if grey else 3),
                     num_classes=num_classes if (args.arch == "style" and not args.no_cond) else 0)
    for key in ("channel_base", "channel_max", "z_dim", "noise"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    return default_config(args.arch, **overrides)


def push(folder: str, repo: str, dry_run: bool) -> int:
    """Upload an exported checkpoint to the Hub (dry run: list exactly what would go); 2 on failure."""
    try:
        files = push_to_hub(folder, repo, dry_run)
    except (CheckpointError, HubError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for f in files:
        print(f"{'would upload' if dry_run else 'uploaded'} {f} -> {repo}/{f.name} ({f.stat().st_size:,} bytes)")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    grey = is_grey_source(args.data)
    given = {key: getattr(args, key) for key in RESUMABLE}  # None: not on the command line
    cfg = TrainConfig(steps=args.steps, minutes=args.minutes, batch=args.batch or 32, lr=args.lr,
                      r1_gamma=args.r1_gamma, augment=args.augment,
                      hflip=(not grey) if args.hflip is None else args.hflip, amp=args.amp or "auto",
                      sample_every=args.sample_every, save_every=args.save_every, seed=args.seed,
                      eval_every=args.eval_every, eval_n=args.eval_n, snapshots=args.snapshots,
                      projected_weight=1.0 if args.projected_weight is None else args.projected_weight,
                      **critic_settings(args))
    dist, device = init_from_env(pick_device(args.device))
    try:
        if args.resume:
            shape, saved = Trainer.peek(args.out)
            refuse_changes(args, saved, shape)
            batch = args.batch or saved.batch  # the stream must deliver the batch the run trains with
        elif args.init_from:
            start_G, start_config = load_generator(args.init_from)
            shape, batch = ModelConfig.from_dict(start_config["model"]), cfg.batch
            if args.noise is not None:
                shape.noise = args.noise
            start_G, shape = widened(start_G, shape, args)
        else:
            shape, batch = model_config(args, grey, 0), cfg.batch
        if args.stream:
            data = stream_images(args.data, shape.resolution, shape.img_channels, batch // dist.world, dist.rank,
                                 dist.world, args.workers, args.seed)
        else:
            data = load_images(args.data, shape.resolution, shape.img_channels, args.limit)
        if args.resume:
            trainer = Trainer.resume(cfg, data, args.out, device, dist, noise=args.noise, changes=given)
        elif args.init_from:
            trainer = Trainer(shape, cfg, data, args.out, device, dist)
            trainer.warm_start(start_G, str(args.init_from), args.d_warmup)
        else:
            trainer = Trainer(model_config(args, grey, data.num_classes), cfg, data, args.out, device, dist)
    except (DataError, CheckpointError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        shutdown()
        return 2
    log = print if dist.main else (lambda *a, **k: None)
    log(f"{len(data):,} images from {data.source} ({data.skipped} skipped); {trainer.mcfg.arch} "
        f"{trainer.mcfg.resolution}px on {trainer.device}{f' x {dist.world} processes' if dist.world > 1 else ''} "
        f"({'bf16 autocast' if trainer.amp else 'fp32'}); step {trainer.step} -> {cfg.steps}",
        file=sys.stderr)
    trainer.run(export_to=args.export)
    shutdown()
    log(f"saved {Path(args.out) / STATE_FILE} at step {trainer.step}"
        + (f"; exported {args.export}" if args.export else ""), file=sys.stderr)
    return push(args.export, args.push_to_hub, args.hub_dry_run) if args.push_to_hub and dist.main else 0


if __name__ == "__main__":
    raise SystemExit(main())
