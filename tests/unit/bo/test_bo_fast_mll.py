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
