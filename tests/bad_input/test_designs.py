"""Bad design requests: each refused with an InvalidInputError naming the field and the fix."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from crucible.design import MAX_DESIGN_POINTS, MAX_GRID_POINTS, make_design, validate_design
from crucible.exceptions import InvalidInputError
from crucible.space import Space

SPACE = Space.from_dict(
    {
        "x": {"type": "continuous", "low": 0, "high": 1},
        "n": {"type": "integer", "low": 1, "high": 5},
        "c": {"type": "categorical", "choices": ["a", "b"]},
    }
)
WIDE = Space.from_dict({f"x{i}": {"type": "continuous", "low": 0, "high": 1} for i in range(8)})

CASES: list[tuple[str, Callable[[], Any], str, str]] = [
    # (case id, the call, field that must be named, word in the message)
    ("n-float", lambda: make_design("sobol", SPACE, n=2.5), "n", "whole number"),
    ("n-string", lambda: make_design("lhs", SPACE, n="4"), "n", "whole number"),
    ("n-bool", lambda: make_design("random", SPACE, n=True), "n", "whole number"),
    ("n-zero", lambda: make_design("sobol", SPACE, n=0), "n", "between 1"),
    ("n-negative", lambda: make_design("sobol", SPACE, n=-3), "n", "between 1"),
    ("n-huge", lambda: make_design("sobol", SPACE, n=10**9), "n", str(MAX_DESIGN_POINTS)),
    ("n-missing", lambda: make_design("sobol", SPACE), "n", "required"),
    ("seed-negative", lambda: make_design("sobol", SPACE, n=4, seed=-1), "seed", ">= 0"),
    ("seed-float", lambda: make_design("lhs", SPACE, n=4, seed=1.5), "seed", "not an integer"),
    ("seed-string", lambda: make_design("random", SPACE, n=4, seed="1"), "seed", "integer"),
    ("seed-huge", lambda: make_design("random", SPACE, n=4, seed=2**70), "seed", "2**63"),
    ("unknown-design", lambda: make_design("halton", SPACE, n=4), "design", "halton"),
    ("design-not-string", lambda: make_design(None, SPACE, n=4), "design", "None"),
    ("space-as-dict", lambda: make_design("sobol", {"x": {}}, n=4), "space", "Space"),
    ("unknown-option", lambda: make_design("sobol", SPACE, n=4, levels=3), "levels", "option"),
    ("grid-levels-zero", lambda: make_design("grid", SPACE, levels=0), "levels", "between 1"),
    ("grid-levels-huge", lambda: make_design("grid", SPACE, levels=10**9), "levels", "between"),
    ("grid-levels-float", lambda: make_design("grid", SPACE, levels=2.5), "levels", "whole"),
    (
        "grid-levels-unknown-parameter",
        lambda: make_design("grid", SPACE, levels={"nope": 3}),
        "levels.nope",
        "not a numeric tunable parameter",
    ),
    (
        "grid-levels-on-categorical",
        lambda: make_design("grid", SPACE, levels={"c": 3}),
        "levels.c",
        "numeric",
    ),
    (
        "grid-too-large",
        lambda: make_design("grid", WIDE, levels=10),
        "levels",
        f"x0: 10, x1: 10, x2: 10, x3: 10, x4: 10, x5: 10, x6: 10, x7: 10), more than "
        f"{MAX_GRID_POINTS}",
    ),
    ("grid-n-float", lambda: make_design("grid", SPACE, n=1.5), "n", "whole number"),
    ("grid-seed-negative", lambda: make_design("grid", SPACE, n=2, seed=-5), "seed", ">= 0"),
    (
        "user-point-out-of-bounds",
        lambda: validate_design(SPACE, [{"x": 2.0, "n": 1, "c": "a"}]),
        "design[0].x",
        "outside",
    ),
    (
        "user-point-unknown-parameter",
        lambda: validate_design(SPACE, [{"x": 0.5, "n": 1, "c": "a", "zzz": 1}]),
        "design[0].zzz",
        "not a parameter",
    ),
    (
        "user-point-not-integer",
        lambda: validate_design(SPACE, [{"x": 0.5, "n": 1, "c": "a"}, {"x": 0.5, "n": 1.5}]),
        "design[1].n",
        "not an integer",
    ),
    (
        "user-point-bad-choice",
        lambda: validate_design(SPACE, [{"x": 0.5, "n": 1, "c": "z"}]),
        "design[0].c",
        "not one of the choices",
    ),
    (
        "user-point-nan",
        lambda: validate_design(SPACE, [{"x": float("nan"), "n": 1, "c": "a"}]),
        "design[0].x",
        "not finite",
    ),
]


@pytest.mark.parametrize(
    ("call", "field", "word"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_design_request_is_refused_naming_the_field(
    call: Callable[[], Any], field: str, word: str
) -> None:
    with pytest.raises(InvalidInputError) as info:
        call()
    message = str(info.value)
    assert info.value.field == field, message
    assert word in message and "Fix:" in message, message


def test_integer_parameter_with_ten_billion_levels_is_sampled_not_listed() -> None:
    space = Space.from_dict({"n": {"type": "integer", "low": 0, "high": 10**10}})
    points = make_design("sobol", space, n=8, seed=0)
    assert len({p["n"] for p in points}) == 8
    assert all(isinstance(p["n"], int) and 0 <= p["n"] <= 10**10 for p in points)
    grid = make_design("grid", space, levels=5)
    assert [p["n"] for p in grid] == [0, 2_500_000_000, 5_000_000_000, 7_500_000_000, 10**10]
