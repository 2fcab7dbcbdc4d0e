"""Your own image in the studio: a projection's recipe, and mixing, walks and edits that start from it."""
from __future__ import annotations

from zipfile import ZipFile

import numpy as np
import pytest
import torch
from benchlib import celeba_photo
from conftest import ROOT
from PIL import Image

from gan_core.latent import projection, sampling
from gan_core.studio import media
from gan_core.studio.recipe import MAX_CHARS, Recipe
from gan_core.studio.studio import Studio
from gan_core.studio.validation import InvalidInput

STEPS = 8  # enough to move w off the average; the quality of a full projection is tests/test_projection.py's


@pytest.fixture(scope="module")
def studio():
    return Studio(ROOT / "checkpoints")


@pytest.fixture(scope="module")
def projected(studio, tmp_path_factory):
    """seed 5 of the anime model, saved as a PNG upload, projected back."""
    photo = tmp_path_factory.mktemp("photo") / "seed5.png"
    studio.seeds("anime", "5", 1.0).images[0].save(photo)
    return studio.project("anime", str(photo), steps=STEPS)


def pixels(img) -> np.ndarray:
    return np.asarray(img)


def test_projection_shows_original_framing_and_reconstruction_with_its_psnr(projected):
    original, framed, recon = projected.images
    assert framed.size == recon.size == (64, 64) and original.width >= 64
    assert "dB PSNR" in projected.note and projected.captions[2].endswith("dB")
    assert len(projected.recipe.to_json()) <= MAX_CHARS and projected.recipe.kind == "projection"


def test_projection_recipe_remakes_the_reconstruction_bit_exactly(studio, projected):
    again = studio.reproduce(projected.recipe.to_json())
    assert np.array_equal(pixels(again.images[0]), pixels(projected.images[2]))


def test_mix_walk_and_edits_start_from_the_projection_and_reproduce(studio, projected):
    w = projected.recipe.w
    recon = pixels(projected.images[2])
    walk = studio.interpolate("anime", "7", 4, "w-lerp", 1.0, None, False, w)
    assert np.array_equal(pixels(walk.images[0]), recon) and not np.array_equal(pixels(walk.images[-1]), recon)
    edit = studio.directions("anime", 42, 1.0, None, [0.0] * 5, "all", w)
    assert np.array_equal(pixels(edit.images[0]), recon)
    moved = studio.directions("anime", 42, 1.0, None, [2.0], "all", w)
    assert not np.array_equal(pixels(moved.images[0]), recon)
    mix = studio.mix("anime", "1", "2", "coarse", "", 1.0, None, w)
    plain = studio.mix("anime", "1", "2", "coarse", "", 1.0, None)
    assert mix.images[0].width > plain.images[0].width  # a photo row and column beside the seeds'
    for result in (walk, moved, mix):
        assert result.recipe.w == w
        again = studio.reproduce(result.recipe.to_json())
        assert np.array_equal(pixels(again.images[0]), pixels(result.images[0]))


def test_style_mix_puts_the_projection_first_in_rows_and_columns(studio, projected):
    G = studio.model("anime").G
    w = projection.decode_w(projected.recipe.w, (G.num_ws, G.w_dim))
    grid = sampling.style_mix(G, [1], [2], list(range(G.num_ws)), extra=w).grid  # all layers from the column
    assert grid.shape[:2] == (2, 2)
    assert torch.equal(grid[0, 1], sampling.generate(G, [2])[0])  # photo row, seed column: the seed's image
    assert torch.equal(grid[1, 0], projection.render(G, w))  # seed row, photo column: the photo's


def test_a_walk_from_the_projection_needs_w_lerp(studio, projected):
    with pytest.raises(InvalidInput, match="w-lerp"):
        studio.interpolate("anime", "7", 4, "z-slerp", 1.0, None, False, projected.recipe.w)


def test_a_latent_of_another_model_or_garbage_is_refused(studio, projected):
    with pytest.raises(InvalidInput, match="^w: .*mnist"):
        studio.mix("mnist", "1", "2", "coarse", "", 1.0, 3, projected.recipe.w)
    with pytest.raises(InvalidInput, match="^w: "):
        studio.directions("anime", 1, 1.0, None, [], "all", "not base64!")
    with pytest.raises(InvalidInput, match="6,000"):
        Recipe.from_json('{"kind":"projection","model":"anime","w":"' + "A" * 7000 + '"}')


def test_upscaled_downloads_are_256_px_and_the_native_ones_stay(studio):
    result = studio.seeds("mnist", "1-2", 1.0, 3)
    with ZipFile(result.upscaled) as big:
        names = big.namelist()
        sizes = [Image.open(big.open(n)).size for n in names]
    assert len(names) == 2 and sizes == [(256, 256)] * 2
    assert media.upscaled(result.images[0]).info == result.images[0].info  # the recipe travels with it
    assert result.images[0].size == (32, 32)


def test_a_real_celeba_photo_is_found_aligned_and_projected(studio, tmp_path):
    """A training photo, enlarged 3x onto a larger grey canvas as a camera picture would frame it."""
    celeba_photo(12).save(tmp_path / "photo.jpg")
    result = studio.project("celeba", str(tmp_path / "photo.jpg"), steps=STEPS)
    assert result.note.startswith("face found") and result.images[1].size == (64, 64)
    assert float(result.captions[2].split("·")[1].split()[0]) > 12  # a face-like start, refined for a few steps
