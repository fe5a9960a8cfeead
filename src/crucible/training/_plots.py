"""Study plots as PNG files, drawn headless with ``optuna.visualization.matplotlib``."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna

from crucible.viz.figures import pyplot, save_figure

Target = Callable[[optuna.trial.FrozenTrial], float] | None


def _optuna_matplotlib() -> Any:
    """Optuna's matplotlib plots, imported after pyplot is on the Agg backend."""
    pyplot()
    from optuna.visualization import matplotlib as optuna_mpl

    return optuna_mpl


def _save(ax: Any, path: Path) -> Path:
    figure = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
    figure.set_size_inches(8, 5)
    return save_figure(figure, path, dpi=110, tight_layout=False, bbox_inches="tight")


def plot_history(study: optuna.Study, path: Path, target: Target, target_name: str) -> Path:
    """Objective value per trial and the best value so far."""
    optuna_mpl = _optuna_matplotlib()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        ax = optuna_mpl.plot_optimization_history(study, target=target, target_name=target_name)
    return _save(ax, path)


def plot_importances(study: optuna.Study, path: Path, target: Target, target_name: str) -> Path:
    """Parameter importances (PedANOVA, Optuna 5's default evaluator) for one objective."""
    optuna_mpl = _optuna_matplotlib()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        ax = optuna_mpl.plot_param_importances(study, target=target, target_name=target_name)
    return _save(ax, path)


def plot_learning_curves(history: list[dict[str, float]], path: Path, title: str = "") -> Path:
    """Training and validation loss per epoch (and validation accuracy when present)."""
    epochs = [h["epoch"] for h in history]
    figure, ax = pyplot().subplots(figsize=(7, 4))
    ax.plot(epochs, [h["train_loss"] for h in history], label="train loss")
    ax.plot(epochs, [h["valid_loss"] for h in history], label="valid loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if "valid_accuracy" in history[0]:
        twin = ax.twinx()
        twin.plot(epochs, [h["valid_accuracy"] for h in history], "g--", label="valid accuracy")
        twin.set_ylabel("accuracy")
        twin.legend(loc="center right")
    ax.legend(loc="upper right")
    ax.set_title(title or "learning curves")
    return save_figure(figure, path, dpi=110, tight_layout=False, bbox_inches="tight")
