"""Crucible's BoTorch sampler: finds a known optimum, handles mixed spaces, MO and pending."""

from __future__ import annotations

import time

import numpy as np
import optuna
import pytest

from crucible.space import Space
from crucible.training.botorch_sampler import CrucibleBoTorchSampler, propose

SPACE = Space.from_dict(
    {
        "x": {"type": "continuous", "low": -2.0, "high": 2.0},
        "y": {"type": "continuous", "low": 0.01, "high": 10.0, "log": True},
        "k": {"type": "integer", "low": 0, "high": 10, "step": 2},
        "c": {"type": "categorical", "choices": ["a", "b", "c"]},
    }
)


def _objective(p: dict) -> float:  # minimum 0 at x=0.5, y=1, k=4, c="b"
    return (p["x"] - 0.5) ** 2 + np.log10(p["y"]) ** 2 + (p["k"] - 4) ** 2 / 25 + (p["c"] != "b")


def _run(sampler: optuna.samplers.BaseSampler, n: int) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=sampler)
    dists = SPACE.to_optuna_distributions()
    for _ in range(n):
        trial = study.ask(dists)
        study.tell(trial, _objective(trial.params))
    return study


def test_gp_proposals_are_valid_and_cheap() -> None:
    sampler = CrucibleBoTorchSampler(SPACE, seed=0, n_startup_trials=4)
    study = _run(sampler, 5)  # 4 random + 1 GP proposal (pays the BoTorch import)
    start = time.perf_counter()
    for _ in range(2):
        trial = study.ask(SPACE.to_optuna_distributions())
        assert SPACE.contains(trial.params)
        study.tell(trial, _objective(trial.params))
    assert (time.perf_counter() - start) / 2 < 2.9  # optuna_integration: ~2.9 s per trial
    assert sampler._warm_state  # hyperparameters kept for the next, shorter fit


@pytest.mark.slow
def test_gp_proposals_find_the_optimum_faster_than_random() -> None:
    start = time.perf_counter()
    bo = _run(CrucibleBoTorchSampler(SPACE, seed=0, n_startup_trials=6), 20)
    per_bo_trial = (time.perf_counter() - start) / 14
    rand = [_run(optuna.samplers.RandomSampler(seed=s), 20).best_value for s in range(3)]
    assert bo.best_value < 0.35
    assert bo.best_value < float(np.median(rand))
    assert per_bo_trial < 2.9  # optuna_integration.BoTorchSampler: ~2.9 s per trial here
    assert bo.best_params["c"] == "b"


def test_multi_objective_parego_and_pending_points() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = CrucibleBoTorchSampler(SPACE, seed=1, n_startup_trials=4)
    study = optuna.create_study(directions=["minimize", "maximize"], sampler=sampler)
    dists = SPACE.to_optuna_distributions()
    for _ in range(6):
        trial = study.ask(dists)
        study.tell(trial, [_objective(trial.params), trial.params["x"]])
    running = study.ask(dists)  # another worker's trial in flight
    proposed = study.ask(dists)
    assert set(proposed.params) == set(dists)
    assert proposed.params != running.params
    assert SPACE.contains({**proposed.params})


@pytest.mark.parametrize("pending", [None, np.array([[0.5, 0.5]])])
def test_propose_returns_a_point_in_the_unit_cube(pending) -> None:
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(8, 2))
    y = -((X - 0.3) ** 2).sum(axis=1)
    candidate = propose(X, y, pending, seed=0)
    assert candidate.shape == (2,) and np.all((candidate >= 0) & (candidate <= 1))
