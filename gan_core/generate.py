"""Command-line generation with the app's recipes (stylegan3's gen_images / gen_video, in one verb).

    python -m gan_core.generate --model anime --seeds 1-16 --psi 0.7 --out grid.png
    python -m gan_core.generate --model anime --interpolate 3,7 --frames 48 --out walk.gif
    python -m gan_core.generate --model anime --mix rows=1,2 cols=5,6 --layers coarse --out mix.png
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from .checkpoint import CheckpointError
from .studio import INTERPOLATION_MODES, LAYER_PRESETS, Studio
from .validation import InvalidInput


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="a shipped model name or a checkpoint folder")
    p.add_argument("--seeds", default="0-15", help="seed spec for a grid, e.g. 1,5,10-20")
    p.add_argument("--psi", type=float, default=1.0, help="truncation psi")
    p.add_argument("--class", dest="label", default=None, help="class label (MNIST digit)")
    p.add_argument("--nrow", type=int, default=None, help="images per grid row")
    p.add_argument("--interpolate", default=None, help="seeds to walk through, e.g. 3,7")
    p.add_argument("--frames", type=int, default=32)
    p.add_argument("--mode", choices=INTERPOLATION_MODES, default="z-slerp")
    p.add_argument("--loop", action="store_true")
    p.add_argument("--mix", nargs=2, metavar=("rows=SEEDS", "cols=SEEDS"), default=None)
    p.add_argument("--layers", default="coarse", help=f"{'/'.join(LAYER_PRESETS[:-1])} or indices like 0-3,6")
    p.add_argument("--out", required=True, help=".png for grids and mixes; .gif or .mp4 for interpolations")
    return p.parse_args(argv)


def studio_for(model: str) -> tuple[Studio, str]:
    """A Studio over the shipped checkpoints, or over the parent of a checkpoint folder."""
    path = Path(model)
    if path.is_dir():
        return Studio(path.resolve().parent), path.resolve().name
    return Studio(), model


def run(args: argparse.Namespace) -> Path:
    studio, name = studio_for(args.model)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.interpolate:
        result = studio.interpolate(name, args.interpolate, args.frames, args.mode, args.psi, args.label, args.loop)
        gif, mp4 = result.files
        shutil.copyfile(mp4 if out.suffix == ".mp4" else gif, out)
    elif args.mix:
        specs = dict(part.split("=", 1) for part in args.mix)
        preset = args.layers if args.layers in LAYER_PRESETS else "custom"
        figure, _ = studio.mix(name, specs.get("rows", ""), specs.get("cols", ""), preset, args.layers, args.psi,
                               args.label)
        figure.save(out)
    else:
        studio.grid(name, args.seeds, args.psi, args.label, args.nrow).save(out)
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        print(run(args))
    except (InvalidInput, CheckpointError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
