"""BoTorch's batched L-BFGS-B driver on a NumPy acquisition with its own gradient."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from crucible._imports import require

__all__ = ["NumpyAcquisition", "maximize_batched"]

#: ``x (b x d), grad -> (values b, gradients b x d or None)``, to maximise.
NumpyAcquisition = Callable[..., tuple[np.ndarray, np.ndarray | None]]


def maximize_batched(
    evaluator: NumpyAcquisition,
    starts: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    fixed_columns: Sequence[int],
    maxiter: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Maximise ``evaluator`` from each start with BoTorch's ``fmin_l_bfgs_b_batched``.

    What ``gen_candidates_scipy`` does for a torch acquisition, without the per-call
    torch round trip: each start is its own L-BFGS-B problem (the driver
    ``gen_candidates_scipy`` uses), ``fixed_columns`` (categoricals) get a zero gradient
    and keep their start values.

    Args:
        evaluator: The acquisition (e.g. :class:`~crucible.bo.fast.logei.NumpyLogEI`).
        starts: Starting points, ``s x d``.
        lower: Lower bounds, ``d``.
        upper: Upper bounds, ``d``.
        fixed_columns: Columns held at the start values.
        maxiter: L-BFGS-B iterations per start.

    Returns:
        The optima ``s x d`` and their acquisition values ``s``.
    """
    lbfgsb = require("botorch.optim.batched_lbfgs_b")
    x0 = np.clip(starts, lower, upper)
    fixed = list(fixed_columns)

    def negated(
        x: np.ndarray, batch_indices: list[int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        value, grad = evaluator(x.reshape(-1, x0.shape[1]))
        assert grad is not None  # evaluated with grad=True
        grad = -grad
        grad[:, fixed] = 0.0
        return -value, grad.reshape(x.shape)

    xs, _, _ = lbfgsb.fmin_l_bfgs_b_batched(
        func=negated,
        x0=x0,
        bounds=list(zip(lower, upper, strict=True)),
        maxiter=maxiter,
        pass_batch_indices=True,
    )
    xs = np.clip(np.asarray(xs).reshape(x0.shape), lower, upper)
    return xs, evaluator(xs, grad=False)[0]
