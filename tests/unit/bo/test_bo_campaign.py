"""Tests for crucible.bo.campaign: ask/tell, persistence, errors, two processes."""

from __future__ import annotations

import math
import multiprocessing as mp
from pathlib import Path

import pytest

from crucible.bo import Campaign, Objective, Strategy
from crucible.bo.problems import get_problem
from crucible.exceptions import AlreadyExistsError, InvalidInputError, NotFoundError, StateError

FAST = Strategy(
    n_init=4, num_restarts=2, raw_samples=64, acq_maxiter=30, fit_maxiter=50, mc_samples=16
)


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'campaigns.db'}"


def _branin(name: str, url: str, strategy: Strategy = FAST) -> Campaign:
    problem = get_problem("branin")
    return Campaign.create(
        name, problem.space, problem.objectives, strategy=strategy, store_url=url
    )


def test_ask_tell_loop_improves_and_persists(tmp_path: Path) -> None:
    url = _url(tmp_path)
    problem = get_problem("branin")
    campaign = _branin("b", url)
    for _ in range(5):
        for trial in campaign.suggest(2):
            campaign.observe(trial.number, problem.evaluator(trial.params))
    frame = Campaign.load("b", url).trials()
    assert len(frame) == 10 and (frame["status"] == "completed").all()
    assert list(frame["source"]).count("design") == 4
    assert frame["trial"].tolist() == list(range(10))
    best = campaign.best()
    assert best is not None and best.values["y"] == frame["y"].min()
    design_best = frame.loc[frame["source"] == "design", "y"].min()
    assert best.values["y"] < min(design_best, 10.0)  # one random point: median ~ 20+
    csv = campaign.to_csv(tmp_path / "out" / "b.csv")
    assert csv.read_text().startswith("trial,status,source,batch,x1,x2,y")


def test_default_store_is_the_settings_url(crucible_home: Path) -> None:
    campaign = Campaign.create("d", {"x": {"type": "continuous", "low": 0, "high": 1}}, ["y"])
    assert campaign.store_url.endswith("campaigns.db")
    assert (crucible_home / "campaigns.db").exists()
    assert Campaign.list_names() == ["d"]


def test_observation_errors_write_nothing(tmp_path: Path) -> None:
    campaign = _branin("e", _url(tmp_path))
    (trial,) = campaign.suggest(1)
    with pytest.raises(InvalidInputError, match="not a finite number") as info:
        campaign.observe(trial.number, {"y": math.nan})
    assert "mark_failed" in str(info.value)
    with pytest.raises(InvalidInputError, match="missing"):
        campaign.observe(trial.number, {"other": 1.0})
    assert campaign.get_trial(trial.number).status == "pending"
    campaign.observe(trial.number, {"y": 1.5, "extra": 2})
    with pytest.raises(StateError, match="already completed"):
        campaign.observe(trial.number, {"y": 1.0})
    with pytest.raises(NotFoundError, match="no trial 99"):
        campaign.observe(99, {"y": 1.0})
    assert campaign.get_trial(trial.number).values == {"y": 1.5, "extra": 2.0}


def test_failed_trials_are_excluded_and_pending_not_repeated(tmp_path: Path) -> None:
    campaign = _branin("f", _url(tmp_path))
    first = campaign.suggest(3)
    campaign.mark_failed(first[0].number, "reactor leaked")
    second = campaign.suggest(2)
    params = [t.params for t in first + second]
    assert len({tuple(p.values()) for p in params}) == 5
    frame = campaign.trials()
    assert frame.loc[0, "status"] == "failed" and frame.loc[0, "reason"] == "reactor leaked"
    assert len(campaign.pending()) == 4


def test_model_suggestions_account_for_pending(tmp_path: Path) -> None:
    problem = get_problem("branin")
    campaign = _branin("p", _url(tmp_path))
    for trial in campaign.suggest(4):
        campaign.observe(trial.number, problem.evaluator(trial.params))
    batch = campaign.suggest(3)
    assert [t.source for t in batch] == ["model"] * 3
    assert len({tuple(t.params.values()) for t in batch}) == 3
    more = campaign.suggest(1)
    assert more[0].params not in [t.params for t in batch]


def test_create_exist_ok_and_load_errors(tmp_path: Path) -> None:
    url = _url(tmp_path)
    first = _branin("x", url)
    with pytest.raises(AlreadyExistsError, match=r"Campaign\.load"):
        _branin("x", url)
    problem = get_problem("branin")
    again = Campaign.create(
        "x", problem.space, problem.objectives, strategy=FAST, store_url=url, exist_ok=True
    )
    assert again.config == first.config
    with pytest.raises(AlreadyExistsError, match="different definition"):
        Campaign.create("x", problem.space, ["y"], store_url=url, exist_ok=True)
    with pytest.raises(NotFoundError, match=r"use one of \['x'\]"):
        Campaign.load("nope", url)
    with pytest.raises(InvalidInputError, match="also parameter names"):
        Campaign.create("clash", problem.space, ["x1"], store_url=url)


def test_add_manual_results_and_validation(tmp_path: Path) -> None:
    campaign = _branin("m", _url(tmp_path))
    trial = campaign.add({"x1": 1.0, "x2": 2.0}, {"y": 3.0})
    assert trial.source == "manual" and trial.status == "completed"
    with pytest.raises(InvalidInputError) as info:
        campaign.add({"x1": 11.0, "x2": 2.0}, {"y": 3.0})
    assert info.value.field == "params.x1"
    assert len(campaign.trials()) == 1


def test_constrained_and_multi_objective_campaigns(tmp_path: Path) -> None:
    url = _url(tmp_path)
    for name in ("chartmann6", "branin_currin"):
        problem = get_problem(name)
        campaign = Campaign.create(
            name, problem.space, problem.objectives, problem.constraints, FAST, url
        )
        for n in (4, 1, 2):
            for trial in campaign.suggest(n):
                campaign.observe(trial.number, problem.evaluator(trial.params))
        assert len(campaign.completed()) == 7
        prediction = campaign.predict([campaign.completed()[0].params])
        assert set(prediction.columns) >= {f"{m}_mean" for m in campaign.config.metrics}
    front = Campaign.load("branin_currin", url).pareto_front()
    assert 1 <= len(front) <= 7


def test_maximise_objective(tmp_path: Path) -> None:
    campaign = Campaign.create(
        "max",
        {"x": {"type": "continuous", "low": 0, "high": 1}},
        [Objective(name="y", direction="maximize")],
        strategy=FAST,
        store_url=_url(tmp_path),
    )
    for _ in range(4):
        for trial in campaign.suggest(2):
            campaign.observe(trial.number, {"y": -((trial.params["x"] - 0.3) ** 2)})
    best = campaign.best()
    assert best is not None and abs(best.params["x"] - 0.3) < 0.1


def _worker(url: str, n: int) -> None:
    problem = get_problem("branin")
    campaign = Campaign.load("shared", url)
    for _ in range(n):
        (trial,) = campaign.suggest(1)
        campaign.observe(trial.number, problem.evaluator(trial.params))


def test_two_processes_share_one_sqlite_campaign(tmp_path: Path) -> None:
    url = _url(tmp_path)
    _branin("shared", url, Strategy(n_init=40))  # design phase: cheap, exercises the lock
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(url, 8)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    frame = Campaign.load("shared", url).trials()
    assert len(frame) == 16 and (frame["status"] == "completed").all()
    assert sorted(frame["trial"]) == list(range(16))
    assert len({(a, b) for a, b in zip(frame["x1"], frame["x2"], strict=True)}) == 16


def test_attached_data_counts_towards_the_initial_design(tmp_path: Path) -> None:
    problem = get_problem("branin")
    campaign = _branin("attached", _url(tmp_path))  # n_init = 4
    for x1 in (-3.0, 0.0, 3.0, 6.0):
        point = {"x1": x1, "x2": 5.0}
        campaign.add(point, problem.evaluator(point))
    assert [t.source for t in campaign.suggest(2)] == ["model", "model"]


def test_copies_in_a_small_discrete_space_are_replaced_until_it_is_exhausted(
    tmp_path: Path,
) -> None:
    url = _url(tmp_path)
    space = {
        "c": {"type": "categorical", "choices": ["a", "b"]},
        "n": {"type": "integer", "low": 0, "high": 1},
    }
    strategy = Strategy(n_init=4, init_design="random")  # its 4 points hold a copy
    campaign = Campaign.create("tiny", space, ["y"], strategy=strategy, store_url=url)
    trials = campaign.suggest(4)
    assert len({(t.params["c"], t.params["n"]) for t in trials}) == 4
    before = campaign.all_trials()
    with pytest.raises(StateError, match="no untried point"):
        campaign.suggest(1)
    assert campaign.all_trials() == before
