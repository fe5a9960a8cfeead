"""Bad parameter spaces: each refused with an InvalidInputError naming the field and the fix."""

from __future__ import annotations

import math
from typing import Any

import pytest

from crucible.exceptions import InvalidInputError
from crucible.space import MAX_CHOICES, MAX_LEVELS, Space

X_OK = {"type": "continuous", "low": 0.0, "high": 1.0}

CASES: list[tuple[str, Any, str, str]] = [
    # (case id, space given to Space.from_dict, field that must be named, word in the problem)
    ("low-above-high", {"x": {"type": "continuous", "low": 2, "high": 1}}, "space.x", "low"),
    ("low-equals-high", {"x": {"type": "continuous", "low": 1, "high": 1}}, "space.x", "low"),
    ("low-inf", {"x": {"type": "continuous", "low": -math.inf, "high": 1}}, "space.x", "finite"),
    ("high-nan", {"x": {"type": "continuous", "low": 0, "high": math.nan}}, "space.x", "finite"),
    ("low-string", {"x": {"type": "continuous", "low": "0", "high": 1}}, "space.x.low", "num"),
    ("low-bool", {"x": {"type": "continuous", "low": True, "high": 2}}, "space.x.low", "num"),
    (
        "log-needs-positive-low",
        {"x": {"type": "continuous", "low": 0, "high": 1, "log": True}},
        "space.x",
        "log",
    ),
    ("log-string", {"x": {**X_OK, "log": "yes"}}, "space.x.log", "bool"),
    ("integer-fraction", {"n": {"type": "integer", "low": 0, "high": 1.5}}, "space.n.high", "int"),
    ("integer-string", {"n": {"type": "integer", "low": "0", "high": 3}}, "space.n.low", "int"),
    ("integer-huge", {"n": {"type": "integer", "low": 0, "high": 10**20}}, "space.n", "2**53"),
    ("integer-reversed", {"n": {"type": "integer", "low": 5, "high": 1}}, "space.n", "low"),
    ("integer-step-0", {"n": {"type": "integer", "low": 0, "high": 4, "step": 0}}, "step", "1"),
    (
        "integer-step-not-dividing",
        {"n": {"type": "integer", "low": 0, "high": 10, "step": 3}},
        "space.n",
        "step",
    ),
    ("choices-empty", {"c": {"type": "categorical", "choices": []}}, "space.c.choices", "two"),
    ("choices-one", {"c": {"type": "categorical", "choices": ["a"]}}, "space.c.choices", "two"),
    (
        "choices-duplicate",
        {"c": {"type": "categorical", "choices": ["a", "a"]}},
        "space.c.choices",
        "duplicate",
    ),
    (
        "choice-nan",
        {"c": {"type": "categorical", "choices": [1.0, math.nan]}},
        "space.c.choices",
        "finite",
    ),
    (
        "choices-too-many",
        {"c": {"type": "categorical", "choices": list(range(MAX_CHOICES + 1))}},
        "space.c.choices",
        str(MAX_CHOICES),
    ),
    ("choice-not-scalar", {"c": {"type": "categorical", "choices": [[1], 2]}}, "space.c", "valid"),
    ("fixed-nan", {"f": {"type": "fixed", "value": math.nan}, "x": X_OK}, "space.f.value", "fin"),
    ("unknown-type", {"x": {"type": "quux", "low": 0, "high": 1}}, "space.x", "quux"),
    ("missing-type", {"x": {"low": 0, "high": 1}}, "space.x", "type"),
    ("extra-key", {"x": {**X_OK, "hgih": 2}}, "space.x.hgih", "Extra"),
    ("spec-not-mapping", {"x": 5}, "space.x", "mapping"),
    ("space-not-mapping", ["x"], "space", "mapping"),
    ("space-empty", {}, "space.parameters", "at least 1"),
    ("bad-name", {"bad name": X_OK}, "name", "pattern"),
    ("name-5000-chars", {"x" * 5000: X_OK}, "name", "100"),
    ("only-fixed", {"f": {"type": "fixed", "value": 1}}, "space", "fixed"),
    (
        "duplicate-names",
        {"parameters": [{"name": "x", **X_OK}, {"name": "x", **X_OK}]},
        "space",
        "duplicate parameter names ['x']",
    ),
    (
        "constraint-unknown-parameter",
        {
            "parameters": [{"name": "x", **X_OK}],
            "constraints": [{"coefficients": {"y": 1}, "bound": 1}],
        },
        "constraints[0]",
        "unknown parameter 'y'",
    ),
    (
        "constraint-coefficient-inf",
        {
            "parameters": [{"name": "x", **X_OK}],
            "constraints": [{"coefficients": {"x": math.inf}, "bound": 1}],
        },
        "space.constraints[0].coefficients",
        "finite",
    ),
    (
        "constraint-bound-nan",
        {
            "parameters": [{"name": "x", **X_OK}],
            "constraints": [{"coefficients": {"x": 1}, "bound": math.nan}],
        },
        "space.constraints[0].bound",
        "finite",
    ),
    (
        "constraint-on-categorical",
        {
            "parameters": [{"name": "c", "type": "categorical", "choices": ["a", "b"]}],
            "constraints": [{"coefficients": {"c": 1}, "bound": 1}],
        },
        "constraints[0]",
        "'c'",
    ),
]


@pytest.mark.parametrize(
    ("data", "field", "word"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_space_is_refused_naming_the_field(data: Any, field: str, word: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        Space.from_dict(data)
    message = str(info.value)
    assert info.value.field.startswith(field) or field in message, message
    assert word in message and "Fix:" in message, message


def test_huge_integer_levels_are_never_listed() -> None:
    space = Space.from_dict({"n": {"type": "integer", "low": 0, "high": 10**10}})
    parameter = space["n"]
    assert parameter.n_levels == 10**10 + 1  # type: ignore[union-attr]
    with pytest.raises(InvalidInputError) as info:
        parameter.levels  # type: ignore[union-attr]  # noqa: B018
    assert info.value.field == "space.n" and str(MAX_LEVELS) in str(info.value)
