"""Test problems (all minimisation, known optimum).

Objective values come from ``botorch.test_functions`` when BoTorch is importable.
A numpy re-implementation (same constants) is used only in environments without
BoTorch (e.g. an isolated HEBO venv); ``python -m bobench.problems`` checks that
both agree and prints each problem's optimum.

Constraint convention: ``g(x) <= 0`` means feasible (Optuna's convention).
Regret convention for constrained problems: an infeasible evaluation counts as
the problem's ``worst_feasible`` value (BoTorch's convention for
ConstrainedHartmann: the max of f over the feasible set), so "no feasible point
found yet" gives regret = worst_feasible - optimum.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

try:  # prefer BoTorch's reference implementations
    import torch
    from botorch.test_functions.synthetic import Ackley, Branin, ConstrainedHartmann, Hartmann

    HAVE_BOTORCH = True
except Exception:  # pragma: no cover - only in venvs without botorch
    HAVE_BOTORCH = False


@dataclass
class Param:
    name: str
    kind: str  # "float" | "int" | "cat"
    low: float = 0.0
    high: float = 1.0
    choices: tuple = ()

    @property
    def n_choices(self) -> int:
        return len(self.choices)


@dataclass
class Problem:
    name: str
    params: list[Param]
    budget: int
    optimum: float
    fn: Callable[[dict], dict]
    n_constraints: int = 0
    worst_feasible: float | None = None
    note: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return len(self.params)

    @property
    def is_mixed(self) -> bool:
        return any(p.kind != "float" for p in self.params)

    @property
    def is_constrained(self) -> bool:
        return self.n_constraints > 0

    def evaluate(self, x: dict) -> dict:
        """Returns {"objective": float, "constraints": [g_1, ...]} (g <= 0 feasible)."""
        out = self.fn(x)
        out.setdefault("constraints", [])
        return out

    # ---- encodings shared by adapters -------------------------------------------
    def from_unit(self, u) -> dict:
        """Map a point of [0,1]^d to a parameter dict (int rounded, cat by bins)."""
        x = {}
        for p, ui in zip(self.params, u, strict=False):
            ui = float(min(max(ui, 0.0), 1.0))
            if p.kind == "float":
                x[p.name] = p.low + ui * (p.high - p.low)
            elif p.kind == "int":
                x[p.name] = int(min(p.high, math.floor(p.low + ui * (p.high - p.low + 1))))
            else:
                x[p.name] = p.choices[min(p.n_choices - 1, int(ui * p.n_choices))]
        return x

    def to_raw_vector(self, x: dict) -> list[float]:
        """float/int as raw value, categorical as its index."""
        v = []
        for p in self.params:
            if p.kind == "cat":
                v.append(float(p.choices.index(x[p.name])))
            else:
                v.append(float(x[p.name]))
        return v

    def from_raw_vector(self, v) -> dict:
        x = {}
        for p, vi in zip(self.params, v, strict=False):
            vi = float(vi)
            if p.kind == "float":
                x[p.name] = min(max(vi, p.low), p.high)
            elif p.kind == "int":
                x[p.name] = int(min(max(round(vi), p.low), p.high))
            else:
                x[p.name] = p.choices[int(min(max(round(vi), 0), p.n_choices - 1))]
        return x

    def raw_bounds(self) -> np.ndarray:
        lo = [p.low if p.kind != "cat" else 0.0 for p in self.params]
        hi = [p.high if p.kind != "cat" else float(p.n_choices - 1) for p in self.params]
        return np.array([lo, hi], dtype=float)


# ----------------------------------------------------------------------------------
# numpy reference implementations (same formulas/constants as botorch 0.18)
_H_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
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
_H4_A = _H6_A[:, :4]
_H4_P = _H6_P[:, :4]


def np_hartmann6(x):
    x = np.asarray(x, dtype=float)
    return float(-np.sum(_H_ALPHA * np.exp(-np.sum(_H6_A * (x[None, :] - _H6_P) ** 2, axis=1))))


def np_hartmann4(x):
    x = np.asarray(x, dtype=float)
    h = -np.sum(_H_ALPHA * np.exp(-np.sum(_H4_A * (x[None, :] - _H4_P) ** 2, axis=1)))
    return float((1.1 + h) / 0.839)


def np_branin(x):
    x1, x2 = float(x[0]), float(x[1])
    t1 = x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6
    return t1**2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10


def np_ackley(x):
    x = np.asarray(x, dtype=float)
    d = len(x)
    return float(
        -20 * math.exp(-0.2 * np.linalg.norm(x) / math.sqrt(d))
        - math.exp(np.mean(np.cos(2 * math.pi * x)))
        + 20
        + math.e
    )


def _bt(f):
    """Wrap a botorch test function into a numpy-vector -> float callable."""

    def g(x):
        return float(
            f.evaluate_true(torch.tensor([list(map(float, x))], dtype=torch.double)).item()
        )

    return g


if HAVE_BOTORCH:
    _branin = _bt(Branin())
    _hart6 = _bt(Hartmann(dim=6))
    _hart4 = _bt(Hartmann(dim=4))
    ACKLEY_BOUNDS = (-5.0, 10.0)
    _ackley5 = _bt(Ackley(dim=5, bounds=[ACKLEY_BOUNDS] * 5))
    _chart = ConstrainedHartmann(dim=6)

    def _chart_eval(x):
        X = torch.tensor([list(map(float, x))], dtype=torch.double)
        f = float(_chart.evaluate_true(X).item())
        slack = float(_chart.evaluate_slack_true(X).item())  # >= 0 feasible
        return f, -slack
else:  # pragma: no cover
    _branin, _hart6, _hart4, _ackley5 = np_branin, np_hartmann6, np_hartmann4, np_ackley
    ACKLEY_BOUNDS = (-5.0, 10.0)

    def _chart_eval(x):
        return np_hartmann6(x), float(np.linalg.norm(np.asarray(x, float)) - 1.0)


# ----------------------------------------------------------------------------------
# optimum values: polished to full precision (the rounded literature values
# -3.32237 / 0.397887 would make regrets below ~1e-6 meaningless or negative).
BRANIN_OPT = 0.39788735772973816
HARTMANN6_OPT = (
    -3.322368004440185
)  # botorch Hartmann(dim=6), L-BFGS-B polish of the literature optimizer
HARTMANN4_OPT = (
    -3.134494144760154
)  # botorch Hartmann(dim=4) on [0,1]^4, best of 256 L-BFGS-B starts
CHART_WORST_FEASIBLE = -0.0001346  # botorch ConstrainedHartmann(dim=6)._worst_feasible_value

# mixed problem definition -----------------------------------------------------------
MIXED_CATS = ("a", "b", "c")
MIXED_OFFSET = {"a": 0.4, "b": 0.0, "c": 0.2}
MIXED_KSTAR = {"a": 2, "b": 6, "c": 8}


def _mixed_transform(x4, c):
    x4 = np.asarray(x4, dtype=float)
    if c == "a":
        return x4
    if c == "b":
        return 1.0 - x4
    return x4[::-1].copy()


def mixed_objective(x4, k, c):
    return _hart4(_mixed_transform(x4, c)) + MIXED_OFFSET[c] + 0.04 * (k - MIXED_KSTAR[c]) ** 2


def _mk_branin():
    ps = [Param("x1", "float", -5.0, 10.0), Param("x2", "float", 0.0, 15.0)]
    return Problem(
        "branin",
        ps,
        30,
        BRANIN_OPT,
        lambda x: {"objective": _branin([x["x1"], x["x2"]])},
        note="botorch Branin on [-5,10]x[0,15]",
    )


def _mk_hartmann6():
    ps = [Param(f"x{i}", "float", 0.0, 1.0) for i in range(6)]
    return Problem(
        "hartmann6",
        ps,
        60,
        HARTMANN6_OPT,
        lambda x: {"objective": _hart6([x[f"x{i}"] for i in range(6)])},
        note="botorch Hartmann(dim=6) on [0,1]^6",
    )


def _mk_ackley5():
    lo, hi = ACKLEY_BOUNDS
    ps = [Param(f"x{i}", "float", lo, hi) for i in range(5)]
    return Problem(
        "ackley5",
        ps,
        60,
        0.0,
        lambda x: {"objective": _ackley5([x[f"x{i}"] for i in range(5)])},
        note="botorch Ackley(dim=5) on the asymmetric box [-5,10]^5 "
        "(optimum 0 at the origin, which is NOT the box centre 2.5)",
    )


def _mk_mixed():
    ps = [Param(f"x{i}", "float", 0.0, 1.0) for i in range(4)]
    ps.append(Param("k", "int", 0, 9))
    ps.append(Param("c", "cat", choices=MIXED_CATS))
    return Problem(
        "mixed",
        ps,
        50,
        HARTMANN4_OPT,
        lambda x: {
            "objective": mixed_objective([x[f"x{i}"] for i in range(4)], int(x["k"]), x["c"])
        },
        note="f = H4(T_c(x)) + b_c + 0.04 (k - k*_c)^2; x in [0,1]^4, k in {0..9}, "
        "c in {a,b,c}; T_a = id, T_b = 1-x, T_c = reversed coords; "
        "b = {a:.4, b:0, c:.2}; k* = {a:2, b:6, c:8}; optimum at c=b, k=6, "
        "x = 1 - argmin H4 (brute force over the 30 discrete combos)",
    )


def _mk_chart6():
    ps = [Param(f"x{i}", "float", 0.0, 1.0) for i in range(6)]

    def fn(x):
        f, g = _chart_eval([x[f"x{i}"] for i in range(6)])
        return {"objective": f, "constraints": [g]}

    return Problem(
        "chartmann6",
        ps,
        50,
        HARTMANN6_OPT,
        fn,
        n_constraints=1,
        worst_feasible=CHART_WORST_FEASIBLE,
        note="botorch ConstrainedHartmann(dim=6): Hartmann6 s.t. ||x||_2 <= 1 "
        "(~8% of the cube is feasible; the unconstrained optimum is feasible)",
    )


def _mk_hartmann6_30():
    ps = [Param(f"x{i}", "float", 0.0, 1.0) for i in range(30)]
    return Problem(
        "hartmann6_30",
        ps,
        100,
        HARTMANN6_OPT,
        lambda x: {"objective": _hart6([x[f"x{i}"] for i in range(6)])},
        note="botorch Hartmann(dim=6) of x0..x5 on [0,1]^30; x6..x29 are dummies "
        "(the SAASBO paper's embedded Hartmann6)",
    )


def _mk_ackley20():
    lo, hi = ACKLEY_BOUNDS
    ps = [Param(f"x{i}", "float", lo, hi) for i in range(20)]
    ackley = _bt(Ackley(dim=20, bounds=[ACKLEY_BOUNDS] * 20)) if HAVE_BOTORCH else np_ackley
    return Problem(
        "ackley20",
        ps,
        150,
        0.0,
        lambda x: {"objective": ackley([x[f"x{i}"] for i in range(20)])},
        note="botorch Ackley(dim=20) on [-5,10]^20 (BoTorch's TuRBO-1 tutorial box; "
        "optimum 0 at the origin)",
    )


PROBLEMS: dict[str, Callable[[], Problem]] = {
    "branin": _mk_branin,
    "hartmann6": _mk_hartmann6,
    "ackley5": _mk_ackley5,
    "mixed": _mk_mixed,
    "chartmann6": _mk_chart6,
    "hartmann6_30": _mk_hartmann6_30,
    "ackley20": _mk_ackley20,
}


def get_problem(name: str) -> Problem:
    return PROBLEMS[name]()


def _selfcheck():  # pragma: no cover - diagnostic
    from scipy.optimize import minimize

    rng = np.random.default_rng(0)
    if HAVE_BOTORCH:
        for _ in range(50):
            u = rng.random(6)
            # botorch stores A/P as float32 buffers, so agreement is ~1e-7, not 1e-15
            assert abs(_hart6(u) - np_hartmann6(u)) < 1e-5, (_hart6(u), np_hartmann6(u))
            assert abs(_hart4(u[:4]) - np_hartmann4(u[:4])) < 1e-5
            b = [-5 + 15 * u[0], 15 * u[1]]
            assert abs(_branin(b) - np_branin(b)) < 1e-9
            a = -5 + 15 * u[:5]
            assert abs(_ackley5(a) - np_ackley(a)) < 1e-12
        print("botorch and numpy implementations agree (|diff| < 1e-5)")
    # optimum polishing
    r = minimize(
        _branin, [math.pi, 2.275], method="L-BFGS-B", options={"ftol": 1e-15, "gtol": 1e-12}
    )
    print("branin opt", repr(r.fun))
    r = minimize(
        _hart6,
        [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573],
        method="L-BFGS-B",
        bounds=[(0, 1)] * 6,
        options={"ftol": 1e-15, "gtol": 1e-12},
    )
    print("hartmann6 opt", repr(r.fun), "||x*||", np.linalg.norm(r.x))
    best = (np.inf, None)
    for s in rng.random((256, 4)):
        r = minimize(
            _hart4,
            s,
            method="L-BFGS-B",
            bounds=[(0, 1)] * 4,
            options={"ftol": 1e-15, "gtol": 1e-12},
        )
        if r.fun < best[0]:
            best = (r.fun, r.x)
    print("hartmann4 opt", repr(best[0]), best[1])
    # brute force over the discrete part of the mixed problem
    table = []
    for c in MIXED_CATS:
        for k in range(10):
            bc = (np.inf, None)
            for s in rng.random((64, 4)):
                r = minimize(
                    lambda z, k=k, c=c: mixed_objective(z, k, c),
                    s,
                    method="L-BFGS-B",
                    bounds=[(0, 1)] * 4,
                    options={"ftol": 1e-15, "gtol": 1e-12},
                )
                if r.fun < bc[0]:
                    bc = (r.fun, r.x)
            table.append((bc[0], c, k, bc[1]))
    table.sort(key=lambda t: t[0])
    print("mixed opt (best 3 discrete combos):")
    for t in table[:3]:
        print("  ", repr(t[0]), t[1], t[2], np.round(t[3], 6))


if __name__ == "__main__":
    _selfcheck()
