"""Ship a run's export as an app model in one step: `python -m gan_core.publish runs/x/export checkpoints/anime`.

Copies the weights and config, writes the card under the model's own name (with an optional note), refits the
named edits where the data set has readers for them, and redraws the README grid; the model folder is swapped in
as one unit, so the app never loads new weights beside old directions.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import torch

from gan_core.latent import named, named_fit, sampling
from gan_core.storage.checkpoint import CARD, CONFIG, DIRECTIONS, WEIGHTS, CheckpointError, load_generator
from gan_core.storage.files import Writer, atomic_write_folder
from gan_core.storage.modelcard import model_card
from gan_core.studio import media

GRID_SEEDS = 64  # the README grids: seeds 0-63 at psi 1, 8 per row (class-conditional: class = seed mod classes)


def draw_grid(folder: str | Path, path: str | Path) -> Path:
    """The model's README grid: seeds 0-63 at psi 1, as the evaluations draw them (digit = seed mod 10)."""
    G, _ = load_generator(folder)
    images = torch.cat([batch for _, batch in sampling.generated_images(G, GRID_SEEDS)])
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return media.save_png(media.grid(images, 8), path)


def publish(export: str | Path, dest: str | Path, note: str | None = None, refit: bool = True,
            log=print) -> Path:
    """Install `export` as the model folder `dest` (weights, config, card, named directions) in one folder swap."""
    export, dest = Path(export), Path(dest)
    G, config = load_generator(export)  # refuses a damaged or foreign export before anything is replaced
    meta = config.setdefault("meta", {})
    if note is not None:
        meta["notes"] = note
    dataset = str(meta.get("dataset", ""))
    files: dict[str, Writer] = {
        WEIGHTS: lambda tmp: shutil.copyfile(export / WEIGHTS, tmp),
        CONFIG: lambda tmp: Path(tmp).write_text(json.dumps(config, indent=2) + "\n"),
        CARD: lambda tmp: Path(tmp).write_text(model_card(dest.name, config["model"], meta)),
    }
    if refit and dataset in named_fit.PROPERTY_SETS:
        log(f"fitting the named edits for {dataset} (a few minutes on a CPU)")
        files[DIRECTIONS] = named.writer(named_fit.find(G, dataset, log))
    elif (dest / DIRECTIONS).exists():
        raise CheckpointError(f"{dest / DIRECTIONS}: these named edits belong to the old weights and are not refit "
                              f"here (data set {dataset!r}); remove the file or publish to a new folder")
    atomic_write_folder(dest, files)
    return dest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m gan_core.publish", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("export", help="a run's --export folder (model.safetensors + config.json)")
    p.add_argument("dest", help="the model folder to replace or create, e.g. checkpoints/anime")
    p.add_argument("--note", default=None, help="the card's Notes section: how the model was made, what its grid shows")
    p.add_argument("--note-file", default=None, help="read the note from this file")
    p.add_argument("--no-refit", action="store_true", help="keep no named edits (skip their fit)")
    p.add_argument("--grid", default=None, help="also draw its grid here (seeds 0-63, psi 1, 8x8; digits: "
                                                "seed mod 10), e.g. docs/anime-8x8.png")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    note = Path(args.note_file).read_text().strip() if args.note_file else args.note
    try:
        dest = publish(args.export, args.dest, note, refit=not args.no_refit)
    except (CheckpointError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"published {args.export} as {dest}")
    if args.grid:
        print(f"drew {draw_grid(dest, args.grid)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
