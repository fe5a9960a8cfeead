"""Task bodies of tasks/bo.py, called through .fn (no Prefect server)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from crucible.bo import Campaign
from crucible.exceptions import InvalidInputError
from crucible.plugins import EVALUATORS
from crucible.testing.functions import get_problem
from tasks import bo


def _create(tmp_path: Path, name: str = "t") -> dict:
    problem = get_problem("branin")
    return bo.create_campaign.fn(
        name,
        problem.space.to_dict(),
        [o.model_dump() for o in problem.objectives],
        [],
        {"n_init": 3, "num_restarts": 2, "raw_samples": 64},
        f"sqlite:///{tmp_path / 'c.db'}",
    )


def _boom(params: dict) -> dict:
    raise RuntimeError("instrument offline")


def _nan(params: dict) -> dict:
    return {"y": math.nan}


EVALUATORS.register("test-boom", _boom, overwrite=True)
EVALUATORS.register("test-nan", _nan, overwrite=True)


def test_design_enqueue_evaluate_observe_suggest(tmp_path: Path) -> None:
    info = _create(tmp_path)
    assert info["completed"] == 0
    space = get_problem("branin").space.to_dict()
    design = bo.initial_design.fn(space, "sobol", 3, 0)
    assert design == bo.initial_design.fn(space, "sobol", 3, 0)
    batch = bo.enqueue.fn("t", info["store_url"], design)
    assert [t["trial"] for t in batch] == [0, 1, 2]
    results = [bo.evaluate_callable.fn("branin", t) for t in batch]
    assert bo.observe.fn("t", info["store_url"], results) == {"completed": [0, 1, 2], "failed": []}
    new = bo.suggest.fn("t", info["store_url"], 2)
    assert [t["source"] for t in new] == ["model", "model"]
    assert bo.pending_trials.fn("t", info["store_url"]) == [
        {"trial": t["trial"], "params": t["params"]} for t in new
    ]
    again = _create(tmp_path)  # resume: same definition
    assert again["completed"] == 3 and again["pending"] == 2


def test_failures_and_nan_mark_trials_failed(tmp_path: Path) -> None:
    info = _create(tmp_path)
    batch = bo.enqueue.fn(
        "t",
        info["store_url"],
        bo.initial_design.fn(get_problem("branin").space.to_dict(), "sobol", 3, 0),
    )
    results = [
        bo.evaluate_callable.fn("test-boom", batch[0]),
        bo.evaluate_callable.fn("test-nan", batch[1]),
    ]
    assert results[0]["error"] == "RuntimeError: instrument offline"
    out = bo.observe.fn("t", info["store_url"], results)
    assert out == {"completed": [], "failed": [0, 1]}
    assert bo.observe.fn("t", info["store_url"], results) == {"completed": [], "failed": []}
    frame = Campaign.load("t", info["store_url"]).trials()
    assert "not a finite number" in frame.loc[1, "reason"]


def test_bad_evaluator_name() -> None:
    for path in ("nocolon", "no_such_module_xyz:f", "math:no_such_fn", "math:pi"):
        with pytest.raises(InvalidInputError, match="evaluator"):
            bo.load_callable(path)


def test_import_paths_only_with_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRUCIBLE_ALLOW_IMPORT_PATHS", "true")
    assert math.isnan(bo.load_callable(f"{__name__}:_nan")({})["y"])
    with pytest.raises(InvalidInputError, match="not callable"):
        bo.load_callable("math:pi")
