"""The GAN objective in phases, apart from the loop (as stylegan2-ada's loss.py): D on real/fake with lazy R1, then G."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .augment import diff_augment

Formatter = Callable[[torch.Tensor], torch.Tensor]


def r1_penalty(d_real: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of |dD(x)/dx|^2 at real images (Mescheder et al. 2018); keeps the graph for backward."""
    (grad,) = torch.autograd.grad(d_real.sum(), real, create_graph=True)
    return grad.float().square().sum(dim=(1, 2, 3)).mean()


class AdversarialLoss:
    """Non-saturating logistic loss on DiffAugmented inputs, with lazy R1 (gamma/2 * every, on every `every`th step)."""

    def __init__(self, D: nn.Module, policy: list[str], r1_gamma: float, r1_every: int, fmt: Formatter) -> None:
        self.D, self.policy, self.r1_gamma, self.r1_every, self.fmt = D, policy, r1_gamma, r1_every, fmt

    def logits(self, img: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        """D's fp32 logits for augmented images (the same policy for real and fake, drawn per sample)."""
        return self.D(self.fmt(diff_augment(img, self.policy)), c).float()

    def wants_r1(self, step: int) -> bool:
        return self.r1_gamma > 0 and step % self.r1_every == 0

    def d_phase(self, real: torch.Tensor, c_real: torch.Tensor | None, fake: torch.Tensor,
                c_fake: torch.Tensor | None, with_r1: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """D's loss (softplus(D(fake)) + softplus(-D(real)), plus the lazy R1 term) and the raw R1 value or None."""
        real = real.detach().requires_grad_(with_r1)
        d_real = self.logits(real, c_real)
        loss = F.softplus(self.logits(fake.detach(), c_fake)).mean() + F.softplus(-d_real).mean()
        if not with_r1:
            return loss, None
        r1 = r1_penalty(d_real, real)
        return loss + r1 * (self.r1_gamma / 2) * self.r1_every, r1

    def g_phase(self, fake: torch.Tensor, c_fake: torch.Tensor | None) -> torch.Tensor:
        """G's non-saturating loss softplus(-D(G(z))); D's weights are frozen so only G gets gradients."""
        self.D.requires_grad_(False)
        try:
            return F.softplus(-self.logits(fake, c_fake)).mean()
        finally:
            self.D.requires_grad_(True)
