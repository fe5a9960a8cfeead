"""Tests for crucible.bo.strategy, acquisition and optimize: every acquisition, mixed,
constrained and batch proposals, and that BO beats random search on a known optimum.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from crucible.bo.acquisition import ACQUISITIONS, make_acquisition
from crucible.bo.objectives import Objective
from crucible.bo.problems import get_problem
from crucible.bo.strategy import Strategy, fit_warped_surrogate, modelled_outcomes, propose
from crucible.bo.surrogates import GPSurrogate
from crucible.design import make_design
from crucible.exceptions import ConfigurationError, InvalidInputError
from crucible.space import Space

CHEAP = dict(num_restarts=2, raw_samples=64, acq_maxiter=30, fit_maxiter=50, mc_samples=16)


def _observed(name: str, n: int, seed: int = 0) -> tuple:
    problem = get_problem(name)
    points = make_design("sobol", problem.space, n, seed=seed)
    return problem, points, [problem.evaluator(p) for p in points]


@pytest.mark.parametrize("acquisition", ["logei", "lognei", "ucb", "pi", "kg"])
def test_every_single_objective_acquisition_proposes_valid_points(acquisition: str) -> None:
    problem, points, values = _observed("branin", 8)
    strategy = Strategy(acquisition=acquisition, **CHEAP)
    proposal = propose(problem.space, problem.objectives, [], strategy, points, values, 2)
    assert len(proposal.points) == 2
    assert all(problem.space.contains(p) for p in proposal.points)
    assert proposal.points[0] != proposal.points[1]
    assert proposal.info["acquisition"] == acquisition


def test_auto_acquisition_switches_to_lognei_when_the_gp_sees_noise() -> None:
    noisy = get_problem("branin_noise20").with_seed(1)  # seeded noise: the same data every run
    points = make_design("sobol", noisy.space, 30, seed=0)
    values = [noisy.evaluator(p) for p in points]
    auto = propose(noisy.space, noisy.objectives, [], Strategy(**CHEAP), points, values, 1)
    assert auto.info["noise_share"] > 0.1 and auto.info["acquisition"] == "lognei"
    never = Strategy(noisy_threshold=1.0, **CHEAP)
    kept = propose(noisy.space, noisy.objectives, [], never, points, values, 1)
    assert kept.info["acquisition"] == "logei"
    clean, points, values = _observed("branin", 24)
    plain = propose(clean.space, clean.objectives, [], Strategy(**CHEAP), points, values, 1)
    assert plain.info["noise_share"] < 0.1 and plain.info["acquisition"] == "logei"
    after_noise = propose(
        clean.space,
        clean.objectives,
        [],
        Strategy(**CHEAP),
        points,
        values,
        1,
        warm_start=auto.hyperparameters,
    )  # a campaign that once saw the noise keeps LogNEI
    assert after_noise.info["noise_share"] < 0.1
    assert after_noise.info["acquisition"] == "lognei"
    fixed = Strategy(acquisition="ucb", **CHEAP)
    assert (
        "noise_share"
        not in propose(clean.space, clean.objectives, [], fixed, points, values, 1).info
    )


@pytest.mark.parametrize(
    ("kernel", "model", "encoding"),
    [("onehot", "SingleTaskGP", "onehot"), ("mixed", "MixedSingleTaskGP", "index")],
)
def test_mixed_space_gp_per_categorical_kernel_rounds(
    kernel: str, model: str, encoding: str
) -> None:
    problem, points, values = _observed("mixed", 10)
    strategy = Strategy(categorical_kernel=kernel, **CHEAP)
    proposal = propose(problem.space, problem.objectives, [], strategy, points, values, 2)
    assert proposal.info["surrogate"] == model and proposal.info["encoding"] == encoding
    for p in proposal.points:
        assert problem.space.contains(p) and isinstance(p["k"], int) and p["c"] in "abc"


def test_constrained_multi_objective_and_rf() -> None:
    problem, points, values = _observed("chartmann6", 10)
    proposal = propose(
        problem.space,
        problem.objectives,
        problem.constraints,
        Strategy(**CHEAP),
        points,
        values,
        2,
    )
    assert len(proposal.points) == 2
    problem, points, values = _observed("branin_currin", 8)
    proposal = propose(problem.space, problem.objectives, [], Strategy(**CHEAP), points, values, 1)
    assert proposal.info["acquisition"] == "lognehvi"
    rf = Strategy(surrogate="rf", **CHEAP)
    proposal = propose(problem.space, problem.objectives[:1], [], rf, points, values, 2)
    assert proposal.info["surrogate"] == "RandomForest" and len(proposal.points) == 2


def test_linear_constraints_are_respected() -> None:
    space = Space.model_validate(
        {
            "parameters": [
                {"name": "a", "type": "continuous", "low": 0, "high": 1},
                {"name": "b", "type": "continuous", "low": 0, "high": 1},
            ],
            "constraints": [{"coefficients": {"a": 1, "b": 1}, "bound": 0.5}],
        }
    )
    points = make_design("sobol", space, 6, seed=0)
    values = [{"y": (p["a"] - 0.4) ** 2 + (p["b"] - 0.4) ** 2} for p in points]
    proposal = propose(space, [Objective(name="y")], [], Strategy(**CHEAP), points, values, 2)
    assert all(p["a"] + p["b"] <= 0.5 + 1e-6 for p in proposal.points)


def test_acquisition_checks() -> None:
    assert set(ACQUISITIONS) == {"logei", "lognei", "ucb", "pi", "kg", "lognehvi"}
    problem, points, values = _observed("branin_currin", 6)
    with pytest.raises(ConfigurationError, match="lognehvi"):
        propose(
            problem.space,
            problem.objectives,
            [],
            Strategy(acquisition="logei", **CHEAP),
            points,
            values,
            1,
        )
    problem, points, values = _observed("chartmann6", 6)
    with pytest.raises(ConfigurationError, match="outcome constraints"):
        propose(
            problem.space,
            problem.objectives,
            problem.constraints,
            Strategy(acquisition="ucb", **CHEAP),
            points,
            values,
            1,
        )
    with pytest.raises(InvalidInputError):
        make_acquisition("ei")


def _sphere(p: dict) -> dict:
    return {"y": sum((p[k] - 0.3) ** 2 for k in ("a", "b", "c"))}


def test_bo_beats_random_search_on_a_known_optimum() -> None:
    space = Space.from_dict({k: {"type": "continuous", "low": 0, "high": 1} for k in "abc"})
    strategy = Strategy(num_restarts=3, raw_samples=128, acq_maxiter=50, fit_maxiter=100)
    points = make_design("sobol", space, 6, seed=1)
    values = [_sphere(p) for p in points]
    warm = None
    for step in range(10):
        proposal = propose(
            space,
            [Objective(name="y")],
            [],
            strategy,
            points,
            values,
            1,
            warm_start=warm,
            seed=step,
        )
        warm = proposal.hyperparameters
        points += proposal.points
        values += [_sphere(p) for p in proposal.points]
    bo_best = min(v["y"] for v in values)
    random_best = [
        min(_sphere(p)["y"] for p in make_design("random", space, 16, seed=s)) for s in range(20)
    ]
    assert bo_best < 0.01
    assert bo_best < min(random_best)


def test_proposals_are_reproducible_whatever_the_global_torch_rng() -> None:
    import torch

    problem, points, values = _observed("hartmann6", 12)
    strategy = Strategy(**CHEAP)

    def suggest(global_seed: int) -> list:
        torch.manual_seed(global_seed)
        proposal = propose(
            problem.space, problem.objectives, [], strategy, points, values, 1, seed=3
        )
        return proposal.points

    first = suggest(0)
    assert suggest(1) == first and suggest(2) == first
    torch.manual_seed(2)
    expected = torch.rand(3)
    torch.manual_seed(2)
    propose(problem.space, problem.objectives, [], strategy, points, values, 1, seed=3)
    assert torch.equal(torch.rand(3), expected)  # the caller's random stream is left alone


def _refits(name: str, n: int, n_earlier: int, **fixed: object) -> Callable[..., GPSurrogate]:
    """Fits of ``n`` Sobol points of ``name`` from a proposal's hyperparameters on ``n_earlier``.

    Warm-started fits take one refit step; ``fixed`` and each call's options set the strategy.
    """
    problem, points, values = _observed(name, n)
    earlier = propose(
        problem.space,
        problem.objectives,
        [],
        Strategy(**CHEAP),
        points[:n_earlier],
        values[:n_earlier],
        1,
    )
    X = problem.space.encode(points, "onehot")
    Y, slack = modelled_outcomes(values, problem.objectives, [])

    def fitted(**options: object) -> GPSurrogate:
        strategy = Strategy(refit_maxiter=1, **CHEAP, **fixed, **options)  # type: ignore[arg-type]
        surrogate = fit_warped_surrogate(
            problem.space, strategy, X, Y, slack, earlier.hyperparameters
        )[0]
        assert isinstance(surrogate, GPSurrogate)
        return surrogate

    return fitted


def test_one_objective_fits_cold_from_high_dim_parameters() -> None:
    fitted = _refits("ackley20", 12, 10, outcome_warp="none")
    cold, warm, default = (
        f.hyperparameters() for f in (fitted(warm_start=False), fitted(warm_start=True), fitted())
    )
    assert cold != warm and default == cold
    space, small = get_problem("ackley20").space, get_problem("branin").space
    assert not Strategy().warm_start_for(1, space)
    assert Strategy().warm_start_for(1, small)
    assert Strategy(warm_start=True).warm_start_for(1, space)
    assert not Strategy().warm_start_for(2, small)


def test_several_objectives_keep_the_likelier_of_a_cold_and_a_warm_fit() -> None:
    fitted = _refits("branin_currin", 10, 6)
    cold, warm, default = fitted(warm_start=False), fitted(warm_start=True), fitted()
    evidence = [sum(f.log_evidence(j) for j in range(2)) for f in (cold, warm)]
    assert cold.hyperparameters() != warm.hyperparameters()
    likelier = (cold, warm)[int(evidence[1] > evidence[0])]
    assert default.hyperparameters() == likelier.hyperparameters()
    assert Strategy().fits_twice(2) and not Strategy().fits_twice(1)
    assert not Strategy(warm_start=True).fits_twice(2)
