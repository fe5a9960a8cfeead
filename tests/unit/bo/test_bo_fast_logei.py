"""Tests for crucible.bo.fast.logei: NumPy LogEI and gradient equal BoTorch's autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crucible.bo.fast import accelerate, maximize_batched, numpy_logei
from crucible.bo.fast.logei import log_ei_helper
from crucible.bo.surrogates import GPSurrogate
from crucible.space import Space
from tests.unit.bo.acquisition_checks import assert_value_and_gradient_match

analytic = pytest.importorskip("botorch.acquisition.analytic")


def _fitted(kernel: str = "matern", d: int = 4, n: int = 40, **kw: object) -> tuple:
    rng = np.random.default_rng(0)
    X = rng.random((n, d))
    Y = np.sin(3 * X.sum(1, keepdims=True)) + 0.1 * X[:, :1]
    gp = GPSurrogate(kernel=kernel, **kw)  # type: ignore[arg-type]
    gp.fit(X, Y)
    return gp, Y


def test_log_ei_helper_matches_botorch_on_every_branch() -> None:
    u = torch.cat(
        [
            -torch.logspace(8, 0, 60, dtype=torch.float64),  # below -1e6, lower branch
            torch.linspace(-1.0, 30.0, 60, dtype=torch.float64),  # upper branch
        ]
    )
    expected = analytic._log_ei_helper(u).numpy()
    np.testing.assert_allclose(log_ei_helper(u.numpy()), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kernel", ["matern", "rbf"])
@pytest.mark.parametrize("pessimistic", [0, 1])
@pytest.mark.parametrize("offset", [-3.0, 0.0, 2.0, 40.0])  # best_f - max(Y)
def test_value_and_gradient_equal_botorch(kernel: str, pessimistic: int, offset: float) -> None:
    gp, Y = _fitted(kernel, pessimistic_outputs=pessimistic)
    acqf = accelerate(analytic.LogExpectedImprovement(gp.model, best_f=float(Y.max()) + offset))
    fast = numpy_logei(acqf)
    assert fast is not None
    X = torch.as_tensor(np.random.default_rng(1).random((64, 1, 4))).requires_grad_(True)
    assert_value_and_gradient_match(acqf, fast, X)


def test_scaled_kernel_and_what_is_left_to_botorch() -> None:
    from botorch.models import SingleTaskGP
    from botorch.models.utils.gpytorch_modules import get_matern_kernel_with_gamma_prior

    gp, Y = _fitted()
    scaled = SingleTaskGP(
        gp.model.train_inputs[0],
        torch.as_tensor(Y),
        covar_module=get_matern_kernel_with_gamma_prior(ard_num_dims=4),
    )
    scaled.covar_module.outputscale = 2.5
    scaled.eval()
    acqf = accelerate(analytic.LogExpectedImprovement(scaled, best_f=float(Y.max())))
    fast = numpy_logei(acqf)
    assert fast is not None and fast.outputscale == pytest.approx(2.5)
    X = torch.as_tensor(np.random.default_rng(2).random((16, 1, 4)))
    np.testing.assert_allclose(fast(X.numpy()[:, 0, :])[0], acqf(X).detach().numpy(), rtol=1e-9)
    # not LogEI, constrained, several outputs, categorical kernel: BoTorch's path
    assert numpy_logei(accelerate(analytic.UpperConfidenceBound(gp.model, beta=2.0))) is None
    rng = np.random.default_rng(3)
    Xc = rng.random((30, 3))
    Yc = np.column_stack([Xc.sum(1), Xc[:, 0] - 0.5])
    constrained = GPSurrogate(kernel="matern")
    constrained.fit(Xc, Yc)
    lcei = analytic.LogConstrainedExpectedImprovement(
        constrained.model, best_f=1.0, objective_index=0, constraints={1: (None, 0.0)}
    )
    assert numpy_logei(accelerate(lcei)) is None
    mixed = GPSurrogate(cat_dims=[2])
    mixed.fit(np.column_stack([Xc[:, :2], rng.integers(0, 3, 30)]), Yc[:, :1])
    assert numpy_logei(accelerate(analytic.LogExpectedImprovement(mixed.model, 1.0))) is None
    plain = analytic.LogExpectedImprovement(gp.model, best_f=1.0)  # not accelerated
    assert numpy_logei(plain) is None


def test_numpy_local_search_matches_botorch_and_keeps_fixed_columns() -> None:
    from botorch.generation.gen import gen_candidates_scipy

    space = Space.from_dict(
        {
            "a": {"type": "continuous", "low": 0, "high": 1},
            "b": {"type": "continuous", "low": 0, "high": 1},
            "c": {"type": "categorical", "choices": ["x", "y"]},
        }
    )
    rng = np.random.default_rng(4)
    X = np.column_stack([rng.random((25, 2)), np.eye(2)[rng.integers(0, 2, 25)]])
    Y = -((X[:, :2] - 0.3) ** 2).sum(1, keepdims=True) + 0.2 * X[:, 2:3]
    gp = GPSurrogate(kernel="matern")
    gp.fit(X, Y)
    acqf = accelerate(analytic.LogExpectedImprovement(gp.model, best_f=float(Y.max())))
    starts = np.column_stack([rng.random((4, 2)), np.eye(2)[[0, 1, 0, 1]]])
    lower, upper = space.bounds("onehot")
    ours, values = maximize_batched(acqf.numpy_logei, starts, lower, upper, [2, 3], maxiter=200)
    np.testing.assert_array_equal(ours[:, 2:], starts[:, 2:])
    st = torch.as_tensor(starts).unsqueeze(-2)
    theirs, their_values = gen_candidates_scipy(
        initial_conditions=st,
        acquisition_function=acqf,
        lower_bounds=torch.zeros(4, dtype=torch.float64),
        upper_bounds=torch.ones(4, dtype=torch.float64),
        options={"maxiter": 200},
        fixed_features={c: st[:, 0, c].clone() for c in (2, 3)},
    )
    np.testing.assert_allclose(ours, theirs.detach().numpy()[:, 0, :], atol=1e-4)
    np.testing.assert_allclose(values, their_values.detach().numpy().reshape(-1), rtol=1e-6)
