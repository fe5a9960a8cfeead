"""Crucible's BO-engine sampler: valid cheap proposals, mixed spaces, MO and pending trials."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from crucible.space import Space
from crucible.training.botorch_sampler import CrucibleBoTorchSampler

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


def _run(sampler: optuna.samplers.BaseSampler, n: int, study=None) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = study or optuna.create_study(sampler=sampler)
    dists = SPACE.to_optuna_distributions()
    for _ in range(n):
        trial = study.ask(dists)
        study.tell(trial, _objective(trial.params))
    return study


def test_gp_proposals_are_valid_and_warm_started() -> None:
    sampler = CrucibleBoTorchSampler(SPACE, seed=0, n_startup_trials=3)
    study = _run(sampler, 4)  # 3 random + 1 model-based proposal
    assert sampler.last_info["surrogate"] == "MixedSingleTaskGP"
    assert sampler.last_info["encoding"] == "index"
    trial = study.ask(SPACE.to_optuna_distributions())
    assert SPACE.contains(trial.params)
    study.tell(trial, _objective(trial.params))
    assert sampler.warm_start  # hyperparameters kept for the next, shorter fit


@pytest.mark.slow
def test_gp_proposals_find_the_optimum_better_than_random() -> None:
    bo = [_run(CrucibleBoTorchSampler(SPACE, seed=s, n_startup_trials=6), 20) for s in (1, 2)]
    rand = [_run(optuna.samplers.RandomSampler(seed=s), 20).best_value for s in range(3)]
    assert max(study.best_value for study in bo) < min(0.35, float(np.median(rand)))
    assert all(study.best_params["c"] == "b" for study in bo)


def test_multi_objective_and_pending_points() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = CrucibleBoTorchSampler(SPACE, seed=1, n_startup_trials=3)
    study = optuna.create_study(directions=["minimize", "maximize"], sampler=sampler)
    dists = SPACE.to_optuna_distributions()
    for _ in range(4):
        trial = study.ask(dists)
        study.tell(trial, [_objective(trial.params), trial.params["x"]])
    assert sampler.last_info["acquisition"] == "lognehvi"
    running = study.ask(dists)  # another worker's trial in flight
    proposed = study.ask(dists)
    assert SPACE.contains(proposed.params)
    assert proposed.params != running.params
