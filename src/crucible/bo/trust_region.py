"""A TuRBO-style trust region for the acquisition optimiser (``Strategy.trust_region``).

In many dimensions a global GP is rarely accurate far from the data, and maximising
the acquisition over the whole box spends evaluations on distant corners. TuRBO (Eriksson
et al., "Scalable Global Optimization via Local Bayesian Optimization", NeurIPS 2019)
restricts each proposal to a box around the best point whose side grows after a run of
successes and shrinks after a run of failures. The rules here are those of BoTorch's
TuRBO-1 tutorial (``TurboState``/``update_state``, MIT licence): side 0.8 of the unit cube
to start, doubled (up to 1.6) after 10 consecutive improvements, halved after
``max(4, d)`` consecutive non-improvements, reset to 0.8 when it falls below ``0.5**7``;
an improvement must beat the best value by ``1e-3 |best|``; the side is spread over the
dimensions in proportion to the GP's lengthscales (geometric mean 1).

Unlike TuRBO, nothing is stored: :func:`replay_length` recomputes the side from the
observations in the order they were made, so a campaign's trust region survives restarts
and is shared by every process, and the GP, the acquisition (LogEI) and the rest of the
strategy are unchanged: only the box the optimiser searches and its starting points
differ. A reset keeps every observation (TuRBO-1 starts a new design instead).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["LENGTH_INIT", "TrustRegion", "replay_length", "trust_region"]

#: Initial side of the region (unit-cube units), BoTorch's tutorial's ``length``.
LENGTH_INIT = 0.8
LENGTH_MIN = 0.5**7
LENGTH_MAX = 1.6
SUCCESS_TOLERANCE = 10


@dataclass(frozen=True)
class TrustRegion:
    """The box the acquisition optimiser searches, in encoded (unit) coordinates.

    Attributes:
        lower: Lower bounds, ``d``.
        upper: Upper bounds, ``d``.
        center: The best observed point, ``d``.
        length: The side before the per-dimension lengthscale weights.
    """

    lower: np.ndarray
    upper: np.ndarray
    center: np.ndarray
    length: float


def replay_length(y: np.ndarray, n_init: int, dim: int) -> float:
    """The trust region's side after the observations ``y`` (maximised, in order).

    The first ``n_init`` values (the initial design) set the best value; each later value
    counts as a success or a failure (BoTorch tutorial's ``update_state`` with batch size
    1, ``failure_tolerance = ceil(max(4, dim))``).

    Args:
        y: Objective values in observation order, maximised, shape ``n``.
        n_init: Size of the initial design.
        dim: Number of optimised dimensions.

    Returns:
        The side length (unit-cube units).
    """
    y = np.asarray(y, dtype=float).reshape(-1)
    n_init = max(1, min(n_init, len(y)))
    failure_tolerance = math.ceil(max(4.0, float(dim)))
    length, successes, failures = LENGTH_INIT, 0, 0
    best = float(np.max(y[:n_init]))
    for value in y[n_init:]:
        if value > best + 1e-3 * abs(best):
            successes, failures = successes + 1, 0
        else:
            successes, failures = 0, failures + 1
        if successes == SUCCESS_TOLERANCE:
            length, successes = min(2.0 * length, LENGTH_MAX), 0
        elif failures == failure_tolerance:
            length, failures = length / 2.0, 0
        best = max(best, float(value))
        if length < LENGTH_MIN:
            length, successes, failures = LENGTH_INIT, 0, 0
    return length


def trust_region(
    center: np.ndarray,
    lengthscales: np.ndarray,
    length: float,
    free: np.ndarray,
) -> TrustRegion:
    """The box of side ``length`` around ``center``, stretched by the lengthscales.

    Args:
        center: Best observed encoded point, ``d``.
        lengthscales: GP lengthscales of the ``free`` columns (same order).
        length: Side before weighting.
        free: Boolean mask, ``d``: the columns the region restricts (continuous and
            integer); the others (one-hot categoricals) keep ``[0, 1]``.

    Returns:
        The region, clipped to the unit cube.
    """
    center = np.asarray(center, dtype=float)
    weights = np.asarray(lengthscales, dtype=float).reshape(-1)
    weights = weights / weights.mean()
    weights = weights / np.prod(weights ** (1.0 / len(weights)))
    lower, upper = np.zeros_like(center), np.ones_like(center)
    lower[free] = np.clip(center[free] - weights * length / 2.0, 0.0, 1.0)
    upper[free] = np.clip(center[free] + weights * length / 2.0, 0.0, 1.0)
    return TrustRegion(lower=lower, upper=upper, center=center, length=length)
