"""Monotone outcome warps applied before the surrogate is fitted.

A GP fitted to a heavy-tailed objective (Branin spans 0.4 to 300) spends its variance on
the bad tail: after standardisation the differences that matter near the optimum are tiny
and the model's uncertainty in unexplored corners dwarfs them, so expected improvement
keeps sampling the box edges. Warping the outcome with a monotone map keeps the ranking
(so the optimum and the incumbent are unchanged) and lets the model resolve the good end.

Objective values here are maximised (the bad tail is the lower one).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

OutcomeWarp = Literal["auto", "none", "power"]


def power_warp(y: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Yeo-Johnson transform of a maximised objective when it compresses the bad tail.

    The values are standardised and transformed with the likelihood-maximising Yeo-Johnson
    exponent ``lambda`` (HEBO's output warp). Only ``lambda > 1`` is used: it compresses
    the lower (bad) tail and stretches the good end; ``lambda <= 1`` would blur the good
    end, where the optimiser needs resolution, so then there is no warp.

    Args:
        y: Maximised values, shape ``n``.

    Returns:
        ``(warped values, log-Jacobian of y -> warped summed over the n values)``, or
        ``None`` when no warp applies (``lambda <= 1``, constant or fewer than 3 values).
    """
    from scipy import stats

    scale = float(np.std(y))
    if len(y) < 3 or not scale > 0:
        return None
    z = (y - float(np.mean(y))) / scale
    lmbda = yeo_johnson_exponent(z)
    if lmbda <= 1.0:
        return None
    # d/dz of Yeo-Johnson: (1 + z)^(lambda - 1) for z >= 0, (1 - z)^(1 - lambda) below.
    warped = stats.yeojohnson(z, lmbda)
    slope_log = np.where(z >= 0, lmbda - 1.0, 1.0 - lmbda) * np.log1p(np.abs(z))
    return np.asarray(warped, dtype=float), float(slope_log.sum() - len(y) * np.log(scale))


#: Exponents :func:`yeo_johnson_exponent` searches.
EXPONENT_GRID = np.round(np.arange(-3.0, 6.0 + 1e-9, 0.02), 2)


def yeo_johnson_exponent(z: np.ndarray) -> float:
    """Likelihood-maximising Yeo-Johnson exponent on :data:`EXPONENT_GRID`.

    The same log-likelihood as ``scipy.stats.yeojohnson_llf``, evaluated for every grid
    exponent in one vectorised pass instead of scipy's scalar Brent search (a 0.02 step is
    far finer than the warp needs).

    Args:
        z: Values, shape ``n``.

    Returns:
        The best exponent on the grid.
    """
    lam = EXPONENT_GRID[:, None]
    pos, neg = z >= 0, z < 0
    a = np.log1p(np.abs(z))[None, :]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        upper = np.where(lam == 0, a, np.expm1(lam * a) / np.where(lam == 0, 1, lam))
        lower = np.where(lam == 2, -a, -np.expm1((2 - lam) * a) / np.where(lam == 2, 1, 2 - lam))
        transformed = np.where(pos[None, :], upper, lower)
        variance = transformed.var(axis=1)
        llf = -0.5 * len(z) * np.log(variance) + (lam[:, 0] - 1) * np.sum(
            np.where(neg, -1.0, 1.0) * a[0]
        )
    llf[~np.isfinite(llf)] = -np.inf
    return float(EXPONENT_GRID[int(np.argmax(llf))])
