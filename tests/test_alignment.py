"""Framing uploads like each model's training images: aligned CelebA faces, centre squares, MNIST digits."""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from gan_core.data.images import NAMED_SETS, data_root, to_square
from gan_core.photos.alignment import FRAMINGS, FaceNotFound, framing_of, prepare
from gan_core.studio.validation import InvalidInput

ROOT = Path(__file__).resolve().parents[1]
CELEBA = data_root() / NAMED_SETS["celeba"]
needs_celeba = pytest.mark.skipif(not CELEBA.is_file(), reason="../shared/data not available")
cv2.setNumThreads(1)


def celeba_image(name: str) -> Image.Image:
    with zipfile.ZipFile(CELEBA) as zf:
        return Image.open(io.BytesIO(zf.read(name))).convert("RGB")


def in_canvas(face: Image.Image, scale: int, offset: tuple[int, int], turn: float = 0.0) -> Image.Image:
    """`face` enlarged `scale` times on a larger plain canvas at `offset`, turned `turn` degrees about its centre."""
    big = face.resize((face.width * scale, face.height * scale), Image.BICUBIC)
    canvas = Image.new("RGB", (big.width + 400, big.height + 300), (90, 120, 160))
    canvas.paste(big, offset)
    centre = (offset[0] + big.width / 2, offset[1] + big.height / 2)
    return canvas.rotate(turn, Image.BICUBIC, center=centre, fillcolor=(90, 120, 160)) if turn else canvas


def training_frame(face: Image.Image) -> np.ndarray:
    """The image as training sees it: the centred 89x89 square of the 89x109 original, at 64 px."""
    return to_square(face, 64, 3).permute(1, 2, 0).numpy().astype(np.float64)


def box_error(box: tuple[float, ...], scale: int, offset: tuple[int, int]) -> tuple[float, float]:
    """How far a crop box is from where the training square lies in the canvas: centre offset and side ratio - 1,
    both as fractions of that square's side (a turn of the canvas is about that square's centre, so leaves it)."""
    side = 89 * scale
    left, top, right, bottom = box
    expect = complex(offset[0] + side / 2, offset[1] + 10 * scale + side / 2)
    centre = abs(complex((left + right) / 2, (top + bottom) / 2) - expect)
    return centre / side, (right - left) / side - 1


# Two faces whose eyes the detector finds close to their mean place (its error is 1-2 px at 64 px on most faces: the
# module's constants are averages, and a single face may sit a few percent off them).
@needs_celeba
@pytest.mark.parametrize("name", ["000012.jpg", "000035.jpg"])
@pytest.mark.parametrize("scale, offset, turn", [(3, (150, 90), 0.0), (5, (40, 210), 0.0), (3, (150, 90), 10.0)])
def test_celeba_face_is_aligned_like_the_training_crop(name, scale, offset, turn):
    face = celeba_image(name)
    out = prepare(in_canvas(face, scale, offset, turn), "celeba", 64, 3)
    assert out.note.startswith("face found and aligned by its eyes") and ("turned" in out.note) == bool(turn)
    assert out.image.size == (64, 64) and out.image.mode == "RGB"
    centre, side = box_error(out.box, scale, offset)
    assert centre <= 0.03 and abs(side) <= 0.06, (centre, side)
    diff = np.abs(np.asarray(out.image, np.float64) - training_frame(face)).mean()
    assert diff < 14, diff
    assert prepare(in_canvas(face, scale, offset, turn), "celeba", 32, 1).image.mode == "L"


@needs_celeba
def test_celeba_face_without_eyes_found_is_framed_by_its_box():
    face = celeba_image("000022.jpg")  # the eye cascades find no pair here
    out = prepare(in_canvas(face, 3, (150, 90)), "celeba", 64, 3)
    assert out.note == "face found (eyes not found: framed by the face box)"
    centre, side = box_error(out.box, 3, (150, 90))
    assert centre <= 0.03 and abs(side) <= 0.08, (centre, side)
    assert np.abs(np.asarray(out.image, np.float64) - training_frame(face)).mean() < 16


def test_no_face_raises_or_falls_back_to_the_centre_square():
    blank = Image.new("RGB", (300, 200), (200, 190, 180))
    with pytest.raises(FaceNotFound, match="no face was found.*centre-crop option") as info:
        prepare(blank, "celeba", 64, 3)
    assert isinstance(info.value, InvalidInput) and str(info.value).startswith("image: ")
    out = prepare(blank, "celeba", 64, 3, centre_crop=True)
    assert out.note.startswith("centre crop") and out.box == (50, 0, 250, 200) and out.image.size == (64, 64)


def test_centre_framings_take_the_middle_square():
    image = Image.new("RGB", (300, 200), "black")
    ImageDraw.Draw(image).rectangle((140, 90, 159, 109), fill="white")  # a 20 px square in the middle
    for framing in ("anime", "centre"):
        out = prepare(image, framing, 40, 3)
        assert out.note == "centre crop" and out.box == (50, 0, 250, 200) and out.image.size == (40, 40)
        a = np.asarray(out.image)[..., 0]
        assert a[20, 20] > 240 and a[2, 2] < 10 and a[20, 26] < 10  # the 4 px white square sits at the centre
    grey = prepare(image, "centre", 16, 1).image
    assert grey.mode == "L" and grey.size == (16, 16)


def centre_of_mass(a: np.ndarray) -> tuple[float, float]:
    a = a.astype(np.float64)
    return (a.sum(1) @ np.arange(a.shape[0])) / a.sum(), (a.sum(0) @ np.arange(a.shape[1])) / a.sum()


def test_dark_digit_on_paper_is_inverted_and_centred_like_mnist():
    paper = Image.new("RGB", (240, 180), (235, 230, 220))
    ImageDraw.Draw(paper).line([(30, 20), (70, 20), (45, 120)], fill=(30, 30, 60), width=9)  # a 7, top left
    out = prepare(paper, "mnist", 28, 1)
    a = np.asarray(out.image)
    assert out.image.mode == "L" and a.shape == (28, 28) and out.note.startswith("digit centred")
    assert a[0].max() == 0 and a[-1].max() == 0 and a.max() > 200  # black background, light strokes
    rows, cols = np.nonzero(a.any(1))[0], np.nonzero(a.any(0))[0]
    assert rows[-1] - rows[0] + 1 <= 21 and cols[-1] - cols[0] + 1 <= 21  # scaled into the 20x20 box
    cy, cx = centre_of_mass(a)
    assert abs(cy - 13.5) <= 1 and abs(cx - 13.5) <= 1, (cy, cx)
    left, top, right, bottom = out.box
    assert 20 <= left < right <= 80 and 10 <= top < bottom <= 130
    rgb = prepare(paper, "mnist", 32, 3).image
    assert rgb.mode == "RGB" and rgb.size == (32, 32)
    cy, cx = centre_of_mass(np.asarray(rgb)[..., 0])
    assert abs(cy - 15.5) <= 1.2 and abs(cx - 15.5) <= 1.2
    photo = prepare(paper.resize((4800, 3600), Image.BICUBIC), "mnist", 28, 1)  # shrunk before it is processed
    assert np.abs(np.array(photo.box) / 20 - out.box).max() <= 1
    assert np.abs(np.asarray(photo.image, np.float64) - a).mean() < 8


def test_light_digit_on_black_stays_and_blank_is_refused():
    board = Image.new("L", (100, 100), 0)
    ImageDraw.Draw(board).ellipse((60, 55, 90, 95), outline=255, width=6)  # a 0, bottom right
    a = np.asarray(prepare(board, "mnist", 28, 1).image)
    assert a[0].max() == 0 and a.max() > 200
    cy, cx = centre_of_mass(a)
    assert abs(cy - 13.5) <= 1 and abs(cx - 13.5) <= 1
    with pytest.raises(InvalidInput, match="image: no digit"):
        prepare(Image.new("L", (50, 50), 255), "mnist", 28, 1)


def test_framing_of_datasets():
    assert [framing_of(d) for d in ("celeba", "anime", "mnist")] == ["celeba", "anime", "mnist"]
    assert framing_of("/data/celeba/celeba-align-89x109.zip") == "celeba"
    assert framing_of("../shared/data/anime/anime-faces-64.zip") == "anime"
    assert framing_of("tv:MNIST") == framing_of("mnist/mnist-train.npz") == "mnist"
    for other in ("tv:FashionMNIST", "celeba-hq", "tv:CIFAR10", "my_photos", ""):
        assert framing_of(other) == "centre", other
    for config in sorted((ROOT / "checkpoints").glob("*/config.json")):
        assert framing_of(json.loads(config.read_text())["meta"]["dataset"]) == config.parent.name
    assert set(FRAMINGS) == {"celeba", "anime", "mnist", "centre"}
    with pytest.raises(ValueError, match="framing"):
        prepare(Image.new("RGB", (16, 16)), "faces", 64, 3)
