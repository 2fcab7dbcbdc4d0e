"""CPU inference benchmark on 2 threads: the shipped anime model vs a random-init seed DCGAN (speed baseline).

    python benchmarks/inference.py [--model checkpoints/anime] [--repeats 7] [--startup-repeats 3] [--threads 2]

Each time is the median of --repeats runs after one warm-up: wall-clock ms, and the process's CPU ms (all
threads together), which says more than wall time when other jobs share the cores (with 2 threads on busy
cores, OpenMP's spin-waiting inflates CPU time too: compare code versions with --threads 1).
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from benchlib import median_ms

from gan_core.latent import sampling
from gan_core.models import build_generator, default_config
from gan_core.storage.checkpoint import load_generator
from gan_core.studio import media
from gan_core.training.distributed import free_port

ROOT = Path(__file__).resolve().parents[1]

TARGETS_MS = {"16 samples": 150, "32-frame interpolation + GIF": 1000, "app start-up to first /sample": 10_000}
ROWS, COLS = [1, 2, 3, 4], [5, 6, 7, 8]


def workloads(G: torch.nn.Module, tmp: Path) -> dict[str, Callable[[], object]]:
    """The app's hot paths on one generator; a model without styles makes the same number of images for 'mix'."""
    def mix():
        if sampling.is_style(G):
            mixed = sampling.style_mix(G, ROWS, COLS, sampling.layer_groups(G)["coarse"], 0.7)
            return media.mixing_figure(mixed.rows, mixed.cols, mixed.grid, ROWS, COLS)
        return media.grid(sampling.generate(G, list(range(len(ROWS) * len(COLS) + len(ROWS) + len(COLS))), 0.7), 5)

    return {
        "16 samples": lambda: media.to_pil(sampling.generate(G, list(range(16)), 0.7)),
        "32-frame interpolation + GIF": lambda: media.save_gif(sampling.interpolate(G, [3, 7], 32, "z-slerp", 0.7),
                                                               tmp / "walk.gif"),
        "4x4 style-mixing figure": mix,
    }


def startup_ms(timeout: float) -> tuple[float, float]:
    """`python app.py` launched -> first /sample answered through gradio_client: wall ms, and the app's CPU ms."""
    from gradio_client import Client

    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port)}
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError("app.py exited during start-up")
            try:
                Client(f"http://127.0.0.1:{port}/", verbose=False).predict("anime", 1, 1.0, None, api_name="/sample")
                wall = (time.perf_counter() - t0) * 1000
                break
            except Exception:  # not up yet: httpx / gradio_client raise several kinds
                if time.perf_counter() - t0 > timeout:
                    raise RuntimeError(f"app did not answer within {timeout:.0f} s") from None
                time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime) * 1000


def row(task: str, ours: tuple[float, float], base: tuple[float, float] | None) -> str:
    """A table row: wall and CPU ms, the DCGAN's, and the ratios."""
    cells = [f"{ours[0]:.0f}", f"{ours[1]:.0f}"]
    cells += [f"{base[0]:.0f}", f"{base[1]:.0f}", f"{ours[0] / base[0]:.2f}x", f"{ours[1] / base[1]:.2f}x"] if base \
        else ["—"] * 4
    return f"| {task} | {' | '.join(cells)} | {TARGETS_MS.get(task, '—')} |"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(ROOT / "checkpoints" / "anime"))
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--startup-repeats", type=int, default=3, help="0 skips the app start-up measurement")
    p.add_argument("--startup-timeout", type=float, default=600, help="seconds to wait for the app's first answer")
    p.add_argument("--threads", type=int, default=2, help="torch threads (2: Hugging Face's free CPU Spaces)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    G, _ = load_generator(args.model)
    torch.manual_seed(0)
    baseline = build_generator(default_config("dcgan", resolution=64)).eval().requires_grad_(False)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, medians of {args.repeats} runs "
          f"({args.startup_repeats} for start-up); CPU = this process's CPU time, all threads; the machine may be "
          f"loaded, so wall times are noisy\n")
    print("| task | wall (ms) | CPU (ms) | seed DCGAN wall (ms) | seed DCGAN CPU (ms) | ratio wall | ratio CPU | "
          "target wall (ms) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        ours, base = workloads(G, Path(tmp)), workloads(baseline, Path(tmp))
        for task in ours:
            print(row(task, median_ms(ours[task], args.repeats), median_ms(base[task], args.repeats)), flush=True)
    if args.startup_repeats:
        runs = [startup_ms(args.startup_timeout) for _ in range(args.startup_repeats)]
        med = (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))
        print(row("app start-up to first /sample", med, None), flush=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    app_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"| peak RSS (MB): this process {rss:.0f}, app.py {app_rss:.0f} | | | | | | | |")
    print(f"\nModel: {args.model}. Seed DCGAN: `default_config('dcgan', resolution=64)` with random init, a speed "
          "baseline only. Start-up CPU is the app process's. For the DCGAN, '4x4 style-mixing figure' makes the same "
          "24 images as a plain grid (it has no styles).")


if __name__ == "__main__":
    main()
