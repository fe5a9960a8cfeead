"""Tests for crucible.bo.fast.mll: the NumPy MLL closure equals BoTorch's default closure."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crucible.bo.fast import mll as fastmll
from crucible.bo.surrogates import GPSurrogate, pin_pessimistic_mean

gpytorch = pytest.importorskip("gpytorch")
closures = pytest.importorskip("botorch.optim.closures")
optim_utils = pytest.importorskip("botorch.optim.utils")


def _data(n: int = 40, d: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.random((n, d))
    y = np.sin(3 * X.sum(1)) + X[:, 1] ** 2 + 0.05 * rng.standard_normal(n)
    return X, y[:, None]


def _mll(kernel: str, noise_prior: str, pinned: int, seed: int = 0) -> object:
    """An MLL in training mode with hyperparameters away from their defaults."""
    X, Y = _data(seed=seed)
    model = GPSurrogate(kernel=kernel, noise_prior=noise_prior)._build(X, Y)
    pin_pessimistic_mean(model, pinned)
    rng = np.random.default_rng(seed + 1)
    with torch.no_grad():
        raw = model.covar_module.raw_lengthscale
        raw.copy_(torch.as_tensor(rng.uniform(0.05, 2.0, size=raw.shape)))
        model.likelihood.noise_covar.raw_noise.fill_(0.01)
    model.train()
    return gpytorch.mlls.ExactMarginalLogLikelihood(model.likelihood, model)


def _free_parameters(mll: object) -> dict[str, torch.Tensor]:
    parameters = optim_utils.get_parameters_and_bounds(mll)[0]
    return {name: p for name, p in parameters.items() if p.requires_grad}


@pytest.mark.parametrize("kernel", ["matern", "rbf"])
@pytest.mark.parametrize("noise_prior", ["gamma", "lognormal"])
@pytest.mark.parametrize("pinned", [0, 1])
def test_loss_and_gradients_equal_botorch_closure(
    kernel: str, noise_prior: str, pinned: int
) -> None:
    mll = _mll(kernel, noise_prior, pinned)
    reference = closures.get_loss_closure_with_grads(mll, parameters=_free_parameters(mll))
    fast = fastmll.numpy_closure(mll)
    assert fast is not None
    loss, grads = reference()
    fast_loss, fast_grads = fast()
    torch.testing.assert_close(fast_loss, loss.detach(), rtol=1e-8, atol=0)
    assert len(fast_grads) == len(grads)
    for got, expected in zip(fast_grads, grads, strict=True):
        assert got.shape == expected.shape
        torch.testing.assert_close(got, expected, rtol=1e-7, atol=1e-10)
    if pinned:  # the pinned constant's gradient is masked in both
        constant = list(_free_parameters(mll)).index("model.mean_module.raw_constant")
        assert float(fast_grads[constant].abs().max()) == 0.0


def test_fit_reaches_the_same_optimum_as_the_torch_closure() -> None:
    X, Y = _data(n=30, d=3, seed=3)
    fast, slow = GPSurrogate(kernel="matern"), GPSurrogate(kernel="matern", fast=False)
    fast.fit(X, Y)
    slow.fit(X, Y)
    torch.testing.assert_close(
        fast.model.covar_module.lengthscale,
        slow.model.covar_module.lengthscale,
        rtol=2e-3,
        atol=0,
    )
    Xt = np.random.default_rng(4).random((20, 3))
    np.testing.assert_allclose(fast.predict(Xt)[0], slow.predict(Xt)[0], rtol=1e-3, atol=1e-4)


def test_unsupported_models_keep_the_torch_path() -> None:
    X, Y = _data()
    two_outputs = GPSurrogate()._build(X, np.hstack([Y, -Y]))
    categorical = GPSurrogate(cat_dims=[4])._build(
        np.column_stack([X[:, :4], np.arange(len(X)) % 3]), Y
    )
    for model in (two_outputs, categorical):
        mll = gpytorch.mlls.ExactMarginalLogLikelihood(model.likelihood, model)
        assert fastmll.numpy_closure(mll) is None


def test_not_positive_definite_is_reported_for_the_fallback() -> None:
    X, Y = _data(n=10, d=2)
    mll = _mll("rbf", "gamma", 0)
    spec = fastmll._spec(mll)
    assert spec is not None
    D2 = ((X[:, None, :] - X[None, :, :]) ** 2).reshape(100, -1)
    values = {"lengthscale": np.array([0.5, 0.5]), "noise": np.array([-5.0])}
    assert fastmll._loss_and_grads(spec, D2, Y[:, 0], values, True) is None


def _batched_mll(pinned: int = 0) -> object:
    X, Y = _data(n=35, d=4, seed=5)
    Y = np.hstack([Y, np.cos(4 * X[:, :1]) * X[:, 1:2], X[:, 2:3] - 0.4])  # three outputs
    model = GPSurrogate()._build(X, Y)
    pin_pessimistic_mean(model, pinned)
    model.train()
    return gpytorch.mlls.ExactMarginalLogLikelihood(model.likelihood, model)


@pytest.mark.parametrize("pinned", [0, 2])
def test_batched_losses_and_gradients_equal_botorchs_batched_closure(pinned: int) -> None:
    mll = _batched_mll(pinned)
    spec = fastmll._spec(mll)
    assert spec is not None
    loss = fastmll._BatchedLoss(mll, spec)
    rng = np.random.default_rng(9)
    x = loss.fallback.state
    draws = {"lengthscale": (0.1, 2.0), "noise": (1e-4, 0.05), "constant": (-0.5, 0.5)}
    for role, start, size in loss.layout:  # raw = value for lengthscale and noise
        x[:, start : start + size] = rng.uniform(*draws[role], size=(len(x), size))
    for batch in (None, np.array([0, 2])):
        rows = x if batch is None else x[batch]
        values, grads = loss(rows.copy(), batch)
        expected_values, expected_grads = loss.fallback(rows.copy(), batch)
        np.testing.assert_allclose(values, expected_values, rtol=1e-8, atol=1e-8)
        np.testing.assert_allclose(grads, expected_grads, rtol=1e-7, atol=1e-8)
    if pinned:  # the pinned constants' gradients are zero in both
        (column,) = [start for role, start, _ in loss.layout if role == "constant"]
        assert not grads[0, column] and not expected_grads[0, column]


@pytest.mark.parametrize("pinned", [0, 2])
def test_batched_numpy_fit_matches_botorchs_independent_fit(pinned: int) -> None:
    """At least BoTorch's optimum (same driver and options); pinned means stay put."""
    fit = pytest.importorskip("botorch.optim.fit")
    ours, theirs = _batched_mll(pinned), _batched_mll(pinned)
    pinned_before = ours.model.mean_module.constant.detach().clone()[:pinned]
    optimizer = fastmll.numpy_batched_optimizer(ours)
    assert optimizer is not None
    result = optimizer(ours, options={"maxiter": 200})
    their_result = fit.fit_gpytorch_mll_scipy(theirs, options={"maxiter": 200})
    assert result.fval <= their_result.fval + 1e-3 * abs(their_result.fval)
    with torch.no_grad():  # the reported loss is BoTorch's per-output loss, summed
        assert result.fval == pytest.approx(float(closures.get_loss_closure(ours)().sum()))
    torch.testing.assert_close(
        ours.model.mean_module.constant.detach()[:pinned], pinned_before, rtol=0, atol=0
    )
    Xt = torch.as_tensor(np.random.default_rng(8).random((20, 4)))
    ours.model.eval()
    theirs.model.eval()
    with torch.no_grad():
        torch.testing.assert_close(
            ours.model.posterior(Xt).mean, theirs.model.posterior(Xt).mean, rtol=0, atol=0.02
        )


def test_batched_optimizer_only_for_supported_multi_output_models() -> None:
    X, Y = _data()
    single = GPSurrogate()._build(X, Y)
    categorical = GPSurrogate(cat_dims=[4])._build(
        np.column_stack([X[:, :4], np.arange(len(X)) % 3]), np.hstack([Y, -Y])
    )
    for model in (single, categorical):
        mll = gpytorch.mlls.ExactMarginalLogLikelihood(model.likelihood, model)
        assert fastmll.numpy_batched_optimizer(mll) is None
    assert fastmll.numpy_closure(_batched_mll()) is None  # one output at a time only


def test_surrogate_fits_several_outputs_in_numpy() -> None:
    """GPSurrogate's default fit of several outputs takes the NumPy batched optimizer."""
    X, Y = _data(n=30, d=3, seed=6)
    Y = np.hstack([Y, X[:, :1] ** 2])
    calls = []
    original = fastmll._fit_batched

    def spy(*args: object) -> object:
        calls.append(1)
        return original(*args)  # type: ignore[arg-type]

    fastmll._fit_batched = spy  # type: ignore[assignment]
    try:
        fast = GPSurrogate()
        fast.fit(X, Y)
    finally:
        fastmll._fit_batched = original  # type: ignore[assignment]
    assert calls
    slow = GPSurrogate(fast=False)
    slow.fit(X, Y)
    Xt = np.random.default_rng(7).random((20, 3))
    np.testing.assert_allclose(fast.predict(Xt)[0], slow.predict(Xt)[0], rtol=1e-3, atol=1e-4)
