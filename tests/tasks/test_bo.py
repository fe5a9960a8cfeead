"""Task bodies of tasks/bo.py, called through .fn (no Prefect server)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from crucible.bo import Campaign, Strategy
from crucible.bo.campaign import CampaignConfig
from crucible.bo.loop import CampaignStatus
from crucible.bo.problems import get_problem
from crucible.exceptions import InvalidInputError
from crucible.plugins import EVALUATORS
from tasks import bo


def _create(tmp_path: Path, name: str = "t") -> CampaignStatus:
    problem = get_problem("branin")
    definition = CampaignConfig(
        space=problem.space,
        objectives=problem.objectives,
        strategy=Strategy(n_init=3, num_restarts=2, raw_samples=64),
    )
    return bo.create_campaign.fn(name, definition, f"sqlite:///{tmp_path / 'c.db'}")


def _boom(params: dict) -> dict:
    raise RuntimeError("instrument offline")


def _nan(params: dict) -> dict:
    return {"y": math.nan}


EVALUATORS.register("test-boom", _boom, overwrite=True)
EVALUATORS.register("test-nan", _nan, overwrite=True)


def test_suggest_evaluate_observe_status_and_resume(tmp_path: Path) -> None:
    info = _create(tmp_path)
    assert info.completed == 0 and info.finished == 0
    steps = bo.CampaignTasks("t", info.store_url, _definition())
    batch = bo.suggest.fn("t", info.store_url, 3)
    assert [(t.trial, t.source) for t in batch] == [(0, "design"), (1, "design"), (2, "design")]
    results = [bo.evaluate_callable.fn("branin", t) for t in batch]
    observed = bo.observe.fn("t", info.store_url, results)
    assert (observed.completed, observed.failed) == ([0, 1, 2], [])
    assert observed.status.best == min(r.values["y"] for r in results if r.values)
    assert bo.status.fn("t", info.store_url) == observed.status
    new = bo.suggest.fn("t", info.store_url, 2)
    assert [t.source for t in new] == ["model", "model"]
    assert bo.pending_trials.fn("t", info.store_url) == new
    assert steps.objective.name == "y"
    again = _create(tmp_path)  # resume: same definition
    assert again.completed == 3 and again.pending == 2


def test_failures_and_nan_mark_trials_failed(tmp_path: Path) -> None:
    info = _create(tmp_path)
    batch = bo.suggest.fn("t", info.store_url, 3)
    results = [
        bo.evaluate_callable.fn("test-boom", batch[0]),
        bo.evaluate_callable.fn("test-nan", batch[1]),
    ]
    assert results[0].error == "RuntimeError: instrument offline"
    out = bo.observe.fn("t", info.store_url, results)
    assert (out.completed, out.failed) == ([], [0, 1])
    again = bo.observe.fn("t", info.store_url, results)
    assert (again.completed, again.failed) == ([], [])
    frame = Campaign.load("t", info.store_url).trials()
    assert "not a finite number" in frame.loc[1, "reason"]


def _definition() -> CampaignConfig:
    problem = get_problem("branin")
    return CampaignConfig(space=problem.space, objectives=problem.objectives)


def test_bad_evaluator_name() -> None:
    for path in ("nocolon", "no_such_module_xyz:f", "math:no_such_fn", "math:pi"):
        with pytest.raises(InvalidInputError, match="evaluator"):
            bo.load_callable(path)


def test_import_paths_only_with_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRUCIBLE_ALLOW_IMPORT_PATHS", "true")
    assert math.isnan(bo.load_callable(f"{__name__}:_nan")({})["y"])
    with pytest.raises(InvalidInputError, match="not callable"):
        bo.load_callable("math:pi")
