"""Tests for crucible.bo.objectives."""

import math

import numpy as np
import pytest

from crucible.bo.objectives import (
    Objective,
    OutcomeConstraint,
    check_values,
    constraint_slack,
    metric_names,
    objective_matrix,
)
from crucible.exceptions import InvalidInputError


def test_objective_matrix_maximises_and_slack_signs() -> None:
    objs = [Objective(name="y"), Objective(name="z", direction="maximize")]
    Y = objective_matrix([{"y": 1.0, "z": 2.0}], objs)
    assert Y.tolist() == [[-1.0, 2.0]]
    assert objs[0].better(0.5, 1.0) and objs[1].better(3.0, 2.0)
    cons = [
        OutcomeConstraint(metric="c", bound=1.0),
        OutcomeConstraint(metric="c", operator=">=", bound=0.0),
    ]
    S = constraint_slack([{"c": 0.5}, {"c": 1.5}, {"c": -1.0}], cons)
    assert np.all(S[0] <= 0) and S[1, 0] > 0 and S[2, 1] > 0
    assert metric_names(objs, cons) == ["y", "z", "c"]


@pytest.mark.parametrize(
    ("values", "needle"),
    [
        ({"y": math.nan}, "not a finite"),
        ({"y": "1"}, "not a number"),
        ({}, "missing"),
        ({"y": math.inf}, "finite"),
    ],
)
def test_check_values_rejects_nan_and_missing(values: dict, needle: str) -> None:
    with pytest.raises(InvalidInputError, match=needle) as info:
        check_values(values, ["y"])
    assert info.value.field == "values.y"


def test_check_values_keeps_extra_metrics() -> None:
    assert check_values({"y": 1, "extra": np.float32(2.5)}, ["y"]) == {"y": 1.0, "extra": 2.5}
