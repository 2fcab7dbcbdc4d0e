"""Frame an uploaded picture the way a model's training images are framed (aligned face, centre square, MNIST digit)."""
from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass, replace
from itertools import combinations

import cv2
import numpy as np
from PIL import Image

from gan_core.errors import InvalidInput

FRAMINGS = ("celeba", "anime", "mnist", "centre")
DETECT_SIDE = 640  # faces are searched on a copy at most this many pixels on its longer side
EYE_SEARCH_WIDTH = 200  # eyes are searched in the face box's upper part, rescaled to this width
WORK_SIDE = 512  # a face crop is warped at most this many pixels on a side, then resized to the model's resolution
# Where the detector finds eyes and faces in CelebA training images as training frames them (the centred 89x89 square
# of the 89x109 img_align_celeba images): x, y as fractions of that square's side, pixel edges at 0 and 1. Measured by
# running _find_face on the first 400 images (sorted by name) of ../shared/data/celeba/celeba-align-89x109.zip, each
# upscaled 3x (bicubic) and pasted in the middle of a grey canvas twice its size: faces were found in 338, eye pairs
# in 272; the constants are the means over those within 0.05 (eyes: 265 left, std 0.014 in x, 0.007 in y) or 0.1
# (face boxes: 309 left, side std 0.045) of the median. Measuring with the same detector makes its bias cancel; 200
# images upscaled 6x gave the same values within 0.003.
LEFT_EYE = (0.3828, 0.5171)  # the eye on the image's left
RIGHT_EYE = (0.6068, 0.5179)
FACE_BOX = (0.502, 0.585, 0.615)  # the face box's centre x, centre y and side, for pictures whose eyes are not found
# The frame's side from the eye distance and from the face box, blended in log space with this weight on the eyes: over
# the 265 images above with both, the implied side spread 7.4% (std of its log), against 10.2% by eyes, 8.3% by box.
EYE_SCALE_WEIGHT = 0.4
MIN_TURN = 4.0  # degrees; of the 272 eye pairs above, 93% had their eye line within 4 degrees of level (std 2.7)
MNIST_BOX = 20  # the MNIST recipe: the digit scaled to fit 20x20, keeping its aspect, centred by mass in 28x28
MNIST_SIDE = 28
MNIST_CENTRE = 14  # the pixel (row and column) the mean centre of mass of MNIST's training digits falls on
DIGIT_WORK_SIDE = 1024  # a digit picture is first shrunk to at most this many pixels on its longer side


class FaceNotFound(InvalidInput):
    """No face in a picture for a face model."""


@dataclass(frozen=True)
class Prepared:
    """A picture framed for a model: image at its resolution, what was done, and the crop box in the original."""

    image: Image.Image
    note: str
    box: tuple[float, float, float, float] | None


@dataclass(frozen=True)
class Face:
    """A detected face box (x, y, side) and, when found, the eye centres (x, y), in the picture's pixels."""

    box: tuple[float, float, float]
    eyes: tuple[tuple[float, float], tuple[float, float]] | None


def framing_of(dataset: str) -> str:
    """The framing for a model trained on `dataset` (a short name or a path); "centre" for unknown sets."""
    name = str(dataset).lower()
    if re.search(r"celeba(?![-_ ]?hq)", name):
        return "celeba"
    if "anime" in name:
        return "anime"
    if re.search(r"(?<![a-z])mnist", name):
        return "mnist"
    return "centre"


_local = threading.local()


def _cascade(name: str) -> cv2.CascadeClassifier:
    """One of OpenCV's Haar cascades, loaded once per thread: a classifier is not safe to share between threads."""
    cascades = vars(_local).setdefault("cascades", {})
    if name not in cascades:
        cascades[name] = cv2.CascadeClassifier(cv2.data.haarcascades + name)
        if cascades[name].empty():
            raise RuntimeError(f"OpenCV's {name} is missing from {cv2.data.haarcascades}")
    return cascades[name]


def _eye_candidates(roi: np.ndarray) -> list[tuple[float, float, float]]:
    """Eye boxes from both eye cascades, those whose centres fall inside a larger one merged: (x, y, size) each."""
    boxes = [tuple(r) for name in ("haarcascade_eye.xml", "haarcascade_eye_tree_eyeglasses.xml")
             for r in _cascade(name).detectMultiScale(roi, 1.05, 6, minSize=(20, 20))]
    groups: list[list[tuple[int, int, int, int]]] = []
    for bx, by, bw, bh in sorted(boxes, key=lambda r: -r[2]):
        cx, cy = bx + bw / 2, by + bh / 2
        home = next((g for g in groups if g[0][0] <= cx <= g[0][0] + g[0][2] and g[0][1] <= cy <= g[0][1] + g[0][3]),
                    None)
        if home is None:
            groups.append(home := [])
        home.append((bx, by, bw, bh))
    return [tuple(np.mean([(x + w / 2, y + h / 2, w) for x, y, w, h in g], axis=0)) for g in groups]


def _find_eyes(grey: Image.Image, box: tuple[float, float, float]
               ) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """The most plausible pair of eyes in the upper part of a face box, left one first, or None."""
    x, y, side = box
    scale = EYE_SEARCH_WIDTH / side
    top = grey.crop((round(x), round(y), round(x + side), round(y + 0.6 * side)))
    roi = cv2.equalizeHist(np.asarray(top.resize((EYE_SEARCH_WIDTH, round(0.6 * EYE_SEARCH_WIDTH)), Image.LANCZOS)))
    best, best_score = None, math.inf
    for (ax, ay, asize), (bx, by, bsize) in combinations(sorted(_eye_candidates(roi)), 2):
        d = math.hypot(bx - ax, by - ay)
        if not (0.25 * EYE_SEARCH_WIDTH <= d <= 0.65 * EYE_SEARCH_WIDTH and abs(by - ay) <= 0.3 * d
                and ax < EYE_SEARCH_WIDTH / 2 < bx):
            continue
        score = abs(by - ay) / d + abs(math.log(asize / bsize)) + abs((ax + bx) / EYE_SEARCH_WIDTH - 1)
        if score < best_score:
            best, best_score = ((x + ax / scale, y + ay / scale), (x + bx / scale, y + by / scale)), score
    return best


def _find_face(image: Image.Image) -> Face | None:
    """The largest frontal face in a picture, with its eyes when they are found."""
    grey = image.convert("L")
    k = min(1.0, DETECT_SIDE / max(grey.size))
    small = grey.resize((max(1, round(grey.width * k)), max(1, round(grey.height * k))), Image.LANCZOS)
    min_side = max(24, min(small.size) // 10)
    found = _cascade("haarcascade_frontalface_default.xml").detectMultiScale(
        cv2.equalizeHist(np.asarray(small)), 1.1, 5, minSize=(min_side, min_side))
    if len(found) == 0:
        return None
    fx, fy, fw, _ = max(map(tuple, found), key=lambda r: r[2] * r[3])
    box = (fx / k, fy / k, fw / k)
    return Face(box, _find_eyes(grey, box))


def _frame(image: Image.Image, anchor: complex, target: complex, side: float, tilt: float,
           resolution: int) -> tuple[Image.Image, tuple[float, float, float, float]]:
    """The square of `side` pixels, turned by `tilt` radians, whose fractional point `target` lies on the picture's
    point `anchor`, at `resolution`; pixels beyond the picture repeat its edge. Also its box before the turn."""
    turn = complex(math.cos(tilt), -math.sin(tilt))  # undoes the tilt
    centre = anchor + (0.5 + 0.5j - target) * side / turn
    half = side / 2 * (abs(turn.real) + abs(turn.imag)) + 2  # half the side of the turned square's bounds
    left, top = max(0, math.floor(centre.real - half)), max(0, math.floor(centre.imag - half))
    region = image.crop((left, top, min(image.width, math.ceil(centre.real + half)),
                         min(image.height, math.ceil(centre.imag + half))))
    k = min(1.0, WORK_SIDE / side)
    width, height = region.size
    if k < 1:  # shrink with a proper filter first, so the warp never has to skip pixels
        region = region.resize((max(1, round(width * k)), max(1, round(height * k))), Image.LANCZOS)
    kx, ky = region.width / width, region.height / height
    n = max(resolution, min(round(side), WORK_SIDE))
    a = turn * n / side  # picture -> output: z_out = a * (z - anchor) + target * n, on pixel-edge coordinates
    offset = a * (complex(left, top) - anchor) + target * n
    lin = np.array([[a.real / kx, -a.imag / ky], [a.imag / kx, a.real / ky]])
    shift = np.array([offset.real, offset.imag]) + lin @ [0.5, 0.5] - 0.5  # cv2 puts pixel centres at integers
    out = cv2.warpAffine(np.asarray(region), np.hstack([lin, shift[:, None]]), (n, n), flags=cv2.INTER_CUBIC,
                         borderMode=cv2.BORDER_REPLICATE)
    framed = Image.fromarray(out)
    if n != resolution:
        framed = framed.resize((resolution, resolution), Image.LANCZOS)
    return framed, (centre.real - side / 2, centre.imag - side / 2, centre.real + side / 2, centre.imag + side / 2)


def _centre(image: Image.Image, resolution: int) -> tuple[Image.Image, tuple[float, float, float, float]]:
    """The centred square, resized with Lanczos, and its box."""
    side = min(image.size)
    left, top = round((image.width - side) / 2), round((image.height - side) / 2)
    box = (left, top, left + side, top + side)
    return image.resize((resolution, resolution), Image.LANCZOS, box=box), box


def _face(image: Image.Image, resolution: int, centre_crop: bool) -> Prepared:
    """A face aligned by its eyes (or its box) as in CelebA's training frames."""
    face = _find_face(image)
    if face is None:
        if centre_crop:
            framed, box = _centre(image, resolution)
            return Prepared(framed, "centre crop (no face found)", box)
        raise FaceNotFound("image: no face was found; use a clear, upright, front-facing photo, or tick the "
                           "centre-crop option to use the centre square instead")
    x, y, width = face.box
    cx, cy, frac = FACE_BOX
    anchor, target, side, tilt = complex(x + width / 2, y + width / 2), complex(cx, cy), width / frac, 0.0
    note = "face found (eyes not found: framed by the face box)"
    if face.eyes:
        left, right = (complex(*eye) for eye in face.eyes)
        goal_left, goal_right = complex(*LEFT_EYE), complex(*RIGHT_EYE)
        side = side ** (1 - EYE_SCALE_WEIGHT) * (abs(right - left) / abs(goal_right - goal_left)) ** EYE_SCALE_WEIGHT
        anchor, target = (left + right) / 2, (goal_left + goal_right) / 2
        tilt = math.atan2(right.imag - left.imag, right.real - left.real)
        note = f"face found and aligned by its eyes (turned {math.degrees(tilt):.0f}° to level them)"
        if abs(math.degrees(tilt)) < MIN_TURN:  # within the detector's noise on level faces: keep the picture upright
            tilt, note = 0.0, "face found and aligned by its eyes"
    framed, box = _frame(image, anchor, target, side, tilt, resolution)
    return Prepared(framed, note, box)


def _digit(image: Image.Image, resolution: int) -> Prepared:
    """The MNIST recipe: light strokes on black, the digit scaled into 20x20 and centred by mass in 28x28."""
    grey = image.convert("L")
    k = min(1.0, DIGIT_WORK_SIDE / max(grey.size))
    if k < 1:
        grey = grey.resize((max(1, round(grey.width * k)), max(1, round(grey.height * k))), Image.LANCZOS)
    g = np.asarray(grey, dtype=np.float32)
    background = float(np.median(np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])))
    if background > 127:  # dark ink on light paper
        g, background = 255 - g, 255 - background
    peak = float(g.max())
    if peak - background < 32:
        raise InvalidInput("image: no digit was found; the picture is blank (its marks differ from the background "
                           "by less than 32 of 255 grey levels)")
    floor = background + 0.25 * (peak - background)  # paper grain and shadows below this become black
    g = np.clip((g - floor) / (peak - floor), 0, 1)
    rows, cols = np.nonzero(g.any(1))[0], np.nonzero(g.any(0))[0]
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    scale = MNIST_BOX / max(y1 - y0, x1 - x0)
    size = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
    digit = Image.fromarray(np.rint(g[y0:y1, x0:x1] * 255).astype(np.uint8)).resize(size, Image.LANCZOS)
    d = np.asarray(digit, dtype=np.float64)
    mass = d.sum()
    cy, cx = (d.sum(1) @ np.arange(d.shape[0])) / mass, (d.sum(0) @ np.arange(d.shape[1])) / mass
    canvas = Image.new("L", (MNIST_SIDE, MNIST_SIDE))
    canvas.paste(digit, (round(MNIST_CENTRE - cx), round(MNIST_CENTRE - cy)))
    if resolution != MNIST_SIDE:  # bilinear, as training resizes MNIST's 28 px digits
        canvas = canvas.resize((resolution, resolution), Image.BILINEAR)
    return Prepared(canvas, "digit centred (MNIST recipe)", tuple(float(v / k) for v in (x0, y0, x1, y1)))


def prepare(image: Image.Image, framing: str, resolution: int, channels: int, centre_crop: bool = False) -> Prepared:
    """Frame `image` as `framing`'s training images are, at resolution x resolution with 1 (L) or 3 (RGB) channels.
    With centre_crop, a face framing uses the centre square when no face is found instead of raising FaceNotFound."""
    if framing not in FRAMINGS:
        raise ValueError(f"framing: {framing!r} is not one of {', '.join(FRAMINGS)}")
    image = image.convert("RGB")
    if framing == "celeba":
        out = _face(image, resolution, centre_crop)
    elif framing == "mnist":
        out = _digit(image, resolution)
    else:
        framed, box = _centre(image, resolution)
        out = Prepared(framed, "centre crop", box)
    mode = "L" if channels == 1 else "RGB"
    return out if out.image.mode == mode else replace(out, image=out.image.convert(mode))
