"""Train the face-attribute reader (gan_core/evaluation/attributes.py) and write its shipped weights.

Trains on CelebA training faces 0..7,764 (file-name order) with their 40 labels from
../shared/data/celeba/celeba-attributes.csv and holds apart the last 1,000 to report each attribute's accuracy
beside the majority-class rate. Run from the repo root (after `pip install -e .`):
    python scripts/train_attribute_reader.py [--epochs 12] [--out gan_core/assets/celeba_attributes.safetensors]
"""
from __future__ import annotations

import csv
import json
import sys
import zipfile
from pathlib import Path

import torch
import torch.nn.functional as F

from gan_core.data.images import load_images, resolve_source
from gan_core.evaluation.attributes import HELD_APART, SIZE, WEIGHTS, attribute_net, read
from gan_core.evaluation.fitting import begin, fit, reader_arguments, save_weights


def labels_in_zip_order(csv_path: Path) -> tuple[list[str], torch.Tensor]:
    """The attribute names and a [N, 40] 0/1 label matrix in the order load_images reads the zip (sorted names)."""
    with open(csv_path, newline="") as f:
        rows = list(csv.reader(f))
    names, by_file = rows[0][1:], {r[0]: [int(v) for v in r[1:]] for r in rows[1:]}
    with zipfile.ZipFile(resolve_source("celeba")) as zf:
        files = sorted(n for n in zf.namelist() if not n.endswith("/"))
    return names, torch.tensor([by_file[Path(n).name] for n in files], dtype=torch.float32)


def main(argv: list[str] | None = None) -> int:
    args = begin(argv, reader_arguments(__doc__, WEIGHTS, epochs=12, batch=64, threads=2))
    faces = load_images("celeba", SIZE, 3).images.float() / 127.5 - 1  # the generator's framing and range
    names, labels = labels_in_zip_order(Path(resolve_source("celeba")).with_name("celeba-attributes.csv"))
    assert len(labels) == len(faces), (len(labels), len(faces))
    x_held, y_held = faces[HELD_APART:], labels[HELD_APART:]
    net = attribute_net(len(names))
    accuracy = torch.zeros(len(names))

    def loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        flip = torch.rand(len(x)) < 0.5  # faces are left-right symmetric in every attribute
        return F.binary_cross_entropy_with_logits(net(torch.where(flip[:, None, None, None], x.flip(3), x)), y)

    def check(net: torch.nn.Module) -> str:
        nonlocal accuracy
        accuracy = ((read(x_held, net) > 0.5).float() == y_held).float().mean(0)
        return f"held-apart mean accuracy {accuracy.mean():.4f}"

    fit(net, faces[:HELD_APART], labels[:HELD_APART], loss, args, check, weight_decay=1e-4)
    majority = torch.maximum(y_held.mean(0), 1 - y_held.mean(0))
    held = {n: (round(float(a), 4), round(float(m), 4)) for n, a, m in zip(names, accuracy, majority)}
    for n, (a, m) in held.items():
        print(f"{n:22s} accuracy {a:.3f}  majority {m:.3f}  {'+' if a > m else '-'}{abs(a - m):.3f}")
    save_weights(net, args.out, {"attributes": json.dumps(names), "held_apart": json.dumps(held),
                                 "train_faces": f"celeba 0..{HELD_APART - 1} (sorted file names)"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
