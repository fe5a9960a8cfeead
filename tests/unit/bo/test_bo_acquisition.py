"""Tests for crucible.bo.acquisition's incumbent: observed best or the posterior mean's."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crucible.bo.acquisition import AcquisitionContext, make_acquisition
from crucible.bo.surrogates import GPSurrogate


def _rugged(n: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A smooth trend under noise: a GP that smooths cannot reach the best observation."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, 2))
    trend = -((X - 0.4) ** 2).sum(1)
    return X, (trend + 0.1 * rng.standard_normal(n))[:, None]


def _context(
    X: np.ndarray, Y: np.ndarray, slack: np.ndarray, incumbent: str
) -> AcquisitionContext:
    gp = GPSurrogate(kernel="matern", min_noise=1e-3)
    gp.fit(X, np.hstack([Y, slack]))
    return AcquisitionContext(
        model=gp.model,
        X_baseline=torch.as_tensor(X, dtype=torch.float64),
        Y=Y,
        slack=slack,
        incumbent=incumbent,
    )


def test_posterior_mean_incumbent_is_the_models_best_at_the_observations() -> None:
    X, Y = _rugged()
    none = np.zeros((len(X), 0))
    observed = _context(X, Y, none, "observed")
    plug_in = _context(X, Y, none, "posterior_mean")
    with torch.no_grad():
        mean = plug_in.model.posterior(plug_in.X_baseline).mean[:, 0].numpy()
    assert observed.best_f() == pytest.approx(Y.max())
    assert plug_in.best_f() == pytest.approx(mean.max())
    assert plug_in.best_f() < Y.max() - 0.05  # the model smooths the best observation


def test_posterior_mean_incumbent_counts_feasible_observations_only() -> None:
    X, Y = _rugged()
    mean = _context(X, Y, np.zeros((len(X), 0)), "posterior_mean").posterior_mean_at_baseline()
    best = int(np.argmax(mean))
    slack = np.where(np.arange(len(X)) == best, 1.0, -1.0)[:, None]  # the best is infeasible
    ctx = _context(X, Y, slack, "posterior_mean")
    feasible_mean = ctx.posterior_mean_at_baseline()[slack[:, 0] <= 0]
    assert ctx.best_f() == pytest.approx(feasible_mean.max())
    assert ctx.best_f() < ctx.posterior_mean_at_baseline()[best]
    nothing_feasible = _context(X, Y, np.ones((len(X), 1)), "posterior_mean")
    assert nothing_feasible.best_f() == pytest.approx(Y.min())


def test_interpolating_gp_keeps_the_observed_incumbent() -> None:
    rng = np.random.default_rng(1)
    X = rng.random((20, 2))
    Y = -((X - 0.5) ** 2).sum(1, keepdims=True)  # smooth: the GP interpolates
    gp = GPSurrogate(kernel="matern", min_noise=1e-6)
    gp.fit(X, Y)
    ctx = AcquisitionContext(
        model=gp.model,
        X_baseline=torch.as_tensor(X),
        Y=Y,
        slack=np.zeros((20, 0)),
        incumbent="posterior_mean",
    )
    assert ctx.best_f() == pytest.approx(Y.max(), abs=1e-3 * np.ptp(Y))


def test_logei_improves_on_the_plug_in_incumbent() -> None:
    X, Y = _rugged()
    ctx = _context(X, Y, np.zeros((len(X), 0)), "posterior_mean")
    acqf = make_acquisition("logei").build(ctx)
    assert float(acqf.best_f) == pytest.approx(ctx.best_f())
