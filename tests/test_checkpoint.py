"""Checkpoints: bit-exact round trip; every broken file raises CheckpointError naming it; no code runs on load."""
from __future__ import annotations

import json

import pytest
import torch
from conftest import Payload, make_generator

from gan_core.latent.sampling import generate
from gan_core.storage.checkpoint import (
    CONFIG,
    WEIGHTS,
    CheckpointError,
    load_generator,
    save_generator,
)
from gan_core.storage.train_state import load_train_state, save_train_state


@pytest.fixture
def saved(tmp_path):
    G = make_generator("style")
    folder = save_generator(G, tmp_path / "ck", meta={"dataset": "unit", "steps": 7}, card="# tiny\n")
    return G, folder


@pytest.mark.parametrize("arch", ["style", "dcgan", "mlp"])
def test_round_trip_bit_exact(tmp_path, arch):
    G = make_generator(arch)
    folder = save_generator(G, tmp_path / arch, meta={"dataset": "unit", "steps": 7}, card="# tiny\n")
    assert sorted(p.name for p in folder.iterdir()) == sorted([CONFIG, WEIGHTS, "README.md"])  # no temp files left
    G2, config = load_generator(folder)
    assert config["meta"] == {"dataset": "unit", "steps": 7}
    assert G2.cfg == G.cfg
    assert not G2.training and not any(p.requires_grad for p in G2.parameters())
    sd, sd2 = G.state_dict(), G2.state_dict()
    assert sd.keys() == sd2.keys()
    for k in sd:
        assert sd[k].dtype == sd2[k].dtype and torch.equal(sd[k], sd2[k]), k
    if arch == "style":
        assert torch.equal(G2.w_avg, G.w_avg) and G.w_avg.abs().sum() > 0
    seeds = [0, 1, 42]
    assert torch.equal(generate(G, seeds), generate(G2, seeds))
    assert torch.equal(generate(G, seeds, psi=0.5), generate(G2, seeds, psi=0.5))


def test_resave_over_existing_checkpoint(saved, tmp_path):
    _, folder = saved
    G_new = make_generator("style", seed=1)
    save_generator(G_new, folder, meta={"steps": 8})
    G2, config = load_generator(folder)
    assert config["meta"] == {"steps": 8}
    assert torch.equal(generate(G2, [3]), generate(G_new, [3]))


def _raises_naming(folder, name: str) -> CheckpointError:
    with pytest.raises(CheckpointError) as err:
        load_generator(folder)
    assert name in str(err.value), str(err.value)
    return err.value


def test_missing_folder(tmp_path):
    _raises_naming(tmp_path / "nope", str(tmp_path / "nope"))


def test_missing_weights(saved):
    _, folder = saved
    (folder / WEIGHTS).unlink()
    _raises_naming(folder, str(folder / WEIGHTS))


def test_missing_config(saved):
    _, folder = saved
    (folder / CONFIG).unlink()
    _raises_naming(folder, str(folder / CONFIG))


@pytest.mark.parametrize("how", ["empty", "truncated", "garbage", "header_too_large", "bad_header_json"])
def test_corrupt_weights(saved, how):
    _, folder = saved
    path = folder / WEIGHTS
    data = path.read_bytes()
    bad = {
        "empty": b"",
        "truncated": data[: len(data) // 2],
        "garbage": bytes(range(256)) * 4,
        "header_too_large": (10 ** 12).to_bytes(8, "little") + data[8:],
        "bad_header_json": data[:8] + b"{garbage" + data[16:],
    }[how]
    path.write_bytes(bad)
    _raises_naming(folder, str(path))


@pytest.mark.parametrize("text", ["{not json", "", "\xff\xfe binary", "[]", '{"format": "other/1", "model": {}}',
                                  '{"format": "gan-studio/1"}', '{"format": "gan-studio/1", "model": 3}'])
def test_garbage_config(saved, text):
    _, folder = saved
    (folder / CONFIG).write_bytes(text.encode("latin-1"))
    _raises_naming(folder, str(folder / CONFIG))


@pytest.mark.parametrize("change", [{"arch": "bogus"}, {"resolution": 12}, {"resolution": "x"}, {"unknown_key": 1},
                                    {"z_dim": -1}, {"channel_base": 0}, {"w_dim": 0}, {"num_classes": -3},
                                    {"num_classes": 1.5}])
def test_invalid_model_config(saved, change):
    _, folder = saved
    config = json.loads((folder / CONFIG).read_text())
    config["model"].update(change)
    (folder / CONFIG).write_text(json.dumps(config))
    _raises_naming(folder, str(folder / CONFIG))


@pytest.mark.parametrize("change", [{"channel_base": 128}, {"z_dim": 32}, {"resolution": 32}, {"num_classes": 10},
                                    {"arch": "dcgan"}, {"arch": "mlp", "resolution": 28}])
def test_weights_of_another_shape_or_arch(saved, change):
    """config.json describing another model than the weights: shape mismatch / missing keys."""
    _, folder = saved
    config = json.loads((folder / CONFIG).read_text())
    config["model"].update(change)
    (folder / CONFIG).write_text(json.dumps(config))
    err = _raises_naming(folder, str(folder / WEIGHTS))
    assert CONFIG in str(err)


def test_weights_from_model_with_other_channel_base(tmp_path):
    """Weights file copied from a wider model into a folder whose config is the narrow one."""
    narrow = save_generator(make_generator("style"), tmp_path / "narrow", meta={})
    wide = save_generator(make_generator("style", channel_base=128, channel_max=64), tmp_path / "wide", meta={})
    (narrow / WEIGHTS).write_bytes((wide / WEIGHTS).read_bytes())
    _raises_naming(narrow, str(narrow / WEIGHTS))


# ----- training state -----
def test_load_train_state_refuses_malicious_pickle(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "train_state.pt"
    torch.save({"step": 3, "G": {"w": torch.ones(2)}, "payload": Payload(marker)}, evil)
    with pytest.raises(CheckpointError) as err:
        load_train_state(evil)
    assert str(evil) in str(err.value)
    assert not marker.exists()

    # control: the same kind of file really runs its payload under an unsafe load, so the check above is meaningful
    control_marker = tmp_path / "control"
    control = tmp_path / "control.pt"
    torch.save({"payload": Payload(control_marker)}, control)
    torch.load(control, weights_only=False)
    assert control_marker.exists()


def test_train_state_round_trip_and_errors(tmp_path):
    state = {"step": 5, "history": {"step": [1, 2], "loss_g": [0.5, 0.25]}, "betas": (0.0, 0.99),
             "G": {"w": torch.randn(3, 3)}, "rng": torch.get_rng_state(), "name": "x"}
    path = tmp_path / "run" / "train_state.pt"
    save_train_state(path, state)
    assert [p.name for p in path.parent.iterdir()] == ["train_state.pt"]
    back = load_train_state(path)
    assert back["step"] == 5 and back["history"] == state["history"] and tuple(back["betas"]) == (0.0, 0.99)
    assert torch.equal(back["G"]["w"], state["G"]["w"]) and torch.equal(back["rng"], state["rng"])

    with pytest.raises(CheckpointError, match="train_state.pt"):
        load_train_state(tmp_path / "missing" / "train_state.pt")
    path.write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError) as err:
        load_train_state(path)
    assert str(path) in str(err.value)
    path.write_bytes(b"")
    with pytest.raises(CheckpointError):
        load_train_state(path)
