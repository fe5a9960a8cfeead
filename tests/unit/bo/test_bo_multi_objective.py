"""Multi-objective campaigns: hypervolume in the user's directions, Pareto-aware best(),
and a reference point inferred once and stored."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from crucible.bo import Campaign, Objective, Strategy
from crucible.bo.analysis import hypervolume, pareto_mask
from crucible.bo.problems import get_problem
from crucible.bo.store import engine_for, transaction
from crucible.bo.strategy import fit_warped_surrogate
from crucible.bo.surrogates import GPSurrogate
from crucible.exceptions import InvalidInputError
from crucible.space import Space

FAST = Strategy(
    n_init=4, num_restarts=2, raw_samples=64, acq_maxiter=30, fit_maxiter=50, mc_samples=16
)
SPACE = {"x": {"type": "continuous", "low": 0, "high": 1}}


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'campaigns.db'}"


def _stored_rows(url: str) -> list[tuple[object, ...]]:
    with engine_for(url).connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT * FROM crucible_reference_points"))]


def test_hypervolume_in_the_given_directions() -> None:
    Y = np.array([[1.0, 2.0], [2.0, 1.0], [2.5, 2.5]])  # both minimised; last is dominated
    assert hypervolume(Y, [3.0, 3.0], ["minimize", "minimize"]) == pytest.approx(3.0)
    assert hypervolume(-Y, [-3.0, -3.0]) == pytest.approx(3.0)  # maximise convention
    mixed = Y * np.array([1.0, -1.0])  # minimise the first, maximise the second
    assert hypervolume(mixed, [3.0, -3.0], ["minimize", "maximize"]) == pytest.approx(3.0)
    assert hypervolume(Y, [1.5, 1.5], ["minimize", "minimize"]) == 0.0
    assert hypervolume(np.zeros((0, 2)), [1.0, 1.0]) == 0.0
    assert pareto_mask(Y, ["minimize", "minimize"]).tolist() == [True, True, False]
    assert pareto_mask(Y).tolist() == [False, False, True]


@pytest.mark.parametrize(
    ("ref", "directions", "field"),
    [
        ([3.0, 3.0], ["minimize"], "directions"),
        ([3.0, 3.0], ["minimise", "minimize"], "directions[0]"),
        ([3.0, float("nan")], None, "ref_point"),
        ([3.0, 3.0, 3.0], None, "ref_point"),
    ],
)
def test_hypervolume_refuses_bad_arguments(
    ref: list[float], directions: list[str] | None, field: str
) -> None:
    with pytest.raises(InvalidInputError) as info:
        hypervolume(np.ones((2, 2)), ref, directions)
    assert info.value.field == field


def _manual(tmp_path: Path, thresholds: tuple[float, float] | None) -> Campaign:
    objectives = [
        Objective(name=n, direction="minimize", threshold=t)
        for n, t in zip(("a", "b"), thresholds or (None, None), strict=True)
    ]
    campaign = Campaign.create("m", SPACE, objectives, strategy=FAST, store_url=_url(tmp_path))
    for x, a, b in [(0.1, 1, 9), (0.2, 5, 5), (0.3, 9, 1), (0.4, 6, 6)]:
        campaign.add({"x": x}, {"a": a, "b": b})
    return campaign


def test_best_of_several_objectives_is_the_largest_box_to_the_reference(tmp_path: Path) -> None:
    campaign = _manual(tmp_path, (10.0, 10.0))
    assert [t.values["a"] for t in campaign.pareto_front()] == [1, 5, 9]
    best = campaign.best()
    assert best is not None and best.values == {"a": 5.0, "b": 5.0}  # box 25 vs 9 and 9
    assert campaign.reference_point() == {"a": 10.0, "b": 10.0}
    # staircase: a in [1,5] b in [9,10], a in [5,9] b in [5,10], a in [9,10] b in [1,10]
    assert campaign.hypervolume() == pytest.approx(4 * 1 + 4 * 5 + 1 * 9)
    assert campaign.hypervolume({"a": 6.0, "b": 6.0}) == pytest.approx(1.0)


def test_best_falls_back_to_the_fronts_nadir_when_nothing_beats_the_thresholds(
    tmp_path: Path,
) -> None:
    campaign = _manual(tmp_path, (0.5, 0.5))
    assert campaign.hypervolume() == 0.0
    best = campaign.best()
    assert best is not None and best.values == {"a": 5.0, "b": 5.0}


@pytest.mark.parametrize(
    ("ref", "field"),
    [
        ({"a": 1.0}, "ref_point"),
        ({"a": 1.0, "b": 1.0, "c": 1.0}, "ref_point"),
        ({"a": 1.0, "b": "x"}, "ref_point.b"),
        ({"a": 1.0, "b": float("inf")}, "ref_point.b"),
        ([1.0, 2.0], "ref_point"),
    ],
)
def test_campaign_hypervolume_refuses_a_bad_reference(
    tmp_path: Path, ref: object, field: str
) -> None:
    campaign = _manual(tmp_path, None)
    with pytest.raises(InvalidInputError) as info:
        campaign.hypervolume(ref)  # type: ignore[arg-type]
    assert info.value.field == field


def test_reference_point_is_inferred_once_and_stored(tmp_path: Path) -> None:
    url = _url(tmp_path)
    problem = get_problem("branin_currin")
    objectives = [Objective(name=o.name, direction=o.direction) for o in problem.objectives]
    campaign = Campaign.create("bc", problem.space, objectives, strategy=FAST, store_url=url)
    assert campaign.reference_point() is None and campaign.hypervolume() == 0.0
    for trial in campaign.suggest(4):  # the initial design
        campaign.observe(trial.number, problem.evaluator(trial.params))
    provisional = campaign.reference_point()
    assert provisional is not None and not _stored_rows(url)
    volumes = []
    for _ in range(3):
        (trial,) = campaign.suggest(1)  # the first one stores the reference point
        campaign.observe(trial.number, problem.evaluator(trial.params))
        assert Campaign.load("bc", url).reference_point() == provisional
        volumes.append(campaign.hypervolume())
    (row,) = _stored_rows(url)
    assert row[2] == 4  # inferred from the 4 design points
    assert volumes == sorted(volumes) and volumes[0] > 0  # the reference stays put
    # the front's nadir moved back by 10% of the range of the 4 design points
    done = campaign.completed()[:4]
    Y = np.array([[t.values["branin"], t.values["currin"]] for t in done])
    nadir = Y[pareto_mask(Y, ["minimize", "minimize"])].max(0)
    expected = nadir + 0.1 * (Y.max(0) - Y.min(0))
    assert [provisional["branin"], provisional["currin"]] == pytest.approx(expected.tolist())
    best = campaign.best()
    assert best is not None and best.number in {t.number for t in campaign.pareto_front()}


@pytest.mark.parametrize("mode", ["current", "stored"])
def test_acquisition_reference_follows_the_front_or_stays_stored(
    tmp_path: Path, mode: str
) -> None:
    url = _url(tmp_path)
    problem = get_problem("branin_currin")
    objectives = [Objective(name=o.name, direction=o.direction) for o in problem.objectives]
    strategy = FAST.model_copy(update={"acquisition_reference": mode})
    campaign = Campaign.create("ar", problem.space, objectives, strategy=strategy, store_url=url)
    for trial in campaign.suggest(4):
        campaign.observe(trial.number, problem.evaluator(trial.params))
    (trial,) = campaign.suggest(1)  # stores the reference point
    campaign.observe(trial.number, problem.evaluator(trial.params))
    stored = campaign.reference_point()
    # a trial at BraninCurrin's Pareto front moves the front's nadir
    (extra,) = campaign.enqueue([{"x0": 0.5427, "x1": 0.1524}])
    campaign.observe(extra.number, problem.evaluator(extra.params))
    with transaction(url) as conn:
        used = campaign._settle_reference(conn, campaign._read_trials(conn))
    assert used is not None and campaign.reference_point() == stored
    expected = campaign._infer_reference(campaign.completed())
    if mode == "stored":
        expected = stored
    assert (-used).tolist() == pytest.approx([expected["branin"], expected["currin"]])
    assert expected != stored or mode == "stored"


def test_thresholds_are_the_reference_and_nothing_is_stored(tmp_path: Path) -> None:
    url = _url(tmp_path)
    problem = get_problem("branin_currin")
    campaign = Campaign.create(
        "bt", problem.space, problem.objectives, strategy=FAST, store_url=url
    )
    for n in (4, 1):
        for trial in campaign.suggest(n):
            campaign.observe(trial.number, problem.evaluator(trial.params))
    assert campaign.reference_point() == {"branin": 18.0, "currin": 6.0}
    assert not _stored_rows(url)
    names = ["branin", "currin"]
    Y = np.array([[t.values[n] for n in names] for t in campaign.completed()])
    expected = hypervolume(Y, [18.0, 6.0], ["minimize", "minimize"])
    assert campaign.hypervolume() == pytest.approx(expected)


@pytest.mark.parametrize(
    ("setting", "n_objectives", "expected"),
    [
        ("auto", 1, "worst"),
        ("auto", 2, "fitted"),
        ("auto", 3, "fitted"),
        ("worst", 2, "worst"),
        ("fitted", 1, "fitted"),
    ],
)
def test_prior_mean_resolves_per_number_of_objectives(
    setting: str, n_objectives: int, expected: str
) -> None:
    strategy = Strategy.model_validate({"prior_mean": setting})
    assert strategy.prior_mean_for(n_objectives) == expected


def test_proposal_fits_pin_the_mean_of_one_objective_only() -> None:
    space = Space.from_dict({n: {"type": "continuous", "low": 0, "high": 1} for n in "ab"})
    rng = np.random.default_rng(0)
    X = rng.random((12, 2))
    Y = np.column_stack([-((X - 0.3) ** 2).sum(1), -((X - 0.7) ** 2).sum(1)])
    no_slack = np.zeros((12, 0))
    for m, pinned in ((1, 1), (2, 0)):
        surrogate, _, _ = fit_warped_surrogate(space, Strategy(), X, Y[:, :m], no_slack)
        assert isinstance(surrogate, GPSurrogate) and surrogate.pessimistic_outputs == pinned
    worst, _, _ = fit_warped_surrogate(space, Strategy(prior_mean="worst"), X, Y, no_slack)
    assert isinstance(worst, GPSurrogate) and worst.pessimistic_outputs == 2
