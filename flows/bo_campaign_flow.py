"""BO campaign flow: suggest a batch → run the experiments → record results, until a stop rule.

create or resume the campaign → :func:`crucible.bo.loop.run_campaign_loop` (evaluate trials a
crashed run left pending → initial design → suggest a batch (never cached) → evaluate it →
observe, each step a task) → per iteration a table artifact, a convergence plot, progress
and a ``crucible.campaign.iteration`` event → final markdown report (Pareto plot for several
objectives), trials CSV and a ``crucible.campaign.completed`` event. This module supplies
only the Prefect parts: the steps as tasks, the evaluation and the per-iteration hook.

Three ways to evaluate a batch (``evaluation``):

* ``callable``: a registered evaluator (params dict → metrics dict, see
  :mod:`crucible.plugins`), e.g. the built-in ``branin`` or one an administrator installed
  as an entry point in group ``crucible.evaluators``;
* ``deployment``: another deployment per trial via ``run_deployment`` (its flow takes the
  parameters as ``deployment_parameter`` and returns a metrics dict, results persisted);
* ``human``: the flow pauses with a typed form listing the suggested experiments and
  resumes when the results are submitted from the UI or API (``resume_flow_run``).

Re-running with the same campaign name resumes it: completed trials are never repeated.

Run locally (Branin, 24 trials in batches of 2)::

    python -m flows.bo_campaign_flow
"""

from typing import Any, Literal

from prefect import flow, get_run_logger
from prefect.events import emit_event
from pydantic import BaseModel, Field, create_model, model_validator

from blocks.environment import uses_environment_block
from crucible.bo.campaign import CampaignConfig
from crucible.bo.loop import (
    CampaignStatus,
    Iteration,
    LoopOutcome,
    TrialRequest,
    TrialResult,
    run_async_loop,
    run_campaign_loop,
)
from crucible.bo.objectives import Objective, OutcomeConstraint
from crucible.bo.problems import get_problem
from crucible.bo.report import CampaignSummary
from crucible.bo.stopping import StoppingRules
from crucible.bo.strategy import Strategy
from crucible.naming import DatabaseUrl, OutputPath, Slug
from crucible.plugins import EVALUATORS
from crucible.presets import Presets
from crucible.settings import get_settings
from crucible.space import Space
from crucible.validation import strict_config
from tasks import bo as bo_tasks
from tasks._artifacts import Progress


class BOCampaignConfig(BaseModel):
    """Parameters of the BO campaign flow.

    Attributes:
        name: Campaign name; re-running with the same name resumes the campaign.
        problem: A built-in test problem (``branin``, ``hartmann6``, ``ackley5``, ``mixed``,
            ``chartmann6``, ``branin_currin``, ``hartmann6_30``, ``ackley20``, the noisy
            ``branin_noise5``, ``branin_noise20``, ``hartmann6_noise5``,
            ``hartmann6_noise20``) that fills in space, objectives, constraints and
            evaluator; leave empty to give them yourself.
        space: The parameter space (when ``problem`` is empty).
        objectives: The objectives (when ``problem`` is empty).
        constraints: Outcome constraints.
        strategy: Design, surrogate and acquisition settings.
        stopping: Budget, target, patience and wall-clock limit.
        batch_size: Trials suggested and evaluated per iteration (``workers`` = 1); with
            several workers, the most trials one suggestion asks for when several workers
            are free (the initial design is suggested at once either way).
        workers: Evaluations run concurrently. 1: synchronous batches (suggest
            ``batch_size`` trials, evaluate them all, record them). More: asynchronous,
            ``workers`` evaluations always in flight; as soon as one finishes it is recorded
            and the next trial is suggested with the running ones pending (see
            :func:`crucible.bo.loop.run_async_loop`). Not with ``evaluation="human"``.
        evaluation: ``callable``, ``deployment`` or ``human``.
        evaluator: Name of a registered evaluator for ``callable`` (the problem's own when
            empty); a ``module:function`` path only with ``CRUCIBLE_ALLOW_IMPORT_PATHS`` on.
        deployment: ``flow-name/deployment-name`` for ``deployment``.
        deployment_parameter: Flow parameter that receives the trial's parameters.
        human_timeout_s: How long to wait for a person to submit results.
        store_url: Campaign store URL (``CRUCIBLE_CAMPAIGN_STORE_URL`` when empty).
        output_dir: Folder for plots, CSV and report (``<artifacts_dir>/bo/<name>``).
    """

    model_config = strict_config()

    name: Slug = "branin-demo"
    problem: str = "branin"
    space: Space | None = None
    objectives: list[Objective] = Field(default_factory=list)
    constraints: list[OutcomeConstraint] = Field(default_factory=list)
    strategy: Strategy = Field(default_factory=lambda: Strategy(n_init=8))
    stopping: StoppingRules = Field(default_factory=lambda: StoppingRules(max_trials=24))
    batch_size: int = Field(default=2, ge=1, le=64)
    workers: int = Field(default=1, ge=1, le=64)
    evaluation: Literal["callable", "deployment", "human"] = "callable"
    evaluator: str = ""
    deployment: str = ""
    deployment_parameter: str = "params"
    human_timeout_s: int = Field(default=24 * 3600, ge=1)
    store_url: DatabaseUrl = ""
    output_dir: OutputPath = ""

    @model_validator(mode="after")
    def _fill_from_problem(self) -> "BOCampaignConfig":
        if self.problem:
            problem = get_problem(self.problem)
            self.space = self.space or problem.space
            self.objectives = self.objectives or list(problem.objectives)
            self.constraints = self.constraints or list(problem.constraints)
            self.evaluator = self.evaluator or problem.name
        if self.space is None or not self.objectives:
            raise ValueError(
                "space and objectives are required when no built-in problem is named. Fix: "
                "set problem='branin' (etc.) or give space and objectives"
            )
        names = [o.name for o in self.objectives]
        if len(set(names)) < len(names):
            raise ValueError(
                f"objectives: names {names} repeat a name. Fix: list each objective once, "
                "with its direction and optional threshold"
            )
        if self.evaluation == "callable":
            EVALUATORS.check(self.evaluator, "evaluator")
        if self.evaluation == "deployment" and not self.deployment:
            raise ValueError("evaluation='deployment' needs deployment='flow/deployment'")
        if self.evaluation == "human" and self.workers > 1:
            raise ValueError(
                f"workers={self.workers} runs evaluations concurrently, which a person "
                "entering results in one form cannot. Fix: set workers=1 with "
                "evaluation='human' (batch_size sets how many experiments each form lists)"
            )
        return self

    def optimum(self) -> float | None:
        """Known optimum of a built-in problem (for regret plots)."""
        return get_problem(self.problem).optimum if self.problem else None

    def definition(self) -> CampaignConfig:
        """The campaign's stored definition: space, objectives, constraints, strategy."""
        assert self.space is not None
        return CampaignConfig(
            space=self.space,
            objectives=self.objectives,
            constraints=self.constraints,
            strategy=self.strategy,
        )


def _results_form(batch: list[TrialRequest], metrics: list[str]) -> Any:
    """A RunInput class with one optional float per (trial, metric), plus a failure list."""
    from prefect.input import RunInput

    fields: dict[str, Any] = {}
    for item in batch:
        described = ", ".join(f"{k}={v}" for k, v in item.params.items())
        for metric in metrics:
            fields[f"trial_{item.trial}_{metric}"] = (
                float | None,
                Field(default=None, description=f"{metric} of trial {item.trial}: {described}"),
            )
    fields["failed_trials"] = (
        list[int],
        Field(default_factory=list, description="Trial numbers whose experiment failed"),
    )
    return create_model("BatchResults", __base__=RunInput, **fields)


def _evaluate_by_human(
    config: BOCampaignConfig, batch: list[TrialRequest], metrics: list[str]
) -> list[TrialResult]:
    from prefect.flow_runs import pause_flow_run

    table = "\n".join(
        f"| {item.trial} | " + ", ".join(f"{k}={v}" for k, v in item.params.items()) + " |"
        for item in batch
    )
    form = _results_form(batch, metrics).with_initial_data(
        description=f"### Run these experiments of `{config.name}`\n\n| trial | parameters |\n"
        f"|---|---|\n{table}\n\nEnter {metrics} per trial; list failed trials."
    )
    answer = pause_flow_run(wait_for_input=form, timeout=config.human_timeout_s)
    data = answer.model_dump()
    results = []
    for item in batch:
        values = {m: data.get(f"trial_{item.trial}_{m}") for m in metrics}
        missing = [m for m, v in values.items() if v is None]
        if item.trial in data.get("failed_trials", []):
            results.append(TrialResult(trial=item.trial, error="reported failed by the operator"))
        elif missing:
            results.append(TrialResult(trial=item.trial, error=f"no value entered for {missing}"))
        else:
            results.append(TrialResult(trial=item.trial, values=values))
    return results


def _submit(config: BOCampaignConfig, item: TrialRequest) -> Any:
    """Start one trial's evaluation as a task (a registered function or a deployment run)."""
    if config.evaluation == "deployment":
        return bo_tasks.evaluate_deployment.submit(
            config.deployment, config.deployment_parameter, item
        )
    return bo_tasks.evaluate_callable.submit(config.evaluator, item)


def _evaluator(config: BOCampaignConfig, metrics: list[str]) -> Any:
    """The batch evaluation the loop calls: a function, a deployment per trial, or a person."""

    def evaluate(batch: list[TrialRequest]) -> list[TrialResult]:
        if not batch:
            return []
        if config.evaluation == "human":
            return _evaluate_by_human(config, batch, metrics)
        futures = [_submit(config, item) for item in batch]
        return [f.result() for f in futures]

    return evaluate


class _TaskWorkers:
    """The asynchronous loop's workers: each evaluation a concurrently running task."""

    def __init__(self, config: BOCampaignConfig) -> None:
        self.config = config
        self.futures: dict[int, Any] = {}

    def submit(self, request: TrialRequest) -> None:
        """Start the trial's evaluation task."""
        self.futures[request.trial] = _submit(self.config, request)

    def wait_any(self) -> list[TrialResult]:
        """Results of the tasks that have finished, waiting for the first one."""
        from prefect.futures import as_completed

        first = next(as_completed(list(self.futures.values())))
        done = [
            trial
            for trial, future in self.futures.items()
            if future is first or (future.state is not None and future.state.is_final())
        ]
        return [self.futures.pop(trial).result() for trial in sorted(done)]


def _run_loop(config: BOCampaignConfig, created: CampaignStatus, publisher: Any) -> LoopOutcome:
    """Synchronous batches (``workers`` = 1) or the asynchronous loop (more workers)."""
    steps = bo_tasks.CampaignTasks(config.name, created.store_url, config.definition())
    if config.workers > 1:
        return run_async_loop(
            steps,
            _TaskWorkers(config),
            config.workers,
            config.stopping,
            suggest_size=config.batch_size,
            on_iteration=publisher,
        )
    metrics = [o.name for o in config.objectives]
    metrics += [c.metric for c in config.constraints if c.metric not in metrics]
    return run_campaign_loop(
        steps,
        _evaluator(config, metrics),
        config.stopping,
        batch_size=config.batch_size,
        on_iteration=publisher,
    )


def _emit(event: str, name: str, payload: dict[str, Any]) -> None:
    emit_event(
        event=event,
        resource={"prefect.resource.id": f"crucible.campaign.{name}", "crucible.campaign": name},
        payload=payload,
    )


class _Publisher:
    """The on-iteration hook: table and convergence artifacts, progress, event, log line."""

    def __init__(self, config: BOCampaignConfig, created: CampaignStatus, output_dir: str):
        self.config = config
        self.store_url = created.store_url
        self.output_dir = output_dir
        self.optimum = config.optimum()
        self.logger = get_run_logger()
        self.progress = Progress(f"bo-{config.name}-progress", total=config.stopping.max_trials)
        self.progress.set(created.finished)

    def __call__(self, iteration: Iteration) -> None:
        name, status = self.config.name, iteration.observed.status
        bo_tasks.publish_iteration(name, self.store_url, iteration, self.output_dir, self.optimum)
        self.progress.set(status.finished)
        _emit(
            "crucible.campaign.iteration",
            name,
            {
                "iteration": iteration.number,
                "best": status.best,
                "observed": iteration.observed.model_dump(include={"completed", "failed"}),
                "n_finished": status.finished,
            },
        )
        self.logger.info(
            "iteration %d: best %s after %d trials", iteration.number, status.best, status.finished
        )


BOCampaignPreset = Literal["default"]
#: Named presets of ``config`` (``crucible run bo-campaign --preset NAME``).
PRESETS = Presets(BOCampaignConfig, {"default": BOCampaignConfig})


@flow(name="bo-campaign", log_prints=True)
@uses_environment_block
def bo_campaign(
    config: BOCampaignConfig = BOCampaignConfig(),  # noqa: B008
    preset: BOCampaignPreset = "default",
) -> CampaignSummary:
    """Run (or resume) a BO campaign until a stopping rule fires.

    Args:
        config: Settings to change; every setting left out keeps the preset's value.
        preset: Named starting point (``default``).

    Returns:
        Stop reason, trial count, best parameters/values (or Pareto trials), the
        recommended trial (best posterior mean, what to use when measurements are noisy),
        CSV and report paths, and the per-iteration best values.
    """
    config = PRESETS.resolve(preset, config)
    name = config.name
    output_dir = config.output_dir or str(get_settings().artifact_folder("bo", name))
    created = bo_tasks.create_campaign(name, config.definition(), config.store_url)
    publisher = _Publisher(config, created, output_dir)
    outcome = _run_loop(config, created, publisher)
    publisher.progress.flush()
    summary = bo_tasks.final_report(name, created.store_url, output_dir, outcome.stop_reason)
    summary = summary.model_copy(update={"best_history": outcome.best_history})
    _emit(
        "crucible.campaign.completed",
        name,
        {
            "stop_reason": outcome.stop_reason,
            "best": outcome.best_history[-1] if outcome.best_history else None,
            "best_params": summary.best_params,
            "n_trials": summary.n_trials,
        },
    )
    get_run_logger().info("campaign %s stopped: %s", name, outcome.stop_reason)
    return summary


def demo(name: str = "branin-demo", max_trials: int = 24) -> CampaignSummary:
    """A complete real campaign on the built-in Branin problem (~1-2 minutes on a CPU).

    Returns:
        The flow's summary.
    """
    config = BOCampaignConfig(
        name=name,
        problem="branin",
        strategy=Strategy(n_init=8),
        stopping=StoppingRules(max_trials=max_trials),
        batch_size=2,
    )
    return bo_campaign(config)


if __name__ == "__main__":
    import sys

    from crucible.cli import main

    raise SystemExit(main(["run", "bo-campaign", *sys.argv[1:]]))
