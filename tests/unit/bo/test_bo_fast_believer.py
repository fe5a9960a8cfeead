"""Kriging-believer pending points: the fast fantasy update equals BoTorch's conditioning.

:meth:`crucible.bo.fast.FastPosterior.condition_on_mean` (a block update of the Cholesky
factor) against BoTorch's ``condition_on_observations`` and ``fantasize`` with the posterior
mean as the fantasy; the believer LogEI against BoTorch's analytic LogEI on the conditioned
model; and the strategy's sequential path (no pending points) unchanged by the option.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crucible.bo.acquisition import AcquisitionContext, make_acquisition
from crucible.bo.fast import FastPosterior, numpy_logei_of
from crucible.bo.problems import get_problem
from crucible.bo.strategy import Strategy, propose
from crucible.bo.surrogates import GPSurrogate
from crucible.design import make_design

analytic = pytest.importorskip("botorch.acquisition.analytic")
logei = pytest.importorskip("botorch.acquisition.logei")
samplers = pytest.importorskip("botorch.sampling.base")


def _fitted(kernel: str = "matern", n: int = 30, d: int = 4, n_outputs: int = 1) -> tuple:
    rng = np.random.default_rng(0)
    X = rng.random((n, d))
    Y = np.column_stack([np.sin(3 * X.sum(1)) + X[:, 1] ** 2, np.cos(4 * X[:, 0])])
    gp = GPSurrogate(kernel=kernel)
    gp.fit(X, Y[:, :n_outputs])
    return gp.model, X, Y[:, :n_outputs]


def _points(n: int, d: int = 4, seed: int = 1) -> torch.Tensor:
    return torch.as_tensor(np.random.default_rng(seed).random((n, d)), dtype=torch.float64)


class _MeanSampler(samplers.MCSampler):
    """One "sample": the posterior mean (what the Kriging believer observes)."""

    def __init__(self) -> None:
        super().__init__(sample_shape=torch.Size([1]))

    def forward(self, posterior: object) -> torch.Tensor:
        return posterior.mean.unsqueeze(0)  # type: ignore[attr-defined]


@pytest.mark.parametrize("kernel", ["matern", "rbf"])
@pytest.mark.parametrize("n_pending", [1, 3])
def test_condition_on_mean_equals_botorch_condition_on_observations(
    kernel: str, n_pending: int
) -> None:
    model, _, _ = _fitted(kernel)
    fast = FastPosterior.from_model(model)
    assert fast is not None
    P = _points(n_pending, seed=2)
    Xt = _points(64, seed=3).unsqueeze(-2)
    with torch.no_grad():
        conditioned = model.condition_on_observations(P, model.posterior(P).mean)
        expected = conditioned.posterior(Xt)
        believer = fast.condition_on_mean(P)
        assert believer is not None
        mean, var = believer.mean_variance(Xt)
        at_pending = believer.mean_variance(P.unsqueeze(-2))[1]
        before = fast.mean_variance(Xt)
    torch.testing.assert_close(mean, expected.mean, rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(var, expected.variance, rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(mean, before[0], rtol=1e-10, atol=1e-10)  # mean unchanged
    assert bool((var <= before[1] + 1e-12).all()) and float(var.min()) < float(before[1].min())
    assert float(at_pending.max()) < 1e-2 * float(before[1].max())  # ~ noise at P
    assert believer.L.shape[-1] == fast.L.shape[-1] + n_pending
    assert fast.L.shape[-1] == fast.train_X.shape[-2]  # the original is left alone


def test_condition_on_mean_equals_botorch_fantasize_with_the_mean() -> None:
    model, _, _ = _fitted("matern")
    fast = FastPosterior.from_model(model)
    assert fast is not None
    P = _points(2, seed=4)
    Xt = _points(32, seed=5).unsqueeze(-2)
    with torch.no_grad():
        fantasy = model.fantasize(P, sampler=_MeanSampler())
        expected = fantasy.posterior(Xt)
        believer = fast.condition_on_mean(P)
        assert believer is not None
        mean, var = believer.mean_variance(Xt)
    # the fantasy model has a batch of one fantasy; the same shape once broadcast
    torch.testing.assert_close(mean, expected.mean.reshape(mean.shape), rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(var, expected.variance.reshape(var.shape), rtol=1e-8, atol=1e-10)


def test_condition_on_mean_of_a_batched_two_output_model() -> None:
    model, _, _ = _fitted("matern", n_outputs=2)
    fast = FastPosterior.from_model(model)
    assert fast is not None
    P = _points(2, seed=6)
    Xt = _points(16, seed=7).unsqueeze(-2)
    with torch.no_grad():
        expected = model.condition_on_observations(P, model.posterior(P).mean).posterior(Xt)
        believer = fast.condition_on_mean(P)
        assert believer is not None
        mean, var = believer.mean_variance(Xt)
    torch.testing.assert_close(mean, expected.mean, rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(var, expected.variance, rtol=1e-8, atol=1e-10)


def test_condition_on_mean_of_a_mixed_categorical_model_with_a_pinned_mean() -> None:
    rng = np.random.default_rng(3)
    X = np.column_stack([rng.random((30, 3)), rng.integers(0, 3, 30)])
    y = np.sin(3 * X[:, :3].sum(1)) + 0.5 * X[:, 3]
    gp = GPSurrogate(cat_dims=[3], pessimistic_outputs=1)
    gp.fit(X, y[:, None])
    fast = FastPosterior.from_model(gp.model)
    assert fast is not None
    P = torch.as_tensor(np.column_stack([rng.random((2, 3)), [0.0, 2.0]]))
    Xt = torch.as_tensor(np.column_stack([rng.random((16, 3)), rng.integers(0, 3, 16)]))
    with torch.no_grad():
        model = gp.model
        expected = model.condition_on_observations(P, model.posterior(P).mean)
        believer = fast.condition_on_mean(P)
        assert believer is not None
        mean, var = believer.mean_variance(Xt.unsqueeze(-2))
        reference = expected.posterior(Xt.unsqueeze(-2))
    torch.testing.assert_close(mean, reference.mean, rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(var, reference.variance, rtol=1e-8, atol=1e-10)


def _context(model: object, X: np.ndarray, Y: np.ndarray, **kwargs: object) -> AcquisitionContext:
    return AcquisitionContext(
        model=model,
        X_baseline=torch.as_tensor(X, dtype=torch.float64),
        Y=Y,
        slack=np.zeros((len(X), 0)),
        incumbent="posterior_mean",
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("kernel", ["matern", "rbf"])
def test_believer_logei_equals_botorch_logei_on_the_conditioned_model(kernel: str) -> None:
    model, X, Y = _fitted(kernel)
    P = _points(3, seed=8)
    ctx = _context(model, X, Y, X_pending=P, pending_points="believer")
    acqf = make_acquisition("logei").build(ctx)
    assert type(acqf) is analytic.LogExpectedImprovement
    evaluator = numpy_logei_of(acqf)
    assert evaluator is not None and evaluator.gp.X.shape[0] == len(X) + 3
    with torch.no_grad():
        pending_mean = float(model.posterior(P).mean.max())
        conditioned = model.condition_on_observations(P, model.posterior(P).mean)
    best_f = max(ctx.best_f(), pending_mean)
    assert float(acqf.best_f) == pytest.approx(best_f, rel=1e-12)
    reference = analytic.LogExpectedImprovement(conditioned, best_f=best_f)
    Xt = _points(64, seed=9)
    with torch.no_grad():
        expected = reference(Xt.unsqueeze(-2)).numpy()
        torch_path = acqf(Xt.unsqueeze(-2)).numpy()
    np.testing.assert_allclose(evaluator(Xt.numpy(), grad=False)[0], expected, rtol=1e-7)
    np.testing.assert_allclose(torch_path, expected, rtol=1e-7)


def test_mc_option_and_unsupported_cases_keep_monte_carlo_qlogei() -> None:
    model, X, Y = _fitted("matern")
    P = _points(2, seed=10)
    mc = make_acquisition("logei").build(_context(model, X, Y, X_pending=P, pending_points="mc"))
    assert type(mc) is logei.qLogExpectedImprovement
    slow = _context(model, X, Y, X_pending=P, pending_points="believer", fast_posterior=False)
    assert type(make_acquisition("logei").build(slow)) is logei.qLogExpectedImprovement
    two, X2, Y2 = _fitted("matern", n_outputs=2)  # an objective and a constraint slack
    constrained = AcquisitionContext(
        model=two,
        X_baseline=torch.as_tensor(X2),
        Y=Y2[:, :1],
        slack=Y2[:, 1:],
        X_pending=P,
        pending_points="believer",
    )
    assert type(make_acquisition("logei").build(constrained)) is logei.qLogExpectedImprovement


@pytest.mark.parametrize("name", ["branin", "hartmann6"])
def test_sequential_proposals_do_not_depend_on_the_pending_option(name: str) -> None:
    problem = get_problem(name)
    points = make_design("sobol", problem.space, 10, seed=0)
    values = [problem.evaluator(p) for p in points]
    cheap = dict(num_restarts=2, raw_samples=64, acq_maxiter=30, fit_maxiter=50)
    out = [
        propose(
            problem.space,
            problem.objectives,
            [],
            Strategy(pending_points=option, **cheap),  # type: ignore[arg-type]
            points,
            values,
            1,
            seed=3,
        )
        for option in ("believer", "mc")
    ]
    assert out[0].points == out[1].points
    assert out[0].info["acquisition"] == "logei"


def test_believer_batch_proposals_are_distinct_and_in_the_space() -> None:
    problem = get_problem("branin")
    points = make_design("sobol", problem.space, 8, seed=0)
    values = [problem.evaluator(p) for p in points]
    strategy = Strategy(num_restarts=2, raw_samples=64, acq_maxiter=30, fit_maxiter=50)
    pending = [{"x1": 0.5, "x2": 2.0}, {"x1": -3.0, "x2": 12.0}]
    proposal = propose(
        problem.space, problem.objectives, [], strategy, points, values, 4, pending=pending
    )
    assert len({tuple(sorted(p.items())) for p in proposal.points}) == 4
    for p in proposal.points:
        problem.space.validate_point(p)
        assert p not in points and p not in pending
