"""Prefect task of the activity-model stage: train, evaluate, save, track, report.

One call into :func:`crucible.chem.activity.train_activity_model` on a split written by the
ligand-data flow (``train.csv``, ``valid.csv``, ``test.csv``). Publishes the test parity plot,
a metrics table and a progress artifact (one step per epoch); the model, metrics and plot also
go to MLflow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import get_run_logger, task

from crucible.chem import activity
from crucible.chem.activity import ActivityModelSummary
from crucible.data import io
from tasks._artifacts import Progress, publish_image, publish_table


@task(name="train-activity-model", retries=0, timeout_seconds=6 * 3600)
def train_activity_model(
    split_dir: str,
    out_dir: str,
    kind: str = "random_forest",
    params: dict[str, Any] | None = None,
    experiment: str = "crucible-activity-models",
    tags: dict[str, str] | None = None,
    track: bool = True,
    register_as: str | None = None,
    parent_run_id: str | None = None,
) -> ActivityModelSummary:
    """Train an activity model on ``split_dir`` and save it under ``out_dir/model``.

    With ``register_as`` the model is also logged as an MLflow pyfunc model and registered;
    with ``parent_run_id`` its MLflow run is nested under that run (e.g. a design run's).

    Returns:
        ``model_dir``, ``parity_plot``, ``run_id``, ``registered_version``, per-split
        ``metrics`` and the fit time.
    """
    logger = get_run_logger()
    split = Path(split_dir)
    frames = {name: io.read_table(split / f"{name}.csv") for name in ("train", "valid", "test")}
    epochs = int((params or {}).get("epochs", 1)) if kind == "chemprop" else 1
    progress = Progress(f"train-{kind}", total=epochs, description=f"{kind} on {split_dir}")

    def on_epoch(epoch: int, total: int, metrics: Any) -> None:
        progress.set(epoch)
        logger.info("%s epoch %d/%d %s", kind, epoch, total, dict(metrics))

    result = activity.train_activity_model(
        kind,
        frames["train"],
        frames["test"],
        out_dir,
        valid=frames["valid"],
        params=params,
        track=track,
        experiment=experiment,
        tags=tags,
        on_epoch=on_epoch,
        register_as=register_as,
        parent_run_id=parent_run_id,
    )
    progress.flush()
    rows = [{"split": name, **values} for name, values in result.metrics.items()]
    publish_table(rows, key=f"activity-metrics-{kind}", description=f"{kind}: RMSE, MAE, R²")
    publish_image(result.parity_plot, key=f"activity-parity-{kind}", description=f"{kind} test")
    test = result.metrics["test"]
    logger.info(
        "%s test R² %.3f RMSE %.3f (run %s)", kind, test["r2"], test["rmse"], result.run_id
    )
    return result.summary()
