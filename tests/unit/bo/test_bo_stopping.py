"""Tests for crucible.bo.stopping and crucible.bo.report."""

from __future__ import annotations

from pathlib import Path

from crucible.bo import Campaign, Objective, Strategy
from crucible.bo.problems import get_problem
from crucible.bo.report import (
    convergence_plot,
    markdown_report,
    pareto_plot,
    trial_rows,
    write_report,
)
from crucible.bo.stopping import StoppingRules, best_so_far

MIN, MAX = Objective(name="y"), Objective(name="y", direction="maximize")


def test_each_rule_fires() -> None:
    rules = StoppingRules(max_trials=10, target=1.0, patience=2, max_wall_time_s=60)
    assert rules.reason_to_stop(MIN, [5.0], 3, 1.0) is None
    assert "budget" in rules.reason_to_stop(MIN, [5.0], 10, 1.0)
    assert "target" in rules.reason_to_stop(MIN, [5.0, 0.9], 4, 1.0)
    assert rules.reason_to_stop(MAX, [0.9], 4, 1.0) is None
    assert "no improvement for 2" in rules.reason_to_stop(MIN, [5.0, 5.0, 5.0], 4, 1.0)
    assert rules.reason_to_stop(MIN, [6.0, 5.5, 5.0], 4, 1.0) is None
    assert "wall-clock" in rules.reason_to_stop(MIN, [5.0], 4, 61.0)
    assert best_so_far([3.0, None, 1.0, 2.0], MIN) == [3.0, 3.0, 1.0, 1.0]


def test_report_and_plots(tmp_path: Path) -> None:
    for name in ("chartmann6", "branin_currin"):
        problem = get_problem(name)
        campaign = Campaign.create(
            name,
            problem.space,
            problem.objectives,
            problem.constraints,
            Strategy(n_init=5),
            f"sqlite:///{tmp_path / 'r.db'}",
        )
        for trial in campaign.suggest(5):
            campaign.observe(trial.number, problem.evaluator(trial.params))
        png = convergence_plot(campaign, tmp_path / name / "c.png", optimum=problem.optimum)
        assert png.stat().st_size > 1000
        report = markdown_report(campaign, stop_reason="budget reached")
        assert "**Stopped:** budget reached" in report and "5 completed" in report
    assert "Hypervolume" in report and "Pareto front" in report
    assert pareto_plot(campaign, tmp_path / "p.png").stat().st_size > 1000


def test_write_report_and_trial_rows(tmp_path: Path) -> None:
    for name in ("branin", "branin_currin"):
        problem = get_problem(name)
        url = f"sqlite:///{tmp_path / 'w.db'}"
        campaign = Campaign.create(name, problem.space, problem.objectives, [], Strategy(), url)
        trials = campaign.suggest(4)
        for trial in trials[:3]:
            campaign.observe(trial.number, problem.evaluator(trial.params))
        summary = write_report(campaign, tmp_path / name, "budget reached")
        assert summary.n_trials == 4 and Path(summary.csv).exists()
        assert "**Stopped:** budget reached" in Path(summary.report).read_text()
        rows = trial_rows(campaign, [0, 3])
        assert [(r["trial"], r["status"]) for r in rows] == [(0, "completed"), (3, "pending")]
    single = write_report(Campaign.load("branin", url), tmp_path / "again", "done")
    best = min(campaign.completed(), key=lambda t: t.values["branin"])
    assert single.pareto_plot is None and single.pareto_trials is None
    assert summary.pareto_plot and Path(summary.pareto_plot).stat().st_size > 1000
    assert best.number in (summary.pareto_trials or [])
    assert single.best_values is not None and set(single.best_values) == {"y"}
