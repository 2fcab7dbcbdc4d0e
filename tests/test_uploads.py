"""Uploaded pictures: hostile and unusual files either decode to 8-bit RGB or are refused with a message."""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from gan_core.photos.uploads import MAX_UPLOAD_BYTES, open_upload
from gan_core.studio.validation import InvalidInput


def png_claiming(width: int, height: int) -> bytes:
    """A well-formed PNG whose header claims width x height RGB pixels, with almost no pixel data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


def refused(source, *words: str) -> str:
    with pytest.raises(InvalidInput) as info:
        open_upload(source)
    message = str(info.value)
    assert message.startswith("image: ") and all(w in message for w in words), message
    return message


def test_not_an_image_empty_and_missing_files_are_refused(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not a picture at all\n" * 20)
    refused(text, "not a picture", "PNG", "JPEG")
    (tmp_path / "empty.jpg").write_bytes(b"")
    refused(tmp_path / "empty.jpg", "empty")
    refused(b"", "empty")
    refused(str(tmp_path / "missing.png"), "cannot read")
    refused(tmp_path, "cannot read")  # a folder
    refused(12345, "file path or bytes")
    refused(None, "no picture given")


def test_truncated_files_are_refused(tmp_path):
    rng = np.random.default_rng(0)
    noise = Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    for fmt in ("PNG", "JPEG"):
        data = encoded(noise, fmt)
        path = tmp_path / f"cut.{fmt.lower()}"
        path.write_bytes(data[: len(data) // 2])
        refused(path, "damaged or cut short")


def test_size_limits_are_checked_from_the_header():
    # 3.6 gigapixels: refused from the 33-byte header, before Pillow would allocate about 10 GB
    refused(png_claiming(60000, 60000), "too large", "40 megapixels", "12000 on a side")
    refused(png_claiming(7000, 7000), "7000 x 7000 pixels is too large", "40 megapixels")
    with pytest.warns(Image.DecompressionBombWarning):  # Pillow only warns at 100 megapixels: ours refuses
        refused(png_claiming(10000, 10000), "too large")
    refused(png_claiming(12001, 8), "12001 x 8 pixels is too large")
    refused(b"\0" * (MAX_UPLOAD_BYTES + 1), "file is too large", "25 MB")


def test_tiny_pictures_are_refused(tmp_path):
    Image.new("RGB", (1, 1), "red").save(tmp_path / "dot.png")
    refused(tmp_path / "dot.png", "1 x 1 pixels is too small", "at least 8 x 8")
    assert open_upload(encoded(Image.new("RGB", (8, 8), "red"), "PNG")).size == (8, 8)


def test_only_plain_raster_formats_are_opened():
    eps = encoded(Image.new("RGB", (16, 16), "red"), "EPS")  # Pillow would run Ghostscript to decode this
    refused(eps, "not a picture")


def test_large_photo_is_accepted(tmp_path):
    path = tmp_path / "photo.jpg"
    Image.new("RGB", (6000, 4000), (10, 200, 30)).save(path, quality=80)
    image = open_upload(path)
    assert image.mode == "RGB" and image.size == (6000, 4000)
    assert np.abs(np.asarray(image)[::500, ::500].astype(int) - (10, 200, 30)).max() <= 4


def test_16_bit_32_bit_and_float_grey_scale_to_8_bits():
    ramp = np.linspace(0, 65535, 64 * 16).reshape(16, 64).astype(np.uint16)
    image = np.asarray(open_upload(encoded(Image.fromarray(ramp), "PNG")))
    assert image.dtype == np.uint8 and image.shape == (16, 64, 3)
    assert image[0, 0].tolist() == [0, 0, 0] and image[-1, -1].tolist() == [255, 255, 255]
    assert abs(int(image[8, 32, 0]) - ramp[8, 32] / 257) <= 1
    floats = Image.fromarray(np.linspace(0, 1, 256, dtype=np.float32).reshape(16, 16))
    image = np.asarray(open_upload(encoded(floats, "TIFF")))
    assert image[0, 0, 0] == 0 and image[-1, -1, 0] == 255
    ints = Image.fromarray(np.full((16, 16), 1000, dtype=np.int32))
    assert np.asarray(open_upload(encoded(ints, "TIFF"))).max() == 4  # a 0..65535 value: 1000 / 257


def test_cmyk_one_bit_and_grey(tmp_path):
    red = open_upload(encoded(Image.new("CMYK", (32, 32), (0, 255, 255, 0)), "JPEG"))
    assert red.mode == "RGB" and np.abs(np.asarray(red)[16, 16].astype(int) - (255, 0, 0)).max() <= 8
    bits = Image.new("1", (16, 16), 0)
    bits.paste(1, (0, 0, 8, 16))
    image = np.asarray(open_upload(encoded(bits, "PNG")))
    assert image[0, 0].tolist() == [255] * 3 and image[0, 15].tolist() == [0] * 3
    assert np.asarray(open_upload(encoded(Image.new("L", (16, 16), 77), "PNG")))[5, 5].tolist() == [77] * 3


def test_animations_give_their_first_frame():
    frames = [Image.new("RGB", (16, 16), c) for c in ("red", "blue", "lime")]
    for fmt in ("GIF", "PNG", "WEBP"):
        data = encoded(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
        assert Image.open(io.BytesIO(data)).n_frames == 3
        pixel = np.asarray(open_upload(data))[8, 8].astype(int)
        assert np.abs(pixel - (255, 0, 0)).max() <= 8, (fmt, pixel)


def test_transparent_pixels_become_white():
    rgba = Image.new("RGBA", (16, 16), (0, 0, 0, 0))
    rgba.paste((0, 255, 0, 255), (8, 0, 16, 16))
    image = np.asarray(open_upload(encoded(rgba, "PNG")))
    assert image[4, 4].tolist() == [255, 255, 255] and image[4, 12].tolist() == [0, 255, 0]
    grey_alpha = Image.new("LA", (16, 16), (0, 0))
    assert np.asarray(open_upload(encoded(grey_alpha, "PNG")))[4, 4].tolist() == [255, 255, 255]
    palette = Image.new("P", (16, 16), 0)
    palette.putpalette([0, 0, 0, 200, 0, 0] + [0] * 762)
    palette.paste(1, (8, 0, 16, 16))
    for fmt in ("PNG", "GIF"):
        image = np.asarray(open_upload(encoded(palette, fmt, transparency=0)))
        assert image[4, 4].tolist() == [255, 255, 255] and image[4, 12].tolist() == [200, 0, 0], fmt


def test_exif_orientation_is_applied(tmp_path):
    stored = Image.new("RGB", (40, 20), "red")
    stored.paste((0, 0, 255), (20, 0, 40, 20))  # red on the left, blue on the right, as stored
    exif = stored.getexif()
    exif[0x0112] = 6  # shown turned 90 degrees clockwise
    path = tmp_path / "phone.jpg"
    stored.save(path, exif=exif, quality=95)
    image = open_upload(str(path))
    assert image.size == (20, 40)
    top, bottom = np.asarray(image)[5, 10].astype(int), np.asarray(image)[35, 10].astype(int)
    assert top[0] > 200 > top[2] and bottom[2] > 200 > bottom[0]
