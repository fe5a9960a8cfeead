"""Tests for crucible.bo.fast.ehvi: NumPy LogEHVI and its gradient equal BoTorch's qLogEHVI."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crucible.bo.acquisition import AcquisitionContext, make_acquisition
from crucible.bo.fast import maximize_batched, numpy_acquisition_of, numpy_logehvi
from crucible.bo.surrogates import GPSurrogate
from tests.unit.bo.acquisition_checks import assert_value_and_gradient_match

mo = pytest.importorskip("botorch.acquisition.multi_objective.logei")
test_functions = pytest.importorskip("botorch.test_functions.multi_objective")


def _branin_currin(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``X``, maximised objectives and BoTorch's reference point (maximised)."""
    problem = test_functions.BraninCurrin()
    X = np.random.default_rng(seed).random((n, 2))
    Y = -problem(torch.as_tensor(X)).numpy()
    return X, Y, -problem.ref_point.numpy()


def _context(
    kernel: str = "matern", constrained: bool = False, **kw: object
) -> AcquisitionContext:
    X, Y, ref = _branin_currin(20, 0)
    slack = (X[:, :1] - 0.6) if constrained else np.zeros((20, 0))  # feasible iff x0 <= 0.6
    gp = GPSurrogate(kernel=kernel)  # type: ignore[arg-type]
    gp.fit(X, np.hstack([Y, slack]))
    options = {"fast_posterior": True, **kw}
    return AcquisitionContext(
        model=gp.model,
        X_baseline=torch.as_tensor(X),
        Y=Y,
        slack=slack,
        ref_point=ref,
        **options,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("kernel", ["matern", "rbf"])
@pytest.mark.parametrize("constrained", [False, True])
def test_value_and_gradient_equal_botorch(kernel: str, constrained: bool) -> None:
    acqf = make_acquisition("lognehvi").build(_context(kernel, constrained))
    assert type(acqf) is mo.qLogExpectedHypervolumeImprovement
    fast = numpy_acquisition_of(acqf)
    assert fast is not None
    rng = np.random.default_rng(1)
    X = torch.as_tensor(np.vstack([rng.random((60, 2)), [[0.0, 1.0], [1.0, 0.0]]]))
    X = X.unsqueeze(-2).requires_grad_(True)
    ours = assert_value_and_gradient_match(acqf, fast, X)
    without_grad, none = fast(X.detach().numpy()[:, 0, :], grad=False)
    assert none is None
    np.testing.assert_array_equal(without_grad, ours)


def test_chosen_point_agrees_with_botorch_qlognehvi_on_a_noiseless_case() -> None:
    """On exact observations the EHVI over the posterior-mean front picks qLogNEHVI's point."""
    grid = np.stack(np.meshgrid(*[np.linspace(0, 1, 41)] * 2), -1).reshape(-1, 2)
    values = []
    for fast in (True, False):
        ctx = _context(mc_samples=512, fast_posterior=fast)
        acqf = make_acquisition("lognehvi").build(ctx)
        assert (numpy_acquisition_of(acqf) is not None) is fast
        with torch.no_grad():
            values.append(acqf(torch.as_tensor(grid).unsqueeze(-2)).numpy())
    best_fast, best_nehvi = (int(np.argmax(v)) for v in values)
    np.testing.assert_allclose(grid[best_fast], grid[best_nehvi], atol=0.03)
    assert values[0][best_fast] == pytest.approx(values[1][best_nehvi], abs=0.05)
    assert np.corrcoef(*values)[0, 1] > 0.99


def test_numpy_local_search_matches_botorch() -> None:
    from botorch.generation.gen import gen_candidates_scipy

    acqf = make_acquisition("lognehvi").build(_context(constrained=True))
    fast = numpy_acquisition_of(acqf)
    assert fast is not None
    starts = np.random.default_rng(2).random((4, 2))
    lower, upper = np.zeros(2), np.ones(2)
    ours, values = maximize_batched(fast, starts, lower, upper, [], maxiter=200)
    theirs, their_values = gen_candidates_scipy(
        initial_conditions=torch.as_tensor(starts).unsqueeze(-2),
        acquisition_function=acqf,
        lower_bounds=torch.zeros(2, dtype=torch.float64),
        upper_bounds=torch.ones(2, dtype=torch.float64),
        options={"maxiter": 200},
    )
    np.testing.assert_allclose(ours, theirs.detach().numpy()[:, 0, :], atol=1e-4)
    np.testing.assert_allclose(values, their_values.detach().numpy().reshape(-1), rtol=1e-6)


def test_what_is_left_to_botorch_qlognehvi() -> None:
    pending = torch.as_tensor([[0.5, 0.5]], dtype=torch.float64)
    for ctx in (
        _context(X_pending=pending),  # pending points: integrate over them
        _context(q=2),
        _context(fast_posterior=False),
    ):
        acqf = make_acquisition("lognehvi").build(ctx)
        assert type(acqf) is mo.qLogNoisyExpectedHypervolumeImprovement
        assert numpy_acquisition_of(acqf) is None
    # a categorical kernel (MixedSingleTaskGP) has no NumPy kernel
    X, Y, ref = _branin_currin(20, 0)
    Xc = np.column_stack([X, np.arange(20) % 3])
    mixed = GPSurrogate(cat_dims=[2])
    mixed.fit(Xc, Y)
    ctx = AcquisitionContext(
        model=mixed.model,
        X_baseline=torch.as_tensor(Xc),
        Y=Y,
        slack=np.zeros((20, 0)),
        ref_point=ref,
        fast_posterior=True,
    )
    assert numpy_acquisition_of(make_acquisition("lognehvi").build(ctx)) is None


def test_outputs_it_cannot_map_are_refused() -> None:
    """A constraint on an objective output or a reordering objective: not exact, None."""
    objective_module = pytest.importorskip("botorch.acquisition.multi_objective.objective")
    ctx = _context(constrained=True)

    def build(objective: object, constraints: list[object]) -> object:
        return mo.qLogExpectedHypervolumeImprovement(
            ctx.model,
            ref_point=ctx.ref_point.tolist(),  # type: ignore[union-attr]
            partitioning=_partitioning(ctx),
            sampler=ctx.sampler(),
            objective=objective,
            constraints=constraints,
        )

    assert numpy_logehvi(build(ctx.objective(), ctx.constraint_callables())) is not None
    assert numpy_logehvi(build(ctx.objective(), [lambda Z: Z[..., 0]])) is None
    swapped = objective_module.IdentityMCMultiOutputObjective(outcomes=[1, 0])
    assert numpy_logehvi(build(swapped, ctx.constraint_callables())) is None


def _partitioning(ctx: AcquisitionContext) -> object:
    from botorch.utils.multi_objective.box_decompositions.non_dominated import (
        FastNondominatedPartitioning,
    )

    return FastNondominatedPartitioning(
        ref_point=torch.as_tensor(ctx.ref_point), Y=torch.as_tensor(ctx.Y)
    )
