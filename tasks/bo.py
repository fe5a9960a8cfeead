"""Prefect tasks of the BO campaign stage: define, design, suggest, evaluate, observe, report.

Each task reloads the campaign from its store (a SQLAlchemy URL), does one thing and
returns small dicts, so tasks can run anywhere and a crashed flow loses nothing. Storage
tasks retry only on :class:`~crucible.exceptions.StorageError` (nothing was written), so a
retry never duplicates a suggestion. The initial design is cached by inputs and task
source; suggestions are never cached.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import INPUTS, TASK_SOURCE

from crucible.bo.campaign import Campaign
from crucible.bo.report import convergence_plot, markdown_report, pareto_plot
from crucible.design import make_design
from crucible.exceptions import InvalidInputError, StateError, StorageError
from crucible.plugins import EVALUATORS
from crucible.space import Space
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
def create_campaign(
    name: str,
    space: dict[str, Any],
    objectives: list[dict[str, Any]],
    constraints: list[dict[str, Any]],
    strategy: dict[str, Any],
    store_url: str = "",
) -> dict[str, Any]:
    """Create the campaign, or resume it when one with this name and definition exists.

    Returns:
        ``name``, ``store_url``, trial counts (``completed``, ``failed``, ``pending``).
    """
    campaign = Campaign.create(
        name, space, objectives, constraints, strategy, store_url or None, exist_ok=True
    )
    trials = campaign.all_trials()
    counts = {s: sum(t.status == s for t in trials) for s in ("completed", "failed", "pending")}
    get_run_logger().info("campaign %s: %s", name, counts)
    return {"name": name, "store_url": campaign.store_url, **counts}


@task(name="bo-initial-design", cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
def initial_design(space: dict[str, Any], design: str, n: int, seed: int) -> list[dict[str, Any]]:
    """The seeded space-filling design (deterministic, so cached by inputs and source)."""
    return make_design(design, Space.from_dict(space), n, seed=seed)


@task(name="bo-enqueue", retries=2, retry_delay_seconds=[1, 5], retry_condition_fn=_storage_failed)
def enqueue(name: str, store_url: str, points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add design points as pending trials; returns ``[{"trial", "params"}]``."""
    trials = Campaign.load(name, store_url).enqueue(points, source="design")
    return [{"trial": t.number, "params": t.params} for t in trials]


@task(name="bo-suggest", retries=2, retry_delay_seconds=[1, 5], retry_condition_fn=_storage_failed)
def suggest(name: str, store_url: str, n: int) -> list[dict[str, Any]]:
    """Fit the surrogate and suggest ``n`` trials (never cached); ``[{"trial", "params"}]``."""
    trials = Campaign.load(name, store_url).suggest(n)
    get_run_logger().info("suggested trials %s", [t.number for t in trials])
    return [{"trial": t.number, "params": t.params, "source": t.source} for t in trials]


@task(name="bo-pending", retries=2, retry_delay_seconds=[1, 5])
def pending_trials(name: str, store_url: str) -> list[dict[str, Any]]:
    """Trials suggested by an earlier (crashed) run and never observed."""
    return [
        {"trial": t.number, "params": t.params} for t in Campaign.load(name, store_url).pending()
    ]


def load_callable(name: str) -> Callable[[Mapping[str, Any]], Mapping[str, Any]]:
    """The registered evaluator ``name`` (e.g. ``branin``; see :mod:`crucible.plugins`)."""
    function = EVALUATORS.get(name, "evaluator")
    if not callable(function):
        raise InvalidInputError("evaluator", f"{name!r} is not callable", "point at a function")
    return function  # type: ignore[no-any-return]


@task(name="bo-evaluate")
def evaluate_callable(evaluator: str, trial: dict[str, Any]) -> dict[str, Any]:
    """Run the registered evaluator ``evaluator`` on one trial's parameters.

    Returns:
        ``{"trial", "values"}`` or ``{"trial", "error"}`` when the function raised.
    """
    try:
        values = dict(load_callable(evaluator)(trial["params"]))
    except InvalidInputError:
        raise
    except Exception as exc:
        get_run_logger().warning("trial %s failed: %r", trial["trial"], exc)
        return {"trial": trial["trial"], "error": f"{type(exc).__name__}: {exc}"}
    return {"trial": trial["trial"], "values": values}


@task(name="bo-evaluate-deployment")
def evaluate_deployment(
    deployment: str, parameter: str, trial: dict[str, Any], timeout_s: float | None = None
) -> dict[str, Any]:
    """Run another deployment for one trial and read its returned metric dict.

    The deployment's flow must accept the trial's parameters as the flow parameter named
    ``parameter`` and return a dict of metrics, with result persistence on
    (``@flow(persist_result=True)``) and storage both machines can read.
    """
    from prefect.deployments import run_deployment

    run: Any = run_deployment(
        name=deployment,
        parameters={parameter: trial["params"]},
        timeout=timeout_s,
        tags=["crucible-bo-trial"],
    )
    state = run.state
    if state is None or not state.is_completed():
        name = state.name if state is not None else "unknown"
        return {"trial": trial["trial"], "error": f"flow run {run.id} ended {name}"}
    result = state.result()
    if not isinstance(result, Mapping):
        return {"trial": trial["trial"], "error": f"flow run {run.id} returned {type(result)}"}
    return {"trial": trial["trial"], "values": dict(result)}


@task(name="bo-observe", retries=2, retry_delay_seconds=[1, 5], retry_condition_fn=_storage_failed)
def observe(name: str, store_url: str, results: list[dict[str, Any]]) -> dict[str, Any]:
    """Record results, each committed on its own.

    Errors and invalid values (NaN, missing metric) mark the trial failed with the reason,
    so one bad measurement never stops the campaign.

    Returns:
        ``completed`` and ``failed`` trial numbers of this call.
    """
    logger = get_run_logger()
    campaign = Campaign.load(name, store_url)
    completed, failed = [], []
    for result in results:
        number = int(result["trial"])
        reason = str(result.get("error", "failed"))
        try:
            if "values" in result:
                try:
                    campaign.observe(number, result["values"])
                    completed.append(number)
                    continue
                except InvalidInputError as exc:
                    logger.warning("trial %s: %s; marked failed", number, exc)
                    reason = str(exc)
            campaign.mark_failed(number, reason)
        except StateError:  # already recorded by an earlier attempt of this task
            continue
        failed.append(number)
    return {"completed": completed, "failed": failed}


@task(name="bo-iteration-artifacts", retries=1)
def publish_iteration(
    name: str,
    store_url: str,
    iteration: int,
    batch: list[dict[str, Any]],
    output_dir: str,
    optimum: float | None = None,
) -> dict[str, Any]:
    """Table of the batch, convergence PNG; returns the best value and trial counts."""
    campaign = Campaign.load(name, store_url)
    by_number = {t.number: t for t in campaign.all_trials()}
    rows = []
    for item in batch:
        t = by_number[item["trial"]]
        rows.append(
            {
                "trial": t.number,
                "status": t.status,
                **t.params,
                **t.values,
                "reason": t.reason or "",
            }
        )
    publish_table(rows, key=f"bo-{name}-batch", description=f"Iteration {iteration} of {name}")
    png = convergence_plot(campaign, Path(output_dir) / "convergence.png", optimum=optimum)
    publish_image(png, key=f"bo-{name}-convergence", description=f"Convergence of {name}")
    best = campaign.best()
    objective = campaign.objectives[0].name
    finished = [t for t in by_number.values() if t.status != "pending"]
    return {
        "best": best.values[objective] if best else None,
        "best_trial": best.number if best else None,
        "n_finished": len(finished),
        "n_completed": sum(t.status == "completed" for t in finished),
    }


@task(name="bo-report", retries=1)
def final_report(name: str, store_url: str, output_dir: str, stop_reason: str) -> dict[str, Any]:
    """Markdown report, trials CSV, Pareto plot for several objectives; returns a summary."""
    campaign = Campaign.load(name, store_url)
    out = Path(output_dir)
    csv = campaign.to_csv(out / f"{name}_trials.csv")
    extra = f"Trials CSV: `{csv}`"
    if len(campaign.objectives) > 1:
        png = pareto_plot(campaign, out / "pareto.png")
        publish_image(png, key=f"bo-{name}-pareto", description=f"Pareto front of {name}")
        extra += f"\n\nPareto plot: `{png}`"
    report = markdown_report(campaign, stop_reason=stop_reason, extra=extra)
    (out / "report.md").write_text(report)
    publish_markdown(report, key=f"bo-{name}-report", description=f"BO campaign {name}")
    best = campaign.best()
    return {
        "name": name,
        "stop_reason": stop_reason,
        "n_trials": len(campaign.all_trials()),
        "best_params": best.params if best else None,
        "best_values": best.values if best else None,
        "best_trial": best.number if best else None,
        "pareto_trials": [t.number for t in campaign.pareto_front()]
        if len(campaign.objectives) > 1
        else None,
        "csv": str(csv),
        "report": str(out / "report.md"),
    }
