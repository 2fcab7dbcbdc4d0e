"""Command-line generation with the app's recipes (stylegan3's gen_images / gen_video, in one verb).

    python -m gan_core.generate --model anime --seeds 1-16 --psi 0.7 --out grid.png
    python -m gan_core.generate --model anime --interpolate 3,7 --frames 48 --out walk.gif
    python -m gan_core.generate --model anime --mix rows=1,2 cols=5,6 --layers coarse --out mix.png
    python -m gan_core.generate --model mnist --all-classes 1-3 --out digits.png
    python -m gan_core.generate --model anime --directions 42 --edits 2,0,-1.5 --out edit.png
    python -m gan_core.generate --model anime --directions 42 --strip 5 --out strips.png
    python -m gan_core.generate --model celeba --seeds 42 --edit "Smiling=2, Young=-1.5" --out older-smile.png
    python -m gan_core.generate --recipe result.png --out again.png   (a PNG from the app, a .json file or JSON text)
    python -m gan_core.generate --model celeba --project photo.jpg --out recon.png
    python -m gan_core.generate --model celeba --project photo.jpg --mix rows=1,2 cols=5,6 --out mix.png
    python -m gan_core.generate --model celeba --project photo.jpg --edits 2,0,-1.5 --out edit.png
    python -m gan_core.generate --model celeba --project photo.jpg --edit "Smiling=2" --out smile.png

Every run is a recipe run by gan_core.studio, as in the app, so the pixels are the app's. --out: .png (one
image, or a grid of several; it carries the recipe), .zip (a seed grid's PNGs), .gif / .mp4 (interpolations).
--project fits a photo (framed as the model's training images, gan_core.photos.alignment) with
gan_core.latent.projection and writes its reconstruction; with --mix, --interpolate (w-lerp), --edits, --edit or
--directions the result starts from it instead.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import replace
from pathlib import Path

from gan_core.errors import InvalidInput
from gan_core.latent import projection, sampling
from gan_core.storage.checkpoint import CheckpointError
from gan_core.studio import media
from gan_core.studio.recipe import Recipe, attach, load
from gan_core.studio.requests import INTERPOLATION_MODES, takes_w
from gan_core.studio.studio import Result, Studio

SUFFIXES = (".png", ".zip", ".gif", ".mp4")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="a shipped model name or a checkpoint folder (with --recipe: "
                                                  "use this checkpoint instead of the recipe's model)")
    p.add_argument("--recipe", default=None, help="reproduce a recipe: a PNG carrying one, a .json file, or JSON")
    p.add_argument("--seeds", default=None, help="seed spec for a grid, e.g. 1,5,10-20 (default 0-15); with --edit "
                                                 "one seed (default 0)")
    p.add_argument("--psi", type=float, default=1.0, help="truncation psi")
    p.add_argument("--class", dest="label", type=int, default=None, help="class label (MNIST digit)")
    p.add_argument("--nrow", type=int, default=None, help="images per grid row")
    p.add_argument("--interpolate", default=None, help="seeds to walk through, e.g. 3,7")
    p.add_argument("--frames", type=int, default=None, help="interpolation frames (32) or strip frames (7)")
    p.add_argument("--mode", choices=INTERPOLATION_MODES, default="z-slerp")
    p.add_argument("--loop", action="store_true")
    p.add_argument("--mix", nargs=2, metavar=("rows=SEEDS", "cols=SEEDS"), default=None)
    p.add_argument("--layers", default="", help="mixing: coarse (default)/middle/fine/all or indices like 0-3,6; "
                                                "directions: all (default)/coarse/middle/fine")
    p.add_argument("--all-classes", default=None, metavar="SEEDS", help="one row per seed, one column per class")
    p.add_argument("--directions", default=None, metavar="SEED", help="move SEED along the latent directions")
    p.add_argument("--edits", default="", help="with --directions or --project: strengths in sigmas, e.g. 2,0,-1.5")
    p.add_argument("--strip", type=int, default=None, metavar="K",
                   help="with --directions: -3..+3 sigma strips of the top K directions")
    p.add_argument("--edit", default=None, metavar="EDITS",
                   help="named edits, strengths -5..5, e.g. 'Smiling=2, Young=-1.5' (of --seeds' one seed, or of "
                        "--project's photo)")
    p.add_argument("--project", default=None, metavar="PHOTO", help="reconstruct a photo with the model (--out .png)")
    p.add_argument("--steps", type=int, default=projection.DEFAULT_STEPS, help="with --project: optimisation steps")
    p.add_argument("--centre-crop", action="store_true",
                   help="with --project: use the centre square when a face model finds no face")
    p.add_argument("--out", required=True, help=f"output file: {', '.join(SUFFIXES)}")
    args = p.parse_args(argv)
    if not (args.model or args.recipe):
        p.error("give --model, or --recipe")
    if args.project and (args.recipe or not args.model):
        p.error("--project needs --model (and no --recipe)")
    return args


def studio_for(model: str | None) -> tuple[Studio, str | None]:
    """A Studio over the shipped checkpoints, or over the parent of a checkpoint folder."""
    path = Path(model) if model else None
    if path is not None and path.is_dir():
        return Studio(path.resolve().parent), path.resolve().name
    return Studio(), model


def build_recipe(args: argparse.Namespace, model: str | None) -> Recipe:
    """The recipe the arguments describe (types checked as for a pasted recipe)."""
    if args.recipe:
        return replace(load(args.recipe), model=model) if model else load(args.recipe)
    fields = {"model": model, "psi": args.psi, "class": args.label, "layers": args.layers, "frames": args.frames}
    if args.interpolate:
        fields.update(kind="interpolate", seeds=args.interpolate, mode=args.mode, loop=args.loop)
    elif args.mix:
        specs = dict(part.split("=", 1) for part in args.mix if "=" in part)
        if set(specs) != {"rows", "cols"}:
            raise InvalidInput("--mix: expected rows=SEEDS cols=SEEDS, e.g. --mix rows=1,2 cols=5,6")
        fields.update(kind="mix", **specs)
    elif args.all_classes:
        fields.update(kind="all_classes", seeds=args.all_classes)
    elif args.edit is not None:
        fields.update(kind="edit", seeds="0" if args.project else args.seeds or "0", edit=args.edit)
    elif args.directions is not None and args.strip is not None:
        fields.update(kind="direction_strip", seeds=args.directions, k=args.strip)
    elif args.directions is not None or (args.project and args.edits):  # a projection's edits need no seed
        fields.update(kind="directions", seeds=args.directions or "0", edits=args.edits)
    else:
        fields.update(kind="seeds", seeds=args.seeds or "0-15")
    return Recipe.from_dict({k: v for k, v in fields.items() if v is not None})


def write(result: Result, out: Path, nrow: int | None) -> Path:
    """Save the result in the format out's suffix names."""
    suffix = out.suffix.lower()
    if suffix == ".png":
        if len(result.images) == 1:
            return media.save_png(result.images[0], out)
        n = len(result.images)
        return media.save_png(attach(media.tile(result.images, nrow or result.columns or sampling.grid_shape(n)),
                                     result.recipe), out)
    made = [result.archive] if suffix == ".zip" and result.archive else [f for f in result.files if f.suffix == suffix]
    if not made:
        raise InvalidInput(f"--out: this result has no {suffix} file (.zip: --seeds; .gif/.mp4: --interpolate)")
    shutil.copyfile(made[0], out)
    return out


def run(args: argparse.Namespace) -> Path:
    out = Path(args.out)
    if out.suffix.lower() not in SUFFIXES:
        raise InvalidInput(f"--out: {out.name!r} should end in one of {', '.join(SUFFIXES)}")
    studio, name = studio_for(args.model)
    recipe = build_recipe(args, name)
    if args.project:  # the photo's projection: its reconstruction, or the mix / walk / edit that starts from it
        projected = studio.project(name, args.project, args.centre_crop, args.steps, args.label)
        print(projected.note, file=sys.stderr)
        recipe = replace(recipe, w=projected.recipe.w) if takes_w(recipe.kind) else projected.recipe
    result = studio.reproduce(recipe)
    if result.note:
        print(result.note, file=sys.stderr)
    out.parent.mkdir(parents=True, exist_ok=True)
    return write(result, out, args.nrow)


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
