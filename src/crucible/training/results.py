"""What :func:`crucible.training.engine.fit` returns (a leaf module).

Kept apart from the engine so that callbacks (:mod:`crucible.training.callbacks`), which
the engine imports, can name the result type without importing the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from crucible.training.datasets import Task

__all__ = ["FitResult"]


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
