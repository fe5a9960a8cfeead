"""Pictures and a markdown report of a campaign (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from crucible.bo.analysis import hypervolume, pareto_mask
from crucible.bo.stopping import best_so_far

__all__ = ["convergence_plot", "markdown_report", "pareto_plot"]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


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
    plt = _pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
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
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def pareto_plot(campaign: Any, path: str | Path) -> Path:
    """Observed points of the first two objectives with the Pareto front highlighted."""
    plt = _pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
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
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def markdown_report(campaign: Any, stop_reason: str = "", extra: str = "") -> str:
    """A short markdown summary: definition, counts, best trial or Pareto front."""
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
        if all(o.threshold is not None for o in campaign.objectives) and front:
            signs = np.array([o.sign for o in campaign.objectives])
            Y = np.array([[t.values[n] for n in names] for t in front]) * signs
            ref = np.array([o.threshold for o in campaign.objectives]) * signs
            lines.append(f"\nHypervolume (reference = thresholds): {hypervolume(Y, ref):.6g}")
    if extra:
        lines += ["", extra]
    return "\n".join(lines)
