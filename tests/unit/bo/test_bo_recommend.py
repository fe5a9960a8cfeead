"""Campaign.recommend: the completed trial with the best posterior mean (noisy campaigns)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crucible.bo import Campaign, Objective, OutcomeConstraint, Strategy
from crucible.bo.problems import get_problem

SPACE = {"x": {"type": "continuous", "low": 0.0, "high": 1.0}}


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'campaigns.db'}"


def _bowl(x: float) -> float:
    return 10.0 * (x - 0.3) ** 2


def test_a_lucky_noisy_draw_is_best_observed_but_not_recommended(tmp_path: Path) -> None:
    campaign = Campaign.create("noisy", SPACE, ["y"], store_url=_url(tmp_path))
    rng = np.random.default_rng(0)
    for x in np.linspace(0.0, 1.0, 25):
        campaign.add({"x": float(x)}, {"y": _bowl(x) + float(rng.normal(0.0, 0.3))})
    lucky = campaign.add({"x": 0.9}, {"y": -1.5})  # true value 3.6: a lucky draw
    assert campaign.best().number == lucky.number
    recommended = campaign.recommend()
    assert recommended is not None and recommended.source == "model"
    assert recommended.trial.number != lucky.number
    assert _bowl(recommended.trial.params["x"]) < 0.1  # near the true optimum at 0.3
    assert recommended.mean["y"] == pytest.approx(0.0, abs=0.4)
    assert 0.0 < recommended.std["y"] < 0.5


def test_noise_free_recommendation_is_the_best_observed_trial(tmp_path: Path) -> None:
    campaign = Campaign.create("exact", SPACE, ["y"], store_url=_url(tmp_path))
    for x in np.linspace(0.0, 1.0, 9):
        campaign.add({"x": float(x)}, {"y": _bowl(x)})
    recommended = campaign.recommend()
    assert recommended is not None and recommended.trial == campaign.best()
    assert recommended.mean["y"] == pytest.approx(recommended.trial.values["y"], abs=1e-3)


def test_without_a_model_or_a_feasible_trial(tmp_path: Path) -> None:
    constraint = [OutcomeConstraint(metric="cost", operator="<=", bound=1.0)]
    campaign = Campaign.create("few", SPACE, ["y"], constraint, store_url=_url(tmp_path))
    assert campaign.recommend() is None
    campaign.add({"x": 0.5}, {"y": 2.0, "cost": 5.0})  # infeasible
    assert campaign.recommend() is None
    campaign.add({"x": 0.2}, {"y": 3.0, "cost": 0.5})
    recommended = campaign.recommend()
    assert recommended is not None and recommended.trial.params == {"x": 0.2}
    single = Campaign.create("one", SPACE, ["y"], store_url=_url(tmp_path))
    first = single.add({"x": 0.1}, {"y": 1.0})
    only = single.recommend()
    assert only is not None and only.source == "observed" and only.trial.number == first.number
    assert only.mean == {"y": 1.0} and only.std == {"y": 0.0}


def test_maximised_objective_and_several_objectives(tmp_path: Path) -> None:
    up = Campaign.create(
        "up", SPACE, [Objective(name="y", direction="maximize")], store_url=_url(tmp_path)
    )
    for x in np.linspace(0.0, 1.0, 9):
        up.add({"x": float(x)}, {"y": -_bowl(x)})
    recommended = up.recommend()
    assert recommended is not None and recommended.trial == up.best()
    assert recommended.mean["y"] == pytest.approx(recommended.trial.values["y"], abs=1e-3)

    problem = get_problem("branin_currin")
    both = Campaign.create(
        "both",
        problem.space,
        problem.objectives,
        strategy=Strategy(seed=1),
        store_url=_url(tmp_path),
    )
    for u in np.random.default_rng(2).random((12, 2)):
        point = {"x0": float(u[0]), "x1": float(u[1])}
        both.add(point, problem.evaluator(point))
    recommended = both.recommend()
    assert recommended is not None and set(recommended.mean) == {"branin", "currin"}
    assert recommended.trial in both.pareto_front()  # noise-free: posterior means = values
    assert recommended.trial == both.best()
