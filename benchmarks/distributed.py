"""Training throughput: 1 process vs N torchrun processes (gloo on CPU, NCCL on GPU), and in-memory vs --stream.

    python benchmarks/distributed.py --data celeba --limit 2048 --steps 60 --procs 2 --threads 2

Each row runs train.py from scratch on the same data, global batch and step count, then reads
images/s from the saved training state (time spent in training steps only). Unknown flags
(e.g. --channel-base 64) go on to train.py.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from benchlib import print_table

from gan_core.storage.train_state import load_train_state
from gan_core.training.distributed import free_port

ROOT = Path(__file__).resolve().parents[1]


def measure(procs: int, stream: bool, args: argparse.Namespace, extra: list[str], out: Path) -> float:
    """Train args.steps steps with `procs` processes; return global images/s."""
    train = [str(ROOT / "train.py"), "--data", args.data, "--out", str(out), "--steps", str(args.steps),
             "--batch", str(args.batch), "--res", str(args.res), "--device", args.device,
             "--threads", str(max(1, args.threads // procs)), "--sample-every", "1000000", "--save-every", "1000000"]
    train += (["--limit", str(args.limit)] if args.limit else []) + extra
    train += ["--stream", "--workers", str(args.workers)] if stream else []
    launch = [sys.executable] if procs == 1 else [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(procs),
        "--master_addr", "127.0.0.1", "--master_port", str(free_port())]
    subprocess.run(launch + train, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    state = load_train_state(out / "train_state.pt")
    return state["nimg"] / state["train_seconds"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="celeba")
    p.add_argument("--res", type=int, default=64)
    p.add_argument("--limit", type=int, default=2048, help="use the first N images (0: all)")
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--batch", type=int, default=32, help="global batch")
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--threads", type=int, default=2, help="CPU threads in all, split between the processes")
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers with --stream")
    p.add_argument("--device", default="auto")
    args, extra = p.parse_known_args(argv)
    rows = [("1 process, in memory", 1, False), (f"{args.procs} processes, in memory", args.procs, False),
            ("1 process, --stream", 1, True)]
    with tempfile.TemporaryDirectory() as tmp:
        speeds = [(label, measure(procs, stream, args, extra, Path(tmp) / str(i)))
                  for i, (label, procs, stream) in enumerate(rows)]
    base = speeds[0][1]
    print(f"\n{args.data} {args.res}px, global batch {args.batch}, {args.steps} steps, device {args.device}, "
          f"{args.threads} threads in all\n")
    print_table(["run", "img/s (all ranks)", "vs 1 process in memory"],
                [[label, f"{ips:.1f}", f"{ips / base:.2f}x"] for label, ips in speeds])
    return 0


if __name__ == "__main__":
    sys.exit(main())
