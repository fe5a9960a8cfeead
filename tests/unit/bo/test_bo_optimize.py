"""Tests for crucible.bo.optimize helpers."""

from __future__ import annotations

import numpy as np
import pytest

from crucible.bo.optimize import encode_unit_samples
from crucible.design import from_unit_per_parameter
from crucible.space import Space


@pytest.mark.parametrize("encoding", ["onehot", "index"])
def test_encode_unit_samples_matches_decode_encode_path(encoding: str) -> None:
    space = Space.from_dict(
        {
            "a": {"type": "continuous", "low": -5, "high": 10},
            "b": {"type": "continuous", "low": 1e-3, "high": 10, "log": True},
            "c": {"type": "integer", "low": 0, "high": 10, "step": 2},
            "d": {"type": "integer", "low": 1, "high": 100, "log": True},
            "e": {"type": "categorical", "choices": ["x", "y", "z"]},
            "f": {"type": "fixed", "value": 3},
        }
    )
    U = np.random.default_rng(0).random((300, 5))
    U[0], U[1], U[2] = 0.0, 1.0, 1.2  # bounds and clipping
    expected = space.encode(from_unit_per_parameter(space, U), encoding)  # type: ignore[arg-type]
    got = encode_unit_samples(space, U, encoding)  # type: ignore[arg-type]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
