"""Score transforms: map a component's raw values onto desirabilities in [0, 1].

The formulas follow REINVENT 4 (``reinvent/scoring/transforms``) so that a configuration
written for REINVENT means the same here:

* ``sigmoid``: ``1 / (1 + 10 ** (-10 k (x - (low + high) / 2) / (high - low)))``; a hard
  step at the midpoint when ``low == high``.
* ``reverse_sigmoid``: the mirror image, ``1 - sigmoid``.
* ``double_sigmoid``: ``A / B - C`` of REINVENT's formula, written here as the difference of
  two logistic functions (identical values, but no overflow for large ``x``).
* ``step``: 1 inside ``[low, high]`` (either bound may be omitted), else 0; REINVENT's
  ``step``, ``left_step`` and ``right_step`` in one.
* ``value_mapping``: a lookup table from raw value to score, with a default.
* ``exponential_decay``: ``exp(-k x)`` for ``x >= 0`` and 1 below 0.
* ``none``: the raw values clipped to [0, 1].

Every transform maps NaN (a molecule the component could not score) to NaN, so the
aggregation can drop that component's weight for that molecule.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, Field, model_validator
from scipy.special import expit

from crucible.validation import strict_config

_LN10 = float(np.log(10.0))

__all__ = [
    "DoubleSigmoid",
    "ExponentialDecay",
    "NoTransform",
    "ReverseSigmoid",
    "Sigmoid",
    "Step",
    "Transform",
    "TransformConfig",
    "ValueMapping",
]


class Transform(BaseModel, ABC):
    """Base class of the transforms: pydantic parameters plus a vectorised ``__call__``."""

    model_config = strict_config(frozen=True)

    @abstractmethod
    def _apply(self, values: np.ndarray) -> np.ndarray:
        """Transform finite values (shape ``n``); NaN handling is done by ``__call__``."""

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """Transform raw values.

        Args:
            values: Raw component values, shape ``n``; NaN where a molecule was not scored.

        Returns:
            Scores in [0, 1], shape ``n``, float64; NaN where the input is NaN.
        """
        values = np.asarray(values, dtype=np.float64)
        out = np.full(values.shape, np.nan)
        finite = ~np.isnan(values)
        if finite.any():
            out[finite] = np.clip(self._apply(values[finite]), 0.0, 1.0)
        return out


class NoTransform(Transform):
    """Use the raw values as scores, clipped to [0, 1]."""

    type: Literal["none"] = "none"

    def _apply(self, values: np.ndarray) -> np.ndarray:
        return values


class _Bounded(Transform):
    low: float
    high: float

    @model_validator(mode="after")
    def _check_bounds(self) -> _Bounded:
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) must be >= low ({self.low}); swap them")
        return self


def _sigmoid(values: np.ndarray, low: float, high: float, k: float) -> np.ndarray:
    """REINVENT's base-10 sigmoid centred between ``low`` and ``high``."""
    x = values - (low + high) / 2.0
    if high == low:
        return (x >= 0).astype(np.float64)
    return np.asarray(expit(_LN10 * 10.0 * k * x / (high - low)))


class Sigmoid(_Bounded):
    """Increasing sigmoid: about 0 below ``low``, about 1 above ``high``.

    ``k`` sets the steepness (REINVENT default 0.25 in examples; 0.5 is steeper).
    """

    type: Literal["sigmoid"] = "sigmoid"
    k: float = Field(0.25, gt=0)

    def _apply(self, values: np.ndarray) -> np.ndarray:
        return _sigmoid(values, self.low, self.high, self.k)


class ReverseSigmoid(_Bounded):
    """Decreasing sigmoid: about 1 below ``low``, about 0 above ``high``."""

    type: Literal["reverse_sigmoid"] = "reverse_sigmoid"
    k: float = Field(0.25, gt=0)

    def _apply(self, values: np.ndarray) -> np.ndarray:
        return 1.0 - _sigmoid(values, self.low, self.high, self.k)


class DoubleSigmoid(_Bounded):
    """A plateau of about 1 between ``low`` and ``high`` with sigmoid edges.

    REINVENT's formula is ``10^(se x/d) / (10^(se x/d) + 10^(se low/d)) -
    10^(si x/d) / (10^(si x/d) + 10^(si high/d))`` with ``d = coef_div``,
    ``se = coef_se``, ``si = coef_si``; each fraction is a logistic function, evaluated
    here with :func:`scipy.special.expit` to avoid overflow.
    """

    type: Literal["double_sigmoid"] = "double_sigmoid"
    coef_div: float = Field(100.0, gt=0)
    coef_si: float = Field(150.0, gt=0)
    coef_se: float = Field(150.0, gt=0)

    def _apply(self, values: np.ndarray) -> np.ndarray:
        rise = expit(_LN10 * self.coef_se / self.coef_div * (values - self.low))
        fall = expit(_LN10 * self.coef_si / self.coef_div * (values - self.high))
        return np.asarray(rise - fall)


class Step(Transform):
    """1 where ``low <= x <= high`` (an omitted bound is open), 0 elsewhere."""

    type: Literal["step"] = "step"
    low: float | None = None
    high: float | None = None

    @model_validator(mode="after")
    def _check_bounds(self) -> Step:
        if self.low is None and self.high is None:
            raise ValueError("step needs 'low', 'high' or both")
        if self.low is not None and self.high is not None and self.high < self.low:
            raise ValueError(f"high ({self.high}) must be >= low ({self.low}); swap them")
        return self

    def _apply(self, values: np.ndarray) -> np.ndarray:
        inside = np.ones(values.shape, dtype=bool)
        if self.low is not None:
            inside &= values >= self.low
        if self.high is not None:
            inside &= values <= self.high
        return inside.astype(np.float64)


class ValueMapping(Transform):
    """Look raw values up in ``mapping`` (numeric keys); unmatched values get ``default``."""

    type: Literal["value_mapping"] = "value_mapping"
    mapping: dict[float, Annotated[float, Field(ge=0.0, le=1.0)]]
    default: float = Field(0.0, ge=0.0, le=1.0)

    def _apply(self, values: np.ndarray) -> np.ndarray:
        out = np.full(values.shape, self.default)
        for key, score in self.mapping.items():
            out[np.isclose(values, key)] = score
        return out


class ExponentialDecay(Transform):
    """``exp(-k x)`` for ``x >= 0``; 1 for negative ``x``."""

    type: Literal["exponential_decay"] = "exponential_decay"
    k: float = Field(1.0, gt=0)

    def _apply(self, values: np.ndarray) -> np.ndarray:
        return np.exp(-self.k * np.maximum(values, 0.0))


#: A transform given in a configuration, chosen by its ``type`` field.
TransformConfig = Annotated[
    NoTransform
    | Sigmoid
    | ReverseSigmoid
    | DoubleSigmoid
    | Step
    | ValueMapping
    | ExponentialDecay,
    Field(discriminator="type"),
]
