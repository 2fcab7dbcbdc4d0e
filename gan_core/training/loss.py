"""The GAN objective in phases, apart from the loop (as stylegan2-ada's loss.py): D on real/fake with lazy
penalties, then G."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from gan_core.models import (
    ModelConfig,
    build_discriminator,
    build_projected_discriminator,
)
from gan_core.training.augment import diff_augment
from gan_core.training.face_critic import build_face_critic

if TYPE_CHECKING:
    from gan_core.training.config import TrainConfig

Formatter = Callable[[torch.Tensor], torch.Tensor]


def gradient_penalty(logits: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of |dD(x)/dx|^2 at `images`: R1 at reals, R2 at fakes (Mescheder et al. 2018)."""
    (grad,) = torch.autograd.grad(logits.sum(), images, create_graph=True)
    return grad.float().square().sum(dim=(1, 2, 3)).mean()


CRITICS = ("residual", "projected", "both")
HINGE_CRITICS = ("projected", "faces")  # heads on frozen features: the hinge loss, their own (lower) learning rate
# logistic: StyleGAN2's non-saturating loss with R1. relativistic: R3GAN's (Huang et al. 2024) pairing loss
# softplus(D(fake) - D(real)) with R1 and R2, built for mode coverage; both penalties lazy.
LOSSES = ("logistic", "relativistic")


def residual_critic(mcfg: ModelConfig, width: float = 1.0) -> nn.Module:
    """The arch's own D with `width` times G's channels (base and cap)."""
    if width <= 0:
        raise ValueError(f"--d-width must be above 0, got {width}")
    return build_discriminator(dataclasses.replace(mcfg, channel_base=round(mcfg.channel_base * width),
                                                   channel_max=round(mcfg.channel_max * width)))


def build_critics(mcfg: ModelConfig, cfg: TrainConfig) -> nn.Module:
    """The residual D alone (as every earlier run), or a ModuleDict of the projected D, the residual one and the face
    critic, as asked."""
    if cfg.d not in CRITICS:
        raise ValueError(f"--d must be one of {', '.join(CRITICS)}, got {cfg.d!r}")
    if cfg.d == "residual" and not cfg.face_critic:
        return residual_critic(mcfg, cfg.d_width)
    if mcfg.arch != "style":
        asked = [f"--d {cfg.d}"] * (cfg.d != "residual") + ["--face-critic"] * bool(cfg.face_critic)
        raise ValueError(f"{' and '.join(asked)} needs the style arch, not {mcfg.arch!r}")
    critics: dict[str, nn.Module] = {}
    if cfg.d != "residual":
        critics["projected"] = build_projected_discriminator(mcfg, cfg.d_resolution)
    if cfg.d != "projected":
        critics["residual"] = residual_critic(mcfg, cfg.d_width)
    if cfg.face_critic:
        critics["faces"] = build_face_critic(mcfg)
    return nn.ModuleDict(critics)


def critic_param_groups(D: nn.Module, cfg: TrainConfig) -> list[dict[str, Any]]:
    """Adam parameter groups: the heads on frozen features (HINGE_CRITICS) learn at d_lr, everything else at lr."""
    if not isinstance(D, nn.ModuleDict):
        return [{"params": list(D.parameters()), "lr": cfg.lr}]
    return [{"params": list(m.parameters()), "lr": cfg.d_lr if name in HINGE_CRITICS else cfg.lr}
            for name, m in D.items()]


class AdversarialLoss:
    """The sum over D's critics: the residual D with the logistic or the relativistic loss and lazy penalties
    (gamma/2 * every, on every `every`th step), the projected D and the face critic with the hinge loss on their
    patch logits.

    `D` is the residual discriminator itself, or an nn.ModuleDict of "residual", "projected" and / or "faces" ones;
    `projected_weight` and `face_weight` scale the projected and the face critic's terms in G's loss.
    """

    def __init__(self, D: nn.Module, policy: list[str], r1_gamma: float, r1_every: int, fmt: Formatter,
                 kind: str = "logistic", projected_weight: float = 1.0, face_weight: float = 1.0) -> None:
        if kind not in LOSSES:
            raise ValueError(f"--loss must be one of {', '.join(LOSSES)}, got {kind!r}")
        for flag, weight in (("--projected-weight", projected_weight), ("--face-critic", face_weight)):
            if weight < 0:
                raise ValueError(f"{flag} must be 0 or more, got {weight}")
        self.D, self.policy, self.r1_gamma, self.r1_every, self.fmt = D, policy, r1_gamma, r1_every, fmt
        self.projected_weight, self.face_weight = projected_weight, face_weight
        self.relativistic = kind == "relativistic"
        self.critics = dict(D.items()) if isinstance(D, nn.ModuleDict) else {"residual": D}

    def logits(self, critic: str, img: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        """A critic's fp32 logits for augmented images (the same policy for real and fake, drawn per sample)."""
        return self.critics[critic](self.fmt(diff_augment(img, self.policy)), c).float()

    def wants_r1(self, step: int) -> bool:
        return "residual" in self.critics and self.r1_gamma > 0 and step % self.r1_every == 0

    def d_phase(self, real: torch.Tensor, c_real: torch.Tensor | None, fake: torch.Tensor,
                c_fake: torch.Tensor | None, with_r1: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """D's loss over its critics (plus the lazy penalties) and the raw R1 value, or None when R1 did not run."""
        loss, r1 = torch.zeros((), device=real.device), None
        for name in self.critics:
            if name in HINGE_CRITICS:
                loss = loss + F.relu(1 - self.logits(name, real, c_real)).mean() \
                    + F.relu(1 + self.logits(name, fake.detach(), c_fake)).mean()
                continue
            x = real.detach().requires_grad_(with_r1)
            y = fake.detach().requires_grad_(with_r1 and self.relativistic)
            d_real, d_fake = self.logits(name, x, c_real), self.logits(name, y, c_fake)
            if self.relativistic:
                loss = loss + F.softplus(d_fake - d_real).mean()
            else:
                loss = loss + F.softplus(d_fake).mean() + F.softplus(-d_real).mean()
            if with_r1:
                r1 = gradient_penalty(d_real, x)
                penalty = r1 + gradient_penalty(d_fake, y) if self.relativistic else r1
                loss = loss + penalty * (self.r1_gamma / 2) * self.r1_every
        return loss, r1

    def g_phase(self, fake: torch.Tensor, c_fake: torch.Tensor | None, real: torch.Tensor,
                c_real: torch.Tensor | None) -> torch.Tensor:
        """G's loss through every critic (softplus(-D) or softplus(D(real) - D(fake)) residual, -w * D projected or
        faces);
        D's weights get no gradient. `real` is used by the relativistic loss only.

        requires_grad is read when the graph is built, so switching it back on before backward is safe."""
        self.D.requires_grad_(False)
        try:
            loss = torch.zeros((), device=fake.device)
            for name in self.critics:
                d_fake = self.logits(name, fake, c_fake)
                if name in HINGE_CRITICS:
                    weight = self.projected_weight if name == "projected" else self.face_weight
                    loss = loss - weight * d_fake.mean()
                elif self.relativistic:
                    loss = loss + F.softplus(self.logits(name, real.detach(), c_real) - d_fake).mean()
                else:
                    loss = loss + F.softplus(-d_fake).mean()
            return loss
        finally:
            self.D.requires_grad_(True)
