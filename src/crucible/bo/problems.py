"""Built-in BO problems with known optima (BoTorch's formulas, in numpy).

The demo campaign, the flow's ``problem`` parameter and the benchmarks use them. Each
problem is usable three ways:

* as a registered evaluator for campaigns and flows, by problem name (``"branin"``,
  :data:`crucible.plugins.EVALUATORS`): takes a parameter dict, returns a metric dict;
* through :data:`PROBLEMS` / :func:`get_problem`: a :class:`SyntheticProblem` with its
  :class:`~crucible.space.Space`, objectives, outcome constraints and known optimum;
* as plain numpy functions (``branin_fn(x)``) for oracle checks.

The formulas and constants match ``botorch.test_functions.synthetic`` (checked in the
tests). The mixed and constrained problems follow the Crucible BO benchmark harness
(``benchmarks/bobench``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from crucible.bo.objectives import Objective, OutcomeConstraint
from crucible.space import Space

__all__ = [
    "NOISE_LEVELS",
    "PROBLEMS",
    "SyntheticProblem",
    "ackley5",
    "ackley20",
    "branin",
    "branin_currin",
    "constrained_hartmann6",
    "get_problem",
    "hartmann6",
    "hartmann6_embedded30",
    "mixed_hartmann4",
    "noisy",
]

_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ],
    dtype=float,
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381.0],
    ]
)

BRANIN_OPTIMUM = 0.39788735772973816
HARTMANN6_OPTIMUM = -3.322368004440185
HARTMANN4_OPTIMUM = -3.134494144760154
ACKLEY_OPTIMUM = 0.0
#: Largest minus smallest value over the domain (maxima by 200 L-BFGS-B starts: Branin
#: 308.129 at (-5, 0), Hartmann6 -3e-8 far from its four bumps); noise levels are fractions.
BRANIN_RANGE = 307.7312086538769
HARTMANN6_RANGE = 3.3223679749101485
#: Noise standard deviations of the noisy problems, as fractions of the function's range.
NOISE_LEVELS = (0.05, 0.20)
MIXED_OFFSET = {"a": 0.4, "b": 0.0, "c": 0.2}
MIXED_KSTAR = {"a": 2, "b": 6, "c": 8}


def branin_fn(x: np.ndarray) -> float:
    """Branin on ``[-5, 10] x [0, 15]``; minimum 0.397887 at three points."""
    x1, x2 = float(x[0]), float(x[1])
    t1 = x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6
    return t1**2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10


def hartmann6_fn(x: np.ndarray) -> float:
    """Hartmann6 on ``[0, 1]^6``; minimum -3.32237."""
    x = np.asarray(x, dtype=float)
    inner = np.sum(_H6_A * (x[None, :] - _H6_P) ** 2, axis=1)
    return float(-np.sum(_ALPHA * np.exp(-inner)))


def hartmann4_fn(x: np.ndarray) -> float:
    """BoTorch's rescaled Hartmann4 on ``[0, 1]^4``: ``(1.1 + H) / 0.839``."""
    x = np.asarray(x, dtype=float)
    inner = np.sum(_H6_A[:, :4] * (x[None, :] - _H6_P[:, :4]) ** 2, axis=1)
    return float((1.1 - np.sum(_ALPHA * np.exp(-inner))) / 0.839)


def ackley_fn(x: np.ndarray) -> float:
    """Ackley; minimum 0 at the origin."""
    x = np.asarray(x, dtype=float)
    d = len(x)
    return float(
        -20 * math.exp(-0.2 * np.linalg.norm(x) / math.sqrt(d))
        - math.exp(np.mean(np.cos(2 * math.pi * x)))
        + 20
        + math.e
    )


def _currin_fn(x: np.ndarray) -> float:
    x0, x1 = float(x[0]), float(x[1])
    factor = 1 - math.exp(-1 / (2 * x1)) if x1 > 0 else 1.0
    numer = 2300 * x0**3 + 1900 * x0**2 + 2092 * x0 + 60
    denom = 100 * x0**3 + 500 * x0**2 + 4 * x0 + 20
    return factor * numer / denom


def _vector(params: Mapping[str, Any], names: list[str]) -> np.ndarray:
    return np.array([float(params[n]) for n in names])


def branin(params: Mapping[str, Any]) -> dict[str, float]:
    """Evaluator: ``{"x1", "x2"}`` -> ``{"y": branin}`` (minimise)."""
    return {"y": branin_fn(_vector(params, ["x1", "x2"]))}


def hartmann6(params: Mapping[str, Any]) -> dict[str, float]:
    """Evaluator: ``{"x0".."x5"}`` in [0, 1] -> ``{"y": hartmann6}`` (minimise)."""
    return {"y": hartmann6_fn(_vector(params, [f"x{i}" for i in range(6)]))}


def ackley5(params: Mapping[str, Any]) -> dict[str, float]:
    """Evaluator: ``{"x0".."x4"}`` in [-5, 10] -> ``{"y": ackley}`` (minimise)."""
    return {"y": ackley_fn(_vector(params, [f"x{i}" for i in range(5)]))}


def mixed_hartmann4(params: Mapping[str, Any]) -> dict[str, float]:
    """Evaluator of the mixed problem (``x0..x3`` in [0, 1], ``k`` in 0..9, ``c`` in a/b/c).

    ``y = H4(T_c(x)) + b_c + 0.04 (k - k*_c)^2`` with ``T_a`` = identity, ``T_b = 1 - x``,
    ``T_c`` = reversed coordinates; optimum at ``c = b, k = 6``.
    """
    x = _vector(params, [f"x{i}" for i in range(4)])
    c = str(params["c"])
    x = x if c == "a" else (1.0 - x if c == "b" else x[::-1].copy())
    k = int(params["k"])
    return {"y": hartmann4_fn(x) + MIXED_OFFSET[c] + 0.04 * (k - MIXED_KSTAR[c]) ** 2}


def constrained_hartmann6(params: Mapping[str, Any]) -> dict[str, float]:
    """Evaluator: Hartmann6 plus ``norm = ||x||_2`` (feasible iff ``norm <= 1``)."""
    x = _vector(params, [f"x{i}" for i in range(6)])
    return {"y": hartmann6_fn(x), "norm": float(np.linalg.norm(x))}


def branin_currin(params: Mapping[str, Any]) -> dict[str, float]:
    """Two-objective evaluator on ``[0, 1]^2`` (BoTorch's BraninCurrin; both minimised)."""
    x = _vector(params, ["x0", "x1"])
    return {"branin": branin_fn(np.array([15 * x[0] - 5, 15 * x[1]])), "currin": _currin_fn(x)}


Evaluator = Callable[[Mapping[str, Any]], dict[str, float]]


def noisy(evaluator: Evaluator, sd: float, name: str, seed: int | None = None) -> Evaluator:
    """``evaluator`` with independent Gaussian noise of standard deviation ``sd`` on each value.

    Args:
        evaluator: The noise-free evaluator.
        sd: Noise standard deviation (the values' units).
        name: The returned function's ``__name__``.
        seed: Seed of the noise; None draws fresh noise in every process.
    """
    rng = np.random.default_rng(seed)

    def evaluate(params: Mapping[str, Any]) -> dict[str, float]:
        return {k: v + float(rng.normal(0.0, sd)) for k, v in evaluator(params).items()}

    evaluate.__name__ = evaluate.__qualname__ = name
    evaluate.__doc__ = f"{evaluator.__name__} plus Gaussian noise of sd {sd:.6g}."
    return evaluate


#: Registered noisy evaluators, ``<problem>_noise<percent>`` (fresh noise in each process).
branin_noise5 = noisy(branin, 0.05 * BRANIN_RANGE, "branin_noise5")
branin_noise20 = noisy(branin, 0.20 * BRANIN_RANGE, "branin_noise20")
hartmann6_noise5 = noisy(hartmann6, 0.05 * HARTMANN6_RANGE, "hartmann6_noise5")
hartmann6_noise20 = noisy(hartmann6, 0.20 * HARTMANN6_RANGE, "hartmann6_noise20")
_NOISY = {
    f.__name__: (f, base, spread * level)
    for (base, spread), level, f in (
        ((branin, BRANIN_RANGE), 0.05, branin_noise5),
        ((branin, BRANIN_RANGE), 0.20, branin_noise20),
        ((hartmann6, HARTMANN6_RANGE), 0.05, hartmann6_noise5),
        ((hartmann6, HARTMANN6_RANGE), 0.20, hartmann6_noise20),
    )
}


def hartmann6_embedded30(params: Mapping[str, Any]) -> dict[str, float]:
    """Evaluator: Hartmann6 of ``x0..x5`` in [0, 1]; ``x6..x29`` are dummies (minimise).

    The high-dimensional test of the BO benchmark (30 parameters, 6 of them active), as in
    the SAASBO paper (Eriksson and Jankowiak, UAI 2021); minimum -3.32237.
    """
    return {"y": hartmann6_fn(_vector(params, [f"x{i}" for i in range(6)]))}


def ackley20(params: Mapping[str, Any]) -> dict[str, float]:
    """Evaluator: ``{"x0".."x19"}`` in [-5, 10] -> ``{"y": ackley}`` (minimise; 0 at the origin).

    The box of BoTorch's TuRBO-1 tutorial; the optimum is not at its centre.
    """
    return {"y": ackley_fn(_vector(params, [f"x{i}" for i in range(20)]))}


@dataclass(frozen=True)
class SyntheticProblem:
    """A test problem: space, objectives, constraints, evaluator and known optimum.

    A noisy problem (``noise_sd > 0``) adds Gaussian noise of that standard deviation to
    its objective on every evaluation; ``true_evaluator`` gives the noise-free values
    (what a recommended point is scored by) and :meth:`with_seed` a copy whose noise is
    reproducible.
    """

    name: str
    space: Space
    evaluator: Evaluator
    objectives: list[Objective]
    constraints: list[OutcomeConstraint] = field(default_factory=list)
    optimum: float | None = None
    budget: int = 30
    noise_sd: float = 0.0
    true_evaluator: Evaluator | None = None

    def true_values(self, params: Mapping[str, Any]) -> dict[str, float]:
        """Noise-free metric values at ``params``."""
        return (self.true_evaluator or self.evaluator)(params)

    def with_seed(self, seed: int) -> SyntheticProblem:
        """This problem with noise drawn from a generator seeded with ``seed`` (a copy)."""
        if not self.noise_sd or self.true_evaluator is None:
            return self
        evaluator = noisy(self.true_evaluator, self.noise_sd, self.evaluator.__name__, seed)
        return dataclasses.replace(self, evaluator=evaluator)

    @property
    def evaluator_path(self) -> str:
        """``module:function`` path of the evaluator."""
        return f"{__name__}:{self.evaluator.__name__}"

    def regret(self, best_value: float) -> float:
        """Simple regret of a (minimised) best value; 0 when the optimum is unknown."""
        return 0.0 if self.optimum is None else max(best_value - self.optimum, 0.0)


def _box(names: list[str], low: float, high: float) -> Space:
    return Space.from_dict({n: {"type": "continuous", "low": low, "high": high} for n in names})


def _minimise_y() -> list[Objective]:
    return [Objective(name="y", direction="minimize")]


def _problems() -> dict[str, SyntheticProblem]:
    six = [f"x{i}" for i in range(6)]
    mixed_space = Space.from_dict(
        {
            **{f"x{i}": {"type": "continuous", "low": 0, "high": 1} for i in range(4)},
            "k": {"type": "integer", "low": 0, "high": 9},
            "c": {"type": "categorical", "choices": ["a", "b", "c"]},
        }
    )
    branin_space = Space.from_dict(
        {
            "x1": {"type": "continuous", "low": -5, "high": 10},
            "x2": {"type": "continuous", "low": 0, "high": 15},
        }
    )
    return {
        "branin": SyntheticProblem(
            "branin", branin_space, branin, _minimise_y(), optimum=BRANIN_OPTIMUM, budget=30
        ),
        "hartmann6": SyntheticProblem(
            "hartmann6", _box(six, 0, 1), hartmann6, _minimise_y(), [], HARTMANN6_OPTIMUM, 60
        ),
        "ackley5": SyntheticProblem(
            "ackley5", _box(six[:5], -5, 10), ackley5, _minimise_y(), [], ACKLEY_OPTIMUM, 60
        ),
        "mixed": SyntheticProblem(
            "mixed", mixed_space, mixed_hartmann4, _minimise_y(), [], HARTMANN4_OPTIMUM, 50
        ),
        "chartmann6": SyntheticProblem(
            "chartmann6",
            _box(six, 0, 1),
            constrained_hartmann6,
            _minimise_y(),
            [OutcomeConstraint(metric="norm", operator="<=", bound=1.0)],
            HARTMANN6_OPTIMUM,
            50,
        ),
        "branin_currin": SyntheticProblem(
            "branin_currin",
            _box(["x0", "x1"], 0, 1),
            branin_currin,
            [
                Objective(name="branin", direction="minimize", threshold=18.0),
                Objective(name="currin", direction="minimize", threshold=6.0),
            ],
            budget=30,
        ),
        "hartmann6_30": SyntheticProblem(
            "hartmann6_30",
            _box([f"x{i}" for i in range(30)], 0, 1),
            hartmann6_embedded30,
            _minimise_y(),
            [],
            HARTMANN6_OPTIMUM,
            100,
        ),
        "ackley20": SyntheticProblem(
            "ackley20",
            _box([f"x{i}" for i in range(20)], -5, 10),
            ackley20,
            _minimise_y(),
            [],
            ACKLEY_OPTIMUM,
            150,
        ),
    }


def _noisy_problems(plain: Mapping[str, SyntheticProblem]) -> dict[str, SyntheticProblem]:
    """``branin_noise5`` etc.: the plain problem with Gaussian noise on its objective."""
    out = {}
    for name, (evaluator, base, sd) in _NOISY.items():
        problem = plain[base.__name__]
        out[name] = dataclasses.replace(
            problem, name=name, evaluator=evaluator, noise_sd=sd, true_evaluator=base
        )
    return out


def _all_problems() -> dict[str, SyntheticProblem]:
    plain = _problems()
    return {**plain, **_noisy_problems(plain)}


#: Name -> problem.
PROBLEMS: dict[str, SyntheticProblem] = _all_problems()


def get_problem(name: str) -> SyntheticProblem:
    """A problem by name.

    Names: branin, hartmann6, ackley5, mixed, chartmann6, branin_currin, the noisy
    ``branin_noise5``, ``branin_noise20``, ``hartmann6_noise5``, ``hartmann6_noise20``
    (Gaussian noise of sd 5 % / 20 % of the function's range), and the high-dimensional
    ``hartmann6_30`` (Hartmann6 embedded in 30-D) and ``ackley20``.
    """
    if name not in PROBLEMS:
        from crucible.exceptions import InvalidInputError

        raise InvalidInputError("problem", f"unknown problem {name!r}", f"use {list(PROBLEMS)}")
    return PROBLEMS[name]
