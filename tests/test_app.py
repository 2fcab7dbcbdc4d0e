"""The app as users reach it: a real server on localhost, called through gradio_client; and the page built
in-process (gan_app.create_demo), for what it does on load (links) and on picking a model, and what it serves."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from appserver import BROKEN, MODELS
from PIL import Image

from gan_core.latent.projection import encode_w
from gan_core.studio.recipe import KEY, KINDS, Recipe
from gan_core.studio.requests import TOP_K
from gan_core.studio.studio import Studio

SERVER = pytest.mark.slow  # the real app server: not in plain `pytest` (the fast tier); the page built here is fast


@SERVER
@pytest.mark.parametrize("model", MODELS)
def test_all_endpoints(client, served_checkpoints, model):
    label = "3" if model == "mnist" else None
    out = client.predict(model, 4, 0.8, label, api_name="/sample")
    assert len(out) == 4 and all(item["caption"].startswith("seed ") for item in out)
    assert Image.open(out[0]["image"]).size[0] in (32, 64)

    gallery, files = client.predict(model, "42, 1-3", 0.7, label, api_name="/seeds")
    assert [g["caption"].split()[1] for g in gallery] == ["42", "1", "2", "3"]
    assert len(files) == 4 and files[0].endswith("seed42.png")
    served = np.asarray(Image.open(files[0]))
    local = Studio(served_checkpoints).seeds(model, "42", 0.7, label).images[0]
    assert np.array_equal(served, np.asarray(local)), "seed 42 differs between processes"

    strip, gif, downloads = client.predict(model, "3, 7", 6, "w-lerp", 1.0, label, False, api_name="/interpolate")
    assert len(strip) == 6
    assert iio.imread(gif).shape[0] == 6
    assert any(f.endswith(".mp4") and Path(f).stat().st_size > 0 for f in downloads)

    figure, note = client.predict(model, "1, 2", "5, 6, 7", "coarse", "", 1.0, label, api_name="/mix")
    w, h = Image.open(figure).size
    assert w > h > 0 and "w indices" in note


@SERVER
def test_bad_input_gets_message_and_server_keeps_serving(client):
    from gradio_client.exceptions import AppError

    cases = [
        (("anime", "abc", 1.0, None), "seeds"),
        (("anime", "5-1", 1.0, None), "reversed"),
        (("nope", "1", 1.0, None), "unknown model"),
        (("anime", "1", 100, None), "truncation psi"),
        (("mnist", "1", 1.0, "cat"), "class"),
    ]
    for args, expect in cases:
        with pytest.raises(AppError, match=expect):
            client.predict(*args, api_name="/seeds")
    gallery, _ = client.predict("anime", "42", 0.7, None, api_name="/seeds")
    assert len(gallery) == 1


# ----- the page built in this process, on the server's checkpoint copy -----
def test_importing_the_app_builds_nothing():
    """`import app` (Spaces run `python app.py`) and `import gan_app` build no Studio and no page; main() does."""
    code = ("import sys\n"
            "import gan_core.studio.studio as s, gan_core.photos.uploads, gan_core.generate\n"
            "assert 'gradio' not in sys.modules, 'gan_core imported gradio'\n"
            "import gradio\n"
            "def refuse(*a, **k): raise AssertionError('built at import')\n"
            "s.Studio.__init__ = gradio.Blocks.__init__ = refuse\n"
            "import app, gan_app\n"
            "assert app.main is gan_app.main and app.create_demo is gan_app.create_demo\n")
    run = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[1], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]


@pytest.fixture(scope="module")
def studio(served_checkpoints):
    return Studio(served_checkpoints)


@pytest.fixture(scope="module")
def demo(studio):
    from gan_app import create_demo

    return create_demo(studio)


def handler(demo, api_name: str):
    """The function behind the page's event `api_name` (the API's, or a private one such as "link")."""
    return next(f.fn for f in demo.fns.values() if f.api_name == api_name)


def test_api_endpoints_and_lanes(demo):
    """The public endpoints, their parameters in order, and their lanes: projections queue apart from the rest."""
    public = {f.api_name: f for f in demo.fns.values() if f.api_visibility == "public"}
    assert set(public) == {"sample", "seeds", "all_classes", "interpolate", "mix", "directions", "direction_strip",
                           "edit", "project", "reproduce"}
    assert public["edit"].input_parameter_names == ["model", "seed", "psi", "label", "edits", "w"]
    sliders = [f"d{i + 1}" for i in range(TOP_K)]
    assert public["directions"].input_parameter_names == ["model", "seed", "psi", "label", "layers", *sliders, "w"]
    assert public["project"].input_parameter_names == ["model", "image", "centre_crop", "label"]
    assert {name: f.concurrency_id for name, f in public.items()} == {
        name: "project" if name == "project" else "quick" for name in public}
    assert public["project"].concurrency_limit == 1


def test_direction_sliders_follow_top_k(studio, monkeypatch):
    from gan_app import create_demo, tabs

    monkeypatch.setattr(tabs, "TOP_K", 3)
    demo = create_demo(studio)
    directions = next(f for f in demo.fns.values() if f.api_name == "directions")
    assert directions.input_parameter_names[5:] == ["d1", "d2", "d3", "w"]
    assert [c.label for c in directions.inputs if str(c.label).startswith("Direction")] == [
        f"Direction {i} (σ)" for i in (1, 2, 3)]
    edited = handler(demo, "directions")("mnist", 42, 1.0, "3", "all", 1.5, 0, -1, "")
    assert edited.size == (32, 32) and Recipe.from_json(edited.info[KEY]).edits == [1.5, 0, -1]


def test_named_sliders_follow_the_model_and_edit_the_seed(demo, studio):
    from gan_app import handlers

    mnist = handlers.named_sliders(studio, "mnist", 8)
    assert [u["label"] for u in mnist[:2]] == ["Thickness", "Slant"] and [u["visible"] for u in mnist] == [True] * 2 + \
        [False] * 6
    assert [u["label"] for u in handlers.named_sliders(studio, "celeba", 8)] == [
        "Smile", "Young", "Male", "Glasses", "Blond hair", "Black hair", "Bangs", "Makeup"]
    assert not any(u["visible"] for u in handlers.named_sliders(studio, "broken-garbage", 8))
    page = handler(demo, "edit_page")  # the sliders, in the model's order, then w
    image, note, recipe = page("mnist", 42, 1.0, "3", 0, 2.5, 0, 0, 0, 0, 0, 0, "")
    assert note == "seed 42 · Slant +2.5" and Recipe.from_json(recipe).edit == "Slant=2.5"
    api_image, api_note = handler(demo, "edit")("mnist", 42, 1.0, "3", "Slant=2.5", "")
    assert api_note == note and np.array_equal(np.asarray(api_image), np.asarray(image))
    plain, _ = handler(demo, "edit")("mnist", 42, 1.0, "3", "", "")
    assert np.array_equal(np.asarray(plain), np.asarray(studio.seeds("mnist", "42", 1.0, "3").images[0]))


@pytest.fixture(scope="module")
def open_link(demo):
    """The page's load event for a link with these query parameters -> {field label: value}."""
    on_link = handler(demo, "link")

    def load(params: dict[str, str]) -> dict[str, object]:
        out = on_link(SimpleNamespace(query_params=params))
        return {c.label.split(" (")[0]: value for c, value in out.items()}

    return load


PHOTO_W = encode_w(torch.zeros(10, 128))  # the 64 px models' W+: 10 layers of 128
PHOTO_FIELDS = {"Projected w": PHOTO_W, "w: a projected image's latent from /project": PHOTO_W}  # + "Use your image"
ALWAYS = {"Model", "Reproduce from a recipe", "Recipe: paste a result's recipe", "Truncation ψ", "Reproduced",
          "Downloads", "Note"}  # what every link that reproduces fills in
LINKS = [  # a recipe, and the tab fields (beyond ALWAYS) its link fills in
    (Recipe("sample", "anime", seeds="5-6"), {"Seeds": "5-6"}),
    (Recipe("seeds", "mnist", seeds="1-2", psi=0.5, label=3), {"Seeds": "1-2", "Truncation ψ": 0.5, "Class": "3"}),
    (Recipe("all_classes", "mnist", seeds="1"), {"Seeds": "1"}),
    (Recipe("interpolate", "anime", seeds="3,7", frames=2, mode="w-lerp", loop=True),
     {"Seeds to walk through": "3,7", "Frames": 2, "Path": "w-lerp", "Loop back to the first seed": True}),
    (Recipe("mix", "anime", rows="1", cols="2", layers="0-1"),
     {"Row seeds": "1", "Column seeds": "2", "Layers taken from the column": "custom", "Custom w indices": "0-1"}),
    (Recipe("directions", "anime", seeds="7", layers="coarse", edits=[1.5, 0, -1]),
     {"Seed": 7, "Style layers the directions act on": "coarse",
      **{f"Direction {i}": x for i, x in enumerate([1.5, 0, -1, 0, 0], 1)}}),
    (Recipe("direction_strip", "anime", seeds="7", k=1, frames=2), {"Seed": 7}),  # k, frames: no field
    (Recipe("edit", "anime", seeds="7", edit="Red_Hair=2"), {"Seed": 7, "Light hair": 0.0, "Red hair": 2.0,
                                                             "Blue hair": 0.0}),  # the model's named sliders
    (Recipe("projection", "anime", w=PHOTO_W), PHOTO_FIELDS),
    (Recipe("mix", "anime", rows="1", cols="2", layers="coarse", w=PHOTO_W),
     {"Row seeds": "1", "Column seeds": "2", "Layers taken from the column": "coarse", "Custom w indices": "",
      **PHOTO_FIELDS}),
]


def test_links_cover_every_kind():
    assert set(r.kind for r, _ in LINKS) == set(KINDS)


@pytest.mark.parametrize("recipe, tab", LINKS, ids=[r.kind for r, _ in LINKS])
def test_link_fills_its_tab_and_reproduces(open_link, recipe, tab):
    got = open_link({"recipe": recipe.to_json()})
    assert set(got) - ALWAYS - {"Use your image"} == set(tab) - ALWAYS, \
        "fields of another tab filled in, or of its own left out"
    assert ("Use your image" in got) == bool(recipe.w)
    assert tab.items() <= got.items() and got["Model"] == recipe.model
    assert got["Reproduced"] and "⚠️" not in got["Note"] and "?recipe=" in got["Note"]


def test_bad_links_say_why(open_link):
    assert set(open_link({})) == {"Note"}  # no recipe: nothing changes
    bad_json = open_link({"recipe": "{"})
    assert set(bad_json) == {"Reproduce from a recipe", "Note"} and "not valid JSON" in bad_json["Note"]
    reversed_seeds = open_link({"model": "anime", "seeds": "5-1"})
    assert reversed_seeds["Seeds"] == "5-1" and "Reproduced" not in reversed_seeds
    assert reversed_seeds["Note"].startswith("⚠️ seeds: range 5-1 is reversed")
    many = open_link({"model": "anime", "kind": "directions", "seeds": "1-3"})
    assert many["Seed"] is None and many["Note"].startswith("⚠️ seed: '1-3' is not a number")


def test_menus_follow_the_model(demo, studio):
    """Picking a model sets the class picker's choices (shown for conditional models only) and the directions'
    layer groups; a broken model shows its error and hides the picker."""
    on_model_change = handler(demo, "model_info")
    info, picker, grid, groups = on_model_change("mnist")
    assert picker["choices"] == studio.classes("mnist") == [str(d) for d in range(10)]
    assert picker["visible"] and grid["visible"] and "10 classes" in info
    assert groups["choices"] == studio.layer_groups("mnist") == ["all", "coarse", "middle", "fine"]
    info, picker, grid, groups = on_model_change("anime")
    assert picker["choices"] == studio.classes("anime") == [] and not picker["visible"] and not grid["visible"]
    broken = next(iter(BROKEN))
    info, picker, grid, groups = on_model_change(broken)
    assert info.startswith("⚠️") and BROKEN[broken] in info and not picker["visible"] and not grid["visible"]
    assert "choices" not in groups
