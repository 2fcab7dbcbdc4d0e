"""Named edits: the attribute reader, label-free measures, finding directions, the shipped directions, the request."""
from __future__ import annotations

import csv
import math
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_generator, save_tiny_checkpoints

from gan_core.data.images import load_images, resolve_source
from gan_core.errors import InvalidInput
from gan_core.evaluation import attributes, measures
from gan_core.latent import named, named_fit
from gan_core.storage.checkpoint import load_generator
from gan_core.studio.studio import Studio

NAMED_FACES = ("Smiling", "Young", "Male", "Eyeglasses", "Blond_Hair", "Black_Hair", "Bangs", "Heavy_Makeup")


@pytest.fixture(scope="module")
def studio(tmp_path_factory) -> Studio:
    return Studio(save_tiny_checkpoints(tmp_path_factory.mktemp("ck")), outputs=None)


@pytest.fixture(scope="module")
def celeba() -> Studio:
    return Studio()


def test_reader_beats_the_majority_class_on_held_apart_faces():
    faces = load_images("celeba", attributes.SIZE, 3).images[attributes.HELD_APART:]
    with zipfile.ZipFile(resolve_source("celeba")) as zf:
        held = sorted(n for n in zf.namelist() if not n.endswith("/"))[attributes.HELD_APART:]
    with open(Path(resolve_source("celeba")).with_name("celeba-attributes.csv"), newline="") as f:
        rows = {r["image"]: r for r in csv.DictReader(f)}
    probs = attributes.read(faces.float() / 127.5 - 1)
    names = attributes.load_reader()[1]
    assert len(faces) == 1000
    for name in NAMED_FACES:
        truth = torch.tensor([float(rows[n][name]) for n in held])
        accuracy = ((probs[:, names.index(name)] > 0.5).float() == truth).float().mean().item()
        majority = max(truth.mean().item(), 1 - truth.mean().item())
        assert accuracy > majority + 0.02, name
        assert accuracy == pytest.approx(attributes.held_apart_accuracy()[name][0], abs=0.002)  # as its card says


def _stroke(width: int, shear: float = 0.0) -> torch.Tensor:
    """A vertical bar of `width` pixels on black, sheared so its top moves right by shear x height."""
    img = -torch.ones(1, 1, 32, 32)
    for y in range(4, 28):
        x0 = round(14 + shear * (16 - y))
        img[0, 0, y, x0:x0 + width] = 1
    return img


def test_thickness_and_slant_measure_strokes():
    thin, thick = measures.thickness(_stroke(2)), measures.thickness(_stroke(5))
    assert thin.item() == pytest.approx(2, rel=0.25) and thick.item() == pytest.approx(5, rel=0.25)
    right, upright, left = (measures.slant(_stroke(3, s)).item() for s in (0.5, 0.0, -0.5))
    assert right == pytest.approx(math.atan(0.5), abs=0.05) and abs(upright) < 0.01 and left < -0.4


def test_hair_colour_reads_the_top_band():
    img = torch.zeros(2, 3, 64, 64)
    img[0, 2, :19] = 1  # blue hair
    img[1, 0, :19] = 1  # red hair
    colour = measures.hair_colour(img)
    assert colour["Blue_Hair"][0] > 0.4 > colour["Blue_Hair"][1]
    assert colour["Red_Hair"][1] > 0.4 > colour["Red_Hair"][0]


def test_fisher_normal_finds_a_planted_direction_and_conditioning_removes_another():
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(4000, 16, generator=gen)
    truth = torch.zeros(16)
    truth[3], truth[5] = 0.6, 0.8
    n = named_fit.fisher_normal(w, w @ truth + 0.1 * torch.randn(4000, generator=gen))
    assert float(n @ truth) > 0.98
    m = named_fit.conditional(n, [torch.eye(16)[5]])
    assert abs(float(m[5])) < 1e-6 and float(m.norm()) == pytest.approx(1.0) and float(m[3]) > 0.99


def test_gradients_are_taken_where_the_reader_is_least_sure():
    rare = torch.tensor([0.01, 0.02, 0.97, 0.40, 0.001, 0.62, 0.05, 0.99])  # a rare property: most samples far below
    assert sorted(named_fit.undecided(rare, 3).tolist()) == [3, 5, 6]


class _LinearSynthesis(torch.nn.Module):
    """A stand-in generator whose image is a fixed linear map of the summed w layers."""

    num_ws = 3

    def __init__(self, a: torch.Tensor) -> None:
        super().__init__()
        self.a = a

    def synthesis(self, ws: torch.Tensor, noise_mode: str) -> torch.Tensor:
        return ws.sum(1) @ self.a


def test_mean_gradient_is_the_unit_direction_the_logit_grows_along():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(16, 40, generator=gen), torch.randn(40, generator=gen)
    G = _LinearSynthesis(a)
    n = named_fit.mean_gradient(G, torch.randn(70, 16, generator=gen), lambda x: x @ b, batch=32)
    truth = a @ b
    assert float(n @ truth / truth.norm()) == pytest.approx(1.0, abs=1e-5)


def test_directions_file_round_trips_and_refuses_another_models(tmp_path):
    v = torch.nn.functional.normalize(torch.randn(2, 16), dim=1)
    dirs = named.NamedDirections((named.NamedDirection("A", "a", v[0], (0, 2), 0.5),
                                  named.NamedDirection("B", "b", v[1], (1,), 1.5)), "test")
    named.save(dirs, tmp_path)
    back = named.load(tmp_path, 16, 6)
    assert back.names == ["A", "B"] and back.directions[0].layers == (0, 2) and back.directions[1].scale == 1.5
    torch.testing.assert_close(back.directions[0].vector, v[0])
    with pytest.raises(ValueError, match="do not fit this model"):
        named.load(tmp_path, 32, 6)
    with pytest.raises(ValueError, match="do not fit this model"):
        named.load(tmp_path, 16, 2)  # layer 2 is not one of 2 w layers
    assert named.load(tmp_path / "none", 16, 6) is None


def test_shift_moves_only_the_named_layers_by_strength_times_scale():
    G = make_generator("style")
    v = torch.nn.functional.normalize(torch.randn(G.w_dim), dim=0)
    dirs = named.NamedDirections((named.NamedDirection("A", "a", v, (1, 3), 0.5),))
    ws = torch.randn(2, G.num_ws, G.w_dim)
    moved = dirs.shift(ws, {"A": 4.0})
    torch.testing.assert_close(moved[:, [1, 3]] - ws[:, [1, 3]], (2.0 * v).expand(2, 2, -1))
    assert torch.equal(moved[:, [0, 2, 4, 5]], ws[:, [0, 2, 4, 5]])
    assert torch.equal(dirs.shift(ws, {"A": 0.0}), ws)


def test_an_edit_of_strength_zero_is_the_seeds_image(studio):
    plain = studio.seeds("tiny", "42", 0.7).images[0]
    for text in ("", "Bright=0", "Dark=0, Bright=0"):
        assert np.array_equal(np.asarray(studio.edit("tiny", 42, 0.7, None, text).images[0]), np.asarray(plain))
    edited = studio.edit("tiny", 42, 0.7, None, "Bright=4")
    assert not np.array_equal(np.asarray(edited.images[0]), np.asarray(plain))
    assert edited.note == "seed 42 · Bright +4" and edited.recipe.edit == "Bright=4"


def test_edit_text_is_canonical_in_the_recipe(studio):
    result = studio.edit("tiny", 1, 1.0, None, " Dark = -1.5 ,Bright=2 ")
    assert result.recipe.edit == "Bright=2,Dark=-1.5" and result.note == "seed 1 · Bright +2, Dark -1.5"


@pytest.mark.parametrize("text, message", [
    ("Smiling=2", "edits: 'Smiling' is not one of this model's edits: Bright, Dark"),
    ("Bright=6", r"edits: Bright='6' is out of range -5..5"),
    ("Bright=-5.5", r"out of range -5..5"),
    ("Bright=nan", r"out of range -5..5"),
    ("Bright=abc", r"edits: Bright: 'abc' is not a number \(allowed -5..5\)"),
    ("Bright", r"edits: 'Bright' is not NAME=STRENGTH"),
    ("Bright=1, Bright=2", "edits: Bright is given twice"),
    ("=2", "is not NAME=STRENGTH"),
])
def test_bad_edits_name_the_field_and_its_range(studio, text, message):
    with pytest.raises(InvalidInput, match=message):
        studio.edit("tiny", 1, 1.0, None, text)


def test_a_model_without_named_directions_says_so(studio):
    with pytest.raises(InvalidInput, match="model 'digits' has no named edits"):
        studio.edit("digits", 1, 1.0, None, "Bright=1")
    assert studio.edit_names("digits") == {} and studio.edit_names("tiny") == {"Bright": "Bright", "Dark": "Dark"}


def test_shipped_models_offer_their_named_edits(celeba):
    assert list(celeba.edit_names("celeba")) == list(NAMED_FACES)
    assert list(celeba.edit_names("mnist")) == ["Thickness", "Slant"]
    assert list(celeba.edit_names("anime")) == ["Light_Hair", "Red_Hair", "Blue_Hair"]


@pytest.mark.parametrize("model, seeds", [("celeba", range(200, 232)), ("mnist", range(200, 240)),
                                          ("anime", range(200, 232))])
def test_each_shipped_direction_moves_its_own_property_more_than_the_others(model, seeds):
    G, config = load_generator(f"checkpoints/{model}")
    dirs = named.load(f"checkpoints/{model}", G.w_dim, G.num_ws)
    classes = [s % G.num_classes for s in seeds] if G.num_classes else None
    from gan_core.latent import sampling

    ws = sampling.ws_from_seeds(G, list(seeds), 1.0, classes).cpu()
    for row in named_fit.report(G, config["meta"]["dataset"], dirs, ws):
        assert row["own"] > 0.1 and row["own"] > row["others"], row


def test_a_damaged_directions_file_is_a_clear_checkpoint_error(tmp_path):
    from gan_core.storage.checkpoint import CheckpointError

    root = save_tiny_checkpoints(tmp_path)
    (root / "tiny" / named.FILE).write_bytes(b"\x80\x04not safetensors")
    with pytest.raises(CheckpointError, match="directions.safetensors: not a named-directions file"):
        Studio(root).model("tiny")


def test_generate_cli_edits_a_seed_and_its_png_reproduces(tmp_path, capsys):
    from gan_core import generate

    root = save_tiny_checkpoints(tmp_path / "ck")
    out, again = tmp_path / "edit.png", tmp_path / "again.png"
    tiny = str(root / "tiny")
    assert generate.main(["--model", tiny, "--seeds", "5", "--edit", "Bright=2.5", "--out", str(out)]) == 0
    assert generate.main(["--recipe", str(out), "--model", str(root / "tiny"), "--out", str(again)]) == 0
    assert out.read_bytes() == again.read_bytes()
    assert generate.main(["--model", str(root / "tiny"), "--edit", "Bright=9", "--out", str(out)]) == 2
    assert "edits: Bright='9' is out of range -5..5" in capsys.readouterr().err
