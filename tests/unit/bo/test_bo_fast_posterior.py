"""Tests for crucible.bo.fast.posterior: the fast posterior equals BoTorch's, where it is used."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crucible.bo.acquisition import AcquisitionContext, make_acquisition
from crucible.bo.fast import FastPosterior, accelerate
from crucible.bo.surrogates import GPSurrogate

analytic = pytest.importorskip("botorch.acquisition.analytic")


def _data(n: int = 40, d: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.random((n, d))
    y0 = np.sin(3 * X.sum(1)) + X[:, 1] ** 2
    y1 = np.cos(4 * X[:, 0]) * X[:, 2] - 0.2  # a constraint slack
    return X, np.column_stack([y0, y1])


def _test_points(d: int, n: int = 64, seed: int = 1) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.as_tensor(rng.random((n, 1, d)), dtype=torch.float64)


def _value_and_grad(acqf: object, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    X = X.clone().requires_grad_(True)
    value = acqf(X)  # type: ignore[operator]
    (grad,) = torch.autograd.grad(value.sum(), X)
    return value.detach(), grad


@pytest.mark.parametrize("kernel", ["matern", "rbf"])
@pytest.mark.parametrize("n_outputs", [1, 2])
def test_mean_and_variance_equal_botorch_posterior(kernel: str, n_outputs: int) -> None:
    X, Y = _data()
    gp = GPSurrogate(kernel=kernel)
    gp.fit(X, Y[:, :n_outputs])
    fast = FastPosterior.from_model(gp.model)
    assert fast is not None
    Xt = _test_points(X.shape[1])
    with torch.no_grad():
        post = gp.model.posterior(Xt)
        mean, var = fast.mean_variance(Xt)
    assert mean.shape == post.mean.shape == (64, 1, n_outputs)
    torch.testing.assert_close(mean, post.mean, rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(var, post.variance, rtol=1e-8, atol=1e-10)
    # at the training inputs too (variance ~ noise floor)
    Xtr = torch.as_tensor(X[:5, None, :])
    with torch.no_grad():
        torch.testing.assert_close(
            fast.mean_variance(Xtr)[0], gp.model.posterior(Xtr).mean, rtol=1e-8, atol=1e-8
        )


@pytest.mark.parametrize("kernel", ["matern", "rbf"])
@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        ("LogExpectedImprovement", {"best_f": 0.7311}),
        ("UpperConfidenceBound", {"beta": 2.0}),
        ("LogProbabilityOfImprovement", {"best_f": 0.7311}),
    ],
)
def test_accelerated_acquisition_values_and_gradients(
    kernel: str, cls: str, kwargs: dict[str, float]
) -> None:
    X, Y = _data()
    gp = GPSurrogate(kernel=kernel)
    gp.fit(X, Y[:, :1])
    reference = getattr(analytic, cls)(gp.model, **kwargs)
    fast = accelerate(getattr(analytic, cls)(gp.model, **kwargs))
    assert getattr(fast, "fast_posterior", None) is not None
    Xt = _test_points(X.shape[1])
    v_ref, g_ref = _value_and_grad(reference, Xt)
    v_fast, g_fast = _value_and_grad(fast, Xt)
    torch.testing.assert_close(v_fast, v_ref, rtol=1e-8, atol=1e-8)
    torch.testing.assert_close(g_fast, g_ref, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
    ("noise_prior", "grad_rtol", "grad_atol"),
    # gamma lets the noise reach the 1e-6 floor: K is then ill-conditioned and the two
    # Cholesky paths' gradients agree to ~1e-4 relative (values still to 1e-8)
    [("lognormal", 1e-6, 1e-7), ("gamma", 1e-3, 1e-6)],
)
def test_constrained_logei_and_mixed_gp(
    noise_prior: str, grad_rtol: float, grad_atol: float
) -> None:
    X, Y = _data()
    gp = GPSurrogate(kernel="matern", noise_prior=noise_prior)  # type: ignore[arg-type]
    gp.fit(X, Y)
    make = lambda: analytic.LogConstrainedExpectedImprovement(  # noqa: E731
        gp.model, best_f=0.7311, objective_index=0, constraints={1: (None, 0.0)}
    )
    Xt = _test_points(X.shape[1])
    v_ref, g_ref = _value_and_grad(make(), Xt)
    v_fast, g_fast = _value_and_grad(accelerate(make()), Xt)
    torch.testing.assert_close(v_fast, v_ref, rtol=1e-8, atol=1e-8)
    torch.testing.assert_close(g_fast, g_ref, rtol=grad_rtol, atol=grad_atol)

    rng = np.random.default_rng(3)
    Xc = np.column_stack([X, rng.integers(0, 3, len(X))])
    mixed = GPSurrogate(cat_dims=[4], noise_prior=noise_prior)  # type: ignore[arg-type]
    mixed.fit(Xc, Y[:, :1] + Xc[:, 4:])
    assert type(mixed.model).__name__ == "MixedSingleTaskGP"
    Xt = torch.as_tensor(
        np.column_stack([rng.random((64, 4)), rng.integers(0, 3, 64)])[:, None, :]
    )
    reference = analytic.LogExpectedImprovement(mixed.model, best_f=1.3)
    fast = accelerate(analytic.LogExpectedImprovement(mixed.model, best_f=1.3))
    assert getattr(fast, "fast_posterior", None) is not None
    v_ref, g_ref = _value_and_grad(reference, Xt)
    v_fast, g_fast = _value_and_grad(fast, Xt)
    torch.testing.assert_close(v_fast, v_ref, rtol=1e-8, atol=1e-8)
    torch.testing.assert_close(g_fast[..., :4], g_ref[..., :4], rtol=grad_rtol, atol=grad_atol)


def test_fast_path_only_for_analytic_acquisitions() -> None:
    X, Y = _data()
    gp = GPSurrogate()
    gp.fit(X, Y[:, :1])
    base = {
        "model": gp.model,
        "X_baseline": torch.as_tensor(X),
        "Y": Y[:, :1],
        "slack": np.zeros((len(X), 0)),
    }
    assert hasattr(make_acquisition("logei").build(AcquisitionContext(**base)), "fast_posterior")
    off = AcquisitionContext(**base, fast_posterior=False)
    assert not hasattr(make_acquisition("logei").build(off), "fast_posterior")
    pending = AcquisitionContext(**base, X_pending=torch.as_tensor(X[:1]))
    assert not hasattr(make_acquisition("logei").build(pending), "fast_posterior")
    mc = make_acquisition("lognei").build(AcquisitionContext(**base))
    assert not hasattr(mc, "fast_posterior")


def test_unsupported_models_fall_back() -> None:
    X, Y = _data()
    gp = GPSurrogate()
    gp.fit(X, Y[:, :1])
    gp.model.train()
    assert FastPosterior.from_model(gp.model) is None  # training mode
    gp.model.eval()
    assert FastPosterior.from_model(gp.model) is not None
    assert FastPosterior.from_model(object()) is None


@pytest.mark.parametrize(
    ("kernel", "categorical", "n_outputs"),
    [("matern", False, 1), ("rbf", False, 1), ("rbf", True, 1), ("matern", False, 2)],
)
def test_mll_loss_equals_botorch_loss_and_gradients(
    kernel: str, categorical: bool, n_outputs: int
) -> None:
    gpytorch = pytest.importorskip("gpytorch")
    closures = pytest.importorskip("botorch.optim.closures")
    optim_utils = pytest.importorskip("botorch.optim.utils")
    from crucible.bo.fast import mll_loss

    X, Y = _data()
    cat_dims: list[int] = []
    if categorical:
        X = np.column_stack([X, np.random.default_rng(5).integers(0, 3, len(X))])
        cat_dims = [X.shape[1] - 1]
    gp = GPSurrogate(kernel=kernel, cat_dims=cat_dims)
    gp.fit(X, Y[:, :n_outputs])
    model = gp.model
    model.train()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # away from the optimum, signs kept (bounds)
        for name, p in model.named_parameters():
            if "noise" not in name:
                p.mul_(torch.exp(0.3 * torch.randn(p.shape, generator=generator, dtype=p.dtype)))
    mll = gpytorch.mlls.ExactMarginalLogLikelihood(model.likelihood, model)
    params, _ = optim_utils.get_parameters_and_bounds(mll)
    params = {k: p for k, p in params.items() if p.requires_grad}
    reference = closures.get_loss_closure(mll)()
    loss_ref, grads_ref = closures.get_loss_closure_with_grads(mll, parameters=params)()
    grads_ref = [g.clone() for g in grads_ref]
    loss = mll_loss(mll)
    assert loss is not None
    assert loss().shape == reference.shape == ((2,) if n_outputs == 2 else ())
    torch.testing.assert_close(loss(), reference, rtol=1e-10, atol=1e-10)
    mll.compute_custom_loss = loss  # what GPSurrogate.fit does
    assert closures.get_loss_closure(mll) is loss
    fast_loss, grads = closures.get_loss_closure_with_grads(mll, parameters=params)()
    torch.testing.assert_close(fast_loss, loss_ref, rtol=1e-10, atol=1e-10)
    for g, g_ref in zip(grads, grads_ref, strict=True):
        torch.testing.assert_close(g, g_ref, rtol=1e-8, atol=1e-10)
