"""Bad input gets a message naming the field and its allowed range: hundreds of cases through the real server
(gradio_client, every parameter of four endpoints, all three models), plus values JSON cannot carry, into Studio."""
from __future__ import annotations

import math
import re
from typing import NamedTuple

import numpy as np
import pytest
from appserver import MODELS, settle
from conftest import ROOT, save_tiny_checkpoints
from PIL import Image

from gan_core.studio.studio import Studio
from gan_core.studio.validation import (
    FRAMES_RANGE,
    INTERP_SEEDS_RANGE,
    MAX_GRID_SIDE,
    MAX_IMAGES,
    MAX_TEXT,
    PSI_RANGE,
    InvalidInput,
    shown,
)

SIGNATURES = {  # the API's parameters, in order
    "/sample": ("model", "n", "psi", "label"),
    "/seeds": ("model", "spec", "psi", "label"),
    "/interpolate": ("model", "spec", "frames", "mode", "psi", "label", "loop", "w"),
    "/mix": ("model", "rows", "cols", "layers", "custom", "psi", "label", "w"),
    "/edit": ("model", "seed", "psi", "label", "edits", "w"),
}
SEEDS = re.escape("0..4294967295")
INDICES = r"0\.\.\d+"  # w indices: 0..num_ws-1 of the model
MAX_MESSAGE = 300  # characters: a huge input is never echoed back whole
BATCH = 16  # concurrent requests in the sweep, well below the queue's max_size


class Case(NamedTuple):
    endpoint: str
    model: str
    param: str
    value: object
    field: str
    allowed: str  # regex the message must contain


def good(model: str) -> dict[str, object]:
    """A valid value for every parameter of every endpoint."""
    return {"model": model, "n": 2, "spec": "3, 7", "psi": 0.7, "label": "3" if model == "mnist" else None,
            "frames": 4, "mode": "z-slerp", "loop": False, "rows": "1", "cols": "2", "layers": "custom",
            "custom": "0-1", "w": "", "seed": 42, "edits": ""}


def group(field: str, allowed: str, *values: object) -> list[tuple[object, str, str]]:
    """Bad values whose message must start with 'field:' and contain `allowed` (a regex)."""
    return [(v, field, allowed) for v in values]


def seed_specs(field: str, limit: int) -> list[tuple[object, str, str]]:
    return (group(field, SEEDS, "abc", "-1", "4294967296", "", "   ", "5-1", "1,,2", "1.5", "1;2", -1, 2 ** 32)
            + group(field, str(limit), f"0-{limit}", "1-10000000")
            + group(field, f"0..{MAX_TEXT}", "7" * (MAX_TEXT + 1)))


# parameter -> (bad value, field named in the message, allowed-range regex)
BAD: dict[str, list[tuple[object, str, str]]] = {
    "psi": group("truncation psi", re.escape("-2.0..2.0"), -100, 100, 2.5, "inf", "nan", "abc", None, 10 ** 400),
    "label": group("class", re.escape("0..9"), 11, -1, "cat", 3.5, "10", True),
    "n": group("n", re.escape("1..64"), 0, -1, 10 ** 6, 10 ** 400, 3.7, "3.7", 65, "abc", None, ""),
    "frames": group("frames", re.escape("2..120"), 0, 1, 121, 10 ** 5, 2.5, "many", -3, None),
    "mode": group("mode", "z-slerp, w-lerp", "bogus", "", None, "W-LERP"),
    "loop": group("loop", "true or false", "yes", 2),
    "layers": group("layers", "coarse, middle, fine, all, custom", "bogus", "", None),
    "custom": group("layers", INDICES, "0-99", "5-1", "-1", "x", "99", "0-3;5", None),
    "rows": group("row seeds", "8", "1-9") + group("row seeds", SEEDS, "", "abc", "5-1"),
    "cols": group("column seeds", "8", "0-8") + group("column seeds", SEEDS, "", "x", "9-2"),
    "w": group("w", "base64", "not base64!", "AAAA", 5, "x" * 7000),
    "seed": group("seed", SEEDS, "abc", -1, 2 ** 32, 1.5, "1-3", None),
}
NAMED = {"anime": "Red_Hair", "celeba": "Smiling", "mnist": "Slant"}  # one named edit of each model


def named_edits(model: str) -> list[tuple[object, str, str]]:
    """Bad named edits for a model: out of range, not a number, twice, malformed, unknown, not text."""
    n = NAMED[model]
    return (group("edits", re.escape("-5..5"), f"{n}=6", f"{n}=-5.5", f"{n}=nan", f"{n}=abc")
            + group("edits", "given twice", f"{n}=1, {n}=2") + group("edits", "NAME=STRENGTH", n, "=2", 5)
            + group("edits", f"this model's edits: .*{n}", "Nope=1") + group("edits", f"0..{MAX_TEXT}", "," * 1001))
INTERPOLATION = "interpolation seeds"
SPECS = {"/seeds": seed_specs("seeds", 64),
         "/interpolate": (group(INTERPOLATION, re.escape("2..16"), "3") + group(INTERPOLATION, "16", "0-16")
                          + group(INTERPOLATION, SEEDS, "abc", "", "5-1"))}
UNKNOWN_MODELS = ["nope", "", "ANIME", "anime ", "../checkpoints/anime", None, 3, "x" * 5000]


def cases() -> list[Case]:
    out = [Case(ep, "-", "model", v, "model", "anime, celeba, mnist") for ep in SIGNATURES for v in UNKNOWN_MODELS]
    for ep, params in SIGNATURES.items():
        for model in MODELS:
            for param in params:
                if param == "label" and model != "mnist":
                    continue  # unconditional models ignore the class
                bad = SPECS[ep] if param == "spec" else named_edits(model) if param == "edits" else BAD.get(param, [])
                out += [Case(ep, model, param, v, field, allowed) for v, field, allowed in bad]
    return out


CASES = cases()


def _args(case: Case) -> list[object]:
    values = good(MODELS[0] if case.model == "-" else case.model) | {case.param: case.value}
    return [values[p] for p in SIGNATURES[case.endpoint]]


def _check_message(msg: str, field: str, allowed: str) -> None:
    assert msg.startswith(f"{field}:"), msg
    assert re.search(allowed, msg), f"allowed range {allowed!r} not in {msg!r}"
    assert len(msg) < MAX_MESSAGE, msg


@pytest.mark.slow  # the real app server
def test_signatures_are_the_served_api(client):
    """The sweep covers each endpoint's parameters as the server names them, in order."""
    served = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {ep: tuple(p["parameter_name"] for p in served[ep]["parameters"]) for ep in SIGNATURES} == SIGNATURES


@pytest.fixture(scope="module")
def sweep(client) -> list[str]:
    """What each case got back, sent BATCH requests at a time (a third of the time of one by one)."""
    from gradio_client.exceptions import AppError

    got = []
    for i in range(0, len(CASES), BATCH):
        batch = [(_args(case), case.endpoint) for case in CASES[i:i + BATCH]]
        jobs = [client.submit(*args, api_name=endpoint) for args, endpoint in batch]
        for job, (args, endpoint) in zip(jobs, batch):
            try:
                got.append(f"no error, returned {shown(settle(client, job, args, endpoint))}")
            except AppError as exc:
                got.append(str(exc))
            except Exception as exc:  # anything but the app's own message is a failure, shown in the test
                got.append(f"{type(exc).__name__}: {exc}")
    return got


@pytest.mark.slow  # the real app server
@pytest.mark.parametrize("i", range(len(CASES)),
                         ids=[f"{c.endpoint}-{c.model}-{c.param}={shown(c.value, 20)}" for c in CASES])
def test_bad_input_through_server(sweep, i):
    _check_message(sweep[i], CASES[i].field, CASES[i].allowed)


@pytest.mark.slow  # the real app server
def test_server_still_serves_after_the_sweep(client, served_checkpoints):
    gallery, files = client.predict("anime", "42, 7", 0.7, None, api_name="/seeds")
    assert [g["caption"] for g in gallery] == ["seed 42", "seed 7"]
    local = Studio(served_checkpoints).seeds("anime", "42", 0.7).images[0]
    assert np.array_equal(np.asarray(Image.open(files[0])), np.asarray(local))


# ----- values JSON cannot carry (NaN, inf, huge ints, bytes), straight into Studio with tiny models -----
@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    return Studio(save_tiny_checkpoints(tmp_path_factory.mktemp("tiny-checkpoints")))


UNIT = [  # (method, args, field, allowed)
    *[("sample", ("tiny", 2, v), "truncation psi", re.escape("-2.0..2.0"))
      for v in (math.nan, math.inf, -math.inf, -10 ** 400, np.float32("nan"), b"1", [1.0], {"psi": 1})],
    *[("sample", ("tiny", v, 1.0), "n", re.escape("1..64"))
      for v in (math.nan, math.inf, 10 ** 400, 10 ** 5000, 1e20, b"2", 2j)],
    *[("interpolate", ("tiny", "3, 7", v), "frames", re.escape("2..120")) for v in (math.nan, -math.inf, 10 ** 30)],
    *[("sample", ("digits", 2, 1.0, v), "class", re.escape("0..9")) for v in (math.nan, math.inf, 10 ** 100, -0.5)],
    *[("seeds", ("tiny", v, 1.0), "seeds", SEEDS) for v in (math.nan, math.inf, -1.0, 2.0 ** 40, b"1", ["1"])],
    ("seeds", ("tiny", "1, " * 600, 1.0), "seeds", f"0..{MAX_TEXT}"),
    ("mix", ("tiny", "1", "2", "custom", "0," * 600), "layers", f"0..{MAX_TEXT}"),
    ("mix", ("tiny", "1", "2", "custom", 3), "layers", INDICES),
    ("interpolate", ("dc", "3, 7", 4, "w-lerp"), "mode", "z-slerp"),
    ("interpolate", ("tiny", "3, 7", 4, "z-slerp", 1.0, None, "true"), "loop", "true or false"),
    ("sample", ("no-such-model", 2, 1.0), "model", "tiny"),
    ("directions", ("tiny", 1, 1.0, None, [], "middle"), "layers", "'all' or 'coarse' or 'fine'"),  # 16 px: no middle
    ("directions", ("dc", 1, 1.0, None, [], "coarse"), "layers", "use 'all'"),
]


@pytest.mark.parametrize("method, args, field, allowed", UNIT,
                         ids=lambda v: shown(v, 40) if isinstance(v, tuple) else None)
def test_bad_input_in_studio(studio, method, args, field, allowed):
    with pytest.raises(InvalidInput) as err:
        getattr(studio, method)(*args)
    _check_message(str(err.value), field, allowed)


def test_good_edge_values_in_studio(studio):
    assert len(studio.sample("tiny", "64", "-2").images) == 64
    assert studio.seeds("tiny", "4294967295, 0", 2.0).seeds == [4294967295, 0]
    assert len(studio.interpolate("digits", "1-16", 120, "w-lerp", 1.0, "9", True).images) == 120
    assert "[0, 5]" in studio.mix("tiny", "1-8", "1-8", "custom", "5-5, 0").note


def test_every_choice_the_app_offers_is_accepted(studio):
    """The app's menus come from Studio (classes, layer choices); each choice must run."""
    assert studio.classes("digits") == [str(c) for c in range(10)] and studio.classes("tiny") == []
    for label in studio.classes("digits"):
        assert studio.sample("digits", 1, 1.0, label).recipe.label == int(label)
    for preset in studio.mix_layers():
        assert studio.mix("tiny", "1", "2", preset, "0-1").recipe.layers == ("0-1" if preset == "custom" else preset)
    assert studio.layer_groups("tiny") == ["all", "coarse", "fine"] and studio.layer_groups("dc") == ["all"]
    for name in ("tiny", "dc"):
        for group in studio.layer_groups(name):
            assert studio.directions(name, 1, 1.0, None, [1.0], group).recipe.layers == group


def test_readme_limits_are_the_validation_constants():
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## Limits")
    limits = readme[start:readme.index("\n## ", start)]
    for text in ("0..4294967295", f"1..{MAX_IMAGES}", f"{PSI_RANGE[0]}..{PSI_RANGE[1]}",
                 "{}..{} key seeds".format(*INTERP_SEEDS_RANGE), "{}..{} frames".format(*FRAMES_RANGE),
                 f"1..{MAX_GRID_SIDE} row seeds", f"at most {MAX_TEXT} characters"):
        assert text in limits, text
