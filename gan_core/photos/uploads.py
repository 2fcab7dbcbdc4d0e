"""Decode an untrusted uploaded picture into an 8-bit RGB PIL image, refusing bombs and broken files with a message;
upload_source finds the file a web upload names, inside the folder where the server keeps uploads and nowhere else."""
from __future__ import annotations

import base64
import binascii
import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from gan_core.errors import InvalidInput

MAX_UPLOAD_BYTES = 25 * 2 ** 20
MAX_UPLOAD_PIXELS = 40_000_000
MAX_SIDE = 12_000
MIN_SIDE = 8
ALPHA_MODES = ("LA", "La", "PA", "RGBA", "RGBa")
# Raster formats whose Pillow decoders never run outside programs (EPS would start Ghostscript, so it is not here).
Image.init()
FORMATS = tuple(f for f in ("PNG", "JPEG", "MPO", "GIF", "WEBP", "BMP", "TIFF", "AVIF") if f in Image.OPEN)


def upload_source(payload: object, upload_folder: str | os.PathLike) -> str | bytes:
    """The file an upload names, for open_upload: a path inside `upload_folder` (where the web server saved what it
    received), or a data: URL's bytes. The payload is untrusted ({"path": ...} or {"url": ...} as a client sent it,
    or a bare path): a path anywhere else, also by way of "..", a symlink or the folder itself, is refused, so a
    request cannot make the server read its own files."""
    if isinstance(payload, str):
        payload = {"path": payload}
    if not isinstance(payload, dict) or not (payload.get("path") or payload.get("url")):
        raise InvalidInput("image: upload an image file (PNG, JPEG, WebP, GIF, ...) or take one with the webcam")
    url = payload.get("url")
    if not payload.get("path") and isinstance(url, str) and url.startswith("data:"):
        head, _, data = url.partition(",")
        if len(data) > MAX_UPLOAD_BYTES * 4 // 3 + 4:
            raise InvalidInput(f"image: the upload is larger than {MAX_UPLOAD_BYTES // 2 ** 20} MB")
        try:
            return base64.b64decode(data, validate=True) if head.endswith(";base64") else data.encode()
        except binascii.Error:
            raise InvalidInput("image: the upload's data is not valid base64") from None
    path = str(payload.get("path") or "")
    if not _inside(path, upload_folder):
        raise InvalidInput("image: upload the file through the app (or gradio_client's handle_file)")
    return path


def _inside(path: str, folder: str | os.PathLike) -> bool:
    """Whether `path`, with links and ".." resolved, lies strictly inside `folder` (also resolved)."""
    try:
        real, root = Path(os.path.abspath(path)).resolve(), Path(os.path.abspath(folder)).resolve()
    except (OSError, ValueError, RuntimeError):  # a NUL byte, a symlink loop, a name too long
        return False
    return real != root and real.is_relative_to(root)


def _limits(max_pixels: int) -> str:
    return f"at most {max_pixels / 1e6:g} megapixels ({MAX_SIDE} on a side) and at least {MIN_SIDE} x {MIN_SIDE}"


def _read(source: str | os.PathLike | bytes) -> bytes:
    """The file's bytes, refusing empty files and ones over MAX_UPLOAD_BYTES before reading them."""
    too_big = f"image: the file is too large; at most {MAX_UPLOAD_BYTES // 2 ** 20} MB"
    if source is None:
        raise InvalidInput("image: no picture given; upload a PNG, JPEG, WebP, GIF, BMP or TIFF picture")
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        try:
            with open(source, "rb") as f:
                if os.fstat(f.fileno()).st_size > MAX_UPLOAD_BYTES:
                    raise InvalidInput(too_big)
                data = f.read(MAX_UPLOAD_BYTES + 1)  # a pipe or device reports no size: read no more than the cap
        except OSError as exc:
            raise InvalidInput(f"image: cannot read the file ({exc.strerror or type(exc).__name__})") from None
    else:
        raise InvalidInput(f"image: expected a file path or bytes, got {type(source).__name__}")
    if not data:
        raise InvalidInput("image: the file is empty; upload a PNG, JPEG, WebP, GIF, BMP or TIFF picture")
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidInput(too_big)
    return data


def _check_size(size: tuple[int, int], max_pixels: int) -> None:
    w, h = size
    if w * h > max_pixels or max(w, h) > MAX_SIDE:
        raise InvalidInput(f"image: {w} x {h} pixels is too large; {_limits(max_pixels)}")
    if min(w, h) < MIN_SIDE:
        raise InvalidInput(f"image: {w} x {h} pixels is too small; {_limits(max_pixels)}")


def _eight_bit(im: Image.Image) -> Image.Image:
    """A 16-bit, 32-bit integer or float grey image as 8-bit L: 16-bit containers and 0..65535 values scale by 1/257,
    floats within 0..1 by 255, values within 0..255 stay, anything else is stretched from its min..max."""
    a = np.nan_to_num(np.asarray(im, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if im.mode.startswith("I;16") or (im.mode == "I" and lo >= 0 and 255 < hi <= 65535):
        a = a / 257
    elif im.mode == "F" and lo >= 0 and hi <= 1:
        a = a * 255
    elif lo < 0 or hi > 255:
        a = (a - lo) * (255 / (hi - lo))
    return Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8))


def _to_rgb(im: Image.Image) -> Image.Image:
    """Any Pillow mode as RGB; transparent pixels are composited onto white."""
    if im.mode in ("I", "F") or im.mode.startswith("I;16"):
        return _eight_bit(im).convert("RGB")
    if im.mode in ALPHA_MODES or "transparency" in im.info:
        rgba = im.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    return im.convert("RGB")


def open_upload(source: str | os.PathLike | bytes, max_pixels: int = MAX_UPLOAD_PIXELS) -> Image.Image:
    """The first frame of an uploaded picture, EXIF-oriented, as 8-bit RGB; InvalidInput for anything unusable."""
    data = _read(source)
    try:
        # Image.open warns above 89 and refuses above 179 megapixels; all it warns about is over our limit and
        # refused by _check_size next (a warnings filter here would be process-global: unsafe across requests)
        with Image.open(io.BytesIO(data), formats=FORMATS) as im:
            _check_size(im.size, max_pixels)  # from the header, before any pixel is decoded
            return _to_rgb(ImageOps.exif_transpose(im))
    except InvalidInput:
        raise
    except Image.DecompressionBombError:
        raise InvalidInput(f"image: the picture is too large; {_limits(max_pixels)}") from None
    except UnidentifiedImageError:
        raise InvalidInput(f"image: not a picture that can be read; upload one of {', '.join(FORMATS)}") from None
    except Exception:  # noqa: BLE001 - Pillow's decoders raise many types (OSError, SyntaxError, ValueError, ...)
        raise InvalidInput("image: the file is damaged or cut short and cannot be decoded; upload it again or "
                           "save it anew as PNG or JPEG") from None
