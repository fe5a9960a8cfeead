"""Training flow: train one PyTorch config and return its metrics.

Deployable on its own (``train`` deployment, CPU or GPU pool), and the evaluation of a BO
campaign: with ``evaluation="deployment"``, ``deployment="train/train"`` the campaign flow
calls ``run_deployment("train/train", parameters={"params": point})`` for each trial and
records the returned metrics, so "BO loop iteration → training" runs end to end. ``params``
are dotted overrides of the training config, e.g. ``{"optimizer.lr": 3e-3,
"model.width": 128}``; the flow returns numbers only (best-epoch metrics, ``objective``,
``n_parameters``, ``train_seconds``, ``best_epoch``), with results persisted so the caller
can read them.

Run locally::

    python -m flows.training_flow
"""

from typing import Any, Literal

from prefect import flow
from pydantic import BaseModel, Field, model_validator

from blocks.environment import uses_environment_block
from crucible.naming import OutputPath
from crucible.plugins import CallbackSpec
from crucible.presets import Presets
from crucible.settings import get_settings
from crucible.training.config import TrainConfig
from crucible.training.hpo import params_to_config
from crucible.validation import strict_config
from tasks.training import train_model


class TrainFlowConfig(BaseModel):
    """Settings of the training flow (the trial's parameters come separately as ``params``).

    Attributes:
        train: The training config (architecture, optimiser, schedule, data, ...).
        params: Default dotted overrides; the flow's ``params`` argument wins over these.
        objective: Best-epoch metric also returned as ``objective``.
        experiment: MLflow experiment.
        tracking: Record the run in MLflow.
        output_dir: Checkpoint and plot folder (``<artifacts_dir>/training/<flow run>``).
        callbacks: Registered training callbacks by name (:mod:`crucible.plugins`), e.g.
            ``[{"name": "time_limit", "params": {"seconds": 3600}}]``.
    """

    model_config = strict_config()

    train: TrainConfig = Field(default_factory=TrainConfig)
    params: dict[str, Any] = Field(default_factory=dict)
    objective: str = "valid_loss"
    experiment: str = "crucible-training"
    tracking: bool = True
    output_dir: OutputPath = ""
    callbacks: list[CallbackSpec] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _params_apply(self) -> "TrainFlowConfig":
        params_to_config(self.train, self.params)  # unknown names or bad values fail here
        return self


TrainPreset = Literal["default"]
#: Named presets of ``config`` (``crucible run train --preset NAME``).
PRESETS = Presets(TrainFlowConfig, {"default": TrainFlowConfig})


@flow(name="train", log_prints=True, persist_result=True, result_serializer="json")
@uses_environment_block
def train(
    params: dict[str, Any] | None = None,
    config: TrainFlowConfig = TrainFlowConfig(),  # noqa: B008
    preset: TrainPreset = "default",
) -> dict[str, float]:
    """Train once with ``params`` applied and return the metrics as numbers.

    Args:
        params: Dotted training-config overrides (a BO point or an HPO trial's parameters).
        config: Base config, objective, tracking and output settings.
        preset: Named starting point (``default``); ``config`` changes apply on top.

    Returns:
        Best-epoch metrics plus ``objective``, ``best_epoch``, ``n_parameters`` and
        ``train_seconds`` (the MLflow run id and checkpoint path are in the logs).
    """
    config = PRESETS.resolve(preset, config)
    from prefect.runtime import flow_run

    out = config.output_dir or str(
        get_settings().artifact_folder("training", str(flow_run.id or "local"))
    )
    overrides = {**config.params, **(params or {})}
    result = train_model(
        config.train,
        out,
        overrides,
        config.experiment,
        config.tracking,
        [spec.model_dump() for spec in config.callbacks],
    )
    metrics = {k: float(v) for k, v in result.metrics.items()}
    if config.objective not in metrics:
        raise ValueError(
            f"objective {config.objective!r} is not a metric; use one of {sorted(metrics)}"
        )
    print(
        f"{config.objective} = {metrics[config.objective]:.5g} (epoch {result.best_epoch}, "
        f"run {result.run_id}, checkpoint {result.checkpoint})"
    )
    return {
        **metrics,
        "objective": metrics[config.objective],
        "best_epoch": float(result.best_epoch),
        "n_parameters": float(result.n_parameters),
        "train_seconds": float(result.seconds),
    }


if __name__ == "__main__":
    import sys

    from crucible.cli import main

    raise SystemExit(main(["run", "train", *sys.argv[1:]]))
