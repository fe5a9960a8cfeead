"""Prefect tasks of the BO campaign stage: define, suggest, evaluate, observe, report.

Each task reloads the campaign from its store (a SQLAlchemy URL), makes one call into
:mod:`crucible.bo.loop` or :mod:`crucible.bo.report` and returns a small pydantic model, so
tasks can run anywhere and a crashed flow loses nothing. Storage tasks retry only on
:class:`~crucible.exceptions.StorageError` (nothing was written), so a retry never
duplicates a suggestion. Suggestions are never cached.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task

from crucible.bo.campaign import Campaign, CampaignConfig
from crucible.bo.loop import (
    CampaignStatus,
    Iteration,
    Observed,
    TrialRequest,
    TrialResult,
    campaign_status,
    record_results,
    trial_requests,
)
from crucible.bo.objectives import Objective
from crucible.bo.report import CampaignSummary, convergence_plot, trial_rows, write_report
from crucible.exceptions import InvalidInputError, StorageError
from crucible.plugins import EVALUATORS
from tasks._artifacts import publish_image, publish_markdown, publish_table


def _storage_failed(task: Any, task_run: Any, state: Any) -> bool:
    """Retry only when the store failed (nothing was written)."""
    try:
        state.result()
    except StorageError:
        return True
    except Exception:
        return False
    return False


@task(
    name="bo-create-campaign",
    retries=2,
    retry_delay_seconds=[1, 5],
    retry_condition_fn=_storage_failed,
)
def create_campaign(name: str, definition: CampaignConfig, store_url: str = "") -> CampaignStatus:
    """Create the campaign, or resume it when one with this name and definition exists."""
    campaign = Campaign.create(
        name,
        definition.space,
        definition.objectives,
        definition.constraints,
        definition.strategy,
        store_url or None,
        exist_ok=True,
    )
    status = campaign_status(campaign)
    get_run_logger().info(
        "campaign %s: %d completed, %d failed, %d pending",
        name,
        status.completed,
        status.failed,
        status.pending,
    )
    return status


@task(name="bo-status", retries=2, retry_delay_seconds=[1, 5])
def status(name: str, store_url: str) -> CampaignStatus:
    """Trial counts and the best value so far."""
    return campaign_status(Campaign.load(name, store_url))


@task(name="bo-suggest", retries=2, retry_delay_seconds=[1, 5], retry_condition_fn=_storage_failed)
def suggest(name: str, store_url: str, n: int) -> list[TrialRequest]:
    """Fit the surrogate (or take design points) and suggest ``n`` trials (never cached)."""
    trials = trial_requests(Campaign.load(name, store_url).suggest(n))
    get_run_logger().info("suggested trials %s", [t.trial for t in trials])
    return trials


@task(name="bo-pending", retries=2, retry_delay_seconds=[1, 5])
def pending_trials(name: str, store_url: str) -> list[TrialRequest]:
    """Trials suggested by an earlier (crashed) run and never observed."""
    return trial_requests(Campaign.load(name, store_url).pending())


def load_callable(name: str) -> Callable[[Mapping[str, Any]], Mapping[str, Any]]:
    """The registered evaluator ``name`` (e.g. ``branin``; see :mod:`crucible.plugins`)."""
    function = EVALUATORS.get(name, "evaluator")
    if not callable(function):
        raise InvalidInputError("evaluator", f"{name!r} is not callable", "point at a function")
    return function  # type: ignore[no-any-return]


@task(name="bo-evaluate")
def evaluate_callable(evaluator: str, trial: TrialRequest) -> TrialResult:
    """Run the registered evaluator ``evaluator`` on one trial's parameters.

    Returns:
        The values, or the error when the function raised.
    """
    try:
        values = dict(load_callable(evaluator)(trial.params))
    except InvalidInputError:
        raise
    except Exception as exc:
        get_run_logger().warning("trial %s failed: %r", trial.trial, exc)
        return TrialResult(trial=trial.trial, error=f"{type(exc).__name__}: {exc}")
    return TrialResult(trial=trial.trial, values=values)


@task(name="bo-evaluate-deployment")
def evaluate_deployment(
    deployment: str, parameter: str, trial: TrialRequest, timeout_s: float | None = None
) -> TrialResult:
    """Run another deployment for one trial and read its returned metric dict.

    The deployment's flow must accept the trial's parameters as the flow parameter named
    ``parameter`` and return a dict of metrics, with result persistence on
    (``@flow(persist_result=True)``) and storage both machines can read.
    """
    from prefect.deployments import run_deployment

    run: Any = run_deployment(
        name=deployment,
        parameters={parameter: trial.params},
        timeout=timeout_s,
        tags=["crucible-bo-trial"],
    )
    state = run.state
    if state is None or not state.is_completed():
        name = state.name if state is not None else "unknown"
        return TrialResult(trial=trial.trial, error=f"flow run {run.id} ended {name}")
    result = state.result()
    if not isinstance(result, Mapping):
        return TrialResult(trial=trial.trial, error=f"flow run {run.id} returned {type(result)}")
    return TrialResult(trial=trial.trial, values=dict(result))


@task(name="bo-observe", retries=2, retry_delay_seconds=[1, 5], retry_condition_fn=_storage_failed)
def observe(name: str, store_url: str, results: list[TrialResult]) -> Observed:
    """Record results, each committed on its own (see :func:`crucible.bo.loop.record_results`).

    Errors and invalid values (NaN, missing metric) mark the trial failed with the reason,
    so one bad measurement never stops the campaign.
    """
    return record_results(Campaign.load(name, store_url), results)


@task(name="bo-iteration-artifacts", retries=1)
def publish_iteration(
    name: str, store_url: str, iteration: Iteration, output_dir: str, optimum: float | None = None
) -> Path:
    """Table of the iteration's batch and the convergence PNG (returned)."""
    campaign = Campaign.load(name, store_url)
    rows = trial_rows(campaign, [item.trial for item in iteration.batch])
    description = f"Iteration {iteration.number} of {name}"
    publish_table(rows, key=f"bo-{name}-batch", description=description)
    png = convergence_plot(campaign, Path(output_dir) / "convergence.png", optimum=optimum)
    publish_image(png, key=f"bo-{name}-convergence", description=f"Convergence of {name}")
    return png


@task(name="bo-report", retries=1)
def final_report(name: str, store_url: str, output_dir: str, stop_reason: str) -> CampaignSummary:
    """Markdown report, trials CSV, Pareto plot for several objectives, as files and artifacts."""
    summary = write_report(Campaign.load(name, store_url), output_dir, stop_reason)
    if summary.pareto_plot:
        publish_image(
            summary.pareto_plot, key=f"bo-{name}-pareto", description=f"Pareto front of {name}"
        )
    report = Path(summary.report).read_text()
    publish_markdown(report, key=f"bo-{name}-report", description=f"BO campaign {name}")
    return summary


@dataclass(frozen=True)
class CampaignTasks:
    """The campaign loop's steps, each a task (see :class:`crucible.bo.loop.CampaignSteps`)."""

    name: str
    store_url: str
    definition: CampaignConfig

    @property
    def objective(self) -> Objective:
        """The first objective."""
        return self.definition.objectives[0]

    def status(self) -> CampaignStatus:
        """Counts and best value (task ``bo-status``)."""
        return status(self.name, self.store_url)

    def pending(self) -> list[TrialRequest]:
        """Pending trials (task ``bo-pending``)."""
        return pending_trials(self.name, self.store_url)

    def start(self) -> list[TrialRequest]:
        """The initial design (task ``bo-suggest`` of ``strategy.initial_size`` trials)."""
        n_init = self.definition.strategy.initial_size(self.definition.space)
        return suggest(self.name, self.store_url, n_init)

    def suggest(self, n: int) -> list[TrialRequest]:
        """Model-based suggestions (task ``bo-suggest``)."""
        return suggest(self.name, self.store_url, n)

    def observe(self, results: list[TrialResult]) -> Observed:
        """Record results (task ``bo-observe``)."""
        return observe(self.name, self.store_url, results)
