"""Tests for crucible.design."""

from __future__ import annotations

import numpy as np
import pytest

from crucible.design import DESIGNS, GridDesign, make_design, validate_design
from crucible.exceptions import InvalidInputError
from crucible.space import Space

SPACE = Space.from_dict(
    {
        "t": {"type": "continuous", "low": 0, "high": 10},
        "n": {"type": "integer", "low": 1, "high": 4},
        "s": {"type": "categorical", "choices": ["a", "b", "c"]},
        "f": {"type": "fixed", "value": "x"},
    }
)


@pytest.mark.parametrize("name", ["random", "lhs", "sobol"])
def test_space_filling_designs_are_valid_seeded_and_cover_levels(name: str) -> None:
    points = make_design(name, SPACE, n=12, seed=3)
    assert len(points) == 12 and all(SPACE.contains(p) for p in points)
    assert points == make_design(name, SPACE, n=12, seed=3)
    assert points != make_design(name, SPACE, n=12, seed=4)
    assert {p["s"] for p in points} == {"a", "b", "c"}
    assert all(p["f"] == "x" for p in points)


@pytest.mark.parametrize("name", ["lhs", "sobol"])
def test_lhs_and_sobol_stratify_better_than_chance(name: str) -> None:
    space = Space.from_dict({"x": {"type": "continuous", "low": 0, "high": 1}})
    xs = np.array([p["x"] for p in make_design(name, space, n=16, seed=0)])
    counts = np.histogram(xs, bins=8, range=(0, 1))[0]
    assert counts.min() >= 1  # every eighth of the range is hit


def test_lhs_has_one_point_per_stratum() -> None:
    space = Space.from_dict({"x": {"type": "continuous", "low": 0, "high": 1}})
    xs = np.array([p["x"] for p in make_design("lhs", space, n=10, seed=1)])
    assert sorted(np.floor(xs * 10).astype(int)) == list(range(10))


def test_grid_is_full_factorial() -> None:
    points = make_design("grid", SPACE, levels={"t": 3, "n": 4})
    assert len(points) == 3 * 4 * 3
    assert sorted({p["t"] for p in points}) == [0.0, 5.0, 10.0]
    assert len(make_design("grid", SPACE, n=5, seed=0, levels=2)) == 5
    assert GridDesign(levels=2).values(SPACE)["n"] == [1, 4]


def test_designs_respect_linear_constraints() -> None:
    space = Space.model_validate(
        {
            "parameters": [
                {"name": "a", "type": "continuous", "low": 0, "high": 1},
                {"name": "b", "type": "continuous", "low": 0, "high": 1},
            ],
            "constraints": [{"coefficients": {"a": 1, "b": 1}, "bound": 0.3}],
        }
    )
    for name in DESIGNS:
        points = make_design(
            name, space, n=10, seed=0, **({"levels": 5} if name == "grid" else {})
        )
        assert points and all(p["a"] + p["b"] <= 0.3 + 1e-9 for p in points)


def test_validate_design_deduplicates_and_names_bad_rows() -> None:
    rows = [
        {"t": 1, "n": 2, "s": "a"},
        {"t": 1.0, "n": 2, "s": "a", "f": "x"},
        {"t": 2, "n": 1, "s": "b"},
    ]
    out = validate_design(SPACE, rows)
    assert len(out) == 2 and out[0] == {"t": 1.0, "n": 2, "s": "a", "f": "x"}
    assert validate_design(SPACE, rows, existing=[out[1]]) == [out[0]]
    with pytest.raises(InvalidInputError) as info:
        validate_design(SPACE, [*rows, {"t": 11, "n": 1, "s": "a"}])
    assert info.value.field == "design[3].t"


def test_unknown_design_and_bad_n() -> None:
    with pytest.raises(InvalidInputError, match="unknown design"):
        make_design("halton", SPACE, n=3)
    with pytest.raises(InvalidInputError, match="between 1 and"):
        make_design("sobol", SPACE, n=0)
