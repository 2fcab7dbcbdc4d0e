"""Latent directions (SeFa): closed-form maths, edits that leave the image alone at zero, Studio caching and checks."""
from __future__ import annotations

import pytest
import torch
from conftest import make_generator
from PIL import Image

from gan_core.latent import directions, sampling
from gan_core.storage.checkpoint import save_generator
from gan_core.studio.recipe import KEY, Recipe
from gan_core.studio.studio import Studio
from gan_core.studio.validation import InvalidInput

SEED = 42


@pytest.fixture(scope="module")
def models():
    return {"style": make_generator("style"), "dcgan": make_generator("dcgan"), "mlp": make_generator("mlp"),
            "cond": make_generator("style", num_classes=3)}


@pytest.fixture(scope="module")
def studio(models, tmp_path_factory):
    root = tmp_path_factory.mktemp("checkpoints")
    for name in ("style", "dcgan", "cond"):
        save_generator(models[name], root / name, meta={})
    return Studio(root)


@pytest.mark.parametrize("arch", ["style", "dcgan", "mlp"])
def test_directions_are_orthonormal_eigenvectors_strongest_first(models, arch):
    G = models[arch]
    d = directions.compute(G)
    dim = G.w_dim if arch == "style" else G.z_dim
    assert d.space == ("w" if arch == "style" else "z") and d.vectors.shape == (dim, dim)
    assert torch.allclose(d.vectors @ d.vectors.T, torch.eye(dim, dtype=torch.float64), atol=1e-10)
    if arch == "style":
        W = torch.cat([conv.affine.weight for _, conv in G.modulated_convs()]).double()
        assert d.layers == list(range(G.num_ws)) and bool((d.sigmas > 0).all())
    else:
        W = directions.first_layer_weight(G).double()
        assert d.layers == [] and torch.equal(d.sigmas, torch.ones(dim, dtype=torch.float64))
    W = W / W.norm(dim=1, keepdim=True)
    gains = ((W @ d.vectors.T) ** 2).sum(0)  # eigenvalues of W^T W, in the order of the directions
    assert bool((gains[:-1] >= gains[1:] - 1e-9).all())
    again = directions.compute(G)
    assert torch.equal(d.vectors, again.vectors) and torch.equal(d.sigmas, again.sigmas)


def test_layer_groups_use_their_own_style_weights(models):
    G = models["style"]
    coarse, fine = directions.compute(G, "coarse"), directions.compute(G, "fine")
    assert coarse.layers == sampling.layer_groups(G)["coarse"] and fine.layers == sampling.layer_groups(G)["fine"]
    assert not torch.allclose(coarse.vectors[0].abs(), fine.vectors[0].abs())


@pytest.mark.parametrize("arch", ["style", "dcgan", "mlp", "cond"])
def test_zero_edit_is_the_seed_image_and_strip_frames_equal_single_edits(models, arch):
    G = models[arch]
    label = 2 if arch == "cond" else None
    d = directions.compute(G)
    plain = sampling.generate(G, [SEED], 0.7, label)
    assert torch.equal(directions.render(G, d, SEED, 0.7, label, [[]]), plain)
    assert torch.equal(directions.render(G, d, SEED, 0.7, label, [[0.0, 0.0]]), plain)
    strip = directions.render(G, d, SEED, 0.7, label, directions.strip_strengths(3, 7))
    assert strip.shape[0] == 21
    assert torch.equal(strip[3], plain[0])  # the middle frame of a strip is 0 sigma
    assert torch.equal(strip[7 + 6], directions.render(G, d, SEED, 0.7, label, [[0.0, directions.SPAN]])[0])
    assert not torch.equal(strip[0], plain[0])


def test_conditional_edits_start_from_the_class_average():
    """psi=0 with no edit is the label's own mean image, not the global one."""
    G = make_generator("style", num_classes=3)
    G.mapping.w_avg_class.copy_(torch.randn(3, G.w_dim, generator=torch.Generator().manual_seed(1)))
    d = directions.compute(G)
    for label in (0, 2):
        mean_ws = G.mapping.w_avg_class[label][None, None].expand(1, G.num_ws, -1)
        assert torch.equal(directions.render(G, d, SEED, 0.0, label, [[]]), sampling.synthesize(G, mean_ws))
    assert not torch.equal(directions.render(G, d, SEED, 0.0, 0, [[]]), directions.render(G, d, SEED, 0.0, 2, [[]]))


def test_style_edit_moves_w_by_alpha_sigma_d_on_the_group_only(models):
    G = models["style"]
    d = directions.compute(G, "coarse")
    ws = sampling.ws_from_seeds(G, [SEED], 0.7).clone()
    ws[:, d.layers] += (1.5 * d.sigmas[0] * d.vectors[0] - 2.0 * d.sigmas[2] * d.vectors[2]).float()
    expected = sampling.synthesize(G, ws)
    got = directions.render(G, d, SEED, 0.7, None, [[1.5, 0.0, -2.0]])
    assert torch.allclose(got, expected, atol=1e-5)


def test_studio_directions_cached_png_recipe_and_checks(studio):
    m = studio.model("style")
    result = studio.directions("style", SEED, 0.7, None, [1.0, 0, -0.5, 0, 0], "all")
    assert m.sefa("all") is m.sefa("all")
    assert result.recipe.edits == [1.0, 0.0, -0.5] and result.captions == ["seed 42 · d1 +1σ, d3 -0.5σ"]
    assert Recipe.from_json(Image.open(result.files[0]).info[KEY]) == result.recipe
    strip = studio.direction_strip("dcgan", SEED, 1.0, None, 2, 5)
    assert len(strip.images) == 10 and strip.columns == 5 and strip.captions[0] == "d1 -3σ"
    digits = studio.directions("cond", SEED, 1.0, "1", [2.0])
    assert digits.recipe.label == 1
    cases = [(("style", SEED, 1.0, None, [11.0]), "edits"), (("style", SEED, 1.0, None, [0.0] * 17), "edits"),
             (("style", SEED, 1.0, None, ["x"]), "edits"), (("style", SEED, 1.0, None, [], "bogus"), "layers"),
             (("dcgan", SEED, 1.0, None, [], "coarse"), "no per-layer styles"), (("style", -1, 1.0), "seed")]
    for args, expect in cases:
        with pytest.raises(InvalidInput, match=expect):
            studio.directions(*args)
