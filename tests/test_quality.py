"""Best-checkpoint training and the side-by-side quality benchmark, on a tiny real subset."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from gan_core.data.images import NAMED_SETS, data_root
from gan_core.evaluation import metrics

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [
    pytest.mark.skipif(not (data_root() / NAMED_SETS["celeba"]).is_file(), reason="../shared/data not available"),
    pytest.mark.skipif(importlib.util.find_spec(metrics.PACKAGE) is None, reason=metrics.INSTALL_HINT),
]
TINY = ["--res", "16", "--channel-base", "64", "--channel-max", "32", "--z-dim", "16", "--batch", "8", "--threads", "1"]


def test_training_exports_best_fid_generator(tmp_path):
    from gan_core import train

    out, ck = tmp_path / "run", tmp_path / "ck"
    argv = ["--data", "celeba", "--limit", "64", *TINY, "--steps", "6", "--save-every", "3", "--sample-every", "3",
            "--eval-every", "3", "--eval-n", "6", "--out", str(out), "--export", str(ck)]
    assert train.main(argv) == 0
    from gan_core.storage.train_state import load_train_state

    state = load_train_state(out / "train_state.pt")
    evals = state["evals"]
    assert [e["step"] for e in evals] == [3, 6]
    best = min(evals, key=lambda e: e["fid"])
    meta = json.loads((ck / "config.json").read_text())["meta"]
    assert meta["steps"] == best["step"] and meta["fid"] == best["fid"] and meta["fid_n"] == 6
    assert "FID" in (ck / "README.md").read_text()


def test_quality_benchmark_prints_table(tmp_path, capsys):
    import quality

    assert quality.main(["--data", "celeba", "--res", "16", "--minutes", "0.01", "--n", "6", "--threads", "1",
                         "--out", str(tmp_path / "q")]) == 0
    table = capsys.readouterr().out
    assert "| dcgan |" in table and "| style+step |" in table and "FID ratio vs dcgan" in table
    assert "precision" in table and "cpu capability" in table


@pytest.mark.slow  # several short training runs of the benchmark
def test_quality_rows_train_their_own_recipe(tmp_path):
    import quality

    rows = ("style,style+step,style+step+both,style+step+relativistic+noaug,style+step+relativistic+dwide,"
            "style+step+both+relativistic+faces")
    assert quality.main(["--data", "celeba", "--res", "16", "--minutes", "0.01", "--n", "6", "--threads", "1",
                         "--phase", "train", "--rows", rows, "--out", str(tmp_path / "q")]) == 0
    configs = {row: json.loads((tmp_path / "q" / row / "export" / "config.json").read_text())
               for row in rows.split(",")}
    loops = {row: config["meta"]["train_config"] for row, config in configs.items()}
    models = {row: config["model"] for row, config in configs.items()}
    assert models["style"]["noise"] is True and models["style+step"]["noise"] is False
    assert loops["style+step+both"]["d"] == "both" and loops["style+step"]["d"] == "residual"
    assert loops["style+step"]["augment"] == "color,translation,cutout"
    assert loops["style+step+relativistic+noaug"]["augment"] == "none"
    assert loops["style+step+relativistic+noaug"]["loss"] == "relativistic"
    assert loops["style+step+relativistic+dwide"]["d_width"] == 2.0 and loops["style+step"]["d_width"] == 1.0
    assert loops["style+step+both+relativistic+faces"]["face_critic"] == 1.0 and loops["style+step"]["face_critic"] == 0


@pytest.mark.slow  # several short training runs of the benchmark
def test_quality_benchmark_trains_here_and_scores_later(tmp_path, capsys):
    import quality

    common = ["--data", "celeba", "--res", "16", "--n", "6", "--threads", "1", "--out", str(tmp_path / "q")]
    assert quality.main(common + ["--minutes", "0.01", "--phase", "train", "--rows", "style+step"]) == 0
    assert (tmp_path / "q" / "style+step" / "export" / "model.safetensors").is_file()
    assert json.loads((tmp_path / "q" / "style+step" / "bench.json").read_text())["steps"] >= 1
    assert not (tmp_path / "q" / "dcgan").exists()
    with pytest.raises(SystemExit) as stop:  # the DCGAN row is missing: a clear message, not a traceback
        quality.main(common + ["--phase", "score"])
    assert stop.value.code == 2 and "nothing trained for dcgan" in capsys.readouterr().err
    assert "FID ratio" not in capsys.readouterr().out
    assert quality.main(common + ["--minutes", "0.01", "--phase", "train", "--rows", "dcgan"]) == 0
    assert quality.main(common + ["--phase", "score"]) == 0
    assert "| style+step |" in capsys.readouterr().out


def test_unknown_row_is_refused_with_the_choices(capsys):
    import quality

    with pytest.raises(SystemExit) as stop:
        quality.main(["--rows", "dcgan,style+magic"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "style+magic" in err and "style+step+both" in err


def test_quality_rows_fine_tune_a_shipped_generator(tmp_path):
    import quality
    from conftest import make_generator

    from gan_core.storage.checkpoint import save_generator

    start = save_generator(make_generator("style", noise=False), tmp_path / "start", meta={})
    rows = "style+step,style+step+relativistic"
    assert quality.main(["--data", "celeba", "--init-from", str(start), "--d-warmup", "3", "--minutes", "0.01",
                         "--threads", "1", "--phase", "train", "--rows", rows, "--out", str(tmp_path / "q")]) == 0
    for row in rows.split(","):
        config = json.loads((tmp_path / "q" / row / "export" / "config.json").read_text())
        assert config["model"] == json.loads((start / "config.json").read_text())["model"]  # its shape, 16 px
        assert config["meta"]["train_config"]["extra"]["init_from"] == str(start)
        assert config["meta"]["train_config"]["d_warmup"] == 3


def test_d_warmup_without_a_fine_tune_is_refused(tmp_path, capsys):
    import quality

    with pytest.raises(SystemExit) as stop:
        quality.main(["--d-warmup", "100", "--rows", "style+step", "--out", str(tmp_path / "q")])
    assert stop.value.code == 2 and "--d-warmup applies to a warm start" in capsys.readouterr().err
    assert not (tmp_path / "q").exists()


def test_fine_tuning_refuses_rows_of_another_model(tmp_path, capsys):
    import quality
    from conftest import make_generator

    from gan_core.storage.checkpoint import save_generator

    start = save_generator(make_generator("style", noise=False), tmp_path / "start", meta={})
    with pytest.raises(SystemExit) as stop:
        quality.main(["--init-from", str(start), "--rows", "style+step,dcgan,style", "--out", str(tmp_path / "q")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "rows dcgan, style build another model" in err
    assert not (tmp_path / "q").exists()


def test_quality_rows_never_flip_digits(tmp_path):
    import quality

    common = ["--res", "16", "--minutes", "0.005", "--threads", "1", "--phase", "train", "--rows", "style+step"]
    assert quality.main(["--data", "mnist", *common, "--out", str(tmp_path / "digits")]) == 0
    assert quality.main(["--data", "celeba", *common, "--out", str(tmp_path / "faces")]) == 0
    flips = {name: json.loads((tmp_path / name / "style+step" / "export" / "config.json").read_text())
             ["meta"]["train_config"]["hflip"] for name in ("digits", "faces")}
    assert flips == {"digits": False, "faces": True}
