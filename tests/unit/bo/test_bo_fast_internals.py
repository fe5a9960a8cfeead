"""The fence of crucible.bo.fast: BoTorch/GPyTorch internals it relies on, and its bounds.

These tests fail, loudly, when an upgrade changes what the fast paths rely on: a
signature (:data:`~crucible.bo.fast.support.INTERNALS`), a behaviour (below), or a version
outside the checked releases. docs/bo.md ("Upgrading BoTorch or GPyTorch") says what to
run and compare before widening the bounds.
"""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest
import torch

from crucible.bo.fast import accelerate, maximize_batched, model_support
from crucible.bo.fast.support import (
    CHECKED_VERSIONS,
    INTERNALS,
    Support,
    internals_problems,
    verify_internals,
)
from crucible.bo.surrogates import GPSurrogate
from crucible.exceptions import DependencyVersionError

analytic = pytest.importorskip("botorch.acquisition.analytic")
gpytorch = pytest.importorskip("gpytorch")

PYPROJECT = Path(__file__).resolve().parents[3] / "pyproject.toml"


def _fitted(n_outputs: int = 1) -> GPSurrogate:
    rng = np.random.default_rng(0)
    X = rng.random((20, 3))
    Y = np.column_stack([np.sin(3 * X.sum(1)), X[:, 0] - 0.5])[:, :n_outputs]
    gp = GPSurrogate(kernel="matern")
    gp.fit(X, Y)
    return gp


def test_internal_signatures_are_the_checked_ones() -> None:
    assert internals_problems() == []


def test_a_changed_signature_raises_and_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    def changed(x: object, compute_sigma: bool = True) -> None:  # min_var dropped
        raise AssertionError("not called")

    monkeypatch.setattr(analytic.AnalyticAcquisitionFunction, "_mean_and_sigma", changed)
    verify_internals.cache_clear()
    try:
        assert any("_mean_and_sigma" in p for p in internals_problems())
        with pytest.raises(DependencyVersionError, match="fast_posterior=False"):
            model_support(object())
    finally:
        monkeypatch.undo()
        verify_internals.cache_clear()
    assert model_support(object()) == Support()


@pytest.mark.parametrize("package", sorted(CHECKED_VERSIONS))
def test_installed_release_is_the_checked_one_and_bounded(package: str) -> None:
    major, minor = CHECKED_VERSIONS[package].split(".")
    assert version(package).split(".")[:2] == [major, minor], (
        f"{package} {version(package)} is installed but the fast paths were checked against "
        f"{CHECKED_VERSIONS[package]}: follow docs/bo.md ('Upgrading BoTorch or GPyTorch')"
    )
    extras = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]
    specs = [s for deps in extras.values() for s in deps if re.match(rf"{package}\b", s)]
    assert specs, f"{package} is not a dependency in pyproject.toml"
    for spec in specs:
        assert f"<{major}.{int(minor) + 1}" in spec, f"{spec!r} lacks the upper bound"


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        ("LogExpectedImprovement", {"best_f": 0.5}),
        ("UpperConfidenceBound", {"beta": 2.0}),
        ("LogProbabilityOfImprovement", {"best_f": 0.5}),
    ],
)
def test_analytic_acquisitions_evaluate_through_mean_and_sigma(cls: str, kwargs: dict) -> None:
    """accelerate() replaces _mean_and_sigma: BoTorch's forward must still call it."""
    acqf = getattr(analytic, cls)(_fitted().model, **kwargs)
    calls: list[int] = []
    original = acqf._mean_and_sigma

    def counted(X: torch.Tensor, compute_sigma: bool = True, min_var: float = 1e-12) -> tuple:
        calls.append(X.shape[0])
        return original(X, compute_sigma=compute_sigma, min_var=min_var)

    acqf._mean_and_sigma = counted
    acqf(torch.rand(5, 1, 3, dtype=torch.float64))
    assert calls == [5]


def test_constrained_logei_evaluates_through_mean_and_sigma() -> None:
    model = _fitted(n_outputs=2).model
    acqf = analytic.LogConstrainedExpectedImprovement(
        model, best_f=0.5, objective_index=0, constraints={1: (None, 0.0)}
    )
    fast = accelerate(acqf)
    assert fast.fast_posterior is not None
    X = torch.rand(4, 1, 3, dtype=torch.float64)
    with torch.no_grad():
        reference = analytic.LogConstrainedExpectedImprovement(
            model, best_f=0.5, objective_index=0, constraints={1: (None, 0.0)}
        )(X)
        torch.testing.assert_close(fast(X), reference, rtol=1e-8, atol=1e-10)


def test_log_ei_helper_takes_and_returns_a_tensor() -> None:
    u = torch.linspace(-5, 5, 11, dtype=torch.float64)
    out = analytic._log_ei_helper(u)
    assert out.shape == u.shape and out.dtype == torch.float64


def test_batched_lbfgsb_minimises_each_start_and_passes_batch_indices() -> None:
    lbfgsb = pytest.importorskip("botorch.optim.batched_lbfgs_b")
    targets = np.array([[0.2, 0.7], [0.9, 0.1], [0.5, 0.5]])
    seen: list[list[int]] = []

    def func(x: np.ndarray, batch_indices: list[int] | None = None) -> tuple:
        assert batch_indices is not None
        seen.append(list(batch_indices))
        x = x.reshape(len(batch_indices), 2)
        diff = x - targets[batch_indices]
        return (diff**2).sum(1), 2 * diff

    xs, values, info = lbfgsb.fmin_l_bfgs_b_batched(
        func=func, x0=np.zeros((3, 2)), bounds=[(0.0, 1.0)] * 2, maxiter=50,
        pass_batch_indices=True,
    )  # fmt: skip
    np.testing.assert_allclose(np.asarray(xs).reshape(3, 2), targets, atol=1e-6)
    assert seen[0] == [0, 1, 2]
    assert len(np.asarray(values).reshape(-1)) == 3 and len(info) == 3


def test_maximize_batched_keeps_fixed_columns() -> None:
    def concave(x: np.ndarray, grad: bool = True) -> tuple:
        value = -((x - 0.3) ** 2).sum(1)
        return value, (-2 * (x - 0.3) if grad else None)

    starts = np.array([[0.9, 0.0], [0.1, 1.0]])
    xs, values = maximize_batched(concave, starts, np.zeros(2), np.ones(2), [1], maxiter=50)
    np.testing.assert_allclose(xs[:, 0], [0.3, 0.3], atol=1e-6)
    np.testing.assert_array_equal(xs[:, 1], starts[:, 1])
    np.testing.assert_allclose(values, concave(xs, grad=False)[0])


def test_get_loss_closure_returns_compute_custom_loss() -> None:
    closures = pytest.importorskip("botorch.optim.closures")
    model = _fitted().model
    mll = gpytorch.mlls.ExactMarginalLogLikelihood(model.likelihood, model)

    def custom() -> torch.Tensor:
        return torch.tensor(42.0)

    mll.compute_custom_loss = custom
    assert closures.get_loss_closure(mll) is custom


def test_fit_gpytorch_mll_uses_the_given_closure() -> None:
    botorch = pytest.importorskip("botorch")
    closures = pytest.importorskip("botorch.optim.closures")
    optim_utils = pytest.importorskip("botorch.optim.utils")
    model = _fitted().model
    model.train()
    mll = gpytorch.mlls.ExactMarginalLogLikelihood(model.likelihood, model)
    params = {
        k: p for k, p in optim_utils.get_parameters_and_bounds(mll)[0].items() if p.requires_grad
    }
    inner = closures.get_loss_closure_with_grads(mll, parameters=params)
    calls = []

    def closure() -> tuple:
        calls.append(1)
        return inner()

    botorch.fit.fit_gpytorch_mll(
        mll, closure=closure, optimizer_kwargs={"options": {"maxiter": 3}}
    )
    assert calls


def test_named_priors_yield_five_tuples_and_constraints_expose_transform() -> None:
    model = _fitted().model
    entries = list(model.named_priors())
    assert entries and all(len(entry) == 5 for entry in entries)
    name, module, prior, closure, _ = entries[0]
    assert isinstance(name, str) and isinstance(prior, gpytorch.priors.Prior)
    assert torch.is_tensor(closure(module))
    plain = gpytorch.constraints.GreaterThan(1e-4, transform=None)
    assert plain._transform is None
    assert isinstance(gpytorch.constraints.GreaterThan(1e-4)._transform, torch.nn.Softplus)


def test_default_gp_gets_every_fast_path() -> None:
    """Crucible's default GP: a silent loss of a fast path would show here."""
    single = model_support(_fitted().model)
    assert single.posterior and single.loss and single.numpy_loss
    assert single.numpy_kernel == "matern52" and not single.scaled
    double = model_support(_fitted(n_outputs=2).model)
    assert double.posterior and double.loss and double.numpy_loss  # batched NumPy fit
    assert double.numpy_kernel == "matern52"  # NumPy posterior of each output (LogEHVI)


def test_internals_list_names_each_module_once_per_attribute() -> None:
    keys = [(module, attribute) for module, attribute, _ in INTERNALS]
    assert len(keys) == len(set(keys))
