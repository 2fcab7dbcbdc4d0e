"""End-to-end training through train.main on tiny data: outputs, export, resume, determinism, baselines."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import TINY_TRAIN as TINY
from PIL import Image

from gan_core import train
from gan_core.latent.sampling import generate
from gan_core.storage.checkpoint import load_generator
from gan_core.storage.train_state import load_train_state


@pytest.fixture(scope="module")
def mnist_npz(tmp_path_factory):
    path = tmp_path_factory.mktemp("mnist") / "tiny-mnist.npz"
    rng = np.random.default_rng(1)
    np.savez(path, x_train=rng.integers(0, 256, (64, 28, 28), dtype=np.uint8), y_train=np.arange(64) % 10)
    return path


def _train(data, out, *extra) -> None:
    assert train.main(["--data", str(data), "--out", str(out), *TINY, *extra]) == 0


def _assert_same_state(a: dict, b: dict) -> None:
    for part in ("G", "D", "G_ema"):
        assert a[part].keys() == b[part].keys()
        for k in a[part]:
            assert torch.equal(a[part][k], b[part][k]), f"{part}.{k} differs"
    for opt in ("opt_g", "opt_d"):
        for pid, st in a[opt]["state"].items():
            for k, v in st.items():
                assert torch.equal(v, b[opt]["state"][pid][k]), f"{opt}[{pid}].{k} differs"
    assert torch.equal(a["rng"], b["rng"])
    assert a["nimg"] == b["nimg"] and a["history"].keys() == b["history"].keys()
    for k in a["history"]:  # a log window without an R1 step holds NaN, so compare NaN-aware...
        np.testing.assert_array_equal(np.array(a["history"][k]), np.array(b["history"][k]), err_msg=k)
    assert np.isfinite(a["history"]["r1"]).sum() >= 2  # ...but most windows hold a real R1 value


@pytest.fixture(scope="module")
def style_runs(image_folder, tmp_path_factory):
    """Run A: 20 steps, then --resume to 30. Run B: 30 steps straight. Same seed, 1 thread."""
    root = tmp_path_factory.mktemp("style")
    common = ["--save-every", "10", "--sample-every", "10"]
    _train(image_folder, root / "a", "--steps", "20", *common, "--export", str(root / "ck"))
    after20 = {p.name: p.read_bytes() for p in (root / "a").rglob("*") if p.is_file()}
    state20 = load_train_state(root / "a" / "train_state.pt")
    export20 = load_generator(root / "ck")
    _train(image_folder, root / "a", "--steps", "30", "--resume", *common, "--export", str(root / "ck"))
    _train(image_folder, root / "b", "--steps", "30", *common)
    return root, after20, state20, export20


def test_train_writes_state_samples_plot_and_export(style_runs):
    root, after20, state20, (G, config) = style_runs
    assert {"train_state.pt", "latest.png", "loss.png", "step_0000010.png", "step_0000020.png"} <= set(after20)
    assert not [n for n in after20 if n.endswith(".tmp")]
    assert state20["step"] == 20 and state20["nimg"] == 160
    assert state20["model_config"]["resolution"] == 16 and state20["model_config"]["channel_base"] == 64
    with Image.open(root / "a" / "samples" / "latest.png") as im:
        assert im.size[0] > 16 * 4  # a 4x4 grid of 16 px samples
    # the exported folder loads and samples; its weights are the EMA generator's
    assert config["meta"]["steps"] == 20 and config["model"]["z_dim"] == 16
    assert G.z_dim == 16 and G.num_ws == 6
    for k, v in G.state_dict().items():
        assert torch.equal(v, state20["G_ema"][k].contiguous()), k
    img = generate(G, [0, 1])
    assert img.shape == (2, 3, 16, 16) and torch.isfinite(img).all()


def test_resume_continues_from_step_20_to_30(style_runs):
    root, _, state20, _ = style_runs
    state30 = load_train_state(root / "a" / "train_state.pt")
    assert state30["step"] == 30 and state30["nimg"] == 240
    assert state30["history"]["step"] == [10, 20, 30]
    assert not torch.equal(state30["G"]["const"], state20["G"]["const"])  # it trained further
    _, config = load_generator(root / "ck")
    assert config["meta"]["steps"] == 30
    assert (root / "a" / "samples" / "step_0000030.png").is_file()


def test_resume_is_identical_to_uninterrupted_run(style_runs):
    root = style_runs[0]
    _assert_same_state(load_train_state(root / "a" / "train_state.pt"), load_train_state(root / "b" / "train_state.pt"))


def test_no_noise_for_new_runs_and_on_resume(image_folder, tmp_path):
    _train(image_folder, tmp_path / "a", "--steps", "2", "--no-noise", "--export", str(tmp_path / "a-ck"))
    assert load_generator(tmp_path / "a-ck")[0].cfg.noise is False
    _train(image_folder, tmp_path / "b", "--steps", "2")
    _train(image_folder, tmp_path / "b", "--steps", "3", "--resume", "--no-noise", "--export", str(tmp_path / "b-ck"))
    assert load_train_state(tmp_path / "b" / "train_state.pt")["model_config"]["noise"] is False
    assert load_generator(tmp_path / "b-ck")[0].cfg.noise is False


def test_resume_without_state_is_a_clear_error(image_folder, tmp_path, capsys):
    assert train.main(["--data", str(image_folder), "--out", str(tmp_path / "none"), *TINY, "--resume"]) == 2
    assert "train_state.pt" in capsys.readouterr().err


def test_missing_data_is_a_clear_error(tmp_path, capsys):
    assert train.main(["--data", str(tmp_path / "nothing"), "--out", str(tmp_path / "o"), *TINY]) == 2
    assert "nothing" in capsys.readouterr().err


def test_dcgan_short_run(image_folder, tmp_path):
    _train(image_folder, tmp_path / "run", "--arch", "dcgan", "--steps", "6", "--save-every", "3",
           "--sample-every", "3", "--export", str(tmp_path / "ck"))
    state = load_train_state(tmp_path / "run" / "train_state.pt")
    assert state["step"] == 6 and state["model_config"]["arch"] == "dcgan"
    G, config = load_generator(tmp_path / "ck")
    assert config["model"]["arch"] == "dcgan" and config["model"]["resolution"] == 16
    # the seeds' recipe: no EMA, so the exported generator is G itself (BatchNorm stats included)
    for k, v in G.state_dict().items():
        assert torch.equal(v, state["G"][k].contiguous()), k
    assert generate(G, [0, 1]).shape == (2, 3, 16, 16)
    assert (tmp_path / "run" / "samples" / "latest.png").is_file()


def test_mlp_short_run_on_npz(mnist_npz, tmp_path):
    args = ["--data", str(mnist_npz), "--out", str(tmp_path / "run"), "--arch", "mlp", "--z-dim", "16",
            "--batch", "8", "--steps", "6", "--save-every", "3", "--sample-every", "3", "--device", "cpu",
            "--threads", "1", "--export", str(tmp_path / "ck")]
    assert train.main(args) == 0
    G, config = load_generator(tmp_path / "ck")
    assert config["model"]["arch"] == "mlp" and config["model"]["resolution"] == 28
    assert config["model"]["img_channels"] == 1 and config["model"]["num_classes"] == 0
    assert generate(G, [0, 1]).shape == (2, 1, 28, 28)


def test_style_class_conditional_on_npz(mnist_npz, tmp_path):
    args = ["--data", str(mnist_npz), "--out", str(tmp_path / "run"), *TINY, "--steps", "4", "--save-every", "4",
            "--sample-every", "4", "--export", str(tmp_path / "ck")]
    assert train.main(args) == 0
    G, config = load_generator(tmp_path / "ck")
    assert config["model"]["num_classes"] == 10 and config["model"]["img_channels"] == 1
    imgs = generate(G, [5, 5], classes=[3, 7])
    assert imgs.shape == (2, 1, 16, 16) and not torch.equal(imgs[0], imgs[1])


def test_ema_step_is_lerp_towards_G_and_resumed_adam_stays_multi_tensor(tmp_path):
    from conftest import tiny_config

    from gan_core.data.images import ImageSet
    from gan_core.training.config import TrainConfig
    from gan_core.training.loop import Trainer

    data = ImageSet(torch.randint(0, 256, (16, 3, 16, 16), dtype=torch.uint8), None, "random")
    trainer = Trainer(tiny_config(), TrainConfig(batch=8, ema_kimg=0.01, ema_rampup=1.0), data, tmp_path, "cpu")
    before = [p.clone() for p in trainer.G_ema.parameters()]
    trainer.train_step()  # nimg 8: beta = 0.5 ** (8 / min(10, 8))
    for old, ema, p in zip(before, trainer.G_ema.parameters(), trainer.G.parameters()):
        torch.testing.assert_close(ema, old.lerp(p, 0.5))
    state = trainer.state_dict()
    for group in state["opt_g"]["param_groups"] + state["opt_d"]["param_groups"]:
        group["foreach"] = None  # as in states saved before foreach was set
    trainer.load_state_dict(state)
    assert all(g["foreach"] for g in trainer.opt_g.param_groups + trainer.opt_d.param_groups)
