"""Projection into W+: reconstruction of the shipped CelebA model's own images, progress, determinism, the w
text format, bad input, MNIST's class start and the --project CLI."""
from __future__ import annotations

import base64
import math

import numpy as np
import pytest
import torch
from conftest import ROOT
from PIL import Image

from gan_core import generate
from gan_core.latent import projection
from gan_core.latent.projection import (
    DEFAULT_STEPS,
    decode_w,
    encode_w,
    project,
    psnr,
    render,
    to_target,
)
from gan_core.latent.sampling import generate as generate_images
from gan_core.storage.checkpoint import load_generator
from gan_core.studio import media
from gan_core.studio.recipe import KEY, Recipe

CELEBA, MNIST = ROOT / "checkpoints" / "celeba", ROOT / "checkpoints" / "mnist"
SEED = 0


@pytest.fixture(scope="module")
def celeba():
    return load_generator(CELEBA)[0]


@pytest.fixture(scope="module")
def target(celeba):
    return generate_images(celeba, [SEED])[0]


@pytest.fixture(scope="module")
def projected(celeba, target):
    """The default projection of seed SEED's image, with every callback call."""
    calls = []
    result = project(celeba, target, callback=lambda *args: calls.append(args))
    return result, calls


@pytest.mark.slow  # a full projection
def test_reconstructs_a_generated_image_at_25_db(celeba, target, projected):
    result, _ = projected
    assert result.w.shape == (celeba.num_ws, celeba.w_dim) and result.w.dtype == torch.float32
    assert result.image.shape == target.shape and result.image.abs().max() <= 1
    assert result.psnr == psnr(result.image, target)
    assert result.psnr >= 25, f"{result.psnr:.2f} dB"
    start = render(celeba, projection.start_w(celeba))
    assert psnr(start, target) < result.psnr - 10  # the average face is far from it


@pytest.mark.slow  # a full projection
def test_callback_reports_every_step_in_order(projected):
    _, calls = projected
    assert [c[0] for c in calls] == list(range(1, DEFAULT_STEPS + 1))
    assert all(total == DEFAULT_STEPS and math.isfinite(loss) for _, total, loss in calls)
    assert calls[-1][2] < calls[0][2] / 10


def test_deterministic(celeba, target):
    a, b = (project(celeba, target, steps=8) for _ in range(2))
    assert torch.equal(a.w, b.w) and torch.equal(a.image, b.image)
    pixels_only = project(celeba, target, steps=8, perceptual=False)
    assert not torch.equal(pixels_only.w, a.w)
    assert pixels_only.psnr > psnr(render(celeba, projection.start_w(celeba)), target)


@pytest.mark.slow  # a full projection
def test_image_reproduces_bit_exactly_from_the_stored_text(celeba, projected):
    result, _ = projected
    text = encode_w(result.w)
    assert len(text) == 4 * math.ceil(celeba.num_ws * celeba.w_dim * 2 / 3)
    assert torch.equal(render(celeba, decode_w(text, tuple(result.w.shape))), result.image)


def test_encode_decode_round_trip():
    w = torch.randn(10, 128, generator=torch.Generator().manual_seed(0)) * 3
    back = decode_w(encode_w(w), (10, 128))
    assert back.dtype == torch.float32 and torch.equal(back, w.half().float())
    assert encode_w(back) == encode_w(w)


def half_text(values: np.ndarray) -> str:
    """Base64 of raw float16 bytes, as encode_w writes them, for values encode_w itself refuses."""
    return base64.b64encode(values.astype("<f2").tobytes()).decode()


@pytest.mark.parametrize("bad", ["short", "wrong shape", "not base64", "NaN", "inf", "not text"])
def test_decode_rejects_bad_text(bad):
    good = encode_w(torch.zeros(10, 128))
    poisoned = np.zeros((10, 128))
    poisoned[3, 7] = math.nan if bad == "NaN" else math.inf
    text = {"short": good[:-4], "wrong shape": good, "not base64": "!" * len(good), "NaN": half_text(poisoned),
            "inf": half_text(poisoned), "not text": base64.b64decode(good)}[bad]
    with pytest.raises(ValueError, match="^w: "):
        decode_w(text, (9, 128) if bad == "wrong shape" else (10, 128))


@pytest.mark.parametrize("value", [math.nan, math.inf, 1e5])
def test_encode_refuses_what_float16_cannot_hold(value):
    w = torch.zeros(10, 128)
    w[0, 0] = value
    with pytest.raises(ValueError, match="not finite in float16"):
        encode_w(w)


@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 64, 64), (64, 64, 3), (1, 3, 64, 64)])
def test_wrong_target_shape_is_refused(celeba, shape):
    with pytest.raises(ValueError, match=r"target: expected an image tensor of shape \[3, 64, 64\]"):
        project(celeba, torch.zeros(shape), steps=1)


def test_psnr_helper():
    a = torch.zeros(3, 8, 8)
    assert psnr(a, a) == math.inf
    assert psnr(a, torch.ones_like(a)) == pytest.approx(10 * math.log10(4))  # 0.5 apart in [0, 1] scale


def test_to_target_inverts_the_png_pixels(target):
    img = media.to_pil(target[None])[0]
    assert media.to_pil(to_target(img, 64, 3)[None])[0].tobytes() == img.tobytes()


def test_mnist_starts_at_the_class_average():
    """The shipped MNIST predates per-class tracking (every row is w_avg): fill in each digit's real mean w."""
    G = load_generator(MNIST)[0]
    z = torch.randn(256, G.z_dim, generator=torch.Generator().manual_seed(0))
    for k in range(G.num_classes):
        G.mapping.w_avg_class[k] = G.mapping(z, torch.full((256,), k)).mean(0)
    digit = generate_images(G, [1], classes=7)[0]
    for label in (3, 7):
        result = project(G, digit, steps=0, label=label)
        assert torch.equal(result.w, G.mapping.w_avg_class[label].half().float().expand(G.num_ws, -1))
    assert not torch.equal(project(G, digit, steps=0, label=3).w, project(G, digit, steps=0, label=7).w)
    with pytest.raises(ValueError, match="label: 10 is not a class"):
        project(G, digit, steps=0, label=10)


def test_label_on_an_unconditional_model_is_refused(celeba, target):
    with pytest.raises(ValueError, match="not class-conditional"):
        project(celeba, target, steps=0, label=1)


@pytest.mark.slow  # a full projection
def test_cli_writes_the_reconstruction(celeba, target, tmp_path, capsys):
    photo = media.save_png(media.to_pil(target[None])[0], tmp_path / "photo.png")
    out = tmp_path / "recon.png"
    args = ["--model", str(CELEBA), "--project", str(photo), "--centre-crop", "--steps", "20"]
    assert generate.main([*args, "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert "PSNR" in printed.err and "20 steps" in printed.err and str(out) in printed.out
    with Image.open(out) as img:
        assert img.size == (64, 64) and img.mode == "RGB" and '"kind":"projection"' in img.info[KEY]
    mix = tmp_path / "mix.png"
    assert generate.main([*args, "--mix", "rows=1", "cols=2", "--out", str(mix)]) == 0
    with Image.open(mix) as img:
        assert '"w":"' in img.info[KEY] and img.width > 3 * 64  # a photo row and column beside the seeds'
    edit = tmp_path / "edit.png"
    assert generate.main([*args, "--edits", "3", "--out", str(edit)]) == 0  # the photo moved along direction 1
    with Image.open(edit) as img, Image.open(out) as recon:
        assert '"kind":"directions"' in img.info[KEY] and '"w":"' in img.info[KEY]
        assert not np.array_equal(np.asarray(img), np.asarray(recon))
    named = tmp_path / "smile.png"
    assert generate.main([*args, "--edit", "Smiling=3", "--out", str(named)]) == 0  # the photo, smiling
    with Image.open(named) as img, Image.open(out) as recon:
        recipe = Recipe.from_json(img.info[KEY])
        assert (recipe.kind, recipe.edit) == ("edit", "Smiling=3") and recipe.w
        assert not np.array_equal(np.asarray(img), np.asarray(recon))
    again = tmp_path / "again.png"
    assert generate.main(["--recipe", str(named), "--out", str(again)]) == 0  # bit-exact from its recipe
    assert np.array_equal(np.asarray(Image.open(again)), np.asarray(Image.open(named)))
    assert generate.main([*args, "--out", str(tmp_path / "r.gif")]) == 2
    assert generate.main([*args, "--steps", "-1", "--out", str(out)]) == 2
