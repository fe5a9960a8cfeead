"""Prefect tasks of the HPO stage: create/load a study, run one trial, analyse, register.

Every task loads the study from its storage (an Optuna RDB URL; once per flow run and
process), so tasks can run in threads, processes or on other machines; the study, not the
task, holds the state. A trial task never raises for a failed or pruned trial: the outcome
is recorded in the study and in MLflow and returned as a :class:`TrialOutcome`. No task is
cached: the same inputs run a new trial each time.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.concurrency.sync import concurrency

from crucible.settings import get_settings
from crucible.training.hpo import (
    HpoStudy,
    StudyInfo,
    StudyReport,
    StudySpec,
    StudySummary,
    TrialOutcome,
)
from tasks._artifacts import publish_image, publish_markdown, publish_table

_STUDIES: dict[tuple[str, str, str, str], HpoStudy] = {}
_STUDIES_LOCK = threading.Lock()


def _load(study: str, storage_url: str, tracking: bool | str) -> HpoStudy:
    """Load the study once per flow run and process (trial tasks share it across threads).

    Optuna studies on RDB storage are thread-safe; reusing one saves a storage engine, the
    spec parsing, the MLflow client and the experiment lookup per trial. Outside a flow
    run (``task.fn``) the study is loaded afresh.
    """
    from prefect.runtime import flow_run

    if flow_run.id is None:
        return HpoStudy.load(study, storage_url or None, tracking=tracking)
    settings = get_settings()
    url = storage_url or settings.optuna_storage_url
    uri = settings.mlflow_tracking_uri if tracking is True else str(tracking)
    key = (study, url, uri, str(flow_run.id))
    with _STUDIES_LOCK:
        if key not in _STUDIES:
            if len(_STUDIES) > 32:
                _STUDIES.clear()
            _STUDIES[key] = HpoStudy.load(study, url, tracking=tracking)
        return _STUDIES[key]


@task(name="hpo-create-study", retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def create_or_load_study(
    spec: StudySpec,
    storage_url: str = "",
    tracking: bool | str = True,
    recover_stale_after_s: float | None = None,
) -> StudyInfo:
    """Create the study (or load it to resume) and fail trials left RUNNING by a crash.

    Returns:
        ``study``, ``storage_url``, ``n_trials`` so far, ``remaining`` (None: unlimited),
        ``recovered`` trial numbers and the MLflow ``parent_run_id``.
    """
    logger = get_run_logger()
    url = storage_url or get_settings().optuna_storage_url
    study = HpoStudy.create(spec, url, tracking=tracking)
    recovered = (
        study.fail_stale_trials(recover_stale_after_s) if recover_stale_after_s is not None else []
    )
    if recovered:
        logger.warning("failed and re-queued stale RUNNING trials %s", recovered)
    info = StudyInfo(
        study=study.spec.name,
        storage_url=url,
        n_trials=study.n_trials(),
        remaining=study.remaining_trials(),
        recovered=recovered,
        parent_run_id=study.parent_run_id,
    )
    logger.info(
        "study %s: %d trials so far, %s remaining", info.study, info.n_trials, info.remaining
    )
    return info


@task(name="hpo-trial", retries=0, cache_policy=NO_CACHE)
def run_trial(
    study: str, storage_url: str = "", tracking: bool | str = True, concurrency_limit: str = ""
) -> TrialOutcome:
    """Run one trial (ask → train → tell); ``SKIPPED`` when the study is stopped or full.

    Args:
        study: Study name.
        storage_url: Optuna storage URL (settings' when empty).
        tracking: MLflow tracking flag or URI.
        concurrency_limit: Name of a Prefect global concurrency limit to hold while
            training (bounds trials across every flow run and worker); empty for none.
    """
    logger = get_run_logger()
    hpo = _load(study, storage_url, tracking)
    remaining = hpo.remaining_trials()
    if hpo.stop_requested() or (remaining is not None and remaining <= 0):
        return TrialOutcome(number=None, state="SKIPPED")
    if concurrency_limit:
        with concurrency(concurrency_limit, occupy=1, strict=False):
            outcome = hpo.run_trial()
    else:
        outcome = hpo.run_trial()
    logger.info(
        "trial %d %s values=%s %s",
        outcome.number,
        outcome.state,
        outcome.values,
        outcome.reason or "",
    )
    return outcome


@task(name="hpo-analyse", retries=1, cache_policy=NO_CACHE)
def analyse_study(
    study: str, out_dir: str, storage_url: str = "", tracking: bool | str = True, top_k: int = 10
) -> StudyReport:
    """Plots (history, importances), top-trials table and summary; also sent to MLflow.

    Returns:
        The study summary plus ``plots`` (name → PNG path) and ``top_trials`` rows.
    """
    hpo = _load(study, storage_url, tracking)
    summary = StudySummary.model_validate(hpo.summary())
    plots = hpo.plot(Path(out_dir)) if summary.n_complete else {}
    for name, path in plots.items():
        publish_image(path, key=f"hpo-{study}-{name}", description=f"{study}: {name}")
        hpo.tracker.get_run(hpo.parent_run_id).log_artifact(path)
    rows = [{k: _cell(v) for k, v in row.items()} for row in hpo.top_trials(top_k)]
    if rows:
        publish_table(rows, key=f"hpo-{study}-top-trials", description=f"{study}: best trials")
    publish_markdown(_summary_markdown(summary), key=f"hpo-{study}-summary")
    return StudyReport(
        **dict(summary), plots={k: str(v) for k, v in plots.items()}, top_trials=rows
    )


@task(name="hpo-register-best", retries=1, retry_delay_seconds=5, cache_policy=NO_CACHE)
def register_best(study: str, storage_url: str = "", tracking: bool | str = True) -> str | None:
    """Register the best trial's model in the MLflow Model Registry under the study name."""
    version = _load(study, storage_url, tracking).register_best()
    get_run_logger().info("registered %s version %s", study, version)
    return version


def _cell(value: Any) -> Any:
    return round(value, 6) if isinstance(value, float) else value


def _summary_markdown(summary: StudySummary) -> str:
    lines = [
        f"# HPO study `{summary.study}`",
        "",
        f"* trials: {summary.n_trials} (complete {summary.n_complete}, pruned "
        f"{summary.n_pruned}, failed {summary.n_fail}, running {summary.n_running})",
        f"* best trial: {summary.best_trial} with value {summary.best_value}",
    ]
    if summary.best_params:
        lines += ["", "| parameter | value |", "|---|---|"]
        lines += [f"| {k} | {_cell(v)} |" for k, v in summary.best_params.items()]
    return "\n".join(lines)
