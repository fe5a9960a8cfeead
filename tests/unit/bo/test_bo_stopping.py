"""Tests for crucible.bo.stopping and crucible.bo.report."""

from __future__ import annotations

from pathlib import Path

from crucible.bo import Campaign, Objective, Strategy
from crucible.bo.report import convergence_plot, markdown_report, pareto_plot
from crucible.bo.stopping import StoppingRules, best_so_far
from crucible.testing.functions import get_problem

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
