"""Your image: projection time and PSNR on held-apart real CelebA photos and generated images, per setting.

    python benchmarks/projection.py [--settings 250x128,200x128,250x96] [--n 10] [--threads 2]

Each setting is STEPSxFEATURE_RESOLUTION (the perceptual loss's input size); the first is the baseline of the
ratios. Real photos: the last n images of the CelebA zip (the evaluations use the first 2,000), each enlarged 3x
onto a grey canvas 5x4 its size, as a user's photo shows more than the face. Generated: seeds 1000.. of the
model, saved at 64 px and framed the same way. Both go the app's way: decode (gan_core.photos.uploads), frame
(gan_core.photos.alignment), project; the time of each is printed (seconds, mean over the images).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from benchlib import celeba_photo, machine_state, print_table

from gan_core.latent import projection, sampling
from gan_core.photos import uploads
from gan_core.storage.checkpoint import load_generator
from gan_core.studio import media

ROOT = Path(__file__).resolve().parents[1]


def real_photos(n: int, folder: Path) -> list[Path]:
    """The zip's last n faces, each enlarged 3x on a grey canvas, saved as JPEG files."""
    paths = [folder / f"real{i}.jpg" for i in range(n)]
    for index, path in zip(range(-n, 0), paths):
        celeba_photo(index).save(path, quality=95)
    return paths


def generated(G: torch.nn.Module, n: int, folder: Path) -> list[Path]:
    """Seeds 1000..1000+n of G as 64 px PNG files."""
    paths = []
    for seed, img in zip(range(1000, 1000 + n), media.to_pil(sampling.generate(G, list(range(1000, 1000 + n))))):
        paths.append(folder / f"seed{seed}.png")
        img.save(paths[-1])
    return paths


def measure(G: torch.nn.Module, path: Path, steps: int, feature_resolution: int) -> tuple[float, float, float]:
    """(decode + framing seconds, projection seconds, PSNR dB) of one picture, the app's way."""
    t0 = time.perf_counter()
    _, target = projection.framed_target(uploads.open_upload(path), "celeba", G, centre_crop=True)
    t1 = time.perf_counter()
    fit = projection.project(G, target, steps, feature_resolution=feature_resolution)
    return t1 - t0, time.perf_counter() - t1, fit.psnr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=str(ROOT / "checkpoints/celeba"))
    ap.add_argument("--settings", default=f"{projection.DEFAULT_STEPS}x{projection.FEATURE_RESOLUTION}",
                    help="comma-separated STEPSxFEATURE_RESOLUTION; the first is the baseline")
    ap.add_argument("--n", type=int, default=10, help="real photos and generated images each")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    G, _ = load_generator(args.model)
    print(machine_state())
    with tempfile.TemporaryDirectory() as tmp:
        sets = {"real": real_photos(args.n, Path(tmp)), "generated": generated(G, args.n, Path(tmp))}
        rows, base = [], {}
        for setting in args.settings.split(","):
            steps, feature_resolution = (int(v) for v in setting.split("x"))
            measure(G, sets["real"][0], 2, feature_resolution)  # warm-up: loads the feature network
            for kind, paths in sets.items():
                results = [measure(G, p, steps, feature_resolution) for p in paths]
                total = statistics.mean(a + b for a, b, _ in results)
                base.setdefault(kind, total)
                psnrs = [c for _, _, c in results]
                rows.append([setting, kind, f"{statistics.mean(a for a, _, _ in results):.2f}",
                             f"{statistics.mean(b for _, b, _ in results):.1f}", f"{total:.1f}",
                             f"{min(psnrs):.1f}-{max(psnrs):.1f}", f"{statistics.mean(psnrs):.2f}",
                             f"{total / base[kind]:.2f}"])
                print(rows[-1], flush=True)
    print_table(["steps x feature px", "images", "decode+frame s", "projection s", "total s", "PSNR dB range",
                 "mean PSNR dB", "time ratio"], rows)
    print(machine_state())


if __name__ == "__main__":
    main()
