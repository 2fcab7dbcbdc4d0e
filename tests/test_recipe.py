"""Recipes: JSON / query / PNG round trips, bit-exact reproduction, checkpoint-mismatch warning, CLI == app."""
from __future__ import annotations

import dataclasses
import inspect
import json
import zipfile
from dataclasses import replace

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from conftest import save_tiny_checkpoints
from PIL import Image

from gan_core import generate
from gan_core.latent.projection import encode_w
from gan_core.studio.recipe import KEY, KINDS, Recipe, load
from gan_core.studio.requests import DEFAULT_FRAMES, RECIPE_REQUESTS, STRIP_FRAMES, TOP_K
from gan_core.studio.studio import Studio
from gan_core.studio.validation import InvalidInput, seed_spec


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return save_tiny_checkpoints(tmp_path_factory.mktemp("checkpoints"), num_classes=3)


@pytest.fixture(scope="module")
def studio(root):
    return Studio(root)


def pixels(images) -> list[np.ndarray]:
    return [np.asarray(img) for img in images]


def tiles(path, n: int, nrow: int, size: int, pad: int = 2) -> list[np.ndarray]:
    grid = np.asarray(Image.open(path))
    starts = [(pad + (i // nrow) * (size + pad), pad + (i % nrow) * (size + pad)) for i in range(n)]
    return [grid[y:y + size, x:x + size] for y, x in starts]


# ----- the text format -----
def test_json_is_compact_and_round_trips():
    r = Recipe("directions", "anime", "ab" * 32, seeds="42", psi=0.7, label=0, layers="all", edits=[1.5, -0.25])
    text = r.to_json()
    assert " " not in text and '"class":0' in text and "rows" not in text and "loop" not in text
    assert Recipe.from_json(text) == r
    assert Recipe.from_json(json.dumps({"kind": "seeds", "model": "m", "seeds": [1, 2, 3], "psi": "0.5"})) == \
        Recipe("seeds", "m", seeds="1,2,3", psi=0.5)


def test_query_string_forms():
    r = Recipe("mix", "anime", rows="1-2", cols="5", psi=0.7, layers="0-3")
    assert Recipe.from_query({"recipe": Recipe.from_json(r.to_json()).to_json()}) == r
    from urllib.parse import parse_qs

    assert Recipe.from_json(parse_qs(r.query()[1:])["recipe"][0]) == r
    simple = Recipe.from_query({"model": "anime", "seeds": "1-4", "psi": "0.7", "__theme": "dark"})
    assert simple == Recipe("seeds", "anime", seeds="1-4", psi=0.7)
    assert Recipe.from_query({"model": "m", "kind": "directions", "seeds": "3", "edits": "1,0,-2", "class": "4"}) == \
        Recipe("directions", "m", seeds="3", label=4, edits=[1.0, 0.0, -2.0])
    assert Recipe.from_query({"__theme": "dark"}) is None


@pytest.mark.parametrize("text, expect", [
    ("", "paste"), ("{", "not valid JSON"), ("[1]", "JSON object"), ('{"model":"m"}', "missing 'kind'"),
    ('{"kind":"x","model":"m"}', "kind"), ('{"kind":"seeds","model":"m","zz":1}', "unknown field"),
    ('{"kind":"seeds","model":"m","psi":"hot"}', "recipe: psi: 'hot' is not a number"),
    ('{"kind":"seeds","model":"m","psi":1e999}', "recipe: psi: inf is not a finite number"),
    ('{"kind":"seeds","model":"m","frames":1.5}', "whole number"), ('{"kind":"seeds","model":1}', "model must be"),
    ('{"kind":"seeds","model":"m","edits":"a"}', r"edits\[0\]"),
    ('{"kind":"seeds","model":"m","loop":"maybe"}', "loop"),
    ("{" + " " * 9000 + "}", "too long"),
])
def test_bad_recipes_have_clear_messages(text, expect):
    with pytest.raises(InvalidInput, match=expect):
        Recipe.from_json(text)


def test_seed_spec_compresses_runs():
    assert seed_spec([1, 2, 3, 4, 9]) == "1-4,9"
    assert seed_spec([7, 3, 4]) == "7,3-4"
    assert seed_spec([2 ** 32 - 1, 0, 1]) == "4294967295,0-1"
    assert seed_spec([]) == ""


# ----- reproduction -----
def each_kind(studio: Studio):
    """(result, its recipe) for every kind of result the app makes."""
    yield studio.sample("tiny", 5, 0.7, seed=2 ** 32 - 2)
    yield studio.seeds("digits", "1-3, 9", 0.8, "2")
    yield studio.all_classes("digits", "4, 5", 0.9)
    yield studio.interpolate("tiny", "3, 7", 5, "w-lerp", 0.7, None, True)
    yield studio.mix("tiny", "1, 2", "5", "custom", "0-2, 5", 0.7)
    yield studio.directions("tiny", 11, 0.7, None, [1.5, 0, -2], "coarse")
    yield studio.direction_strip("dc", 11, 0.9, None, 2, 3)
    yield studio.edit("tiny", 12, 0.8, None, "Dark=-1.25, Bright=3")
    G = studio.model("tiny").G
    yield studio.projected("tiny", encode_w(torch.randn(G.num_ws, G.w_dim, generator=torch.Generator().manual_seed(0))))


def test_recipe_round_trip_is_bit_exact_for_every_kind(studio, root):
    other = Studio(root)  # as in another request, or another process with its own Studio
    results = list(each_kind(studio))
    assert sorted(r.recipe.kind for r in results) == sorted(KINDS)
    for result in results:
        again = other.reproduce(result.recipe.to_json())
        kind = "seeds" if result.recipe.kind == "sample" else result.recipe.kind  # a sample remade is its seeds
        assert again.recipe == replace(result.recipe, kind=kind) and again.note == result.note
        assert [a.tobytes() for a in pixels(again.images)] == [a.tobytes() for a in pixels(result.images)], \
            result.recipe.kind
        for img in (result.images[0], result.images[-1]):  # each image's own recipe remakes exactly that image
            single = other.reproduce(img.info[KEY])
            assert any(np.array_equal(np.asarray(img), p) for p in pixels(single.images))


def test_every_recipe_kind_has_a_request_that_parses_its_fields():
    assert set(RECIPE_REQUESTS) == set(KINDS)
    for kind, request in RECIPE_REQUESTS.items():
        params = set(inspect.signature(request.parse).parameters) - {"m"}
        fields = {f.name for f in dataclasses.fields(request) if f.name != "model" and not f.metadata.get("derived")}
        assert fields and fields <= params, kind
        assert request.kind == ("seeds" if kind == "sample" else kind)  # a sample is remade as its seeds


def test_unset_recipe_fields_take_the_tabs_defaults(studio):
    walk = studio.reproduce(Recipe("interpolate", "tiny", seeds="3, 7"))
    assert (walk.recipe.frames, walk.recipe.mode, walk.recipe.loop) == (DEFAULT_FRAMES, "z-slerp", False)
    strip = studio.reproduce(Recipe("direction_strip", "tiny", seeds="3"))
    assert (strip.recipe.k, strip.recipe.frames, strip.recipe.layers) == (TOP_K, STRIP_FRAMES, "all")
    assert studio.reproduce(Recipe("mix", "tiny", rows="1", cols="2")).recipe.layers == "coarse"
    assert studio.reproduce(Recipe("directions", "digits", seeds="3")).recipe.label == 0  # a conditional model: 0
    with pytest.raises(InvalidInput, match="^seeds: empty"):  # a required field stays required
        studio.reproduce(Recipe("seeds", "tiny"))


def test_png_metadata_and_files_reproduce(studio, tmp_path):
    result = studio.seeds("tiny", "4-6", 0.7)
    with zipfile.ZipFile(result.archive) as zf:
        assert zf.namelist() == [p.name for p in result.files]
    for path, img in zip(result.files, result.images):
        assert np.array_equal(np.asarray(Image.open(path)), np.asarray(img))
        again = studio.reproduce(load(str(path)))
        assert np.array_equal(np.asarray(again.images[0]), np.asarray(img))
    (tmp_path / "r.json").write_text(result.recipe.to_json())
    assert load(str(tmp_path / "r.json")) == load(result.recipe.to_json()) == result.recipe
    Image.new("L", (4, 4)).save(tmp_path / "plain.png")
    for source, expect in ((str(tmp_path / "plain.png"), "no 'gan-studio-recipe'"), ("nope.json", "neither")):
        with pytest.raises(InvalidInput, match=expect):
            load(source)


def test_checkpoint_mismatch_warns_but_still_generates(studio):
    result = studio.seeds("tiny", "1", 1.0)
    stale = Recipe.from_json(result.recipe.to_json())
    stale.sha256 = "0" * 64
    again = studio.reproduce(stale)
    assert "Checkpoint mismatch" in again.note and "000000000000" in again.note
    assert studio.model("tiny").sha256[:12] in again.note
    assert np.array_equal(np.asarray(again.images[0]), np.asarray(result.images[0]))
    assert studio.reproduce(result.recipe.to_json()).note == ""


def test_bad_values_in_a_recipe_are_checked_like_the_app(studio):
    for fields, expect in (({"seeds": "5-1"}, "reversed"), ({"psi": 9}, "truncation psi"),
                           ({"model": "nope"}, "unknown model"), ({"kind": "all_classes"}, "not class-conditional")):
        with pytest.raises(InvalidInput, match=expect):
            studio.reproduce(Recipe.from_dict({"kind": "seeds", "model": "tiny", "seeds": "1", **fields}))


# ----- CLI == app -----
def cli(*args: str) -> None:
    assert generate.main(list(args)) == 0


def test_cli_equals_app(studio, root, tmp_path):
    model = str(root / "tiny")
    app = studio.seeds("tiny", "1-5", 0.7)  # what the app's Seed control tab shows
    cli("--model", model, "--seeds", "1-5", "--psi", "0.7", "--nrow", "3", "--out", str(tmp_path / "grid.png"))
    assert [t.tobytes() for t in tiles(tmp_path / "grid.png", 5, 3, 16)] == [a.tobytes() for a in pixels(app.images)]
    assert Recipe.from_json(Image.open(tmp_path / "grid.png").info[KEY]) == app.recipe

    cli("--recipe", app.recipe.to_json(), "--model", model, "--out", str(tmp_path / "seeds.zip"))
    with zipfile.ZipFile(tmp_path / "seeds.zip") as zf:
        assert [zf.read(p.name) for p in app.files] == [p.read_bytes() for p in app.files]

    walk = studio.interpolate("tiny", "3, 7", 6, "w-lerp", 0.7)
    cli("--model", model, "--interpolate", "3,7", "--frames", "6", "--mode", "w-lerp", "--psi", "0.7",
        "--out", str(tmp_path / "walk.gif"))
    assert np.array_equal(iio.imread(tmp_path / "walk.gif"), iio.imread(walk.files[0]))

    mix = studio.mix("tiny", "1, 2", "5, 6", "coarse", "", 0.7)
    cli("--model", model, "--mix", "rows=1,2", "cols=5,6", "--layers", "coarse", "--psi", "0.7",
        "--out", str(tmp_path / "mix.png"))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "mix.png")), np.asarray(mix.images[0]))

    edit = studio.directions("tiny", 9, 0.7, None, [2.0, -1.0])
    png = tmp_path / "edit.png"
    cli("--model", model, "--directions", "9", "--edits", "2,-1", "--psi", "0.7", "--out", str(png))
    cli("--recipe", str(png), "--model", model, "--out", str(tmp_path / "again.png"))  # the recipe in its metadata
    for path in (png, tmp_path / "again.png"):
        assert np.array_equal(np.asarray(Image.open(path)), np.asarray(edit.images[0]))

    digits = studio.all_classes("digits", "1-2", 1.0)
    cli("--model", str(root / "digits"), "--all-classes", "1-2", "--out", str(tmp_path / "digits.png"))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "digits.png")), np.asarray(digits.images[0]))


def test_cli_errors(root, tmp_path, capsys):
    model = str(root / "tiny")
    assert generate.main(["--model", model, "--out", str(tmp_path / "x.txt")]) == 2
    assert generate.main(["--model", model, "--seeds", "1", "--out", str(tmp_path / "x.gif")]) == 2
    assert generate.main(["--model", model, "--mix", "1,2", "cols=3", "--out", str(tmp_path / "x.png")]) == 2
    stale = Recipe("seeds", "tiny", "0" * 64, seeds="1").to_json()
    assert generate.main(["--recipe", stale, "--model", model, "--out", str(tmp_path / "x.png")]) == 0
    err = capsys.readouterr().err
    assert "x.txt" in err and "no .gif file" in err and "rows=SEEDS" in err and "Checkpoint mismatch" in err
