"""Turn generated tensors into PIL images, labelled grids, GIFs and MP4s; PNGs with metadata, ZIPs."""
from __future__ import annotations

import zipfile
from pathlib import Path

import imageio
import imageio.v3 as iio
import numpy as np
import torch
from PIL import Image, ImageDraw
from PIL.PngImagePlugin import PngInfo

from gan_core.latent.sampling import to_uint8


def to_pil(images: torch.Tensor) -> list[Image.Image]:
    """[-1, 1] images [N, C, H, W] -> PIL images (greyscale stays 'L')."""
    arr = to_uint8(images).numpy()
    return [Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a) for a in arr]


def tile(images: list[Image.Image], nrow: int, padding: int = 2) -> Image.Image:
    """Same-size images tiled nrow per row on white, each tile's pixels unchanged."""
    arr = np.stack([np.asarray(img) for img in images])
    n, h, w = arr.shape[:3]
    cols, rows = min(nrow, n), -(-n // nrow)
    out = np.full((padding + rows * (h + padding), padding + cols * (w + padding), *arr.shape[3:]), 255, np.uint8)
    for i, a in enumerate(arr):
        y, x = padding + (i // nrow) * (h + padding), padding + (i % nrow) * (w + padding)
        out[y:y + h, x:x + w] = a
    return Image.fromarray(out)


def grid(images: torch.Tensor, nrow: int, padding: int = 2) -> Image.Image:
    """[-1, 1] images tiled nrow per row; each tile is exactly to_pil's image."""
    return tile(to_pil(images), nrow, padding)


def save_png(img: Image.Image, path: str | Path) -> Path:
    """Save as PNG keeping the image's text metadata (its recipe) as PNG text chunks."""
    info = PngInfo()
    for key, value in img.info.items():
        if isinstance(key, str) and isinstance(value, str):
            info.add_text(key, value)
    img.save(path, format="png", pnginfo=info)
    return Path(path)


SHOWN_SIDE = 256  # results are shown, and offered upscaled, at least this many pixels wide


def upscaled(img: Image.Image, side: int = SHOWN_SIDE) -> Image.Image:
    """`img` enlarged by a whole factor to at least `side` pixels wide (Lanczos), keeping its metadata."""
    factor = -(-side // img.width)
    big = img.resize((img.width * factor, img.height * factor), Image.Resampling.LANCZOS) if factor > 1 else img.copy()
    big.info.update(img.info)
    return big


def save_zip(files: list[Path], path: str | Path) -> Path:
    """The files (each once), stored flat and uncompressed (PNGs already are) in one ZIP."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for f in dict.fromkeys(files):
            zf.write(f, arcname=Path(f).name)
    return Path(path)


def _label(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str) -> None:
    box = draw.textbbox(xy, text)
    draw.rectangle((box[0] - 2, box[1] - 1, box[2] + 2, box[3] + 1), fill=(0, 0, 0))
    draw.text(xy, text, fill=(255, 255, 255))


def mixing_figure(row_imgs: torch.Tensor, col_imgs: torch.Tensor, mixed: torch.Tensor,
                  row_seeds: list[int], col_seeds: list[int], scale: int = 2) -> Image.Image:
    """StyleGAN's style-mixing figure: columns on top, rows on the left, mixes inside, seeds labelled."""
    r, c = mixed.shape[:2]
    blank = torch.ones_like(row_imgs[:1])
    cells = [blank, *col_imgs]
    for i in range(r):
        cells += [row_imgs[i : i + 1], *mixed[i]]
    cells = torch.cat([x if x.ndim == 4 else x[None] for x in cells])
    cells = torch.nn.functional.interpolate(cells, scale_factor=scale, mode="nearest")
    pad = 2
    img = grid(cells, nrow=c + 1, padding=pad).convert("RGB")
    draw = ImageDraw.Draw(img)
    step = cells.shape[-1] + pad
    for j, s in enumerate(col_seeds):
        _label(draw, (pad + step * (j + 1) + 3, pad + 2), f"col {s}")
    for i, s in enumerate(row_seeds):
        _label(draw, (pad + 3, pad + step * (i + 1) + 2), f"row {s}")
    return img


def save_gif(frames: torch.Tensor, path: str | Path, fps: int = 16) -> Path:
    """Animated, looping GIF of [-1, 1] frames."""
    arr = to_uint8(frames).numpy()
    arr = arr[..., 0] if arr.shape[-1] == 1 else arr
    iio.imwrite(path, arr, extension=".gif", duration=1000 / fps, loop=0)
    return Path(path)


def save_mp4(frames: torch.Tensor, path: str | Path, fps: int = 16, min_side: int = 256) -> Path:
    """H.264 MP4 of [-1, 1] frames, upscaled (nearest) to at least min_side pixels for players."""
    arr = to_uint8(frames).numpy()
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    k = max(1, -(-min_side // arr.shape[1]))
    arr = arr.repeat(k, axis=1).repeat(k, axis=2)
    arr = np.pad(arr, ((0, 0), (0, -arr.shape[1] % 16), (0, -arr.shape[2] % 16), (0, 0)))
    with imageio.get_writer(path, format="FFMPEG", fps=fps, codec="libx264", quality=8,
                            pixelformat="yuv420p", macro_block_size=16) as writer:
        for frame in arr:
            writer.append_data(frame)
    return Path(path)
