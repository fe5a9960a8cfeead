"""Transforms map raw values onto [0, 1] with REINVENT's formulas; NaN stays NaN."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crucible.chem.transforms import (
    DoubleSigmoid,
    ExponentialDecay,
    NoTransform,
    ReverseSigmoid,
    Sigmoid,
    Step,
    ValueMapping,
)


def _reinvent_reverse_sigmoid(x: float, low: float, high: float, k: float) -> float:
    return 1 / (1 + 10 ** (k * (x - (high + low) * 0.5) * 10 / (high - low)))


def _reinvent_double_sigmoid(
    x: float, low: float, high: float, div: float, si: float, se: float
) -> float:
    a = 10 ** (se * (x / div))
    b = 10 ** (se * (x / div)) + 10 ** (se * (low / div))
    c = 10 ** (si * (x / div)) / (10 ** (si * (x / div)) + 10 ** (si * (high / div)))
    return a / b - c


@pytest.mark.parametrize("x", [0.0, 2.0, 3.5, 5.0, 7.0])
def test_sigmoids_match_reinvent_formulas(x: float) -> None:
    rev = ReverseSigmoid(low=2, high=5, k=0.3)(np.array([x]))[0]
    assert rev == pytest.approx(_reinvent_reverse_sigmoid(x, 2, 5, 0.3))
    assert Sigmoid(low=2, high=5, k=0.3)(np.array([x]))[0] == pytest.approx(1 - rev)
    dbl = DoubleSigmoid(low=2, high=5, coef_div=5, coef_si=2, coef_se=2)(np.array([x]))[0]
    assert dbl == pytest.approx(_reinvent_double_sigmoid(x, 2, 5, 5, 2, 2))


def test_midpoint_is_half_and_large_inputs_do_not_overflow() -> None:
    assert Sigmoid(low=0, high=10)(np.array([5.0]))[0] == pytest.approx(0.5)
    big = DoubleSigmoid(low=200, high=500)(np.array([1e6, -1e6, 350.0]))
    np.testing.assert_allclose(big, [0.0, 0.0, 1.0], atol=1e-9)


def test_hard_step_when_low_equals_high() -> None:
    np.testing.assert_array_equal(Sigmoid(low=3, high=3)(np.array([2.9, 3.0, 4.0])), [0, 1, 1])


def test_step_value_mapping_decay_and_none() -> None:
    x = np.array([-1.0, 0.0, 5.0, 11.0])
    np.testing.assert_array_equal(Step(low=0, high=10)(x), [0, 1, 1, 0])
    np.testing.assert_array_equal(Step(high=0)(x), [1, 1, 0, 0])
    np.testing.assert_array_equal(
        ValueMapping(mapping={0: 0.2, 5: 1.0}, default=0.1)(x), [0.1, 0.2, 1.0, 0.1]
    )
    np.testing.assert_allclose(ExponentialDecay(k=0.5)(x), [1, 1, np.exp(-2.5), np.exp(-5.5)])
    np.testing.assert_array_equal(NoTransform()(x), [0, 0, 1, 1])


def test_invalid_parameters_are_rejected() -> None:
    with pytest.raises(ValueError, match="swap"):
        Sigmoid(low=5, high=1)
    with pytest.raises(ValueError, match="low"):
        Step()
    with pytest.raises(ValueError):
        ValueMapping(mapping={1: 2.0})


@given(
    st.lists(st.floats(allow_nan=True, allow_infinity=False, width=32), max_size=20),
    st.sampled_from(
        [
            Sigmoid(low=1, high=4),
            ReverseSigmoid(low=-3, high=9, k=0.9),
            DoubleSigmoid(low=200, high=500, coef_div=500, coef_si=20, coef_se=20),
            Step(low=2),
            ExponentialDecay(k=2),
            NoTransform(),
        ]
    ),
)
def test_outputs_are_in_unit_interval_and_nan_is_preserved(values: list[float], t) -> None:
    x = np.array(values, dtype=np.float64)
    y = t(x)
    assert y.shape == x.shape
    assert (np.isnan(y) == np.isnan(x)).all()
    finite = y[~np.isnan(y)]
    assert ((finite >= 0) & (finite <= 1)).all()
