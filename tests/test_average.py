"""gan_core.average: a run's snapshots become one export whose weights are their mean."""
from __future__ import annotations

import json

import pytest
from conftest import make_generator

from gan_core import average
from gan_core.storage.checkpoint import CARD, CONFIG, CheckpointError, export_generator, load_generator

SCORED = {"dataset": "my-photos", "fid": 31.5, "kid": 0.01, "kid_std": 0.001, "precision": 0.7, "recall": 0.2,
          "fid_n": 100, "fid_real": "my-photos"}


def test_the_average_holds_the_mean_weights_and_no_snapshots_scores(tmp_path):
    a = export_generator(make_generator("style", seed=1), tmp_path / "a", SCORED | {"steps": 100})
    b = export_generator(make_generator("style", seed=2), tmp_path / "b", SCORED | {"steps": 300})
    assert average.main([str(a), str(b), "--out", str(tmp_path / "mean")]) == 0
    (Ga, _), (Gb, _), (Gm, config) = (load_generator(tmp_path / f) for f in ("a", "b", "mean"))
    sa, sb, sm = Ga.state_dict(), Gb.state_dict(), Gm.state_dict()
    for key in ("mapping.w_avg", next(k for k in sm if k.endswith("weight"))):
        assert not sa[key].equal(sb[key])  # the snapshots differ, so the mean is a real test
        assert sm[key].allclose((sa[key] + sb[key]) / 2)
    meta = config["meta"]
    assert meta["averaged_steps"] == [100, 300] and meta["steps"] == 300 and "fid" not in meta and "recall" not in meta
    assert "steps 100, 300" in (tmp_path / "mean" / CARD).read_text()
    assert json.loads((tmp_path / "mean" / CONFIG).read_text())["model"] == config["model"]


def test_snapshots_of_two_architectures_are_refused(tmp_path, capsys):
    a = export_generator(make_generator("style", seed=1), tmp_path / "a", SCORED)
    b = export_generator(make_generator("dcgan", seed=1), tmp_path / "b", SCORED)
    assert average.main([str(a), str(b), "--out", str(tmp_path / "mean")]) == 1
    assert "not one architecture" in capsys.readouterr().err and not (tmp_path / "mean").exists()
    with pytest.raises(CheckpointError, match="at least two"):
        average.average([a], tmp_path / "mean")
