"""Stopping rules of a campaign loop: budget, target value, stagnation, wall clock."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from crucible.bo.objectives import Objective
from crucible.validation import strict_config

__all__ = ["StoppingRules", "best_so_far"]


class StoppingRules(BaseModel):
    """When a campaign loop stops (the first rule that fires wins).

    Attributes:
        max_trials: Total completed + failed trials in the campaign (all runs together).
        target: Stop once the best feasible value of the first objective reaches it
            (``<=`` for minimise, ``>=`` for maximise).
        patience: Stop after this many consecutive iterations without improvement.
        min_improvement: Smallest change that counts as an improvement.
        max_wall_time_s: Wall-clock limit of this flow run, in seconds.
    """

    model_config = strict_config(frozen=True)

    max_trials: int = Field(default=30, ge=1)
    target: float | None = None
    patience: int | None = Field(default=None, ge=1)
    min_improvement: float = Field(default=0.0, ge=0)
    max_wall_time_s: float | None = Field(default=None, gt=0)

    def reason_to_stop(
        self,
        objective: Objective,
        best_history: Sequence[float | None],
        n_finished: int,
        elapsed_s: float,
    ) -> str | None:
        """Why the loop should stop now, or None to continue.

        Args:
            objective: The (first) objective.
            best_history: Best feasible value after each iteration (None: none feasible).
            n_finished: Completed plus failed trials in the campaign.
            elapsed_s: Seconds since this flow run started.
        """
        best = best_history[-1] if best_history else None
        if n_finished >= self.max_trials:
            return f"budget reached ({n_finished} >= {self.max_trials} trials)"
        reached = (
            self.target is not None
            and best is not None
            and objective.sign * best >= objective.sign * self.target
        )
        if reached:
            return f"target reached (best {best:.6g}, target {self.target:.6g})"
        if self.patience is not None and len(best_history) > self.patience:
            before = best_history[-self.patience - 1]
            if before is not None and best is not None:
                gain = objective.sign * (best - before)
                if gain <= self.min_improvement:
                    return f"no improvement for {self.patience} iterations"
        if self.max_wall_time_s is not None and elapsed_s >= self.max_wall_time_s:
            return f"wall-clock limit reached ({elapsed_s:.0f} s >= {self.max_wall_time_s:.0f} s)"
        return None


def best_so_far(values: Sequence[float | None], objective: Objective) -> list[float | None]:
    """Running best of a sequence of (feasible) values; None entries are skipped."""
    out: list[float | None] = []
    best: float | None = None
    for v in values:
        if v is not None and (best is None or objective.better(v, best)):
            best = v
        out.append(best)
    return out
