"""Train the face-attribute reader (gan_core/evaluation/attributes.py) and write its shipped weights.

Trains on CelebA training faces 0..7,764 (file-name order) with their 40 labels from
../shared/data/celeba/celeba-attributes.csv and holds apart the last 1,000 to report each attribute's accuracy
beside the majority-class rate. Run from the repo root (after `pip install -e .`):
    python scripts/train_attribute_reader.py [--epochs 12] [--out gan_core/assets/celeba_attributes.safetensors]
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
import zipfile
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from gan_core.data.images import load_images, resolve_source
from gan_core.evaluation.attributes import HELD_APART, SIZE, WEIGHTS, attribute_net, read
from gan_core.storage.files import atomic_write


def labels_in_zip_order(csv_path: Path) -> tuple[list[str], torch.Tensor]:
    """The attribute names and a [N, 40] 0/1 label matrix in the order load_images reads the zip (sorted names)."""
    with open(csv_path, newline="") as f:
        rows = list(csv.reader(f))
    names, by_file = rows[0][1:], {r[0]: [int(v) for v in r[1:]] for r in rows[1:]}
    with zipfile.ZipFile(resolve_source("celeba")) as zf:
        files = sorted(n for n in zf.namelist() if not n.endswith("/"))
    return names, torch.tensor([by_file[Path(n).name] for n in files], dtype=torch.float32)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3, help="peak AdamW learning rate (one-cycle schedule)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=WEIGHTS)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    faces = load_images("celeba", SIZE, 3).images.float() / 127.5 - 1  # the generator's framing and range
    names, labels = labels_in_zip_order(Path(resolve_source("celeba")).with_name("celeba-attributes.csv"))
    assert len(labels) == len(faces), (len(labels), len(faces))
    x_train, y_train, x_held, y_held = faces[:HELD_APART], labels[:HELD_APART], faces[HELD_APART:], labels[HELD_APART:]
    net = attribute_net(len(names))
    steps_per_epoch = -(-len(x_train) // args.batch)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=args.epochs * steps_per_epoch)
    t0 = time.time()
    for epoch in range(args.epochs):
        net.train()
        order = torch.randperm(len(x_train))
        for i in range(0, len(order), args.batch):
            idx = order[i:i + args.batch]
            x = x_train[idx]
            flip = torch.rand(len(x)) < 0.5  # faces are left-right symmetric in every attribute
            x = torch.where(flip[:, None, None, None], x.flip(3), x)
            loss = F.binary_cross_entropy_with_logits(net(x), y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        net.eval()
        accuracy = ((read(x_held, net) > 0.5).float() == y_held).float().mean(0)
        print(f"epoch {epoch + 1}/{args.epochs}: loss {loss.item():.4f}, held-apart mean accuracy "
              f"{accuracy.mean():.4f} ({time.time() - t0:.0f} s)", flush=True)

    majority = torch.maximum(y_held.mean(0), 1 - y_held.mean(0))
    held = {n: (round(float(a), 4), round(float(m), 4)) for n, a, m in zip(names, accuracy, majority)}
    for n, (a, m) in held.items():
        print(f"{n:22s} accuracy {a:.3f}  majority {m:.3f}  {'+' if a > m else '-'}{abs(a - m):.3f}")
    state = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
    meta = {"attributes": json.dumps(names), "held_apart": json.dumps(held),
            "train_faces": f"celeba 0..{HELD_APART - 1} (sorted file names)"}
    atomic_write(args.out, lambda tmp: save_file(state, tmp, metadata=meta))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KB, "
          f"{sum(p.numel() for p in net.parameters()):,} parameters)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
