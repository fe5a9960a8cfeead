"""The numpy test functions agree with BoTorch's and reach their known optima."""

import numpy as np
import pytest
import torch
from botorch.test_functions import Ackley, Branin, BraninCurrin, Hartmann

from crucible.bo.problems import (
    BRANIN_OPTIMUM,
    BRANIN_RANGE,
    HARTMANN6_OPTIMUM,
    HARTMANN6_RANGE,
    PROBLEMS,
    ackley_fn,
    branin_currin,
    branin_fn,
    get_problem,
    hartmann4_fn,
    hartmann6_fn,
    mixed_hartmann4,
)
from crucible.plugins import EVALUATORS


def test_agree_with_botorch() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        u = rng.random(6)
        t = torch.tensor(u, dtype=torch.double).unsqueeze(0)
        assert hartmann6_fn(u) == pytest.approx(Hartmann(dim=6).evaluate_true(t).item(), abs=1e-5)
        assert hartmann4_fn(u[:4]) == pytest.approx(
            Hartmann(dim=4).evaluate_true(t[:, :4]).item(), abs=1e-5
        )
        b = np.array([-5 + 15 * u[0], 15 * u[1]])
        assert branin_fn(b) == pytest.approx(
            Branin().evaluate_true(torch.tensor(b).unsqueeze(0)).item()
        )
        a = -5 + 15 * u[:5]
        assert ackley_fn(a) == pytest.approx(
            Ackley(dim=5).evaluate_true(torch.tensor(a).unsqueeze(0)).item()
        )
        bc = BraninCurrin().evaluate_true(t[:, :2]).squeeze(0).tolist()
        assert list(branin_currin({"x0": u[0], "x1": u[1]}).values()) == pytest.approx(bc)


def test_known_optima_and_problem_metadata() -> None:
    assert branin_fn(np.array([np.pi, 2.275])) == pytest.approx(PROBLEMS["branin"].optimum)
    x_star = 1 - np.array([0.18739, 0.19415, 0.55792, 0.26477])
    best = mixed_hartmann4({**{f"x{i}": x_star[i] for i in range(4)}, "k": 6, "c": "b"})["y"]
    assert best == pytest.approx(PROBLEMS["mixed"].optimum, abs=1e-3)
    for problem in PROBLEMS.values():
        point = problem.space.decode(np.full((1, problem.space.dim()), 0.3))[0]
        values = problem.evaluator(point)
        assert {o.name for o in problem.objectives} <= set(values)
        assert problem.evaluator_path.startswith("crucible.bo.problems:")
    assert get_problem("hartmann6").regret(-3.0) == pytest.approx(0.322368, abs=1e-6)


@pytest.mark.parametrize(
    ("name", "base", "spread", "fraction"),
    [
        ("branin_noise5", "branin", BRANIN_RANGE, 0.05),
        ("branin_noise20", "branin", BRANIN_RANGE, 0.20),
        ("hartmann6_noise5", "hartmann6", HARTMANN6_RANGE, 0.05),
        ("hartmann6_noise20", "hartmann6", HARTMANN6_RANGE, 0.20),
    ],
)
def test_noisy_problems_add_gaussian_noise_of_a_fraction_of_the_range(
    name: str, base: str, spread: float, fraction: float
) -> None:
    problem = get_problem(name)
    plain = get_problem(base)
    assert problem.noise_sd == pytest.approx(fraction * spread)
    assert (problem.space, problem.budget, problem.optimum) == (
        plain.space,
        plain.budget,
        plain.optimum,
    )
    point = problem.space.decode(np.full((1, problem.space.dim()), 0.37))[0]
    true = plain.evaluator(point)["y"]
    assert problem.true_values(point) == {"y": true}
    seeded = problem.with_seed(3)
    draws = np.array([seeded.evaluator(point)["y"] for _ in range(4000)])
    assert abs(draws.mean() - true) < 4 * problem.noise_sd / np.sqrt(len(draws))
    assert draws.std() == pytest.approx(problem.noise_sd, rel=0.05)
    assert problem.with_seed(3).evaluator(point) == {"y": draws[0]}  # reproducible
    assert problem.with_seed(4).evaluator(point) != {"y": draws[0]}
    assert EVALUATORS.get(name, "evaluator") is problem.evaluator
    assert plain.with_seed(3) is plain  # noise-free problems are unchanged


def test_the_ranges_are_the_functions_spread_over_the_domain() -> None:
    assert branin_fn(np.array([-5.0, 0.0])) - BRANIN_OPTIMUM == pytest.approx(BRANIN_RANGE)
    rng = np.random.default_rng(0)
    h6 = np.array([hartmann6_fn(u) for u in rng.random((2000, 6))])
    assert h6.max() < 0 and h6.max() - HARTMANN6_OPTIMUM <= HARTMANN6_RANGE
    assert abs(HARTMANN6_RANGE + HARTMANN6_OPTIMUM) < 1e-6


def test_high_dimensional_problems_reach_their_optima() -> None:
    from crucible.bo.problems import ackley20, hartmann6_embedded30

    h30, a20 = get_problem("hartmann6_30"), get_problem("ackley20")
    assert (h30.space.dim(), a20.space.dim()) == (30, 20)
    assert (h30.budget, a20.budget) == (100, 150)
    x_star = [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573]
    dummies = {f"x{i}": 0.9 for i in range(6, 30)}
    at_opt = hartmann6_embedded30({**{f"x{i}": v for i, v in enumerate(x_star)}, **dummies})
    assert at_opt["y"] == pytest.approx(h30.optimum, abs=1e-5)
    assert h30.regret(at_opt["y"]) < 1e-5
    # the dummies change nothing; the active six do
    rng = np.random.default_rng(1)
    u = rng.random(30)
    point = {f"x{i}": float(v) for i, v in enumerate(u)}
    moved = {**point, **{f"x{i}": float(1 - u[i]) for i in range(6, 30)}}
    assert hartmann6_embedded30(moved) == hartmann6_embedded30(point)
    assert hartmann6_embedded30(point)["y"] == pytest.approx(hartmann6_fn(u[:6]))
    origin = {f"x{i}": 0.0 for i in range(20)}
    assert ackley20(origin)["y"] == pytest.approx(a20.optimum, abs=1e-12)
    a = -5 + 15 * rng.random(20)
    expected = Ackley(dim=20).evaluate_true(torch.tensor(a).unsqueeze(0)).item()
    assert ackley20({f"x{i}": float(v) for i, v in enumerate(a)})["y"] == pytest.approx(expected)
    assert a20.regret(ackley20(origin)["y"] + 0.5) == pytest.approx(0.5)
    assert a20.space.tunable[0].low == -5 and a20.space.tunable[0].high == 10
