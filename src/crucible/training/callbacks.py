"""Per-epoch hooks for :func:`crucible.training.engine.fit`.

A callback sees the model when training starts, the metrics of every finished epoch and
the result at the end. ``on_epoch_end`` returning ``True`` stops training gracefully (the
best checkpoint is kept); raising an exception aborts ``fit`` and propagates (Optuna's
``TrialPruned`` travels this way). Tracking (:class:`TrackingCallback`, see
:mod:`crucible.tracking`) and Optuna pruning (:mod:`crucible.training.hpo`) are callbacks
too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from crucible.exceptions import CrucibleError

if TYPE_CHECKING:
    from crucible.tracking import Run
    from crucible.training.config import TrainConfig
    from crucible.training.results import FitResult


class TrainingTimeoutError(CrucibleError, TimeoutError):
    """Training ran past its time limit (checked at the end of every epoch)."""


class Callback:
    """Base class: override the hooks you need; every hook is a no-op by default."""

    def on_fit_start(self, model: Any, config: TrainConfig) -> None:
        """Called once, after the model is built and before the first epoch."""

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> bool | None:
        """Called after each epoch with its metrics; return True to stop training.

        Args:
            epoch: 1-based epoch number.
            metrics: ``train_loss``, ``valid_loss``, ``lr``, ``epoch_seconds`` and, for
                classification, ``valid_accuracy``; for regression ``valid_mae`` and
                ``valid_rmse``.

        Returns:
            True to stop after this epoch; None or False to continue.
        """
        return None

    def on_fit_end(self, result: FitResult) -> None:
        """Called once with the finished result (not called when ``fit`` raises)."""


class LambdaCallback(Callback):
    """Wrap a plain function ``(epoch, metrics) -> bool | None`` as a callback."""

    def __init__(self, on_epoch_end: Callable[[int, dict[str, float]], bool | None]) -> None:
        self._fn = on_epoch_end

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> bool | None:
        """Delegate to the wrapped function."""
        return self._fn(epoch, metrics)


class TimeLimit(Callback):
    """Abort training with :class:`TrainingTimeoutError` once ``seconds`` have passed.

    The check runs at each epoch end, so an epoch in progress finishes first.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = float(seconds)
        self._start = time.monotonic()

    def on_fit_start(self, model: Any, config: TrainConfig) -> None:
        """Start the clock."""
        self._start = time.monotonic()

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> bool | None:
        """Raise when the time budget is spent."""
        elapsed = time.monotonic() - self._start
        if elapsed > self.seconds:
            raise TrainingTimeoutError(
                f"training exceeded its time limit of {self.seconds:.1f} s after epoch "
                f"{epoch} ({elapsed:.1f} s); raise the limit or train fewer epochs"
            )
        return None


class TrackingCallback(Callback):
    """Records each epoch's metrics (``epoch`` is the step) in a tracked run."""

    def __init__(self, run: Run) -> None:
        self.run = run

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> bool | None:
        """Log the epoch."""
        self.run.log_metrics({k: v for k, v in metrics.items() if k != "epoch"}, step=epoch)
        return None
