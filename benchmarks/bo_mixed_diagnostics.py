"""Where Crucible loses the mixed BO problem: category choice or the search within one.

The mixed problem of ``benchmarks/bobench`` is ``f = H4(T_c(x)) + b_c + 0.04 (k - k*_c)^2``
with three categories ``a, b, c`` whose Hartmann4 landscapes are transformed copies of
each other (budget 50, 8 initial points). This script runs Crucible's ``Campaign`` (q=1;
``--method optuna_gp`` or another bobench adapter instead) through the same harness as
``benchmarks/bo.py``, on the full problem and on the problem restricted to the optimal
category ``b`` with a budget of 17, 25 or 50 evaluations (the restricted problems drop the
categorical parameter; their optimum is the full problem's), and prints per problem: the
median final regret, how many runs end below 0.01 (``b``'s global basin polished) and below
0.188 (Ax's 10-seed median on the full problem, run of 2026-12-03), and for the full
problem how often the first model-based step picks ``b``.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bo_mixed_diagnostics.py
        [--problems mixed,mixed_b17,mixed_b25,mixed_b50] [--seeds 0-99] [--workers 2]
        [--method crucible] [--strategy '{"kernel": "rbf"}'] [--out results.jsonl]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from statistics import median
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bo import parse_seeds
from bobench import problems as bp
from bobench.harness import run_one

N_INIT = 8
AX_MEDIAN = 0.188  # Ax 1.3.1, seeds 0-9, run of 2026-12-03 (docs/bo.md)


def restricted_problem(category: str, budget: int) -> Callable[[], bp.Problem]:
    """The mixed problem with its categorical fixed at ``category``."""

    def make() -> bp.Problem:
        params = [bp.Param(f"x{i}", "float", 0.0, 1.0) for i in range(4)]
        params.append(bp.Param("k", "int", 0, 9))

        def evaluate(x: dict[str, Any]) -> dict[str, Any]:
            xs = [x[f"x{i}"] for i in range(4)]
            return {"objective": bp.mixed_objective(xs, int(x["k"]), category)}

        name = f"mixed_{category}{budget}"
        return bp.Problem(name, params, budget, bp.HARTMANN4_OPT, evaluate)

    return make


for _budget in (17, 25, 50):
    bp.PROBLEMS[f"mixed_b{_budget}"] = restricted_problem("b", _budget)


def run(job: tuple[str, str, int, dict[str, Any]]) -> dict[str, Any]:
    """One run; the record keeps the final regret and the category sequence."""
    method, problem, seed, strategy = job
    extra = {"strategy": strategy} if strategy else None
    rec = run_one(method, problem, seed, n_init=N_INIT, extra=extra)
    if not rec["ok"]:
        raise RuntimeError(f"{method} {problem} seed {seed} failed: {rec.get('error')}")
    categories = "".join(str(p.get("c", "b")) for p in rec["points"])
    return {
        "method": method,
        "problem": problem,
        "seed": seed,
        "strategy": strategy,
        "final_regret": rec["regret"][-1],
        "categories": categories,
    }


def summarize(records: list[dict[str, Any]]) -> None:
    """Print one line per problem."""
    print("| problem | runs | median final regret | < 0.01 | < 0.188 | first model step in b |")
    print("|---|---|---|---|---|---|")
    for problem in dict.fromkeys(r["problem"] for r in records):
        rows = [r for r in records if r["problem"] == problem]
        finals = [r["final_regret"] for r in rows]
        first_b = sum(r["categories"][N_INIT : N_INIT + 1] == "b" for r in rows)
        print(
            f"| {problem} | {len(rows)} | {median(finals):.3g} | "
            f"{sum(f < 0.01 for f in finals)} | {sum(f < AX_MEDIAN for f in finals)} | "
            f"{first_b if problem == 'mixed' else '-'} |"
        )


def main() -> None:
    """Run the grid and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", default="mixed,mixed_b17,mixed_b25,mixed_b50")
    parser.add_argument("--seeds", default="0-99")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--method", default="crucible", help="a bobench adapter, e.g. optuna_gp")
    parser.add_argument("--strategy", default="{}", help="Crucible Strategy fields as JSON")
    parser.add_argument("--out", type=Path, help="JSON lines of the runs")
    args = parser.parse_args()
    strategy = json.loads(args.strategy)
    jobs = [
        (args.method, p, s, strategy)
        for p in args.problems.split(",")
        for s in parse_seeds(args.seeds)
    ]
    with ProcessPoolExecutor(args.workers) as pool:
        records = list(pool.map(run, jobs))
    if args.out:
        args.out.write_text("".join(json.dumps(r) + "\n" for r in records))
    print(f"method: {args.method}, strategy: {json.dumps(strategy)}")
    summarize(records)


if __name__ == "__main__":
    main()
