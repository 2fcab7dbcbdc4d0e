"""Average a run's exported snapshots into one export: `python -m gan_core.average A B --out C`.

Snapshots of one run a few EMA lengths apart sit in one basin, and the mean of their weights is an average over a
longer stretch of the trajectory than the run's EMA (the idea of SWA, Izmailov et al. 2018). Score the result with
`gan-evaluate --write-card` before shipping it: the snapshots' own scores are dropped from its metadata.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from gan_core.storage.checkpoint import CheckpointError, export_generator, load_generator
from gan_core.storage.modelcard import SCORE_KEYS


def average(exports: list[str | Path], out: str | Path) -> Path:
    """Write the mean of the exports' weights (one architecture) as an export at `out`, with the last one's metadata
    less its scores, plus the steps it averages."""
    if len(exports) < 2:
        raise CheckpointError("averaging needs at least two exports")
    loaded = [load_generator(e) for e in exports]
    G, config = loaded[-1]
    if any(c["model"] != config["model"] for _, c in loaded):
        raise CheckpointError(f"{', '.join(map(str, exports))}: not one architecture (compare their config.json)")
    states = [g.state_dict() for g, _ in loaded]
    G.load_state_dict({k: torch.stack([s[k].double() for s in states]).mean(0).to(v.dtype) if v.is_floating_point()
                       else v for k, v in states[-1].items()})
    meta = {k: v for k, v in config.get("meta", {}).items() if k not in SCORE_KEYS}
    meta["averaged_steps"] = [c.get("meta", {}).get("steps") for _, c in loaded]
    return export_generator(G, out, meta)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m gan_core.average", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("exports", nargs="+", help="two or more export folders of one run")
    p.add_argument("--out", required=True, help="the export folder to write")
    args = p.parse_args(argv)
    try:
        print(f"wrote {average(args.exports, args.out)}")
    except (CheckpointError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
