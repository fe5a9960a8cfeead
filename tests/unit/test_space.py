"""Tests for crucible.space: validation, encodings, constraints, Optuna distributions."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from crucible.exceptions import InvalidInputError
from crucible.space import (
    CategoricalParameter,
    ContinuousParameter,
    FixedParameter,
    IntegerParameter,
    LinearConstraint,
    Space,
)


def _reaction_space() -> Space:
    return Space.from_dict(
        {
            "temperature": {"type": "continuous", "low": 20, "high": 80},
            "loading": {"type": "continuous", "low": 0.01, "high": 1, "log": True},
            "rpm": {"type": "integer", "low": 100, "high": 1000, "step": 100},
            "solvent": {"type": "categorical", "choices": ["THF", "DMF", "MeCN"]},
            "pressure": {"type": "fixed", "value": 1.0},
        }
    )


POINT = {"temperature": 50.0, "loading": 0.1, "rpm": 500, "solvent": "DMF", "pressure": 1.0}


def test_encode_decode_roundtrip_and_layout() -> None:
    space = _reaction_space()
    X = space.encode([POINT])
    assert X.shape == (1, 6)
    assert space.columns() == [
        "temperature",
        "loading",
        "rpm",
        "solvent=THF",
        "solvent=DMF",
        "solvent=MeCN",
    ]
    assert X[0, :3] == pytest.approx([0.5, 0.5, 4 / 9])
    assert list(X[0, 3:]) == [0.0, 1.0, 0.0]
    back = space.decode(X)[0]
    assert back["solvent"] == "DMF" and back["rpm"] == 500 and back["pressure"] == 1.0
    assert back["loading"] == pytest.approx(0.1)
    Xi = space.encode([POINT], encoding="index")
    assert Xi.shape == (1, 4) and Xi[0, 3] == 1.0
    assert space.bounds("index")[1].tolist() == [1, 1, 1, 2]
    assert space.decode(Xi, encoding="index")[0]["solvent"] == "DMF"


def test_decode_rounds_and_clips() -> None:
    space = _reaction_space()
    out = space.decode(np.array([[1.7, -0.3, 0.47, 0.2, 0.1, 0.9]]))[0]
    assert out["temperature"] == 80 and out["loading"] == pytest.approx(0.01)
    assert out["rpm"] == 500 and out["solvent"] == "MeCN"
    assert space.contains(out)


def test_json_roundtrip_is_a_flow_parameter() -> None:
    space = _reaction_space()
    text = json.dumps(space.to_dict())
    again = Space.from_dict(json.loads(text))
    assert again == space
    assert isinstance(again["solvent"], CategoricalParameter)


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ({"type": "continuous", "low": 1, "high": 1}, "low (1.0) must be less than high"),
        ({"type": "continuous", "low": 0, "high": 1, "log": True}, "log scale needs low > 0"),
        ({"type": "integer", "low": 0, "high": 10, "step": 3}, "does not divide the range"),
        ({"type": "categorical", "choices": []}, "at least two choices"),
        ({"type": "categorical", "choices": ["a", "a"]}, "duplicate choice"),
        ({"type": "continuous", "low": 0, "high": math.inf}, "must be finite"),
    ],
)
def test_invalid_parameters_name_the_problem_and_fix(spec: dict, needle: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        Space.from_dict({"x": spec})
    message = str(info.value)
    assert needle in message and "Fix:" in message
    assert info.value.field.startswith("space.x")


def test_duplicate_names_and_bad_constraints_rejected() -> None:
    x = ContinuousParameter(name="x", low=0, high=1)
    with pytest.raises(ValidationError, match="duplicate parameter names"):
        Space(parameters=[x, x])
    with pytest.raises(ValidationError, match="unknown parameter 'y'"):
        Space(parameters=[x], constraints=[LinearConstraint(coefficients={"y": 1}, bound=1)])
    c = CategoricalParameter(name="c", choices=["a", "b"])
    with pytest.raises(ValidationError, match="not a linear-scale"):
        Space(parameters=[x, c], constraints=[LinearConstraint(coefficients={"c": 1}, bound=1)])
    with pytest.raises(ValidationError, match="every parameter is fixed"):
        Space(parameters=[FixedParameter(name="f", value=1)])


@pytest.mark.parametrize(
    ("point", "field", "needle"),
    [
        ({**POINT, "temperature": 90.0}, "point.temperature", "outside [20.0, 80.0]"),
        ({**POINT, "rpm": 550}, "point.rpm", "not on the grid"),
        ({**POINT, "rpm": 5.5}, "point.rpm", "not an integer"),
        ({**POINT, "solvent": "water"}, "point.solvent", "not one of the choices"),
        ({**POINT, "bogus": 1}, "point.bogus", "not a parameter"),
        ({k: v for k, v in POINT.items() if k != "loading"}, "point.loading", "missing"),
        ({**POINT, "temperature": float("nan")}, "point.temperature", "not finite"),
        ({**POINT, "pressure": 2.0}, "point.pressure", "fixed value"),
    ],
)
def test_invalid_points_name_the_field(point: dict, field: str, needle: str) -> None:
    space = _reaction_space()
    with pytest.raises(InvalidInputError) as info:
        space.validate_point(point)
    assert info.value.field == field and needle in info.value.problem
    assert not space.contains(point)


def test_validate_point_fills_fixed_and_canonicalises_types() -> None:
    space = _reaction_space()
    out = space.validate_point(
        {k: v for k, v in POINT.items() if k != "pressure"} | {"rpm": 500.0}
    )
    assert out["pressure"] == 1.0 and isinstance(out["rpm"], int)


def test_linear_constraints_in_encoded_space() -> None:
    space = Space(
        parameters=[
            ContinuousParameter(name="a", low=0, high=10),
            IntegerParameter(name="b", low=2, high=6),
        ],
        constraints=[LinearConstraint(coefficients={"a": 1, "b": 2}, bound=12)],
    )
    assert space.contains({"a": 2.0, "b": 5}) and not space.contains({"a": 3.0, "b": 5})
    ((indices, coefs, rhs),) = space.inequality_constraints()
    X = space.encode([{"a": 2.0, "b": 5}, {"a": 3.0, "b": 5}])
    lhs = X[:, indices] @ np.array(coefs)
    assert lhs[0] >= rhs - 1e-12 and lhs[1] < rhs
    assert space.feasible_mask(X).tolist() == [True, False]
    ge = LinearConstraint(coefficients={"a": 1}, operator=">=", bound=5)
    assert ge.is_satisfied({"a": 5}) and not ge.is_satisfied({"a": 4.9})


def test_optuna_distributions() -> None:
    dists = _reaction_space().to_optuna_distributions()
    assert set(dists) == {"temperature", "loading", "rpm", "solvent"}
    assert dists["loading"].log and dists["rpm"].step == 100
    assert list(dists["solvent"].choices) == ["THF", "DMF", "MeCN"]


def test_bool_and_numeric_choices_stay_distinct() -> None:
    p = CategoricalParameter(name="c", choices=[True, 1.5, "1.5"])
    assert p.validate_value("1.5", "c") == "1.5" and p.validate_value(1.5, "c") == 1.5
    with pytest.raises(InvalidInputError):
        p.validate_value(1, "c")


# ---------------------------------------------------------------------- property tests
@st.composite
def spaces_and_points(draw: st.DrawFn) -> tuple[Space, list[dict]]:
    n_params = draw(st.integers(1, 5))
    params = []
    for i in range(n_params):
        kind = draw(st.sampled_from(["continuous", "log", "integer", "categorical"]))
        if kind in ("continuous", "log"):
            low = draw(st.floats(1e-3 if kind == "log" else -1e3, 1e3))
            width = draw(st.floats(1e-3, 1e3))
            params.append(
                ContinuousParameter(name=f"p{i}", low=low, high=low + width, log=kind == "log")
            )
        elif kind == "integer":
            low = draw(st.integers(-50, 50))
            step = draw(st.integers(1, 5))
            params.append(
                IntegerParameter(
                    name=f"p{i}", low=low, high=low + step * draw(st.integers(1, 20)), step=step
                )
            )
        else:
            k = draw(st.integers(2, 5))
            params.append(CategoricalParameter(name=f"p{i}", choices=[f"c{j}" for j in range(k)]))
    space = Space(parameters=params)
    U = np.array(
        draw(
            st.lists(
                st.lists(st.floats(0, 1), min_size=space.dim(), max_size=space.dim()),
                min_size=1,
                max_size=4,
            )
        )
    )
    return space, space.decode(U)


@settings(max_examples=60, deadline=None)
@given(spaces_and_points(), st.sampled_from(["onehot", "index"]))
def test_decode_encode_roundtrip(data: tuple[Space, list[dict]], encoding: str) -> None:
    space, points = data
    X = space.encode(points, encoding=encoding)  # type: ignore[arg-type]
    lo, hi = space.bounds(encoding)  # type: ignore[arg-type]
    assert (X - lo).min() >= -1e-12 and (hi - X).min() >= -1e-12
    again = space.decode(X, encoding=encoding)  # type: ignore[arg-type]
    for a, b in zip(points, again, strict=True):
        assert space.contains(a)
        for name in space.names:
            if isinstance(space[name], ContinuousParameter):
                assert b[name] == pytest.approx(a[name], rel=1e-9, abs=1e-9)
            else:
                assert b[name] == a[name]
