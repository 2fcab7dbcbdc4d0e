"""Score a checkpoint: `python -m gan_core.evaluate --model checkpoints/anime --real anime --n 5000 [--write-card]`."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from gan_core.data.images import DataError
from gan_core.evaluation.metrics import PR_K, MetricsError
from gan_core.evaluation.scores import evaluate_generator
from gan_core.storage.checkpoint import (
    CARD,
    CONFIG,
    CheckpointError,
    load_generator,
    read_config,
)
from gan_core.storage.files import atomic_write_folder
from gan_core.storage.modelcard import SCORE_KEYS, model_card


def write_scores(folder: str | Path, scores: dict[str, Any], real: str, note: str | None = None) -> None:
    """Put the scores (and a note, if given) into config.json's meta and regenerate README.md, as one folder swap."""
    folder = Path(folder)
    config = read_config(folder)
    meta = {k: v for k, v in config.get("meta", {}).items() if k not in SCORE_KEYS}  # none left from before
    meta.update(fid=round(scores["fid"], 2), kid=round(scores["kid"], 5), kid_std=round(scores["kid_std"], 5),
                precision=round(scores["precision"], 4), recall=round(scores["recall"], 4),
                fid_n=scores["n"], fid_real=real)
    if "digit_accuracy" in scores:
        meta["digit_accuracy"] = round(scores["digit_accuracy"], 4)
    if note is not None:
        meta["notes"] = note
    config["meta"] = meta
    texts = {CONFIG: json.dumps(config, indent=2) + "\n", CARD: model_card(folder.name, config["model"], meta)}
    atomic_write_folder(folder, {name: (lambda tmp, text=text: Path(tmp).write_text(text))
                                 for name, text in texts.items()})


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m gan_core.evaluate", description=__doc__)
    p.add_argument("--model", required=True, help="checkpoint folder (model.safetensors + config.json)")
    p.add_argument("--real", help="real images: mnist/anime/celeba, a folder or a zip (default: the training set in "
                                  "config.json)")
    p.add_argument("--n", type=int, default=5000, help="generated images, and real images, to compare (default 5000)")
    p.add_argument("--psi", type=float, default=1.0, help="truncation psi (default 1.0: none)")
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--kid-subsets", type=int, default=100)
    p.add_argument("--kid-subset-size", type=int, default=1000, help="images per KID subset (capped at n/2)")
    p.add_argument("--cache-dir", default=None,
                   help="where real-set features are cached (default ~/.cache/gan-studio/fid)")
    p.add_argument("--write-card", action="store_true",
                   help="store the scores in config.json meta and regenerate README.md")
    p.add_argument("--note", default=None,
                   help="with --write-card: the card's Notes section (how it was made, caveats)")
    args = p.parse_args(argv)
    if args.n <= PR_K:
        p.error(f"--n must be at least {PR_K + 1}")
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        G, config = load_generator(args.model, args.device or "cpu")
        real = args.real or config.get("meta", {}).get("dataset")
        if not real:
            p.error("--real is required: config.json names no training dataset")
        t0 = time.time()
        last = {"t": 0.0}

        def progress(what: str, done: int, total: int) -> None:
            if done == total or time.time() - last["t"] > 10:
                last["t"] = time.time()
                print(f"  {what} features: {done}/{total} ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)

        scores = evaluate_generator(G, real, args.n, args.psi, args.batch, args.device, args.kid_subsets,
                                    args.kid_subset_size, args.cache_dir, progress)
    except (CheckpointError, DataError, MetricsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{args.model} vs {real}, n={scores['n']} generated / {scores['n_real']} real, psi={args.psi}")
    print(f"FID: {scores['fid']:.2f}")
    print(f"KID: {scores['kid']:.5f} ± {scores['kid_std']:.5f}")
    print(f"Precision: {scores['precision']:.4f}, recall: {scores['recall']:.4f} (k={PR_K})")
    if "digit_accuracy" in scores:
        print(f"Digit accuracy: {scores['digit_accuracy']:.2%} read as the asked digit")
    print(f"({time.time() - t0:.0f} s)")
    if args.write_card:
        write_scores(args.model, scores, real, args.note)
        print(f"wrote the scores to {Path(args.model) / CONFIG} and {Path(args.model) / CARD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
