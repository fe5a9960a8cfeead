"""Activity-model flow: train a QSAR model (random forest or Chemprop) on a ligand split.

Takes a split folder written by the ligand-data flow, or runs that flow first (as a subflow)
when none is given. Metrics (RMSE, MAE, R² per split) and the parity plot are published as
Prefect artifacts and recorded in MLflow with the saved model; the returned ``model_dir`` is
what the scoring component ``activity_model`` loads.

Run locally (offline: bundled EGFR data, scaffold split, random forest)::

    python -m flows.activity_model_flow
"""

from pathlib import Path
from typing import Any, Literal

from prefect import flow
from pydantic import BaseModel, Field, ValidationInfo, field_validator

from blocks.environment import uses_environment_block
from crucible.chem.activity import ActivityModelSummary, get_activity_model
from crucible.naming import InputPath, OptionalSlug, OutputPath
from crucible.presets import Presets
from crucible.validation import strict_config
from flows.ligand_data_flow import LigandDataConfig, ligand_data
from tasks.activity_model import train_activity_model


class ActivityModelConfig(BaseModel):
    """Parameters of the activity-model flow.

    Attributes:
        kind: ``"random_forest"`` (fast, CPU) or ``"chemprop"`` (MPNN; GPU when present).
        params: Model parameters (e.g. ``{"n_estimators": 300}`` or ``{"epochs": 30}``).
        split_dir: Folder with ``train.csv``/``valid.csv``/``test.csv``; when empty the
            ligand-data flow runs first with ``data``.
        data: Ligand-data parameters used when ``split_dir`` is empty.
        experiment: MLflow experiment.
        track: Record the run in MLflow.
        register_as: Also register the model (MLflow pyfunc) under this name; empty: no.
        output_dir: Where the model goes; ``<split_dir>/../models/<kind>`` when empty.
    """

    model_config = strict_config()

    kind: Literal["random_forest", "chemprop"] = "random_forest"
    params: dict[str, Any] = Field(default_factory=dict)
    split_dir: InputPath = ""
    data: LigandDataConfig = Field(default_factory=LigandDataConfig)
    experiment: str = "crucible-activity-models"
    track: bool = True
    register_as: OptionalSlug = ""
    output_dir: OutputPath = ""

    @field_validator("params")
    @classmethod
    def _params_fit_kind(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        get_activity_model(info.data.get("kind", "random_forest"), value)  # validates params
        return value


class ActivityModelFlowResult(BaseModel):
    """The trained model and the split it was trained on.

    Attributes:
        model: ``model_dir``, ``parity_plot``, ``run_id``, per-split ``metrics``.
        split_dir: The split folder.
    """

    model: ActivityModelSummary
    split_dir: str


ActivityModelPreset = Literal["default", "chemprop"]


def chemprop_config() -> ActivityModelConfig:
    """Chemprop (50 epochs) instead of the random forest: the GPU deployment's preset."""
    return ActivityModelConfig(kind="chemprop", params={"epochs": 50})


#: Named presets of ``config`` (``crucible run activity-model --preset NAME``).
PRESETS = Presets(
    ActivityModelConfig, {"default": ActivityModelConfig, "chemprop": chemprop_config}
)


@flow(name="activity-model", log_prints=True)
@uses_environment_block
def activity_model(
    config: ActivityModelConfig = ActivityModelConfig(),  # noqa: B008
    preset: ActivityModelPreset = "default",
) -> ActivityModelFlowResult:
    """Train, evaluate, save and track an activity model.

    Args:
        config: Settings to change; every setting left out keeps the preset's value.
        preset: Named starting point (``default``, ``chemprop``).
    """
    config = PRESETS.resolve(preset, config)
    split_dir = config.split_dir
    tags = {"split_dir": split_dir}
    if not split_dir:
        split_dir = ligand_data(config.data).split_dir
        tags = {"data": config.data.default_name(), "split": config.data.split.method}
    out = config.output_dir or str(Path(split_dir).parent / "models" / config.kind)
    result = train_activity_model(
        split_dir,
        out,
        kind=config.kind,
        params=config.params,
        experiment=config.experiment,
        tags=tags,
        track=config.track,
        register_as=config.register_as or None,
    )
    test = result.metrics["test"]
    print(f"{config.kind}: test R² {test['r2']:.3f}, RMSE {test['rmse']:.3f} ({result.model_dir})")
    return ActivityModelFlowResult(model=result, split_dir=split_dir)


if __name__ == "__main__":
    import sys

    from crucible.cli import main

    raise SystemExit(main(["run", "activity-model", *sys.argv[1:]]))
