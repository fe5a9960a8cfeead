"""Prefect task of the training stage: train one config, track it, publish curves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from crucible.plugins import build_callbacks
from crucible.tracking import MlflowTracker
from crucible.training._plots import plot_learning_curves
from crucible.training.callbacks import LambdaCallback
from crucible.training.config import TrainConfig
from crucible.training.engine import fit, fit_tracked
from crucible.training.hpo import params_to_config
from crucible.training.results import TrainingRunSummary
from tasks._artifacts import Progress, publish_image, publish_table


@task(name="train-model", retries=0, cache_policy=NO_CACHE)
def train_model(
    config: TrainConfig,
    out_dir: str,
    params: dict[str, Any] | None = None,
    experiment: str = "crucible-training",
    tracking: bool | str = True,
    callbacks: list[dict[str, Any]] | None = None,
) -> TrainingRunSummary:
    """Train ``config`` with ``params`` (dotted overrides) applied; return the best metrics.

    ``callbacks`` names registered training callbacks (``[{"name", "params"}]``,
    :func:`crucible.plugins.build_callbacks`), added after the progress callback.

    Returns:
        ``metrics`` (best epoch), ``best_epoch``, ``history``, ``checkpoint``, ``run_id``,
        ``curves`` (PNG path), ``n_parameters`` and ``seconds``.
    """
    logger = get_run_logger()
    folder = Path(out_dir)
    train_config = params_to_config(config, params or {})
    if train_config.checkpoint.directory is None:
        train_config = train_config.with_overrides({"checkpoint.directory": str(folder)})
    progress = Progress("training", total=train_config.epochs, description=experiment)

    def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
        progress.set(epoch)
        logger.info("epoch %d %s", epoch, {k: round(v, 5) for k, v in metrics.items()})

    hooks = [LambdaCallback(on_epoch), *build_callbacks(callbacks or [])]
    tracker = None
    if tracking:
        tracker = MlflowTracker(tracking if isinstance(tracking, str) else None)
        result, run_id = fit_tracked(
            train_config,
            experiment=experiment,
            tracker=tracker,
            params=params,
            callbacks=hooks,
        )
    else:
        result, run_id = fit(train_config, callbacks=hooks), None
    progress.set(train_config.epochs)
    folder.mkdir(parents=True, exist_ok=True)
    curves = plot_learning_curves(result.history, folder / "learning-curves.png", experiment)
    publish_image(curves, key="training-curves", description=f"{experiment}: learning curves")
    publish_table([result.best_metrics], key="training-best-metrics")
    if tracker is not None and run_id:
        tracker.get_run(run_id).log_artifact(curves)
    return TrainingRunSummary.of(result, curves, run_id)
