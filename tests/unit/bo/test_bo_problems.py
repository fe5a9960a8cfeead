"""The numpy test functions agree with BoTorch's and reach their known optima."""

import numpy as np
import pytest
import torch
from botorch.test_functions import Ackley, Branin, BraninCurrin, Hartmann

from crucible.bo.problems import (
    PROBLEMS,
    ackley_fn,
    branin_currin,
    branin_fn,
    get_problem,
    hartmann4_fn,
    hartmann6_fn,
    mixed_hartmann4,
)


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
