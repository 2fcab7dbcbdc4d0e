"""The GAN objective in phases, apart from the loop (as stylegan2-ada's loss.py): D on real/fake with lazy R1, then G."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from .augment import diff_augment
from .models import ModelConfig, build_discriminator, build_projected_discriminator

if TYPE_CHECKING:
    from .train_config import TrainConfig

Formatter = Callable[[torch.Tensor], torch.Tensor]


def r1_penalty(d_real: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of |dD(x)/dx|^2 at real images (Mescheder et al. 2018); keeps the graph for backward."""
    (grad,) = torch.autograd.grad(d_real.sum(), real, create_graph=True)
    return grad.float().square().sum(dim=(1, 2, 3)).mean()


CRITICS = ("residual", "projected", "both")


def build_critics(mcfg: ModelConfig, cfg: TrainConfig) -> nn.Module:
    """The residual D alone (as every earlier run), or a ModuleDict of the projected D and / or the residual one."""
    if cfg.d not in CRITICS:
        raise ValueError(f"--d must be one of {', '.join(CRITICS)}, got {cfg.d!r}")
    if cfg.d == "residual":
        return build_discriminator(mcfg)
    if mcfg.arch != "style":
        raise ValueError(f"--d {cfg.d} works with the style arch only, not {mcfg.arch!r}")
    critics = {"projected": build_projected_discriminator(mcfg, cfg.d_resolution)}
    if cfg.d == "both":
        critics["residual"] = build_discriminator(mcfg)
    return nn.ModuleDict(critics)


def critic_param_groups(D: nn.Module, cfg: TrainConfig) -> list[dict[str, Any]]:
    """Adam parameter groups: the projected D's heads learn at d_lr, everything else at lr."""
    if not isinstance(D, nn.ModuleDict):
        return [{"params": list(D.parameters()), "lr": cfg.lr}]
    return [{"params": list(m.parameters()), "lr": cfg.d_lr if name == "projected" else cfg.lr}
            for name, m in D.items()]


class AdversarialLoss:
    """The sum over D's critics: the residual D with the non-saturating logistic loss and lazy R1
    (gamma/2 * every, on every `every`th step), the projected D with the hinge loss on its patch logits.

    `D` is the residual discriminator itself, or an nn.ModuleDict of "residual" and / or "projected" ones.
    """

    def __init__(self, D: nn.Module, policy: list[str], r1_gamma: float, r1_every: int, fmt: Formatter) -> None:
        self.D, self.policy, self.r1_gamma, self.r1_every, self.fmt = D, policy, r1_gamma, r1_every, fmt
        self.critics = dict(D.items()) if isinstance(D, nn.ModuleDict) else {"residual": D}

    def logits(self, critic: str, img: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        """A critic's fp32 logits for augmented images (the same policy for real and fake, drawn per sample)."""
        return self.critics[critic](self.fmt(diff_augment(img, self.policy)), c).float()

    def wants_r1(self, step: int) -> bool:
        return "residual" in self.critics and self.r1_gamma > 0 and step % self.r1_every == 0

    def d_phase(self, real: torch.Tensor, c_real: torch.Tensor | None, fake: torch.Tensor,
                c_fake: torch.Tensor | None, with_r1: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """D's loss over its critics (plus the lazy R1 term) and the raw R1 value, or None when R1 did not run."""
        loss, r1, fake = torch.zeros((), device=real.device), None, fake.detach()
        for name in self.critics:
            if name == "projected":
                loss = loss + F.relu(1 - self.logits(name, real, c_real)).mean() \
                    + F.relu(1 + self.logits(name, fake, c_fake)).mean()
                continue
            x = real.detach().requires_grad_(with_r1)
            d_real = self.logits(name, x, c_real)
            loss = loss + F.softplus(self.logits(name, fake, c_fake)).mean() + F.softplus(-d_real).mean()
            if with_r1:
                r1 = r1_penalty(d_real, x)
                loss = loss + r1 * (self.r1_gamma / 2) * self.r1_every
        return loss, r1

    def g_phase(self, fake: torch.Tensor, c_fake: torch.Tensor | None) -> torch.Tensor:
        """G's loss through every critic (softplus(-D) residual, -D projected); D's weights get no gradient.

        requires_grad is read when the graph is built, so switching it back on before backward is safe."""
        self.D.requires_grad_(False)
        try:
            return sum((-self.logits(name, fake, c_fake).mean() if name == "projected"
                        else F.softplus(-self.logits(name, fake, c_fake)).mean()) for name in self.critics)
        finally:
            self.D.requires_grad_(True)
