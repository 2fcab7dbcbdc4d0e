"""Named edits, measured: per direction, how much it moves its own property between strength -5 and +5 and how
much the others (and, for faces, Male) move, on 500 seeds and on projected photos held apart from training; and a
figure of -5..+5 strips on 4 seeds and one projected photo.

    python benchmarks/named_edits.py --model celeba --photos 10 --figure docs/named-edits-celeba.png
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch
from benchlib import celeba_photo, machine_state, print_table

from gan_core.latent import named, named_fit, projection, sampling
from gan_core.settings import settings
from gan_core.storage.checkpoint import load_generator
from gan_core.studio import media

STRENGTHS = (-5.0, -2.5, 0.0, 2.5, 5.0)
FIGURE_SEEDS = (1, 2, 3, 4)


def projected(G: torch.nn.Module, n: int, steps: int) -> torch.Tensor:
    """W+ latents [n, num_ws, w_dim] of the CelebA zip's last n faces (held apart from every run), framed and fitted
    the app's way."""
    ws = []
    for index in range(-n, 0):
        _, target = projection.framed_target(celeba_photo(index), "celeba", G, centre_crop=True)
        ws.append(projection.project(G, target, steps).w.float())
        print(f"projected photo {index}", flush=True)
    return torch.stack(ws)


def figure(G: torch.nn.Module, dirs: named.NamedDirections, bases: torch.Tensor, path: Path) -> None:
    """One row per direction: for each base latent, its image at each of STRENGTHS."""
    rows = [named.render(G, dirs, 0, 1.0, None, [{d.name: s} for s in STRENGTHS], base)
            for d in dirs.directions for base in bases]
    grid = media.grid(torch.cat(rows), len(STRENGTHS) * len(bases))
    grid.save(path)
    print(f"wrote {path}: rows {', '.join(dirs.names)}; columns {len(bases)} faces x strengths {STRENGTHS}")


def table(title: str, rows: list[dict[str, object]]) -> None:
    print(f"\n{title}")
    print_table(["direction", "w layers", "own change -5..+5", "mean |change| of the others", "Male change"],
                [[r["name"], f"{min(r['layers'])}-{max(r['layers'])}", f"{r['own']:.3f}", f"{r['others']:.3f}",
                  f"{r['Male']:.3f}" if "Male" in r else "-"] for r in rows])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="celeba")
    ap.add_argument("--photos", type=int, default=10, help="held-apart CelebA photos to project (celeba only)")
    ap.add_argument("--steps", type=int, default=projection.DEFAULT_STEPS)
    ap.add_argument("--figure", type=Path, default=None)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    folder = settings().checkpoint_dir / args.model
    G, config = load_generator(folder)
    dirs = named.load(folder, G.w_dim, G.num_ws)
    dataset = config["meta"]["dataset"]
    print(machine_state())
    spread = named_fit.measured_spreads(G, dataset)
    table(f"{args.model}: seeds {named_fit.REPORT_SEEDS[0]}-{named_fit.REPORT_SEEDS[-1]}",
          named_fit.report(G, dataset, dirs, spread=spread))
    photos = projected(G, args.photos, args.steps) if dataset == "celeba" and args.photos else None
    if photos is not None:
        table(f"{args.model}: {args.photos} projected photos held apart from training",
              named_fit.report(G, dataset, dirs, photos, spread))
    if args.figure:
        classes = [s % G.num_classes for s in FIGURE_SEEDS] if G.num_classes else None
        bases = sampling.ws_from_seeds(G, list(FIGURE_SEEDS), 1.0, classes).cpu()
        if photos is not None:
            bases = torch.cat([bases, photos[:1]])
        figure(G, dirs, bases, args.figure)
    print(machine_state())


if __name__ == "__main__":
    main()
