"""Training flow: train one PyTorch config and return its metrics.

Deployable on its own (``train`` deployment, CPU or GPU pool), and the evaluation step of a
BO campaign: the campaign flow calls ``run_deployment("train/train", parameters={"config":
{"train": ..., "params": point}})`` and reads ``objective`` (or any of ``metrics``) from the
result, so "BO loop iteration → training" runs end to end. ``params`` are dotted overrides
of the training config, e.g. ``{"optimizer.lr": 3e-3, "model.width": 128}``.

Run locally::

    python -m flows.training_flow
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow
from pydantic import BaseModel, Field

from crucible.settings import get_settings
from crucible.training.config import TrainConfig
from tasks.training import train_model


class TrainFlowConfig(BaseModel):
    """Parameters of the training flow.

    Attributes:
        train: The training config (architecture, optimiser, schedule, data, ...).
        params: Dotted overrides applied on top (a BO point or an HPO trial's parameters).
        objective: Best-epoch metric returned as ``objective``.
        experiment: MLflow experiment.
        tracking: Record the run in MLflow.
        output_dir: Checkpoint and plot folder (``<artifacts_dir>/training/<flow run>``).
    """

    train: TrainConfig = Field(default_factory=TrainConfig)
    params: dict[str, Any] = Field(default_factory=dict)
    objective: str = "valid_loss"
    experiment: str = "crucible-training"
    tracking: bool = True
    output_dir: str = ""


@flow(name="train", log_prints=True)
def train(config: TrainFlowConfig = TrainFlowConfig()) -> dict[str, Any]:  # noqa: B008
    """Train once and return ``objective``, ``metrics``, ``run_id`` and ``checkpoint``."""
    from prefect.runtime import flow_run

    out = config.output_dir or str(
        Path(get_settings().artifacts_dir or ".") / "training" / str(flow_run.id or "local")
    )
    result = train_model(
        config.train.model_dump(mode="json"),
        out,
        config.params,
        config.experiment,
        config.tracking,
    )
    metrics = result["metrics"]
    if config.objective not in metrics:
        raise ValueError(
            f"objective {config.objective!r} is not a metric; use one of {sorted(metrics)}"
        )
    print(f"{config.objective} = {metrics[config.objective]:.5g} (epoch {result['best_epoch']})")
    return {**result, "objective": metrics[config.objective]}


if __name__ == "__main__":
    print(train()["metrics"])
