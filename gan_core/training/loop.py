"""The training loop: one visible step (D phase, G phase, EMA) and the run around it; the parts live apart.

train_config.py holds the settings, loss.py the objective and its discriminators, reporting.py the bar /
grids / plots, tracking.py the best checkpoint, checkpoint.py the files. The Trainer owns the models,
optimisers and data, and its state for resume.
"""
from __future__ import annotations

import copy
import dataclasses
import datetime
import logging
import math
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import torch
from torch.optim.swa_utils import get_ema_multi_avg_fn

from gan_core.data.images import ImageSet
from gan_core.data.streaming import StreamSet
from gan_core.evaluation.scores import evaluate_generator
from gan_core.latent.sampling import zs_from_seeds
from gan_core.models import ModelConfig, build_generator
from gan_core.storage.checkpoint import export_generator
from gan_core.storage.files import remove_stale_temps
from gan_core.storage.train_state import load_train_state, save_train_state
from gan_core.training.augment import parse_policy
from gan_core.training.config import (
    RESUMABLE,
    TrainConfig,
    hardware,
    pick_device,
    use_amp,
)
from gan_core.training.distributed import (
    Dist,
    average,
    average_gradients,
    broadcast_buffers,
    rank0_choice,
    sanitize_gradients,
)
from gan_core.training.loss import AdversarialLoss, build_critics, critic_param_groups
from gan_core.training.reporting import LOGGED, Reporter, accumulate, mean_logs
from gan_core.training.tracking import BestTracker

log = logging.getLogger(__name__)

STATE_FILE = "train_state.pt"
GRID_SEEDS = list(range(16))
WARM_START_D_STEPS = 500  # a fresh D's steps alone before it trains a warm-started G

class NonFiniteLoss(RuntimeError):
    """A loss became NaN or infinite: the run stops rather than train on garbage."""


class Trainer:
    """Owns G, D, EMA G, optimisers and the data; `run()` trains and saves into `out`."""

    def __init__(self, model_cfg: ModelConfig, cfg: TrainConfig, data: ImageSet | StreamSet, out: str | Path,
                 device: str | torch.device = "auto", dist: Dist = Dist()) -> None:
        self.mcfg, self.cfg = model_cfg, cfg.with_recipe(model_cfg.arch)
        self.data, self.out, self.dist = data, Path(out), dist
        self.device = pick_device(device) if isinstance(device, str) else device
        if cfg.batch % dist.world:
            raise ValueError(f"--batch {cfg.batch} (global) must be divisible by the {dist.world} processes")
        self.local_batch = cfg.batch // dist.world
        torch.manual_seed(self.cfg.seed)  # same initial weights on every rank
        self.G = build_generator(model_cfg).to(self.device)
        self.D = build_critics(model_cfg, self.cfg).to(self.device)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        if self.cfg.channels_last:
            for m in (self.G, self.D, self.G_ema):
                m.to(memory_format=torch.channels_last)
        # foreach: a handful of multi-tensor ops per step instead of ~12 per parameter (the CPU default)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=self.cfg.lr, betas=self.cfg.betas, foreach=True)
        self.opt_d = torch.optim.Adam(critic_param_groups(self.D, self.cfg), betas=self.cfg.betas, foreach=True)
        if self.cfg.r1_gamma < 0:
            self.cfg.r1_gamma = 0.0002 * model_cfg.resolution ** 2 / self.cfg.batch
        self.loss = AdversarialLoss(self.D, parse_policy(self.cfg.augment), self.cfg.r1_gamma, self.cfg.r1_every,
                                    self._fmt, self.cfg.loss, self.cfg.projected_weight,
                                    self.cfg.face_critic)
        self.stream = data.batches if isinstance(data, StreamSet) else None
        if self.stream is None:  # in memory: each rank draws from its own shard of the data
            shard = slice(dist.rank, None, dist.world)
            self.images = data.images[shard].to(self.device)
            labels = data.labels[shard] if (data.labels is not None and model_cfg.num_classes) else None
            self.labels = labels.to(self.device) if labels is not None else None
        else:
            self.images, self.labels = None, None
        if not dist.main:
            torch.manual_seed(self.cfg.seed + 1000 * dist.rank)  # other ranks draw other noise
        self.amp = rank0_choice(use_amp(self.cfg.amp, self.device), dist.world, self.device)
        self.step, self.nimg, self.train_seconds = 0, 0, 0.0
        self.history: dict[str, list[float]] = {"step": [], **{key: [] for key in LOGGED}}
        self.tracker = BestTracker()
        self._stop = False

    # ----- state: everything a resumed run needs to continue bit-identically -----
    def state_dict(self) -> dict[str, Any]:
        return {
            "model_config": self.mcfg.to_dict(), "train_config": dataclasses.asdict(self.cfg),
            "G": self.G.state_dict(), "D": self.D.state_dict(), "G_ema": self.G_ema.state_dict(),
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "step": self.step, "nimg": self.nimg, "train_seconds": self.train_seconds,
            "history": self.history, **self.tracker.state_dict(), "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state() if self.device.type == "cuda" else torch.empty(0, dtype=torch.uint8),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in ("G", "D", "G_ema", "opt_g", "opt_d"):
            getattr(self, name).load_state_dict(state[name])
        for group in self.opt_g.param_groups + self.opt_d.param_groups:
            group["foreach"] = True  # states saved before foreach was set carry foreach=None
        self.step, self.nimg, self.train_seconds = state["step"], state["nimg"], state["train_seconds"]
        self.history = state["history"]
        self.tracker.load_state_dict(state)
        if self.dist.main:
            torch.set_rng_state(state["rng"])
            if self.device.type == "cuda" and state["cuda_rng"].numel():
                torch.cuda.set_rng_state(state["cuda_rng"])
        else:
            torch.manual_seed(self.cfg.seed + 1000 * self.dist.rank + self.step)

    @staticmethod
    def configs(state: dict[str, Any]) -> tuple[ModelConfig, TrainConfig]:
        """The model and loop configs stored in a training state."""
        saved = state["train_config"]
        return ModelConfig.from_dict(state["model_config"]), TrainConfig(**{**saved, "betas": tuple(saved["betas"])})

    @classmethod
    def peek(cls, out: str | Path) -> tuple[ModelConfig, TrainConfig]:
        """The model and loop configs stored in out/train_state.pt."""
        return cls.configs(load_train_state(Path(out) / STATE_FILE))

    @classmethod
    def resume(cls, cfg: TrainConfig, data: ImageSet | StreamSet, out: str | Path, device: str | torch.device = "auto",
               dist: Dist = Dist(), noise: bool | None = None, changes: dict[str, Any] | None = None) -> Trainer:
        """Rebuild a trainer from out/train_state.pt; `changes` (RESUMABLE fields the user set) are applied and logged.

        Run length, cadence and evaluation come from `cfg`; `noise` may switch the style model's noise inputs."""
        state = load_train_state(Path(out) / STATE_FILE)  # read once: configs, weights and optimisers
        mcfg, saved = cls.configs(state)
        if isinstance(data, StreamSet) and mcfg.num_classes:
            raise ValueError(f"the model in {out} is class-conditional and --stream carries no labels: "
                             "resume without --stream")
        unknown = set(changes or {}) - set(RESUMABLE)
        if unknown:
            raise ValueError(f"cannot change {', '.join(sorted(unknown))} on resume; only {', '.join(RESUMABLE)}")
        changed = {k: v for k, v in (changes or {}).items() if v is not None and v != getattr(saved, k)}
        for key, value in changed.items():
            log.warning("resume: %s %r -> %r", key, getattr(saved, key), value)
        cfg = dataclasses.replace(saved, steps=cfg.steps, minutes=cfg.minutes, sample_every=cfg.sample_every,
                                  save_every=cfg.save_every, eval_every=cfg.eval_every, eval_n=cfg.eval_n,
                                  snapshots=cfg.snapshots, **changed)
        if noise is not None:
            mcfg.noise = noise
        trainer = cls(mcfg, cfg, data, out, device, dist)
        trainer.load_state_dict(state)
        for group, fresh in zip(trainer.opt_g.param_groups + trainer.opt_d.param_groups,
                                [{"lr": trainer.cfg.lr}] + critic_param_groups(trainer.D, trainer.cfg)):
            group["lr"] = fresh["lr"]  # the saved optimiser state carries the old rates
        return trainer

    def warm_start(self, G: torch.nn.Module, source: str, d_steps: int | None = None) -> None:
        """Start G and its EMA from a trained generator of the same shape. The fresh D trains alone for `d_steps`
        (None: WARM_START_D_STEPS) first, as Adam would follow a random D's gradients at full step size, and the
        EMA keeps its full length from the start: the trained G already is an average worth keeping."""
        weights = G.state_dict()
        self.G.load_state_dict(weights)
        self.G_ema.load_state_dict(weights)
        self.cfg.extra["init_from"] = source
        self.cfg.d_warmup = WARM_START_D_STEPS if d_steps is None else d_steps
        self.cfg.ema_rampup = 0.0

    def save(self) -> None:
        save_train_state(self.out / STATE_FILE, self.state_dict())

    def export(self, folder: str | Path) -> Path:
        """Write the EMA generator (the best-FID one when evaluating) as an app-loadable checkpoint + card."""
        best = self.tracker.best
        if not best:
            return export_generator(self.G_ema, folder, self._meta(self.nimg, self.train_seconds))
        scores = {k: v for k, v in best.items() if k not in ("nimg", "train_seconds", "G_ema")}
        return export_generator(self.G_ema, folder, self._meta(best["nimg"], best["train_seconds"], scores),
                                best["G_ema"])

    def _meta(self, nimg: int, seconds: float, row: dict[str, Any] | None = None) -> dict[str, Any]:
        """An export's metadata: the data, the images seen, the time and recipe, and an evaluation row's scores."""
        step = row["step"] if row else self.step
        scores = {k: v for k, v in (row or {}).items() if k != "step"}
        return {
            "dataset": self.data.source, "num_images": len(self.data), "steps": step, "images_seen": nimg,
            "train_seconds": round(seconds, 1), "hardware": hardware(self.device),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "torch": torch.__version__, "train_config": dataclasses.asdict(self.cfg), **scores,
        } | ({"fid_n": self.cfg.eval_n, "fid_real": self.data.source} if row else {})

    def _snapshot(self, row: dict[str, Any]) -> None:
        """Export the EMA G just evaluated to out/snapshots/step_N (its scores on its card); keep the newest
        cfg.snapshots, for `python -m gan_core.average`."""
        folder = self.out / "snapshots"
        export_generator(self.G_ema, folder / f"step_{self.step:07d}", self._meta(self.nimg, self.train_seconds, row))
        for old in sorted(folder.glob("step_*"))[:-self.cfg.snapshots]:
            shutil.rmtree(old)

    # ----- one step -----
    def _real_batch(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.stream is not None:
            raw, idx = next(self.stream).to(self.device, non_blocking=True), None
        else:
            idx = torch.randint(len(self.images), (self.local_batch,), device=self.device)
            raw = self.images[idx]
        x = raw.float() / 127.5 - 1
        if self.cfg.hflip:
            flip = torch.rand(x.shape[0], 1, 1, 1, device=self.device) < 0.5
            x = torch.where(flip, x.flip(3), x)
        return self._fmt(x), (self.labels[idx] if self.labels is not None else None)

    def _fmt(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.cfg.channels_last and x.ndim == 4 else x

    def _mix_now(self) -> bool:
        """Whether this batch gets style-mixing regularisation."""
        return self.cfg.style_mixing > 0 and bool(torch.rand(()) < self.cfg.style_mixing)

    def _generate(self, c: torch.Tensor | None) -> torch.Tensor:
        """Training-time forward with random noise; updates w_avg and applies style-mixing regularisation."""
        z = torch.randn(self.local_batch, self.mcfg.z_dim, device=self.device)
        if self.mcfg.arch != "style":
            return self.G(z, c)
        G = self.G
        with torch.autocast(self.device.type, enabled=False):  # the mapping network and w_avg stay fp32
            w = G.mapping(z, c)
            w2 = G.mapping(torch.randn_like(z), c) if self._mix_now() else None
        # the running averages truncation pulls towards: global, and per class for conditional models
        G.mapping.track_w_avg(w, c, reduce=(lambda t: average(t, self.dist.world)) if self.dist.world > 1 else None)
        ws = w[:, None].repeat(1, G.num_ws, 1)
        if w2 is not None:
            cut = int(torch.randint(1, G.num_ws, ()))
            ws[:, cut:] = w2[:, None]
        return G.synthesis(ws, noise_mode="random")

    def train_step(self) -> dict[str, torch.Tensor]:
        """One D update (with lazy R1) and one G update on fresh batches, then the EMA; losses stay on the device."""
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)
        real, c_real = self._real_batch()
        with_r1 = self.loss.wants_r1(self.step)
        # Fakes take the real batch's labels: each relativistic pair then compares a real and a fake of one class,
        # the critic's most direct class signal.
        # D phase: the fakes need no graph back into G
        with autocast:
            with torch.no_grad():
                fake = self._generate(c_real)
            loss_d, r1 = self.loss.d_phase(real, c_real, fake, c_real, with_r1)
        self._apply(self.opt_d, self.D, loss_d)
        # G phase: gradients flow through D into G, D's own weights get none (none at all while D warms up)
        if self.step >= self.cfg.d_warmup:
            with autocast:
                loss_g = self.loss.g_phase(self._generate(c_real), c_real, real, c_real)
            self._apply(self.opt_g, self.G, loss_g)
        else:
            loss_g = torch.zeros((), device=self.device)
        if self.dist.world > 1:
            broadcast_buffers(self.G)
            broadcast_buffers(self.D)
        self.step += 1
        self.nimg += self.cfg.batch
        if self.dist.main:
            self._update_ema()
        logs = {"loss_g": loss_g.detach(), "loss_d": loss_d.detach()}
        return logs | {"r1": r1.detach()} if r1 is not None else logs

    def _apply(self, opt: torch.optim.Optimizer, module: torch.nn.Module, loss: torch.Tensor) -> None:
        """Backward, average gradients across ranks, zero non-finite ones (as stylegan2-ada does), step."""
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.dist.world > 1:
            average_gradients(module, self.dist.world)  # sanitizes the flat buffer on the way
        else:
            sanitize_gradients(module)
        opt.step()

    @torch.no_grad()
    def _update_ema(self) -> None:
        if self.cfg.ema_kimg <= 0:
            beta = 0.0
        else:
            ema_nimg = self.cfg.ema_kimg * 1000
            if self.cfg.ema_rampup > 0:
                ema_nimg = min(ema_nimg, self.nimg * self.cfg.ema_rampup)
            beta = 0.5 ** (self.cfg.batch / max(ema_nimg, 1e-8))
        get_ema_multi_avg_fn(beta)(list(self.G_ema.parameters()), list(self.G.parameters()), None)
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
            b_ema.copy_(b)

    @torch.no_grad()
    def sample_grid(self) -> torch.Tensor:
        """The EMA generator's images of the fixed grid seeds (digits cycle for conditional models)."""
        z = zs_from_seeds(GRID_SEEDS, self.mcfg.z_dim).to(self.device)
        c = torch.tensor([s % max(self.mcfg.num_classes, 1) for s in GRID_SEEDS], device=self.device) \
            if self.mcfg.num_classes else None
        return self.G_ema(z, c).float().clamp(-1, 1).cpu()

    # ----- the loop -----
    def _request_stop(self, *_: Any) -> None:
        self._stop = True

    def run(self, export_to: str | Path | None = None, log_every: int = 10) -> None:
        """Train until cfg.steps (total) or cfg.minutes (this run); rank 0 reports, evaluates and saves."""
        main = self.dist.main
        self.out.mkdir(parents=True, exist_ok=True)
        if main:
            for path in (self.out / STATE_FILE, self.out / "loss.png", self.out / "samples" / "latest.png"):
                remove_stale_temps(path)
        report = Reporter(self.out, f"{self.data.source} — {self.mcfg.arch}", self.cfg.steps, self.step, main)
        old_term = signal.signal(signal.SIGTERM, self._request_stop)
        start, acc = time.time(), {}
        last = (self.nimg, self.train_seconds)  # for images/s since the last log, not since step 0
        healthy = True
        try:
            while self.step < self.cfg.steps and not self._should_stop(start, log_every):
                t0 = time.time()
                accumulate(acc, self.train_step())  # summed on the device: no per-step host sync
                self.train_seconds += time.time() - t0
                report.step()
                if self.step % log_every == 0:  # the one host sync every log_every steps
                    means = self._record(acc)
                    report.show(means, (self.nimg - last[0]) / max(self.train_seconds - last[1], 1e-9),
                                self.dist.world)
                    acc, last = {}, (self.nimg, self.train_seconds)
                if main and self.step % self.cfg.sample_every == 0:
                    report.samples(self.sample_grid(), self.step)
                    report.loss_plot(self.history)
                if main and self.cfg.eval_every and self.step % self.cfg.eval_every == 0:
                    report.write(self.evaluate())
                if main and self.step % self.cfg.save_every == 0:
                    self._checkpoint(export_to)
        except KeyboardInterrupt:
            report.write("interrupted: saving")
        except NonFiniteLoss as exc:
            healthy = self._weights_finite()
            report.write(f"stopped: {exc}; " + ("saving (weights are finite)" if healthy else
                                                "weights are not finite: keeping the last saved state"))
        finally:
            report.close()
            signal.signal(signal.SIGTERM, old_term)
        if main and healthy:
            report.samples(self.sample_grid(), self.step)
            report.loss_plot(self.history)
            evals = self.tracker.evals
            if self.cfg.eval_every and self.step and (not evals or evals[-1]["step"] != self.step):
                report.write(self.evaluate())  # the last weights compete for "best" too
            self._checkpoint(export_to)

    def _should_stop(self, start: float, every: int) -> bool:
        """Time limit or SIGTERM; under torchrun rank 0 decides (every `every` steps) so all ranks stop together."""
        stop = self._stop or bool(self.cfg.minutes and time.time() - start > self.cfg.minutes * 60)
        if self.dist.world == 1:
            return stop
        if self.step % every:
            return False
        flag = torch.tensor([float(stop)], device=self.device)
        torch.distributed.broadcast(flag, 0)
        return bool(flag.item())

    def _record(self, acc: dict[str, torch.Tensor]) -> dict[str, float]:
        """Append the mean losses since the last record to the history; raise NonFiniteLoss on NaN / inf."""
        means = mean_logs(acc)
        self.history["step"].append(self.step)
        for key in LOGGED:
            self.history[key].append(means[key])
        bad = [k for k in LOGGED if k in acc and not math.isfinite(means[k])]
        if bad:
            raise NonFiniteLoss(f"non-finite {', '.join(bad)} at step {self.step}")
        return means

    def _weights_finite(self) -> bool:
        return all(bool(torch.isfinite(p).all()) for m in (self.G, self.D, self.G_ema) for p in m.parameters())

    def evaluate(self) -> str:
        """FID/KID (and what else the metrics report) of the EMA generator on eval_n samples; tracks the best."""
        G = copy.deepcopy(self.G_ema).to(memory_format=torch.contiguous_format)
        scores = evaluate_generator(G, self.data.source, self.cfg.eval_n, device=self.device)
        row = {"step": self.step} | {k: round(float(v), 2 if k == "fid" else 5) for k, v in scores.items()
                                     if k not in ("n", "n_real")}
        is_best = self.tracker.record(row, G, self.nimg, self.train_seconds)
        if self.cfg.snapshots:
            self._snapshot(row)
        shown = ", ".join(f"{k} {v:.4g}" for k, v in row.items() if k != "step")
        return f"step {self.step}: {shown}" + (" (best)" if is_best else "")

    def _checkpoint(self, export_to: str | Path | None) -> None:
        self.save()
        if export_to:
            self.export(export_to)
