"""Pareto dominance and objective directions: the leaf both analysis and strategy use.

Kept apart from :mod:`crucible.bo.analysis` (which fits surrogates through
:mod:`crucible.bo.strategy`) so that the strategy can find a Pareto front without an
import cycle.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from crucible.exceptions import InvalidInputError

__all__ = ["directions_signs", "pareto_mask"]


def directions_signs(
    directions: Sequence[str] | None, m: int, field: str = "directions"
) -> np.ndarray:
    """+1 per maximised and -1 per minimised objective (all +1 when ``directions`` is None).

    Raises:
        InvalidInputError: ``directions`` has not ``m`` entries, or one is neither
            ``"minimize"`` nor ``"maximize"``.
    """
    if directions is None:
        return np.ones(m)
    if isinstance(directions, str) or len(directions) != m:
        raise InvalidInputError(
            field,
            f"{directions!r:.80} does not give one direction for each of the {m} objectives",
            f"pass a list of {m} entries, each 'minimize' or 'maximize'",
        )
    signs = []
    for i, d in enumerate(directions):
        if d not in ("minimize", "maximize"):
            raise InvalidInputError(
                f"{field}[{i}]", f"{d!r:.60} is not a direction", "use 'minimize' or 'maximize'"
            )
        signs.append(1.0 if d == "maximize" else -1.0)
    return np.array(signs)


def _as_matrix(Y: object, field: str = "Y") -> np.ndarray:
    """``Y`` as a finite ``n x m`` float matrix (a 1-D ``Y`` is one objective)."""
    try:
        arr = np.asarray(Y, dtype=float)
    except (TypeError, ValueError):
        raise InvalidInputError(
            field, "is not numeric", "pass an n x m array of numbers"
        ) from None
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or not np.all(np.isfinite(arr)):
        raise InvalidInputError(
            field, f"has shape {arr.shape} or non-finite values", "pass a finite n x m array"
        )
    return arr


def pareto_mask(Y: np.ndarray, directions: Sequence[str] | None = None) -> np.ndarray:
    """Boolean mask (shape ``n``) of the non-dominated rows of ``Y`` (``n x m``).

    Args:
        Y: Objective values, one row per point.
        directions: ``"minimize"`` or ``"maximize"`` per column; None maximises every
            column (the internal convention of :func:`~crucible.bo.objectives.objective_matrix`).
    """
    Y = _as_matrix(Y)
    Y = Y * directions_signs(directions, Y.shape[1])
    n = len(Y)
    mask = np.ones(n, dtype=bool)
    for i in range(n):
        dominated = np.all(Y[i] <= Y, axis=1) & np.any(Y[i] < Y, axis=1)
        if dominated.any():
            mask[i] = False
    return mask
