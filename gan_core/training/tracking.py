"""Best-checkpoint tracking: every evaluation of a run and the EMA weights of the best (issue 22's bars, then FID)."""
from __future__ import annotations

from typing import Any

from torch import nn

# Issue 22's bars. A digit model drawing other digits than asked is not worth exporting, whatever its FID;
# nor is a model drawing a thin slice of its set (recall) while another evaluation covers more of it.
DIGIT_BAR = 0.98
RECALL_BAR = 0.2


def rank(row: dict[str, float]) -> tuple[bool, bool, float]:
    """Sort key, lower is better: rows under the digit bar last, then rows under the recall bar, then by FID."""
    return row.get("digit_accuracy", 1.0) < DIGIT_BAR, row.get("recall", 1.0) < RECALL_BAR, row["fid"]


class BestTracker:
    """Evaluation rows {"step", "fid", ...} in order, and a copy of the generator that ranked best: the lowest
    FID among rows at both bars, else among rows at the digit bar."""

    def __init__(self) -> None:
        self.evals: list[dict[str, float]] = []
        self.best: dict[str, Any] = {}  # the best row + "nimg", "train_seconds" and its weights under "G_ema"

    def record(self, row: dict[str, float], G: nn.Module, nimg: int, train_seconds: float) -> bool:
        """Add an evaluation; keep G's weights (on the CPU) if it ranks best so far. True if it does."""
        self.evals.append(row)
        if self.best and rank(row) >= rank(self.best):
            return False
        weights = {k: v.detach().cpu().clone() for k, v in G.state_dict().items()}
        self.best = {**row, "nimg": nimg, "train_seconds": train_seconds, "G_ema": weights}
        return True

    def state_dict(self) -> dict[str, Any]:
        return {"evals": self.evals, "best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.evals, self.best = state.get("evals", []), state.get("best", {})
