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


def test_local_search_keeps_each_starts_category_and_polishes_the_rest() -> None:
    import torch

    from crucible.bo.optimize import AcqfOptions, _local_search

    space = Space.from_dict(
        {
            "x": {"type": "continuous", "low": 0.0, "high": 1.0},
            "y": {"type": "continuous", "low": 0.0, "high": 1.0},
            "c": {"type": "categorical", "choices": ["a", "b", "c"]},
        }
    )
    targets = torch.tensor([[0.2, 0.3], [0.7, 0.1], [0.5, 0.9]], dtype=torch.float64)

    class Toy(torch.nn.Module):
        def forward(self, X: torch.Tensor) -> torch.Tensor:  # b x 1 x 3 -> b
            t = targets[X[..., 0, 2].round().long().clamp(0, 2)]
            return -((X[..., 0, :2] - t) ** 2).sum(-1)

    rng = np.random.default_rng(0)
    candidates = np.column_stack([rng.random((60, 2)), np.repeat([0.0, 1.0, 2.0], 20)])
    values = Toy()(torch.as_tensor(candidates).unsqueeze(-2)).numpy()
    opts = AcqfOptions(num_restarts=6, raw_samples=60)
    X, v = _local_search(Toy(), space, "index", candidates, values, opts)
    optimised = X[:6]
    assert len(set(optimised[:, 2])) >= 2 and set(optimised[:, 2]) <= {0.0, 1.0, 2.0}
    for row, value in zip(optimised, v[:6], strict=True):
        np.testing.assert_allclose(row[:2], targets[int(row[2])].numpy(), atol=1e-4)
        assert value > -1e-8


def test_incumbent_start_adds_a_local_search_from_the_best_observation() -> None:
    import torch

    from crucible.bo.optimize import AcqfOptions, _incumbent, _local_search

    space = Space.from_dict(
        {
            "x": {"type": "continuous", "low": 0.0, "high": 1.0},
            "c": {"type": "categorical", "choices": ["a", "b"]},
        }
    )
    targets = torch.tensor([0.2, 0.8], dtype=torch.float64)

    class Toy(torch.nn.Module):
        def forward(self, X: torch.Tensor) -> torch.Tensor:  # b x 1 x 2 -> b
            t = targets[X[..., 0, 1].round().long().clamp(0, 1)]
            return -((X[..., 0, 0] - t) ** 2)

    candidates = np.column_stack([np.linspace(0, 1, 30), np.zeros(30)])  # category "a" only
    values = Toy()(torch.as_tensor(candidates).unsqueeze(-2)).numpy()
    observed = np.array([[0.1, 0.0], [0.5, 1.0], [0.9, 0.0]])
    incumbent = _incumbent(observed, np.array([1.0, 3.0, 2.0]))
    np.testing.assert_array_equal(incumbent, [0.5, 1.0])
    assert _incumbent(np.zeros((0, 2)), np.zeros(0)) is None

    opts = AcqfOptions(num_restarts=3, raw_samples=30)
    plain, _ = _local_search(Toy(), space, "index", candidates, values, opts)
    assert not np.any(plain[:, 1] == 1.0)
    X, v = _local_search(Toy(), space, "index", candidates, values, opts, incumbent)
    assert X[3, 1] == 1.0  # the incumbent's start keeps its category ...
    np.testing.assert_allclose(X[3, 0], 0.8, atol=1e-4)  # ... and is polished to its optimum
    assert v[3] > -1e-8
