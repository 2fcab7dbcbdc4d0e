"""Data loading: folders, zips, MNIST .npz; unreadable files skipped and counted; clear errors."""
from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from gan_core.data.images import DataError, ImageSet, load_images


def _rand_img(rng, size=(16, 16), mode="RGB") -> Image.Image:
    shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
    return Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode)


def _png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_folder_exact_pixels_and_nested(tmp_path, rng):
    imgs = [_rand_img(rng) for _ in range(5)]
    (tmp_path / "sub").mkdir()
    for i, img in enumerate(imgs):
        img.save(tmp_path / ("sub" if i == 4 else ".") / f"{i:02d}.png")
    data = load_images(str(tmp_path), 16, 3)
    assert isinstance(data, ImageSet)
    assert len(data) == 5 and data.skipped == 0 and data.labels is None and data.num_classes == 0
    assert data.images.dtype == torch.uint8 and data.images.shape == (5, 3, 16, 16)
    for i, img in enumerate(imgs):  # sorted paths: 00..03, then sub/04; same size -> no resampling
        assert torch.equal(data.images[i], torch.from_numpy(np.array(img)).permute(2, 0, 1))


def test_folder_resize_crop_grey_jpeg_and_limit(tmp_path, rng):
    _rand_img(rng, (40, 24)).save(tmp_path / "wide.png")
    _rand_img(rng, (20, 30), "L").save(tmp_path / "tall.jpg")
    _rand_img(rng, (8, 8)).convert("RGBA").save(tmp_path / "small.webp")
    data = load_images(str(tmp_path), 16, 3)
    assert data.images.shape == (3, 3, 16, 16) and data.skipped == 0
    grey = load_images(str(tmp_path), 8, 1)
    assert grey.images.shape == (3, 1, 8, 8)
    assert len(load_images(str(tmp_path), 16, 3, limit=2)) == 2


def test_folder_skips_corrupt_and_non_image_files(tmp_path, rng):
    for i in range(3):
        _rand_img(rng).save(tmp_path / f"ok{i}.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)  # PNG magic, corrupt body
    (tmp_path / "truncated.png").write_bytes(_png_bytes(_rand_img(rng))[:60])
    (tmp_path / "notes.txt").write_text("not an image")
    data = load_images(str(tmp_path), 16, 3)
    assert len(data) == 3
    assert data.skipped == 3


def test_empty_folder_and_folder_without_images(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty"):
        load_images(str(tmp_path / "empty"), 16)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.txt").write_text("hello")
    with pytest.raises(DataError, match="junk"):
        load_images(str(tmp_path / "junk"), 16)


def test_missing_path_and_unsupported_file(tmp_path):
    with pytest.raises(DataError, match="does-not-exist"):
        load_images(str(tmp_path / "does-not-exist"), 16)
    (tmp_path / "data.csv").write_text("1,2,3")
    with pytest.raises(DataError, match="data.csv"):
        load_images(str(tmp_path / "data.csv"), 16)


def test_zip_with_dirs_and_a_corrupt_member(tmp_path, rng):
    imgs = [_rand_img(rng) for _ in range(4)]
    path = tmp_path / "faces.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("faces/", b"")
        for i, img in enumerate(imgs):
            zf.writestr(f"faces/{i}.png", _png_bytes(img))
        zf.writestr("faces/bad.png", b"garbage")
    data = load_images(str(path), 16, 3)
    assert len(data) == 4 and data.skipped == 1
    for i, img in enumerate(imgs):
        assert torch.equal(data.images[i], torch.from_numpy(np.array(img)).permute(2, 0, 1))


def test_bad_zip_and_empty_zip(tmp_path):
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="bad.zip"):
        load_images(str(tmp_path / "bad.zip"), 16)
    with zipfile.ZipFile(tmp_path / "empty.zip", "w"):
        pass
    with pytest.raises(DataError, match="empty.zip"):
        load_images(str(tmp_path / "empty.zip"), 16)


def test_npz_mnist_layout(tmp_path, rng):
    x = rng.integers(0, 256, (12, 28, 28), dtype=np.uint8)
    y = np.arange(12) % 10
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=x, y_train=y)
    data = load_images(str(path), 28, 1)
    assert data.images.shape == (12, 1, 28, 28) and data.images.dtype == torch.uint8
    assert torch.equal(data.images[:, 0], torch.from_numpy(x))
    assert torch.equal(data.labels, torch.from_numpy(y).long()) and data.num_classes == 10
    resized = load_images(str(path), 32, 1, limit=5)
    assert resized.images.shape == (5, 1, 32, 32) and resized.images.dtype == torch.uint8 and len(resized.labels) == 5
    rgb = load_images(str(path), 28, 3)
    assert rgb.images.shape == (12, 3, 28, 28) and torch.equal(rgb.images[:, 2], rgb.images[:, 0])


def test_npz_without_x_train(tmp_path):
    np.savez(tmp_path / "other.npz", images=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(DataError, match="x_train"):
        load_images(str(tmp_path / "other.npz"), 28, 1)
