"""HPO flow: an Optuna study of PyTorch training runs, tracked in MLflow.

create or load the study → run trials, at most ``max_concurrent`` at a time (and, when
``concurrency_limit`` names a Prefect global concurrency limit, bounded across every flow
run and worker) → analyse (history and importance plots, top-trials table, summary; the
plots also go to the study's MLflow parent run) → register the best model in the MLflow
Model Registry under the study name.

The study lives in its storage (SQLite by default, PostgreSQL for many workers): re-running
the flow with the same study resumes it, failing and re-queuing trials a crashed run left
RUNNING. A failed trial is recorded with its reason and never fails the flow.

Run locally (digits, default MLP space, TPE, median pruner)::

    python -m flows.hpo_flow
"""

from typing import Literal

from prefect import flow, get_run_logger
from prefect.futures import PrefectFuture, as_completed
from pydantic import BaseModel, Field

from blocks.environment import uses_environment_block
from crucible.naming import DatabaseUrl, OutputPath, TrackingUri
from crucible.presets import Presets
from crucible.settings import get_settings
from crucible.training.config import TrainConfig
from crucible.training.hpo import StudyReport, StudySpec, TrialOutcome, default_space
from crucible.validation import strict_config
from tasks._artifacts import Progress
from tasks.hpo import analyse_study, create_or_load_study, register_best, run_trial


def _default_spec() -> StudySpec:
    base = TrainConfig(epochs=30).with_overrides({"early_stopping.patience": 5})
    return StudySpec(name="digits-mlp", space=default_space(), base_config=base, max_trials=30)


class HpoFlowConfig(BaseModel):
    """Parameters of the HPO flow.

    Attributes:
        study: The study definition (space, objectives, sampler, pruner, limits, base
            training config). ``study.max_trials`` is the study-wide total.
        n_trials: Trials for this flow run (None: until ``study.max_trials``).
        max_concurrent: Trials in flight at once within this flow run.
        concurrency_limit: Prefect global concurrency limit held by each trial (shared by
            every flow run and worker); empty for none.
        storage_url: Optuna storage URL (``CRUCIBLE_OPTUNA_STORAGE_URL`` when empty).
        tracking: Record trials in MLflow.
        tracking_uri: MLflow tracking URI (``CRUCIBLE_MLFLOW_TRACKING_URI`` when empty).
        recover_stale_after_s: Fail and re-queue trials RUNNING for longer than this
            (a crashed earlier run); None to leave them.
        register_best: Register the best model in the MLflow Model Registry.
        output_dir: Plot folder (``<artifacts_dir>/hpo/<study>`` when empty).
    """

    model_config = strict_config()

    study: StudySpec = Field(default_factory=_default_spec)
    n_trials: int | None = Field(default=None, ge=1)
    max_concurrent: int = Field(default=2, ge=1)
    concurrency_limit: str = ""
    storage_url: DatabaseUrl = ""
    tracking: bool = True
    tracking_uri: TrackingUri = ""
    recover_stale_after_s: float | None = Field(default=3600.0, ge=0)
    register_best: bool = True
    output_dir: OutputPath = ""


class HpoFlowResult(StudyReport):
    """The study report plus this run's trials.

    Attributes:
        outcomes: The trials this flow run ran (``SKIPPED``/``CRASHED`` included).
        registered_version: Model Registry version of the best model (None: not registered).
    """

    outcomes: list[TrialOutcome] = Field(default_factory=list)
    registered_version: str | None = None


HpoPreset = Literal["default", "gpu"]


def gpu_config() -> HpoFlowConfig:
    """The GPU pool's preset: 4 trials in flight."""
    return HpoFlowConfig(max_concurrent=4)


#: Named presets of ``config`` (``crucible run hpo --preset NAME``).
PRESETS = Presets(HpoFlowConfig, {"default": HpoFlowConfig, "gpu": gpu_config})


@flow(name="hpo", log_prints=True)
@uses_environment_block
def hpo(
    config: HpoFlowConfig = HpoFlowConfig(),  # noqa: B008
    preset: HpoPreset = "default",
) -> HpoFlowResult:
    """Run (or resume) an HPO study and return its report and this run's outcomes.

    Args:
        config: Settings to change; every setting left out keeps the preset's value.
        preset: Named starting point (``default``, ``gpu``).
    """
    config = PRESETS.resolve(preset, config)
    logger = get_run_logger()
    tracking: bool | str = (config.tracking_uri or True) if config.tracking else False
    info = create_or_load_study(
        config.study, config.storage_url, tracking, config.recover_stale_after_s
    )
    name, url = info.study, info.storage_url
    total = _trials_to_run(config, info.remaining)
    progress = Progress(f"hpo-{name}-progress", total=total, description=f"study {name}")
    outcomes = _run_bounded(config, name, url, tracking, total, progress)
    out_dir = config.output_dir or str(get_settings().artifact_folder("hpo", name))
    report = analyse_study(name, out_dir, url, tracking)
    version = None
    if config.register_best and config.tracking and report.n_complete:
        version = register_best(name, url, tracking)
    logger.info("study %s: best value %s (trial %s)", name, report.best_value, report.best_trial)
    return HpoFlowResult(**dict(report), outcomes=outcomes, registered_version=version)


def _trials_to_run(config: HpoFlowConfig, remaining: int | None) -> int:
    if config.n_trials is None and remaining is None:
        raise ValueError(
            "unbounded study: set n_trials or study.max_trials in the flow parameters"
        )
    counts = [c for c in (config.n_trials, remaining) if c is not None]
    return min(counts)


def _run_bounded(
    config: HpoFlowConfig,
    name: str,
    url: str,
    tracking: bool | str,
    total: int,
    progress: Progress,
) -> list[TrialOutcome]:
    """Submit ``total`` trial tasks with at most ``max_concurrent`` in flight."""
    outcomes: list[TrialOutcome] = []
    in_flight: list[PrefectFuture[TrialOutcome]] = []
    launched = 0
    while launched < total or in_flight:
        while launched < total and len(in_flight) < config.max_concurrent:
            in_flight.append(run_trial.submit(name, url, tracking, config.concurrency_limit))
            launched += 1
        done = next(as_completed(in_flight))
        in_flight.remove(done)
        result = done.result(raise_on_failure=False)
        if isinstance(result, TrialOutcome):
            outcomes.append(result)
        else:  # the task itself crashed (e.g. storage unreachable): record, keep going
            outcomes.append(TrialOutcome(number=None, state="CRASHED", reason=repr(result)))
        progress.advance()
    return outcomes


if __name__ == "__main__":
    import sys

    from crucible.cli import main

    raise SystemExit(main(["run", "hpo", *sys.argv[1:]]))
