"""The training loop: non-saturating loss, lazy R1, EMA, DiffAugment, AMP, resume, grids, loss plot."""
from __future__ import annotations

import copy
import dataclasses
import datetime
import logging
import math
import platform
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import torchvision.utils as vutils
from torch.optim.swa_utils import get_ema_multi_avg_fn
from tqdm import tqdm

from .augment import diff_augment, parse_policy
from .checkpoint import atomic_write, load_train_state, remove_stale_temps, save_generator, save_train_state
from .data import ImageSet
from .streaming import StreamSet
from .distributed import Dist, average, average_gradients, broadcast_buffers
from .modelcard import model_card
from .models import ModelConfig, build_discriminator, build_generator
from .sampling import zs_from_seeds

log = logging.getLogger(__name__)

STATE_FILE = "train_state.pt"
# loop settings a resumed run may change (each change is logged); the rest stay as the run started
RESUMABLE = ("batch", "lr", "r1_gamma", "augment", "hflip", "amp")
GRID_SEEDS = list(range(16))

# The seeds' DCGAN / MLP recipe (Adam 2e-4, beta1 0.5, plain BCE) vs ours for the style model.
RECIPES = {
    "style": dict(lr=0.002, betas=(0.0, 0.99), r1_gamma=-1.0, ema_kimg=10.0, augment="color,translation,cutout",
                  style_mixing=0.9),
    "dcgan": dict(lr=0.0002, betas=(0.5, 0.999), r1_gamma=0.0, ema_kimg=0.0, augment="", style_mixing=0.0),
    "mlp": dict(lr=0.0002, betas=(0.5, 0.999), r1_gamma=0.0, ema_kimg=0.0, augment="", style_mixing=0.0),
}


@dataclass
class TrainConfig:
    """Loop settings; None fields take the arch's recipe from RECIPES."""

    steps: int = 10_000
    minutes: float = 0.0
    batch: int = 32
    lr: float | None = None
    betas: tuple[float, float] | None = None
    r1_gamma: float | None = None  # < 0: StyleGAN2-ADA's heuristic 0.0002 * res^2 / batch
    r1_every: int = 16
    ema_kimg: float | None = None
    ema_rampup: float = 0.05
    augment: str | None = None
    style_mixing: float | None = None
    hflip: bool | None = True
    sample_every: int = 200
    save_every: int = 200
    eval_every: int = 0  # steps between FID/KID evaluations (0: off); the best-FID EMA G is what gets exported
    eval_n: int = 2000
    seed: int = 0
    amp: str = "auto"  # bf16 autocast: "on", "off", or "auto" (on for CUDA and CPUs with native bf16)
    channels_last: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def with_recipe(self, arch: str) -> "TrainConfig":
        """Fill unset fields from the arch's recipe."""
        filled = {k: v for k, v in RECIPES[arch].items() if getattr(self, k) is None}
        return dataclasses.replace(self, **filled)


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


AMP_MODES = ("auto", "on", "off")


def cpu_has_bf16() -> bool:
    """True where the CPU computes bf16 natively (AVX-512 BF16 or AMX), so autocast speeds it up."""
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def use_amp(mode: str | bool, device: torch.device) -> bool:
    """Resolve an amp setting (old states stored a bool) for `device`."""
    if isinstance(mode, bool):
        mode = "auto" if mode else "off"
    if mode not in AMP_MODES:
        raise ValueError(f"amp must be one of {', '.join(AMP_MODES)}, got {mode!r}")
    if mode == "auto":
        return device.type == "cuda" or (device.type == "cpu" and cpu_has_bf16())
    return mode == "on"


def hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"


LOGGED = ("loss_g", "loss_d", "r1")


def accumulate(acc: dict[str, torch.Tensor], logs: dict[str, torch.Tensor]) -> None:
    """Add one step's losses to running sums and counts, on the device (no per-step host sync)."""
    for key, value in logs.items():
        acc[key] = acc.get(key, 0) + value
        acc[f"{key}_n"] = acc.get(f"{key}_n", 0) + 1


def mean_logs(acc: dict[str, torch.Tensor]) -> dict[str, float]:
    """Mean of each logged loss over the steps that produced it (R1 runs lazily; NaN where none did)."""
    return {key: float(acc[key]) / acc[f"{key}_n"] if key in acc else math.nan for key in LOGGED}


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
        self.D = build_discriminator(model_cfg).to(self.device)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        if self.cfg.channels_last:
            for m in (self.G, self.D, self.G_ema):
                m.to(memory_format=torch.channels_last)
        # foreach: a handful of multi-tensor ops per step instead of ~12 per parameter (the CPU default)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=self.cfg.lr, betas=self.cfg.betas, foreach=True)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=self.cfg.lr, betas=self.cfg.betas, foreach=True)
        self.policy = parse_policy(self.cfg.augment)
        if self.cfg.r1_gamma < 0:
            self.cfg.r1_gamma = 0.0002 * model_cfg.resolution ** 2 / self.cfg.batch
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
        self.amp = use_amp(self.cfg.amp, self.device)
        self.step, self.nimg, self.train_seconds = 0, 0, 0.0
        self._last_log = (0, 0.0)  # (nimg, train_seconds) at the last progress-bar update
        self.history: dict[str, list[float]] = {"step": [], "loss_g": [], "loss_d": [], "r1": []}
        self.evals: list[dict[str, float]] = []  # {"step", "fid", "kid", "kid_std"} per evaluation
        self.best: dict[str, Any] = {}  # the best evaluation so far and its EMA weights
        self._stop = False

    # ----- state -----
    def state_dict(self) -> dict[str, Any]:
        return {
            "model_config": self.mcfg.to_dict(), "train_config": dataclasses.asdict(self.cfg),
            "G": self.G.state_dict(), "D": self.D.state_dict(), "G_ema": self.G_ema.state_dict(),
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "step": self.step, "nimg": self.nimg, "train_seconds": self.train_seconds,
            "history": self.history, "evals": self.evals, "best": self.best, "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state() if self.device.type == "cuda" else torch.empty(0, dtype=torch.uint8),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in ("G", "D", "G_ema", "opt_g", "opt_d"):
            getattr(self, name).load_state_dict(state[name])
        for group in self.opt_g.param_groups + self.opt_d.param_groups:
            group["foreach"] = True  # states saved before foreach was set carry foreach=None
        self.step, self.nimg, self.train_seconds = state["step"], state["nimg"], state["train_seconds"]
        self.history = state["history"]
        self.evals, self.best = state.get("evals", []), state.get("best", {})
        if self.dist.main:
            torch.set_rng_state(state["rng"])
            if self.device.type == "cuda" and state["cuda_rng"].numel():
                torch.cuda.set_rng_state(state["cuda_rng"])
        else:
            torch.manual_seed(self.cfg.seed + 1000 * self.dist.rank + self.step)

    @staticmethod
    def peek(out: str | Path) -> tuple[ModelConfig, TrainConfig]:
        """The model and loop configs stored in out/train_state.pt."""
        state = load_train_state(Path(out) / STATE_FILE)
        saved = state["train_config"]
        return ModelConfig.from_dict(state["model_config"]), TrainConfig(**{**saved, "betas": tuple(saved["betas"])})

    @classmethod
    def resume(cls, cfg: TrainConfig, data: ImageSet | StreamSet, out: str | Path, device: str | torch.device = "auto",
               dist: Dist = Dist(), noise: bool | None = None, changes: dict[str, Any] | None = None) -> "Trainer":
        """Rebuild a trainer from out/train_state.pt; `changes` (RESUMABLE fields the user set) are applied and logged.

        Run length, cadence and evaluation come from `cfg`; `noise` may switch the style model's noise inputs."""
        mcfg, saved = cls.peek(out)
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
                                  save_every=cfg.save_every, eval_every=cfg.eval_every, eval_n=cfg.eval_n, **changed)
        if noise is not None:
            mcfg.noise = noise
        trainer = cls(mcfg, cfg, data, out, device, dist)
        trainer.load_state_dict(load_train_state(Path(out) / STATE_FILE))
        for group in trainer.opt_g.param_groups + trainer.opt_d.param_groups:
            group["lr"] = trainer.cfg.lr  # the saved optimiser state carries the old rate
        return trainer

    def warm_start(self, G: torch.nn.Module, source: str) -> None:
        """Start G and its EMA from a trained generator of the same shape (a fresh D learns alongside)."""
        weights = G.state_dict()
        self.G.load_state_dict(weights)
        self.G_ema.load_state_dict(weights)
        self.cfg.extra["init_from"] = source

    def save(self) -> None:
        save_train_state(self.out / STATE_FILE, self.state_dict())

    def export(self, folder: str | Path) -> Path:
        """Write the EMA generator (the best-FID one when evaluating) as an app-loadable checkpoint + card."""
        G = copy.deepcopy(self.G_ema).to("cpu", memory_format=torch.contiguous_format)
        step, nimg, seconds, extra = self.step, self.nimg, self.train_seconds, {}
        if self.best:
            G.load_state_dict(self.best["G_ema"])
            step, nimg, seconds = self.best["step"], self.best["nimg"], self.best["train_seconds"]
            extra = {k: self.best[k] for k in ("fid", "kid", "kid_std")} | {"fid_n": self.cfg.eval_n,
                                                                              "fid_real": self.data.source}
        meta = {
            "dataset": self.data.source, "num_images": len(self.data), "steps": step, "images_seen": nimg,
            "train_seconds": round(seconds, 1), "hardware": hardware(self.device),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "torch": torch.__version__, "train_config": dataclasses.asdict(self.cfg), **extra,
        }
        return save_generator(G, folder, meta, model_card(Path(folder).name, self.mcfg.to_dict(), meta))

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

    def _fake_labels(self) -> torch.Tensor | None:
        if not self.mcfg.num_classes:
            return None
        return torch.randint(self.mcfg.num_classes, (self.local_batch,), device=self.device)

    def _generate(self, c: torch.Tensor | None) -> torch.Tensor:
        """Training-time forward with random noise; updates w_avg and applies style-mixing regularisation."""
        z = torch.randn(self.local_batch, self.mcfg.z_dim, device=self.device)
        if self.mcfg.arch != "style":
            return self.G(z, c)
        G = self.G
        with torch.autocast(self.device.type, enabled=False):  # the mapping network and w_avg stay fp32
            w = G.mapping(z, c)
            w2 = G.mapping(torch.randn_like(z), c) if self._mix_now() else None
        with torch.no_grad():
            w_mean = w.detach().float().mean(0)
            if self.dist.world > 1:
                average(w_mean, self.dist.world)
            G.mapping.w_avg.copy_(w_mean.lerp(G.mapping.w_avg, 0.995))
        ws = w[:, None].repeat(1, G.num_ws, 1)
        if w2 is not None:
            cut = int(torch.randint(1, G.num_ws, ()))
            ws[:, cut:] = w2[:, None]
        return G.synthesis(ws, noise_mode="random")

    def _mix_now(self) -> bool:
        """Whether this batch gets style-mixing regularisation."""
        return self.cfg.style_mixing > 0 and bool(torch.rand(()) < self.cfg.style_mixing)

    def _d(self, img: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        return self.D(self._fmt(diff_augment(img, self.policy)), c).float()

    def train_step(self) -> dict[str, float]:
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)
        real, c_real = self._real_batch()
        do_r1 = self.cfg.r1_gamma > 0 and self.step % self.cfg.r1_every == 0
        # discriminator
        with autocast:
            c_gen = self._fake_labels()
            with torch.no_grad():
                fake = self._generate(c_gen)
            real.requires_grad_(do_r1)
            d_real = self._d(real, c_real)
            loss_d = F.softplus(self._d(fake, c_gen)).mean() + F.softplus(-d_real).mean()
        r1 = torch.zeros((), device=self.device)
        if do_r1:
            (grad,) = torch.autograd.grad(d_real.sum(), real, create_graph=True)
            r1 = grad.float().square().sum(dim=(1, 2, 3)).mean()
            loss_d = loss_d + r1 * (self.cfg.r1_gamma / 2) * self.cfg.r1_every
        self._apply(self.opt_d, self.D, loss_d)
        # generator: D only passes gradients through, so its weights get none (saves their grad kernels)
        c_fake = self._fake_labels()
        self.D.requires_grad_(False)
        with autocast:
            loss_g = F.softplus(-self._d(self._generate(c_fake), c_fake)).mean()
        self._apply(self.opt_g, self.G, loss_g)
        self.D.requires_grad_(True)
        if self.dist.world > 1:
            broadcast_buffers(self.G)
            broadcast_buffers(self.D)
        self.step += 1
        self.nimg += self.cfg.batch
        if self.dist.main:
            self._update_ema()
        logs = {"loss_g": loss_g.detach(), "loss_d": loss_d.detach()}
        return logs | {"r1": r1.detach()} if do_r1 else logs

    def _apply(self, opt: torch.optim.Optimizer, module: torch.nn.Module, loss: torch.Tensor) -> None:
        """Backward, average gradients across ranks, optimiser step."""
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.dist.world > 1:
            average_gradients(module, self.dist.world)
        opt.step()

    @torch.no_grad()
    def _update_ema(self) -> None:
        if self.cfg.ema_kimg <= 0:
            beta = 0.0
        else:
            ema_nimg = min(self.cfg.ema_kimg * 1000, self.nimg * self.cfg.ema_rampup)
            beta = 0.5 ** (self.cfg.batch / max(ema_nimg, 1e-8))
        get_ema_multi_avg_fn(beta)(list(self.G_ema.parameters()), list(self.G.parameters()), None)
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
            b_ema.copy_(b)

    # ----- outputs -----
    @torch.no_grad()
    def sample_grid(self) -> torch.Tensor:
        z = zs_from_seeds(GRID_SEEDS, self.mcfg.z_dim).to(self.device)
        c = torch.tensor([s % max(self.mcfg.num_classes, 1) for s in GRID_SEEDS], device=self.device) \
            if self.mcfg.num_classes else None
        return self.G_ema(z, c).float().clamp(-1, 1).cpu()

    def write_samples(self) -> Path:
        grid = vutils.make_grid(self.sample_grid(), nrow=4, normalize=True, value_range=(-1, 1))
        path = self.out / "samples" / f"step_{self.step:07d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        vutils.save_image(grid, path)
        atomic_write(self.out / "samples" / "latest.png", lambda tmp: vutils.save_image(grid, tmp, format="png"))
        return path

    def write_loss_plot(self) -> None:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4))
        for key in ("loss_g", "loss_d"):
            ax.plot(self.history["step"], self.history[key], label=key, linewidth=0.8)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.legend()
        ax.set_title(f"{self.data.source} — {self.mcfg.arch}")
        fig.tight_layout()
        atomic_write(self.out / "loss.png", lambda tmp: fig.savefig(tmp, format="png", dpi=90))
        plt.close(fig)

    # ----- the loop -----
    def _request_stop(self, *_: Any) -> None:
        self._stop = True

    def run(self, export_to: str | Path | None = None, log_every: int = 10) -> None:
        """Train until cfg.steps (total) or cfg.minutes (this run); rank 0 samples, evaluates and saves."""
        main = self.dist.main
        self.out.mkdir(parents=True, exist_ok=True)
        if main:
            for path in (self.out / STATE_FILE, self.out / "loss.png", self.out / "samples" / "latest.png"):
                remove_stale_temps(path)
        old_term = signal.signal(signal.SIGTERM, self._request_stop)
        start = time.time()
        self._last_log = (self.nimg, self.train_seconds)
        acc: dict[str, torch.Tensor] = {}
        bar = tqdm(total=self.cfg.steps, initial=self.step, unit="step", dynamic_ncols=True, mininterval=2.0,
                   disable=not main)
        try:
            while self.step < self.cfg.steps and not self._should_stop(start, log_every):
                t0 = time.time()
                logs = self.train_step()
                self.train_seconds += time.time() - t0
                accumulate(acc, logs)
                bar.update(1)
                if self.step % log_every == 0:
                    self._log(acc, bar)
                    acc = {}
                if main and self.step % self.cfg.sample_every == 0:
                    self.write_samples()
                    self.write_loss_plot()
                if main and self.cfg.eval_every and self.step % self.cfg.eval_every == 0:
                    bar.write(self.evaluate())
                if main and self.step % self.cfg.save_every == 0:
                    self._checkpoint(export_to)
        except KeyboardInterrupt:
            bar.write("interrupted: saving")
        finally:
            bar.close()
            signal.signal(signal.SIGTERM, old_term)
        if main:
            self.write_samples()
            if self.history["step"]:
                self.write_loss_plot()
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

    def _log(self, acc: dict[str, torch.Tensor], bar: tqdm) -> None:
        """Record the mean losses since the last log (R1 over the steps that ran it) and show them with images/s."""
        means = mean_logs(acc)
        g, d = means["loss_g"], means["loss_d"]
        self.history["step"].append(self.step)
        for key in ("loss_g", "loss_d", "r1"):
            self.history[key].append(means[key])
        last_nimg, last_seconds = self._last_log
        ips = (self.nimg - last_nimg) / max(self.train_seconds - last_seconds, 1e-9)  # recent, not since step 0
        self._last_log = (self.nimg, self.train_seconds)
        bar.set_postfix(g=f"{g:.3f}", d=f"{d:.3f}", img_s=f"{ips:.1f}" + (f" ({ips / self.dist.world:.1f}/rank)"
                                                                          if self.dist.world > 1 else ""))

    def evaluate(self) -> str:
        """FID/KID of the EMA generator on eval_n samples; remembers it if it is the best so far."""
        from .metrics import evaluate_generator

        G = copy.deepcopy(self.G_ema).to(memory_format=torch.contiguous_format)
        scores = evaluate_generator(G, self.data.source, self.cfg.eval_n, device=self.device)
        row = {"step": self.step, "fid": round(scores["fid"], 3), "kid": round(scores["kid"], 5),
               "kid_std": round(scores["kid_std"], 5)}
        self.evals.append(row)
        is_best = not self.best or row["fid"] < self.best["fid"]
        if is_best:
            weights = {k: v.detach().cpu().clone() for k, v in G.state_dict().items()}
            self.best = {**row, "nimg": self.nimg, "train_seconds": self.train_seconds, "G_ema": weights}
        return f"step {self.step}: FID {row['fid']:.2f}, KID {row['kid']:.4f}" + (" (best)" if is_best else "")

    def _checkpoint(self, export_to: str | Path | None) -> None:
        self.save()
        if export_to:
            self.export(export_to)
