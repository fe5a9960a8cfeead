"""Tests for crucible.bo.warping and the warp choice in crucible.bo.strategy."""

from __future__ import annotations

import numpy as np
import pytest

from crucible.bo.problems import get_problem
from crucible.bo.strategy import Strategy, fit_warped_surrogate, propose
from crucible.bo.surrogates import GPSurrogate
from crucible.bo.warping import power_warp
from crucible.design import make_design

CHEAP = dict(num_restarts=2, raw_samples=64, acq_maxiter=30, fit_maxiter=50, mc_samples=16)


def _heavy_bad_tail(n: int = 30, seed: int = 0) -> np.ndarray:
    """Maximised values with a long lower tail (like minus Branin)."""
    return -np.exp(np.random.default_rng(seed).normal(size=n) * 1.5)


def test_power_warp_keeps_the_ranking_and_compresses_the_bad_tail() -> None:
    y = _heavy_bad_tail()
    warped = power_warp(y)
    assert warped is not None
    w, _ = warped
    assert np.array_equal(np.argsort(y), np.argsort(w))
    z = (y - y.mean()) / y.std()
    best, worst = np.argmax(y), np.argmin(y)
    # The bad tail gets shorter relative to the spread of the good end.
    assert (w.max() - w.min()) / np.std(w) < (z.max() - z.min()) / np.std(z)
    assert w[worst] - np.median(w) > z[worst] - np.median(z)
    assert w[best] > np.median(w)


def test_power_warp_log_jacobian_matches_finite_differences() -> None:
    y = _heavy_bad_tail(12, seed=3)
    warped = power_warp(y)
    assert warped is not None
    _, log_jacobian = warped
    from scipy import stats

    from crucible.bo.warping import yeo_johnson_exponent

    mean, scale = y.mean(), y.std()
    lmbda = yeo_johnson_exponent((y - mean) / scale)
    h = 1e-6
    slopes = [
        (
            stats.yeojohnson((yi + h - mean) / scale, lmbda)
            - stats.yeojohnson((yi - h - mean) / scale, lmbda)
        )
        / (2 * h)
        for yi in y
    ]
    assert log_jacobian == pytest.approx(float(np.sum(np.log(slopes))), rel=1e-5)


def test_power_warp_leaves_a_good_tail_alone() -> None:
    assert power_warp(-_heavy_bad_tail()) is None  # long upper tail: lambda < 1
    assert power_warp(np.ones(5)) is None
    assert power_warp(np.array([1.0, 2.0])) is None


def test_log_evidence_is_in_the_units_of_the_fitted_values() -> None:
    """Fitting a*y + b gives the same standardised fit, so log p drops by n log a."""
    problem = get_problem("branin")
    points = make_design("sobol", problem.space, 12, seed=0)
    X = problem.space.encode(points, "onehot")
    y = np.array([[problem.evaluator(p)["y"]] for p in points])
    a, b = 7.0, -3.0
    evidences = []
    for values in (y, a * y + b):
        gp = GPSurrogate(fit_maxiter=100, kernel="matern")
        gp.fit(X, values)
        evidences.append(gp.log_evidence(0))
    assert evidences[1] == pytest.approx(evidences[0] - len(y) * np.log(a), abs=1e-3)


def test_auto_warps_branin_and_not_hartmann6() -> None:
    chosen = {}
    for name in ("branin", "hartmann6"):
        problem = get_problem(name)
        points = make_design("sobol", problem.space, 20, seed=1)
        values = [problem.evaluator(p) for p in points]
        X = problem.space.encode(points, "onehot")
        Y = -np.array([[v[problem.objectives[0].name]] for v in values])
        strategy = Strategy(outcome_warp="auto", **CHEAP)
        _, Y_used, chosen[name] = fit_warped_surrogate(
            problem.space, strategy, X, Y, np.empty((len(Y), 0))
        )
        assert np.array_equal(np.argsort(Y_used[:, 0]), np.argsort(Y[:, 0]))
        proposal = propose(problem.space, problem.objectives, [], strategy, points, values, 1)
        assert proposal.info["outcome_warp"] == chosen[name]
    assert chosen == {"branin": "power", "hartmann6": "none"}


def test_auto_reuses_its_stored_choice_between_rechecks() -> None:
    problem = get_problem("branin")
    points = make_design("sobol", problem.space, 20, seed=1)
    values = [problem.evaluator(p) for p in points]
    strategy = Strategy(outcome_warp="auto", **CHEAP)
    first = propose(problem.space, problem.objectives, [], strategy, points, values, 1)
    blob = first.hyperparameters
    assert blob is not None and GPSurrogate.read_tag(blob, "crucible.outcome_warp") == 1
    # 21 observations: not a recheck step, so the stored choice is used even when the
    # blob says otherwise (a recheck would pick "power" for Branin, as above).
    surrogate = GPSurrogate()
    surrogate.fit(
        problem.space.encode(points, "onehot"), np.zeros((20, 1)) + np.arange(20)[:, None]
    )
    surrogate.tags["crucible.outcome_warp"] = 0
    more = [*points, first.points[0]]
    more_values = [*values, problem.evaluator(first.points[0])]
    second = propose(
        problem.space,
        problem.objectives,
        [],
        strategy,
        more,
        more_values,
        1,
        warm_start=surrogate.hyperparameters(),
    )
    assert second.info["outcome_warp"] == "none"


@pytest.mark.parametrize("n_outputs", [1, 2])
def test_log_evidence_matches_gpytorch_marginal_likelihood(n_outputs: int) -> None:
    import torch

    problem = get_problem("branin")
    points = make_design("sobol", problem.space, 10, seed=2)
    X = problem.space.encode(points, "onehot")
    y = np.array([[problem.evaluator(p)["y"]] for p in points])
    Y = np.hstack([y, np.sin(X[:, :1])])[:, :n_outputs]
    gp = GPSurrogate(fit_maxiter=100, kernel="matern")
    gp.fit(X, Y)
    model = gp.model
    model.train()
    with torch.no_grad():
        prior = model.likelihood(model(*model.train_inputs))
        reference = prior.log_prob(model.train_targets).reshape(-1)
    model.eval()
    stdvs = model.outcome_transform.stdvs.reshape(-1)
    for column in range(n_outputs):
        expected = float(reference[column] - len(Y) * torch.log(stdvs[column]))
        assert gp.log_evidence(column) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_grid_exponent_matches_scipys_maximum_likelihood(seed: int) -> None:
    from scipy import stats

    from crucible.bo.warping import yeo_johnson_exponent

    rng = np.random.default_rng(seed)
    for y in (_heavy_bad_tail(40, seed), rng.gamma(2.0, size=50), rng.normal(size=25)):
        z = (y - y.mean()) / y.std()
        _, best = stats.yeojohnson(z)
        assert yeo_johnson_exponent(z) == pytest.approx(best, abs=0.011)
