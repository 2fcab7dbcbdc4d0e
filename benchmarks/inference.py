"""CPU inference benchmark on 2 threads: the shipped anime model vs a random-init seed DCGAN (speed baseline).

    python benchmarks/inference.py [--model checkpoints/anime] [--repeats 7] [--startup-repeats 3]

Each time is the median of --repeats runs after one warm-up; the machine may be loaded, so medians are noisy.
"""
from __future__ import annotations

import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gan_core import media, sampling  # noqa: E402
from gan_core.checkpoint import load_generator  # noqa: E402
from gan_core.models import build_generator, default_config  # noqa: E402

TARGETS_MS = {"16 samples": 150, "32-frame interpolation + GIF": 1000, "app start-up to first /sample": 10_000}
ROWS, COLS = [1, 2, 3, 4], [5, 6, 7, 8]


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of fn in ms, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def workloads(G: torch.nn.Module, tmp: Path) -> dict[str, Callable[[], object]]:
    """The app's hot paths on one generator; a model without styles makes the same number of images for 'mix'."""
    def mix():
        if sampling.is_style(G):
            mixed = sampling.style_mix(G, ROWS, COLS, sampling.parse_layers(G, "coarse"), 0.7)
            return media.mixing_figure(sampling.generate(G, ROWS, 0.7), sampling.generate(G, COLS, 0.7), mixed, ROWS, COLS)
        return media.grid(sampling.generate(G, list(range(len(ROWS) * len(COLS) + len(ROWS) + len(COLS))), 0.7), 5)

    return {
        "16 samples": lambda: media.to_pil(sampling.generate(G, list(range(16)), 0.7)),
        "32-frame interpolation + GIF": lambda: media.save_gif(sampling.interpolate(G, [3, 7], 32, "z-slerp", 0.7),
                                                               tmp / "walk.gif"),
        "4x4 style-mixing figure": mix,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def startup_ms() -> float:
    """`python app.py` launched -> first /sample answered through gradio_client."""
    from gradio_client import Client

    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port)}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError("app.py exited during start-up")
            try:
                Client(f"http://127.0.0.1:{port}/", verbose=False).predict("anime", 1, 1.0, None, api_name="/sample")
                return (time.perf_counter() - t0) * 1000
            except Exception:  # not up yet: httpx / gradio_client raise several kinds
                if time.perf_counter() - t0 > 120:
                    raise RuntimeError("app did not answer within 120 s") from None
                time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(ROOT / "checkpoints" / "anime"))
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--startup-repeats", type=int, default=3, help="0 skips the app start-up measurement")
    args = p.parse_args(argv)
    torch.set_num_threads(2)

    G, _ = load_generator(args.model)
    torch.manual_seed(0)
    baseline = build_generator(default_config("dcgan", resolution=64)).eval().requires_grad_(False)
    with tempfile.TemporaryDirectory() as tmp:
        ours = {k: median_ms(fn, args.repeats) for k, fn in workloads(G, Path(tmp)).items()}
        base = {k: median_ms(fn, args.repeats) for k, fn in workloads(baseline, Path(tmp)).items()}
    if args.startup_repeats:
        ours["app start-up to first /sample"] = statistics.median(startup_ms() for _ in range(args.startup_repeats))

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, medians of {args.repeats} runs "
          f"({args.startup_repeats} for start-up); the machine may be loaded, so numbers are noisy\n")
    print(f"| task | {Path(args.model).name} (ms) | seed DCGAN, random init, speed baseline only (ms) | ratio | target (ms) |")
    print("|---|---:|---:|---:|---:|")
    for k, ms in ours.items():
        b = base.get(k)
        ratio = f"{ms / b:.2f}x" if b else "—"
        print(f"| {k} | {ms:.0f} | {f'{b:.0f}' if b else '—'} | {ratio} | {TARGETS_MS.get(k, '—')} |")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    app_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"| peak RSS, this process / app.py (MB) | {rss:.0f} / {app_rss:.0f} | — | — | — |")
    print("\n'4x4 style-mixing figure' for the DCGAN: it has no styles, so it makes the same 24 images as a plain grid.")


if __name__ == "__main__":
    main()
