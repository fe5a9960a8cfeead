"""Pictures, tables and a markdown report of a campaign (matplotlib, Agg backend)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from crucible.bo.analysis import pareto_mask
from crucible.bo.stopping import best_so_far
from crucible.viz.figures import pyplot, save_figure

__all__ = [
    "CampaignSummary",
    "convergence_plot",
    "markdown_report",
    "pareto_plot",
    "trial_rows",
    "write_report",
]


class CampaignSummary(BaseModel):
    """Where a campaign ended and where its report files are.

    Attributes:
        name: Campaign name.
        stop_reason: Why the loop stopped.
        n_trials: Trials in the campaign (all statuses).
        best_params: Parameters of the best feasible trial (first objective).
        best_values: Its metric values.
        best_trial: Its number.
        pareto_trials: Numbers of the Pareto-optimal trials (several objectives only).
        recommended_trial: Number of the recommended trial (``Campaign.recommend``: the
            feasible completed trial with the best posterior mean; with noisy measurements
            a better choice than the best observed value).
        recommended_params: Its parameters.
        recommended_mean: The posterior mean of each objective there.
        recommended_std: The posterior standard deviation of each objective there.
        csv: The trials CSV.
        report: The markdown report.
        pareto_plot: The Pareto-front PNG (several objectives only).
        best_history: Best value after each iteration of the run that wrote the report.
    """

    name: str
    stop_reason: str
    n_trials: int
    best_params: dict[str, Any] | None = None
    best_values: dict[str, float] | None = None
    best_trial: int | None = None
    pareto_trials: list[int] | None = None
    recommended_trial: int | None = None
    recommended_params: dict[str, Any] | None = None
    recommended_mean: dict[str, float] | None = None
    recommended_std: dict[str, float] | None = None
    csv: str
    report: str
    pareto_plot: str | None = None
    best_history: list[float | None] = Field(default_factory=list)


def _objective_trace(campaign: Any) -> tuple[list[int], list[float | None], list[float | None]]:
    """Trial numbers, feasible first-objective values (None otherwise), running best."""
    objective = campaign.objectives[0]
    done = campaign.completed()
    numbers = [t.number for t in done]
    values = [t.values[objective.name] if campaign.is_feasible(t.values) else None for t in done]
    return numbers, values, best_so_far(values, objective)


def convergence_plot(campaign: Any, path: str | Path, optimum: float | None = None) -> Path:
    """Observed values and best-so-far of the first objective against trial number.

    With a known ``optimum`` the y axis is the simple regret on a log scale.
    """
    plt = pyplot()
    numbers, values, best = _objective_trace(campaign)
    objective = campaign.objectives[0]
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    if optimum is not None:

        def regret(v: float) -> float:
            return max(abs(v - optimum), 1e-10)

        pts = [(n, regret(v)) for n, v in zip(numbers, values, strict=True) if v is not None]
        line = [(n, regret(b)) for n, b in zip(numbers, best, strict=True) if b is not None]
        ax.set_yscale("log")
        ax.set_ylabel(f"simple regret of {objective.name}")
    else:
        pts = [(n, v) for n, v in zip(numbers, values, strict=True) if v is not None]
        line = [(n, b) for n, b in zip(numbers, best, strict=True) if b is not None]
        ax.set_ylabel(f"{objective.name} ({objective.direction})")
    if pts:
        ax.scatter(*zip(*pts, strict=True), s=14, alpha=0.6, label="observed")
    if line:
        ax.step(*zip(*line, strict=True), where="post", color="C3", label="best so far")
    infeasible = [n for n, v in zip(numbers, values, strict=True) if v is None]
    for n in infeasible:
        ax.axvline(n, color="0.85", lw=0.8, zorder=0)
    ax.set_xlabel("trial")
    ax.set_title(f"Campaign {campaign.name}: convergence")
    ax.legend(loc="best", fontsize=8)
    return save_figure(fig, path)


def pareto_plot(campaign: Any, path: str | Path) -> Path:
    """Observed points of the first two objectives with the Pareto front highlighted."""
    plt = pyplot()
    o1, o2 = campaign.objectives[:2]
    done = [t for t in campaign.completed() if campaign.is_feasible(t.values)]
    Y = np.array([[t.values[o1.name], t.values[o2.name]] for t in done]).reshape(-1, 2)
    fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
    if len(Y):
        mask = pareto_mask(Y * np.array([o1.sign, o2.sign]))
        ax.scatter(Y[~mask, 0], Y[~mask, 1], s=14, alpha=0.5, label="observed")
        front = Y[mask][np.argsort(Y[mask, 0])]
        ax.plot(front[:, 0], front[:, 1], "o-", color="C3", label="Pareto front")
    ax.set_xlabel(f"{o1.name} ({o1.direction})")
    ax.set_ylabel(f"{o2.name} ({o2.direction})")
    ax.set_title(f"Campaign {campaign.name}: Pareto front")
    ax.legend(loc="best", fontsize=8)
    return save_figure(fig, path)


def markdown_report(
    campaign: Any, stop_reason: str = "", extra: str = "", recommended: Any = None
) -> str:
    """A short markdown summary: definition, counts, best trial or Pareto front.

    ``recommended`` (a :class:`~crucible.bo.analysis.Recommendation`) adds the recommended
    trial with its posterior means.
    """
    trials = campaign.all_trials()
    counts = {s: sum(t.status == s for t in trials) for s in ("completed", "failed", "pending")}
    lines = [f"# BO campaign `{campaign.name}`", ""]
    if stop_reason:
        lines += [f"**Stopped:** {stop_reason}", ""]
    lines += [
        f"- trials: {len(trials)} ({counts['completed']} completed, {counts['failed']} failed, "
        f"{counts['pending']} pending)",
        "- objectives: " + ", ".join(f"{o.name} ({o.direction})" for o in campaign.objectives),
        "- outcome constraints: "
        + (", ".join(str(c) for c in campaign.config.constraints) or "none"),
        f"- strategy: {campaign.strategy.model_dump_json()}",
        "",
    ]
    if len(campaign.objectives) == 1:
        best = campaign.best()
        if best is None:
            lines.append("No feasible trial yet.")
        else:
            lines += ["## Best trial", "", "| parameter | value |", "|---|---|"]
            lines += [f"| {k} | {v} |" for k, v in best.params.items()]
            lines += [f"| **{k}** | **{v:.6g}** |" for k, v in best.values.items()]
            lines.append(f"\nTrial {best.number} (of {len(trials)}).")
    else:
        front = campaign.pareto_front()
        names = [o.name for o in campaign.objectives]
        lines += [f"## Pareto front ({len(front)} trials)", ""]
        lines += ["| trial | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
        lines += [
            f"| {t.number} | " + " | ".join(f"{t.values[n]:.4g}" for n in names) + " |"
            for t in front
        ]
        ref = campaign.reference_point()
        if ref is not None and front:
            shown = ", ".join(f"{k} {v:.4g}" for k, v in ref.items())
            lines.append(
                f"\nHypervolume {campaign.hypervolume(ref):.6g} (reference point: {shown})."
            )
    if recommended is not None:
        lines += ["", *_recommendation_lines(recommended)]
    if extra:
        lines += ["", extra]
    return "\n".join(lines)


def _recommendation_lines(recommended: Any) -> list[str]:
    trial = recommended.trial
    means = ", ".join(
        f"{k} {v:.6g} ± {recommended.std[k]:.3g}" for k, v in recommended.mean.items()
    )
    return [
        "## Recommended trial",
        "",
        f"Trial {trial.number}, the best by the model's posterior mean ({means}; observed "
        + ", ".join(f"{k} {trial.values[k]:.6g}" for k in recommended.mean)
        + "). With noisy measurements this is a better choice than the best observed value.",
        "",
        "| parameter | value |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in trial.params.items()],
    ]


def trial_rows(campaign: Any, numbers: Iterable[int]) -> list[dict[str, Any]]:
    """One table row per trial number: status, parameters, values and failure reason."""
    by_number = {t.number: t for t in campaign.all_trials()}
    rows = []
    for number in numbers:
        t = by_number[number]
        rows.append(
            {
                "trial": t.number,
                "status": t.status,
                **t.params,
                **t.values,
                "reason": t.reason or "",
            }
        )
    return rows


def write_report(campaign: Any, output_dir: str | Path, stop_reason: str) -> CampaignSummary:
    """Write the trials CSV, ``report.md`` and (several objectives) ``pareto.png``."""
    out = Path(output_dir)
    csv = campaign.to_csv(out / f"{campaign.name}_trials.csv")
    extra = f"Trials CSV: `{csv}`"
    png = None
    if len(campaign.objectives) > 1:
        png = pareto_plot(campaign, out / "pareto.png")
        extra += f"\n\nPareto plot: `{png}`"
    recommendation = campaign.recommend()
    report = out / "report.md"
    report.write_text(
        markdown_report(campaign, stop_reason=stop_reason, extra=extra, recommended=recommendation)
    )
    best = campaign.best()
    return CampaignSummary(
        name=campaign.name,
        stop_reason=stop_reason,
        n_trials=len(campaign.all_trials()),
        best_params=best.params if best else None,
        best_values=best.values if best else None,
        best_trial=best.number if best else None,
        pareto_trials=[t.number for t in campaign.pareto_front()] if png else None,
        recommended_trial=recommendation.trial.number if recommendation else None,
        recommended_params=recommendation.trial.params if recommendation else None,
        recommended_mean=recommendation.mean if recommendation else None,
        recommended_std=recommendation.std if recommendation else None,
        csv=str(csv),
        report=str(report),
        pareto_plot=str(png) if png else None,
    )
