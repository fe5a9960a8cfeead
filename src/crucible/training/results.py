"""What :func:`crucible.training.engine.fit` returns (a leaf module).

Kept apart from the engine so that callbacks (:mod:`crucible.training.callbacks`), which
the engine imports, can name the result type without importing the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from pydantic import BaseModel
from torch import nn

from crucible.training.datasets import Task

__all__ = ["FitResult", "TrainingRunSummary"]


@dataclass
class FitResult:
    """What ``fit`` returns.

    Attributes:
        history: One dict of metrics per finished epoch (``epoch`` is 1-based).
        best_epoch: Epoch whose weights are in :attr:`model` and :attr:`best_state`.
        best_value: Monitored metric at :attr:`best_epoch`.
        monitor: Name of the monitored metric.
        best_state: ``state_dict`` of the best epoch, on the CPU.
        model: The network with the best weights loaded, in eval mode.
        best_checkpoint_path: ``best.pt`` when a checkpoint folder was configured.
        checkpoint_paths: Periodic checkpoints written, oldest first.
        stopped_early: Whether early stopping (or a callback) ended training.
        task: ``classification`` or ``regression``.
        n_parameters: Trainable parameters of the network.
        seconds: Wall time of the whole fit.
        device: Device the model trained on.
    """

    history: list[dict[str, float]]
    best_epoch: int
    best_value: float
    monitor: str
    best_state: dict[str, torch.Tensor]
    model: nn.Module
    best_checkpoint_path: Path | None = None
    checkpoint_paths: list[Path] = field(default_factory=list)
    stopped_early: bool = False
    task: Task = "classification"
    n_parameters: int = 0
    seconds: float = 0.0
    device: str = "cpu"

    @property
    def best_metrics(self) -> dict[str, float]:
        """Metrics of the best epoch."""
        return self.history[self.best_epoch - 1]


class TrainingRunSummary(BaseModel):
    """A finished training run as a stage result (numbers and paths, no tensors).

    Attributes:
        metrics: Metrics of the best epoch.
        best_epoch: The best epoch (1-based).
        history: One dict of metrics per epoch.
        checkpoint: ``best.pt`` when a checkpoint folder was configured.
        run_id: The MLflow run (None without tracking).
        curves: Learning-curve PNG.
        n_parameters: Trainable parameters.
        seconds: Wall time of the fit.
    """

    metrics: dict[str, float]
    best_epoch: int
    history: list[dict[str, float]]
    checkpoint: str | None = None
    run_id: str | None = None
    curves: str
    n_parameters: int
    seconds: float

    @classmethod
    def of(cls, result: FitResult, curves: Path, run_id: str | None) -> TrainingRunSummary:
        """The summary of ``result`` with its curves PNG and MLflow run."""
        checkpoint = result.best_checkpoint_path
        return cls(
            metrics=result.best_metrics,
            best_epoch=result.best_epoch,
            history=result.history,
            checkpoint=str(checkpoint) if checkpoint else None,
            run_id=run_id,
            curves=str(curves),
            n_parameters=result.n_parameters,
            seconds=result.seconds,
        )
