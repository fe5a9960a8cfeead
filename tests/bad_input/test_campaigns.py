"""Bad campaign inputs: each refused with a CrucibleError naming the field, store unchanged.

Every case runs against a real SQLite store holding a campaign with one completed and one
pending trial; the rows of both tables are read before and after the refused call and
must be identical.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from crucible.bo import Campaign, Strategy
from crucible.exceptions import (
    AlreadyExistsError,
    CrucibleError,
    InvalidInputError,
    NotFoundError,
    StateError,
)

SPACE = {
    "x1": {"type": "continuous", "low": -5, "high": 10},
    "x2": {"type": "continuous", "low": 0, "high": 15},
}
OBJECTIVES = [{"name": "y"}]
STRATEGY = Strategy(n_init=4)
PENDING, COMPLETED = 1, 0  # trial numbers in the fixture's campaign
POINT = {"x1": 1.0, "x2": 2.0}


@pytest.fixture
def store(tmp_path: Path) -> tuple[str, Campaign]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    campaign = Campaign.create("base", SPACE, OBJECTIVES, strategy=STRATEGY, store_url=url)
    first, _ = campaign.suggest(2)
    campaign.observe(first.number, {"y": 1.0})
    return url, campaign


def _rows(url: str) -> list[list[tuple[Any, ...]]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [
                [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))]
                for table in ("crucible_campaigns", "crucible_trials")
            ]
    finally:
        engine.dispose()


def _create(url: str, **changes: Any) -> Campaign:
    args: dict[str, Any] = {
        "name": "new",
        "space": SPACE,
        "objectives": OBJECTIVES,
        "constraints": (),
        "strategy": None,
        "store_url": url,
    }
    args.update(changes)
    return Campaign.create(**args)


Call = Callable[[str, Campaign], Any]
CASES: list[tuple[str, Call, type[CrucibleError], str, str]] = [
    # (case id, the call, error class, field that must be named, word in the message)
    ("name-empty", lambda u, c: _create(u, name=""), InvalidInputError, "name", "empty"),
    ("name-5000", lambda u, c: _create(u, name="n" * 5000), InvalidInputError, "name", "5000"),
    ("name-path", lambda u, c: _create(u, name="../../x"), InvalidInputError, "name", "safe"),
    ("name-int", lambda u, c: _create(u, name=5), InvalidInputError, "name", "string"),
    ("name-taken", lambda u, c: _create(u, name="base"), AlreadyExistsError, "base", "exists"),
    (
        "store-url-not-a-url",
        lambda u, c: _create(u, store_url="notaurl"),
        InvalidInputError,
        "store_url",
        "CRUCIBLE_CAMPAIGN_STORE_URL",
    ),
    (
        "store-url-unknown-dialect",
        lambda u, c: _create(u, store_url="nosuchdb://host/db"),
        InvalidInputError,
        "store_url",
        "dialect",
    ),
    (
        "store-url-not-a-string",
        lambda u, c: _create(u, store_url=["sqlite://"]),
        InvalidInputError,
        "store_url",
        "not a database URL",
    ),
    (
        "space-low-above-high",
        lambda u, c: _create(u, space={"x": {"type": "continuous", "low": 3, "high": 1}}),
        InvalidInputError,
        "space.x",
        "low",
    ),
    ("space-not-mapping", lambda u, c: _create(u, space=3), InvalidInputError, "space", "int"),
    (
        "objective-direction",
        lambda u, c: _create(u, objectives=[{"name": "y", "direction": "up"}]),
        InvalidInputError,
        "objectives[0].direction",
        "maximize",
    ),
    (
        "objective-threshold-inf",
        lambda u, c: _create(u, objectives=[{"name": "y", "threshold": math.inf}]),
        InvalidInputError,
        "objectives[0].threshold",
        "finite",
    ),
    (
        "objective-threshold-string",
        lambda u, c: _create(u, objectives=[{"name": "y", "threshold": "1"}]),
        InvalidInputError,
        "objectives[0].threshold",
        "number",
    ),
    (
        "objective-extra-key",
        lambda u, c: _create(u, objectives=[{"name": "y", "goal": "min"}]),
        InvalidInputError,
        "objectives[0].goal",
        "Extra",
    ),
    (
        "objective-name-empty",
        lambda u, c: _create(u, objectives=[""]),
        InvalidInputError,
        "objectives[0].name",
        "at least 1",
    ),
    (
        "objectives-duplicate",
        lambda u, c: _create(u, objectives=["y", "y"]),
        InvalidInputError,
        "objectives",
        "more than once",
    ),
    (
        "objectives-empty",
        lambda u, c: _create(u, objectives=[]),
        InvalidInputError,
        "objectives",
        "empty",
    ),
    (
        "objectives-bare-string",
        lambda u, c: _create(u, objectives="yield"),
        InvalidInputError,
        "objectives",
        "list",
    ),
    (
        "objective-is-a-parameter",
        lambda u, c: _create(u, objectives=["x1"]),
        InvalidInputError,
        "objectives",
        "parameter names",
    ),
    (
        "constraint-bound-nan",
        lambda u, c: _create(u, constraints=[{"metric": "cost", "bound": math.nan}]),
        InvalidInputError,
        "constraints[0].bound",
        "finite",
    ),
    (
        "constraint-operator",
        lambda u, c: _create(u, constraints=[{"metric": "cost", "operator": "<", "bound": 1}]),
        InvalidInputError,
        "constraints[0].operator",
        "<=",
    ),
    (
        "strategy-n-init-zero",
        lambda u, c: _create(u, strategy={"n_init": 0}),
        InvalidInputError,
        "strategy.n_init",
        "greater than or equal to 1",
    ),
    (
        "strategy-seed-negative",
        lambda u, c: _create(u, strategy={"seed": -1}),
        InvalidInputError,
        "strategy.seed",
        "greater than or equal to 0",
    ),
    (
        "strategy-unknown-key",
        lambda u, c: _create(u, strategy={"n_inti": 3}),
        InvalidInputError,
        "strategy.n_inti",
        "Extra",
    ),
    (
        "strategy-raw-samples-huge",
        lambda u, c: _create(u, strategy={"raw_samples": 10**9}),
        InvalidInputError,
        "strategy.raw_samples",
        "less than or equal",
    ),
    ("suggest-string", lambda u, c: c.suggest("2"), InvalidInputError, "n", "whole number"),
    ("suggest-float", lambda u, c: c.suggest(2.5), InvalidInputError, "n", "whole number"),
    ("suggest-zero", lambda u, c: c.suggest(0), InvalidInputError, "n", "between 1"),
    ("suggest-huge", lambda u, c: c.suggest(10**6), InvalidInputError, "n", "between 1"),
    (
        "observe-id-string",
        lambda u, c: c.observe(str(PENDING), {"y": 1.0}),
        InvalidInputError,
        "trial_id",
        "'1' (str)",
    ),
    (
        "observe-id-float",
        lambda u, c: c.observe(float(PENDING), {"y": 1.0}),
        InvalidInputError,
        "trial_id",
        "float",
    ),
    (
        "observe-id-bool",
        lambda u, c: c.observe(True, {"y": 1.0}),
        InvalidInputError,
        "trial_id",
        "bool",
    ),
    (
        "observe-id-negative",
        lambda u, c: c.observe(-1, {"y": 1.0}),
        InvalidInputError,
        "trial_id",
        "negative",
    ),
    (
        "observe-nan",
        lambda u, c: c.observe(PENDING, {"y": math.nan}),
        InvalidInputError,
        "values.y",
        "finite",
    ),
    (
        "observe-inf",
        lambda u, c: c.observe(PENDING, {"y": -math.inf}),
        InvalidInputError,
        "values.y",
        "finite",
    ),
    (
        "observe-string-value",
        lambda u, c: c.observe(PENDING, {"y": "3"}),
        InvalidInputError,
        "values.y",
        "not a number",
    ),
    (
        "observe-missing",
        lambda u, c: c.observe(PENDING, {}),
        InvalidInputError,
        "values.y",
        "missing",
    ),
    (
        "observe-extra-nan",
        lambda u, c: c.observe(PENDING, {"y": 1.0, "purity": math.nan}),
        InvalidInputError,
        "values.purity",
        "finite",
    ),
    (
        "observe-not-mapping",
        lambda u, c: c.observe(PENDING, [1.0]),
        InvalidInputError,
        "values",
        "mapping",
    ),
    (
        "observe-unknown-trial",
        lambda u, c: c.observe(99, {"y": 1.0}),
        NotFoundError,
        "trial 99",
        "no",
    ),
    (
        "observe-completed-trial",
        lambda u, c: c.observe(COMPLETED, {"y": 2.0}),
        StateError,
        "trial 0",
        "already completed",
    ),
    ("fail-id-string", lambda u, c: c.mark_failed("1"), InvalidInputError, "trial_id", "str"),
    (
        "fail-reason-huge",
        lambda u, c: c.mark_failed(PENDING, "r" * 100_000),
        InvalidInputError,
        "reason",
        "100000 characters",
    ),
    ("fail-unknown-trial", lambda u, c: c.mark_failed(42), NotFoundError, "trial 42", "no"),
    (
        "add-out-of-bounds",
        lambda u, c: c.add({"x1": 100.0, "x2": 1.0}, {"y": 1.0}),
        InvalidInputError,
        "params.x1",
        "outside",
    ),
    (
        "add-nan",
        lambda u, c: c.add(POINT, {"y": math.nan}),
        InvalidInputError,
        "values.y",
        "finite",
    ),
    (
        "add-params-list",
        lambda u, c: c.add([1.0, 2.0], {"y": 1.0}),
        InvalidInputError,
        "params",
        "mapping",
    ),
    ("enqueue-string", lambda u, c: c.enqueue("x1=1"), InvalidInputError, "points", "list"),
    (
        "enqueue-bad-point",
        lambda u, c: c.enqueue([POINT, {"x1": 1.0, "x2": 99.0}]),
        InvalidInputError,
        "points[1].x2",
        "outside",
    ),
    (
        "enqueue-source",
        lambda u, c: c.enqueue([POINT], source="model"),
        InvalidInputError,
        "source",
        "model",
    ),
    (
        "load-empty-name",
        lambda u, c: Campaign.load("", u),
        InvalidInputError,
        "name",
        "not a campaign name",
    ),
    ("load-unknown", lambda u, c: Campaign.load("nope", u), NotFoundError, "nope", "base"),
    (
        "load-bad-url",
        lambda u, c: Campaign.load("base", "notaurl"),
        InvalidInputError,
        "store_url",
        "URL",
    ),
    ("get-trial-string", lambda u, c: c.get_trial("1"), InvalidInputError, "trial_id", "str"),
]


@pytest.mark.parametrize(
    ("call", "error", "field", "word"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_campaign_input_is_refused_and_nothing_stored_changes(
    store: tuple[str, Campaign], call: Call, error: type[CrucibleError], field: str, word: str
) -> None:
    url, campaign = store
    before = _rows(url)
    with pytest.raises(error) as info:
        call(url, campaign)
    message = str(info.value)
    if isinstance(info.value, InvalidInputError):
        assert field in info.value.field, message
        assert "Fix:" in message, message
    assert field in message and word in message, message
    assert _rows(url) == before
