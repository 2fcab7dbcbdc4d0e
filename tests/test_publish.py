"""gan_core.publish: a run's export becomes an app model (weights, config, card, named edits) in one swap."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import TINY_STYLE, make_generator, tiny_named_directions
from PIL import Image

from gan_core import publish
from gan_core.latent import named, named_fit, sampling
from gan_core.storage.checkpoint import CARD, CONFIG, DIRECTIONS, WEIGHTS, CheckpointError, export_generator


@pytest.fixture
def export(tmp_path):
    """A tiny run export, as train.py --export writes it (scores from the run's best evaluation in its meta)."""
    meta = {"dataset": "my-photos", "num_images": 12, "steps": 40, "fid": 31.5, "kid": 0.01, "kid_std": 0.001,
            "precision": 0.7, "recall": 0.2, "fid_n": 100, "fid_real": "my-photos"}
    return export_generator(make_generator("style", seed=4), tmp_path / "export", meta)


def test_publish_installs_the_export_under_its_new_name_with_the_note_and_a_grid(export, tmp_path):
    dest, grid = tmp_path / "checkpoints" / "portraits", tmp_path / "docs" / "portraits-8x8.png"
    rc = publish.main([str(export), str(dest), "--note", "Trained 2 h; 60 of 64 faces whole.", "--grid", str(grid)])
    assert rc == 0
    assert (dest / WEIGHTS).read_bytes() == (export / WEIGHTS).read_bytes()
    meta = json.loads((dest / CONFIG).read_text())["meta"]
    assert meta["notes"] == "Trained 2 h; 60 of 64 faces whole." and meta["fid"] == 31.5
    card = (dest / CARD).read_text()
    assert "`portraits`" in card and "`export`" not in card and "60 of 64 faces whole" in card
    assert not (dest / DIRECTIONS).exists()  # no readers for a user's folder of photos
    side = 2 + 8 * (TINY_STYLE["resolution"] + 2)  # 8x8 tiles, 2 px apart
    assert Image.open(grid).size == (side, side)


def test_named_edits_are_refit_and_written_with_the_weights(export, tmp_path, monkeypatch):
    config = json.loads((export / CONFIG).read_text())
    config["meta"]["dataset"] = "mnist"
    (export / CONFIG).write_text(json.dumps(config))
    fitted = tmp_path / "fitted"
    tiny_named_directions(fitted.mkdir() or fitted)
    dirs = named.load(fitted, TINY_STYLE["w_dim"], 6)
    seen = []
    monkeypatch.setattr(named_fit, "find", lambda G, dataset, log: seen.append(dataset) or dirs)
    dest = publish.publish(export, tmp_path / "digits", log=lambda _: None)
    assert seen == ["mnist"]
    loaded = named.load(dest, TINY_STYLE["w_dim"], 6)
    assert [d.name for d in loaded.directions] == ["Bright", "Dark"]
    assert torch.equal(loaded.directions[1].vector, dirs.directions[1].vector)


def test_old_edits_that_cannot_be_refit_stop_the_publish_and_keep_the_old_model(export, tmp_path):
    dest = tmp_path / "tiny"
    export_generator(make_generator("style", seed=9), dest, {"dataset": "my-photos"})
    tiny_named_directions(dest)
    before = (dest / WEIGHTS).read_bytes()
    with pytest.raises(CheckpointError, match="directions.safetensors.*not refit"):
        publish.publish(export, dest)
    assert (dest / WEIGHTS).read_bytes() == before


def test_a_damaged_export_is_a_clear_error_and_nothing_is_replaced(export, tmp_path, capsys):
    (export / WEIGHTS).write_bytes(b"not safetensors")
    dest = tmp_path / "kept"
    assert publish.main([str(export), str(dest)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and WEIGHTS in err
    assert not dest.exists()


def test_a_digit_models_grid_draws_digit_seed_mod_10_as_the_readme_says(tmp_path):
    G = make_generator("style", num_classes=10)
    folder = export_generator(G, tmp_path / "digits", {"dataset": "my-digits"})
    grid = publish.draw_grid(folder, tmp_path / "grid.png")
    res, pad = TINY_STYLE["resolution"], 2
    x, y = pad + 5 * (res + pad), pad + 1 * (res + pad)  # seed 13: row 1, column 5
    tile = np.asarray(Image.open(grid))[y:y + res, x:x + res]
    drawn = {c: sampling.to_uint8(sampling.generate(G, [13], 1.0, [c]))[0].numpy() for c in (3, 0)}
    assert np.array_equal(tile, drawn[3]) and not np.array_equal(tile, drawn[0])
