"""One generator's scores: FID, KID, precision / recall against real images, and digit accuracy for MNIST."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from gan_core.evaluation.digits import digit_accuracy, is_digit_model
from gan_core.evaluation.metrics import (
    PR_K,
    MetricsError,
    fid_from_features,
    generated_features,
    kid_from_features,
    precision_recall,
    real_stats,
)


def evaluate_generator(G: torch.nn.Module, real_source: str, n: int = 5000, psi: float = 1.0, batch: int = 50,
                       device: str | torch.device | None = None, kid_subsets: int = 100,
                       kid_subset_size: int = 1000, cache_dir: str | Path | None = None,
                       progress: Callable[[str, int, int], None] | None = None) -> dict[str, Any]:
    """FID, KID, precision and recall of G's first n seeds against n real images at G's resolution and channels,
    plus digit accuracy for 10-class greyscale models scored against MNIST.

    KID subsets hold at most half the samples, so that they differ and the reported std means something."""
    if n <= PR_K:
        raise MetricsError(f"n must be at least {PR_K + 1} (precision/recall use {PR_K} nearest neighbours)")
    real = real_stats(real_source, G.cfg.resolution, G.cfg.img_channels, n, batch, device, cache_dir,
                      (lambda d, t: progress("real", d, t)) if progress else None)
    fake = generated_features(G, n, psi, batch, device,
                              (lambda d, t: progress("generated", d, t)) if progress else None)
    kid, kid_std = kid_from_features(fake, real, kid_subsets, min(kid_subset_size, max(2, n // 2)))
    precision, recall = precision_recall(real, fake)
    scores = dict(fid=fid_from_features(fake, real), kid=kid, kid_std=kid_std, precision=precision, recall=recall,
                  n=len(fake), n_real=len(real))
    if is_digit_model(G, real_source):
        scores["digit_accuracy"] = digit_accuracy(G, n, psi, batch)
    return scores
