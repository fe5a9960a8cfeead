"""The campaign loop: suggest a batch, evaluate it, record it, until a stopping rule fires.

Two loops share the steps: :func:`run_campaign_loop` runs synchronous batches (suggest a
batch, evaluate all of it, record it); :func:`run_async_loop` keeps several evaluations in
flight and, as soon as one finishes, records it and suggests the next trial while the
others are still running (they are pending in the store, so the model accounts for them).

Orchestrator-free. :func:`run_campaign_loop` works on a campaign through
:class:`CampaignSteps` (each step reads the campaign from its store, does one thing and
commits, so a crashed loop loses nothing and a re-run resumes), evaluates each batch with a
callable and reports every iteration to a hook. A :class:`~crucible.bo.campaign.Campaign`
runs its steps in-process (:class:`StoredCampaignSteps`); the BO campaign flow supplies
steps that run as Prefect tasks, its evaluation (a Python function, a deployment per trial
or a person) and a hook that publishes artifacts and events.

Example:
    >>> from crucible.bo.problems import get_problem
    >>> problem = get_problem("branin")
    >>> campaign = Campaign.create("demo", problem.space, problem.objectives)  # doctest: +SKIP
    >>> outcome = run_campaign_loop(  # doctest: +SKIP
    ...     campaign, evaluate_with(problem.evaluator), StoppingRules(max_trials=20)
    ... )
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from crucible.bo.campaign import Campaign, Trial
from crucible.bo.objectives import Objective
from crucible.bo.stopping import StoppingRules
from crucible.exceptions import InvalidInputError, StateError

__all__ = [
    "CampaignStatus",
    "CampaignSteps",
    "EvaluateBatch",
    "Iteration",
    "LoopOutcome",
    "Observed",
    "OnIteration",
    "StoredCampaignSteps",
    "ThreadWorkers",
    "TrialRequest",
    "TrialResult",
    "Workers",
    "campaign_status",
    "evaluate_with",
    "record_results",
    "run_async_loop",
    "run_campaign_loop",
    "trial_requests",
]

logger = logging.getLogger(__name__)


class TrialRequest(BaseModel):
    """A trial to evaluate.

    Attributes:
        trial: Trial number in the campaign.
        params: Parameter name -> value.
        source: ``design``, ``model`` or ``manual``.
    """

    model_config = ConfigDict(frozen=True)

    trial: int
    params: dict[str, Any]
    source: str = "model"


class TrialResult(BaseModel):
    """The outcome of one trial's evaluation: metric values, or why it failed.

    Attributes:
        trial: Trial number.
        values: Metric name -> value (None when the evaluation failed).
        error: Why the evaluation failed (None when it produced values).
    """

    model_config = ConfigDict(frozen=True)

    trial: int
    values: dict[str, Any] | None = None
    error: str | None = None


class CampaignStatus(BaseModel):
    """Trial counts and the best value of a campaign at one moment.

    Attributes:
        name: Campaign name.
        store_url: Its store.
        completed: Observed trials.
        failed: Trials marked failed.
        pending: Suggested trials not yet observed.
        best: Best feasible value of the first objective (None: nothing feasible yet).
        best_trial: Number of the best trial.
    """

    name: str
    store_url: str
    completed: int = 0
    failed: int = 0
    pending: int = 0
    best: float | None = None
    best_trial: int | None = None

    @property
    def finished(self) -> int:
        """Completed plus failed trials (what the budget counts)."""
        return self.completed + self.failed


class Observed(BaseModel):
    """What recording a batch of results did.

    Attributes:
        completed: Trials recorded as completed by this call.
        failed: Trials marked failed by this call (evaluation error or invalid values).
        status: The campaign after recording.
    """

    completed: list[int] = Field(default_factory=list)
    failed: list[int] = Field(default_factory=list)
    status: CampaignStatus


class Iteration(BaseModel):
    """One loop iteration, as the on-iteration hook sees it.

    Attributes:
        number: 1, 2, ... within this loop run.
        batch: The trials evaluated.
        observed: What recording them did, with the campaign status afterwards.
    """

    number: int
    batch: list[TrialRequest]
    observed: Observed


class LoopOutcome(BaseModel):
    """Why and where the loop stopped.

    Attributes:
        stop_reason: The stopping rule that fired.
        iterations: Iterations run by this loop run.
        best_history: Best feasible value after each iteration (None: none feasible).
        status: The campaign at the end.
    """

    stop_reason: str
    iterations: int
    best_history: list[float | None]
    status: CampaignStatus


class CampaignSteps(Protocol):
    """The operations the loop performs on a campaign; each commits before it returns."""

    @property
    def objective(self) -> Objective:
        """The (first) objective the stopping rule watches."""
        ...

    def status(self) -> CampaignStatus:
        """Current counts and best value."""
        ...

    def pending(self) -> list[TrialRequest]:
        """Trials suggested earlier (e.g. by a crashed run) and never recorded."""
        ...

    def start(self) -> list[TrialRequest]:
        """Suggest the initial space-filling design."""
        ...

    def suggest(self, n: int) -> list[TrialRequest]:
        """Suggest ``n`` new trials."""
        ...

    def observe(self, results: list[TrialResult]) -> Observed:
        """Record results; failed or invalid ones mark their trial failed."""
        ...


EvaluateBatch = Callable[[list[TrialRequest]], list[TrialResult]]
OnIteration = Callable[[Iteration], None]


def trial_requests(trials: Sequence[Trial]) -> list[TrialRequest]:
    """Trials as requests to evaluate."""
    return [TrialRequest(trial=t.number, params=t.params, source=t.source) for t in trials]


def campaign_status(campaign: Campaign) -> CampaignStatus:
    """Counts per status and the best feasible trial of ``campaign``."""
    trials = campaign.all_trials()
    best = campaign.best()
    return CampaignStatus(
        name=campaign.name,
        store_url=campaign.store_url,
        completed=sum(t.status == "completed" for t in trials),
        failed=sum(t.status == "failed" for t in trials),
        pending=sum(t.status == "pending" for t in trials),
        best=best.values[campaign.objectives[0].name] if best else None,
        best_trial=best.number if best else None,
    )


def record_results(campaign: Campaign, results: Sequence[TrialResult]) -> Observed:
    """Record results, each committed on its own.

    Errors and invalid values (NaN, a missing metric) mark the trial failed with the reason,
    so one bad measurement never stops a campaign. A trial recorded already (e.g. by an
    earlier attempt of the same call) is skipped.
    """
    completed, failed = [], []
    for result in results:
        reason = result.error or "failed"
        try:
            if result.values is not None:
                try:
                    campaign.observe(result.trial, result.values)
                    completed.append(result.trial)
                    continue
                except InvalidInputError as exc:
                    logger.warning("trial %s: %s; marked failed", result.trial, exc)
                    reason = str(exc)
            campaign.mark_failed(result.trial, reason)
        except StateError:
            continue
        failed.append(result.trial)
    return Observed(completed=completed, failed=failed, status=campaign_status(campaign))


def evaluate_with(function: Callable[[Mapping[str, Any]], Mapping[str, Any]]) -> EvaluateBatch:
    """An in-process batch evaluation: ``function(params) -> metrics`` per trial.

    An exception fails only its trial (its type and message become the reason).
    """

    def evaluate(batch: list[TrialRequest]) -> list[TrialResult]:
        results = []
        for item in batch:
            try:
                values = dict(function(item.params))
            except Exception as exc:
                results.append(TrialResult(trial=item.trial, error=f"{type(exc).__name__}: {exc}"))
            else:
                results.append(TrialResult(trial=item.trial, values=values))
        return results

    return evaluate


@dataclass(frozen=True)
class StoredCampaignSteps:
    """The loop's steps run in this process on a stored campaign."""

    campaign: Campaign

    @property
    def objective(self) -> Objective:
        """The campaign's first objective."""
        return self.campaign.objectives[0]

    def status(self) -> CampaignStatus:
        """See :func:`campaign_status`."""
        return campaign_status(self.campaign)

    def pending(self) -> list[TrialRequest]:
        """Pending trials, by number."""
        return trial_requests(self.campaign.pending())

    def start(self) -> list[TrialRequest]:
        """The seeded initial design (``strategy.initial_size`` trials)."""
        n_init = self.campaign.strategy.initial_size(self.campaign.space)
        return trial_requests(self.campaign.suggest(n_init))

    def suggest(self, n: int) -> list[TrialRequest]:
        """Model-based (or design) suggestions."""
        return trial_requests(self.campaign.suggest(n))

    def observe(self, results: list[TrialResult]) -> Observed:
        """See :func:`record_results`."""
        return record_results(self.campaign, results)


def run_campaign_loop(
    campaign: Campaign | CampaignSteps,
    evaluate: EvaluateBatch,
    stopping: StoppingRules,
    batch_size: int = 1,
    on_iteration: OnIteration | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> LoopOutcome:
    """Run (or resume) a campaign until a stopping rule fires.

    Pending trials a crashed run left behind are evaluated first and never re-suggested; a
    campaign with no finished trial starts with its initial design (in batches of
    ``batch_size``); then each iteration suggests ``batch_size`` trials (fewer when the
    budget is nearly spent), evaluates and records them, and calls ``on_iteration``.

    Args:
        campaign: The campaign, or steps acting on it (e.g. as orchestrator tasks).
        evaluate: Evaluates a batch; a failed trial is a result with ``error``.
        stopping: Budget, target, patience and wall-clock rules (checked between iterations).
        batch_size: Trials per iteration.
        on_iteration: Called after each iteration is recorded.
        clock: Seconds for the wall-clock rule (monotonic).

    Returns:
        The stop reason, iterations run, best value after each and the final status.

    Raises:
        InvalidInputError: ``batch_size`` < 1.
    """
    if batch_size < 1:
        raise InvalidInputError("batch_size", f"must be >= 1, got {batch_size}", "use 1 or more")
    steps = StoredCampaignSteps(campaign) if isinstance(campaign, Campaign) else campaign
    started = clock()
    status = steps.status()
    best_history: list[float | None] = []
    batch = steps.pending()
    if batch:
        logger.info("resuming: evaluating %d pending trials first", len(batch))
    elif status.finished == 0:
        steps.start()
        batch = steps.pending()[:batch_size]
    iteration = 0
    while True:
        if not batch:
            reason = stopping.reason_to_stop(
                steps.objective, best_history, status.finished, clock() - started
            )
            if reason:
                return LoopOutcome(
                    stop_reason=reason,
                    iterations=iteration,
                    best_history=best_history,
                    status=status,
                )
            n_left = stopping.max_trials - status.finished
            batch = steps.pending()[:batch_size] or steps.suggest(max(1, min(batch_size, n_left)))
        observed = steps.observe(evaluate(batch))
        status = observed.status
        iteration += 1
        best_history.append(status.best)
        if on_iteration is not None:
            on_iteration(Iteration(number=iteration, batch=batch, observed=observed))
        batch = []


class Workers(Protocol):
    """Evaluations that run concurrently: the asynchronous loop's side of the evaluation."""

    def submit(self, request: TrialRequest) -> None:
        """Start evaluating one trial; returns at once."""
        ...

    def wait_any(self) -> list[TrialResult]:
        """Block until at least one running evaluation finishes; return every finished one."""
        ...


class ThreadWorkers:
    """In-process workers: ``function(params) -> metrics`` on a pool of ``n`` threads.

    An exception fails only its trial (its type and message become the reason). Use as a
    context manager, or call :meth:`close`.
    """

    def __init__(self, function: Callable[[Mapping[str, Any]], Mapping[str, Any]], n: int):
        self._evaluate = evaluate_with(function)
        self._pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="crucible-worker")
        self._running: dict[Future[list[TrialResult]], int] = {}

    def submit(self, request: TrialRequest) -> None:
        """Evaluate ``request`` on a free thread."""
        self._running[self._pool.submit(self._evaluate, [request])] = request.trial

    def wait_any(self) -> list[TrialResult]:
        """The results of the evaluations that have finished (at least one)."""
        done, _ = wait(list(self._running), return_when=FIRST_COMPLETED)
        results = []
        for future in done:
            del self._running[future]
            results += future.result()
        return sorted(results, key=lambda r: r.trial)

    def close(self) -> None:
        """Wait for running evaluations and stop the threads."""
        self._pool.shutdown(wait=True)

    def __enter__(self) -> ThreadWorkers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_async_loop(
    campaign: Campaign | CampaignSteps,
    workers: Workers,
    n_workers: int,
    stopping: StoppingRules,
    suggest_size: int = 1,
    on_iteration: OnIteration | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> LoopOutcome:
    """Run (or resume) a campaign with ``n_workers`` evaluations always in flight.

    Whenever a worker is free, the next pending trial is submitted (trials a crashed run
    left pending first, then a new campaign's initial design), or new ones are suggested:
    ``min(free workers, suggest_size, budget left)`` at a time, with every running trial
    pending in the store, so the model accounts for them as another process sharing the
    campaign would. Each time evaluations finish they are recorded (one iteration) and
    ``on_iteration`` is called. When a stopping rule fires, nothing new is started and the
    running evaluations are waited for and recorded.

    Args:
        campaign: The campaign, or steps acting on it (e.g. as orchestrator tasks).
        workers: Runs the evaluations (:class:`ThreadWorkers`, or the flow's tasks).
        n_workers: Evaluations in flight at once.
        stopping: Budget, target, patience and wall-clock rules (checked after each result).
        suggest_size: Most trials one suggestion asks for when several workers are free.
        on_iteration: Called after each recorded group of results.
        clock: Seconds for the wall-clock rule (monotonic).

    Returns:
        The stop reason, iterations run, best value after each and the final status.

    Raises:
        InvalidInputError: ``n_workers`` or ``suggest_size`` < 1.
    """
    for field, value in (("workers", n_workers), ("suggest_size", suggest_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidInputError(field, f"must be an int >= 1, got {value!r}", "use 1 or more")
    steps = StoredCampaignSteps(campaign) if isinstance(campaign, Campaign) else campaign
    started = clock()
    status = steps.status()
    queue = steps.pending()
    if queue:
        logger.info("resuming: evaluating %d pending trials first", len(queue))
    elif status.finished == 0:
        queue = steps.start()
    running: dict[int, TrialRequest] = {}
    best_history: list[float | None] = []
    iteration = 0
    reason: str | None = None
    while True:
        elapsed = clock() - started
        reason = reason or stopping.reason_to_stop(
            steps.objective, best_history, status.finished, elapsed
        )
        if reason is None:
            queue = _fill(
                steps, workers, running, queue, n_workers, suggest_size, stopping, status
            )
        if not running:
            final = reason or stopping.reason_to_stop(
                steps.objective, best_history, status.finished, clock() - started
            )
            return LoopOutcome(
                stop_reason=final or "no trial left to run",
                iterations=iteration,
                best_history=best_history,
                status=status,
            )
        results = workers.wait_any()
        batch = [running.pop(r.trial) for r in results if r.trial in running]
        observed = steps.observe(results)
        status = observed.status
        iteration += 1
        best_history.append(status.best)
        if on_iteration is not None:
            on_iteration(Iteration(number=iteration, batch=batch, observed=observed))


def _fill(
    steps: CampaignSteps,
    workers: Workers,
    running: dict[int, TrialRequest],
    queue: list[TrialRequest],
    n_workers: int,
    suggest_size: int,
    stopping: StoppingRules,
    status: CampaignStatus,
) -> list[TrialRequest]:
    """Submit queued or new trials until every worker is busy or the budget is issued.

    Returns:
        What is left of the queue.
    """
    while len(running) < n_workers:
        n_left = stopping.max_trials - status.finished - len(running)
        if n_left <= 0:
            break
        if not queue:
            queue = steps.suggest(min(n_workers - len(running), suggest_size, n_left))
        item, queue = queue[0], queue[1:]
        workers.submit(item)
        running[item.trial] = item
    return queue
