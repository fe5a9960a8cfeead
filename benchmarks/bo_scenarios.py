"""Noisy and asynchronous-parallel BO: Crucible vs Optuna (GPSampler, TPE, random) and Ax.

Two scenarios on the problems of ``crucible.bo.problems``, through the ask/tell adapters of
``benchmarks/bobench`` (the harness of ``benchmarks/bo.py``; 8 initial points) and
``bo.py``'s job grid (:func:`bo.run_grid`):

* ``noisy``: Branin (30 evaluations) and Hartmann6 (60) with Gaussian noise of sd 5 % and
  20 % of the function's range over the domain (``branin_noise5`` ... ``hartmann6_noise20``;
  the noise of seed ``s`` comes from a generator seeded with ``s``). At the budget each
  method recommends one evaluated point, scored by its TRUE (noise-free) value: Crucible
  by ``Campaign.recommend()`` (the observed point with the best posterior mean); Optuna's
  samplers have no recommendation of their own, so theirs is ``study.best_trial``, the best
  observed (noisy) value, as is random search's. Crucible's best-observed point is recorded
  too. Metric: simple regret of the recommended point's true value.
* ``async``: Branin (30) and Hartmann6 (60), noise-free, with 4 workers and evaluation times
  drawn from an exponential distribution (mean 10 time units; the k-th suggestion of a run
  gets the k-th draw of a generator seeded with the seed, so every method sees the same
  durations). A discrete-event simulation: at time 0 each worker asks in turn (each ask sees
  the earlier ones pending), then whenever an evaluation finishes its result is told and
  that worker asks again while the other three are still running, until the budget is
  issued. Crucible's asks are ``Campaign.suggest(1)`` on the campaign's SQLite store, where
  the running trials are pending: the step several processes sharing a campaign run (the
  suggestion is made under the campaign lock with the pending points as ``X_pending``:
  Kriging-believer LogEI by default, qLogEI with ``--strategy '{"pending_points": "mc"}'``).
  Optuna's running trials stay ``RUNNING`` in its study: GPSampler handles them itself
  (qLogEI over the running trials, Optuna 5.0), TPE by its ``constant_liar=True`` default.
  Metric: simple regret of the best completed evaluation at evaluation counts
  (25/50/75/100 % of the budget) and at simulated times (25/50/75/100 % of
  ``budget x 10 / 4``, the expected time to finish the budget).

CPU seconds per ask are process CPU time (torch on one thread), mean over the model-based
asks (after the 8 initial points). With ``--ax-python`` (an interpreter of a separate
environment with ``ax-platform``, see ``docs/bo.md``) and ``ax`` among ``--methods``, Ax's
default ``Client`` (8 initial points) runs in a subprocess of that interpreter
(``bobench/adapters/ax_remote.py``; its CPU per ask is that process's): in ``async`` its
asked, untold trials stay ``RUNNING`` and its generation strategy takes them as pending
points; in ``noisy`` its recommendation is ``Client.get_best_parameterization()`` (model
predictions, Ax's default: the in-sample arm with the best predicted objective).

    OMP_NUM_THREADS=1 nice -n 15 .venv/bin/python benchmarks/bo_scenarios.py noisy
        [--seeds 0-9] [--problems branin_noise5,...] [--methods crucible,optuna_gp,...]
        [--workers 2] [--strategy '{"noise_prior": "lognormal"}'] [--out X.jsonl]
        [--methods ax --ax-python .ax-venv/bin/python]
    ... benchmarks/bo_scenarios.py async [--seeds 0-9] [--problems branin,hartmann6]
    ... benchmarks/bo_scenarios.py noisy --summarize a.jsonl,b.jsonl

Raw records go to ``benchmarks/results/tmp/bo_<scenario>_runs.jsonl`` unless ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bo import parse_seeds, read_records, run_grid  # noqa: E402

N_INIT = 8
WORKERS = 4
MEAN_TIME = 10.0
FRACTIONS = (0.25, 0.5, 0.75, 1.0)
METHODS = ["crucible", "optuna_gp", "optuna_tpe_mv", "random_sobol"]
PROBLEMS = {
    "noisy": ["branin_noise5", "branin_noise20", "hartmann6_noise5", "hartmann6_noise20"],
    "async": ["branin", "hartmann6"],
}


def _bench_problem(name: str, seed: int) -> tuple[Any, Any]:
    """The bobench problem (parameters, for the adapters) evaluating Crucible's ``name``.

    Returns:
        ``(bobench problem whose objective is the noisy value, crucible problem)``.
    """
    from bobench.problems import get_problem as bench_problem

    from crucible.bo.problems import get_problem

    problem = get_problem(name).with_seed(seed)
    base = problem.true_evaluator.__name__ if problem.true_evaluator else name
    bench = bench_problem(base)
    bench.name, bench.budget, bench.base_name = name, problem.budget, base
    bench.fn = lambda x: {"objective": problem.evaluator(x)["y"]}
    return bench, problem


def _make(method: str, bench: Any, seed: int, strategy: dict[str, Any], ax_python: str) -> Any:
    if method == "ax":
        from bobench.adapters.ax_remote import AxRemote

        return AxRemote(bench, seed, n_init=N_INIT, python=ax_python)
    from bobench.adapters import make

    extra = {"strategy": strategy} if method == "crucible" and strategy else {}
    return make(method, bench, seed, n_init=N_INIT, **extra)


def _ask(opt: Any) -> tuple[dict[str, Any], float]:
    """One suggestion and its CPU seconds (an optimiser in another process reports its own)."""
    c0 = time.process_time()
    (params,) = opt.ask(1)
    return params, getattr(opt, "last_ask_cpu", time.process_time() - c0)


def _model_cpu(cpu: list[float]) -> float:
    model = cpu[N_INIT:]
    return sum(model) / len(model) if model else math.nan


# ---------------------------------------------------------------- noisy
def run_noisy(
    method: str, name: str, seed: int, strategy: dict[str, Any], ax_python: str = ""
) -> dict[str, Any]:
    """One sequential run on a noisy problem; the recommended point scored by its true value."""
    bench, problem = _bench_problem(name, seed)
    opt = _make(method, bench, seed, strategy, ax_python)
    observed, points, cpu = [], [], []
    try:
        while len(observed) < problem.budget:
            params, ask_cpu = _ask(opt)
            cpu.append(ask_cpu)
            result = bench.evaluate(params)
            opt.tell([params], [result])
            observed.append(result["objective"])
            points.append(dict(params))
        best_observed = points[min(range(len(observed)), key=observed.__getitem__)]
        c0 = time.process_time()
        recommended = _recommendation(method, opt, best_observed)
        recommend_cpu = time.process_time() - c0
        noise = _noise_check(opt, observed, problem.noise_sd) if method == "crucible" else {}
    finally:
        opt.close()
    true_rec = problem.true_values(recommended)["y"]
    true_obs = problem.true_values(best_observed)["y"]
    return {
        "scenario": "noisy",
        "method": method,
        "problem": name,
        "seed": seed,
        "budget": problem.budget,
        "noise_sd": problem.noise_sd,
        "strategy": strategy if method == "crucible" else None,
        "regret_recommended": problem.regret(true_rec),
        "regret_best_observed": problem.regret(true_obs),
        "recommended": recommended,
        "cpu_per_ask": _model_cpu(cpu),
        "recommend_cpu_s": recommend_cpu,
        "observed": observed,
        **noise,
    }


def _noise_check(opt: Any, observed: list[float], noise_sd: float) -> dict[str, float]:
    """The GP's fitted noise variance against the true one, both in standardised units."""
    import numpy as np

    fitted = opt.campaign.fit_surrogate().noise_variance(0)
    return {"noise_var_fitted": fitted, "noise_var_true": (noise_sd / np.std(observed)) ** 2}


def _recommendation(method: str, opt: Any, best_observed: dict[str, Any]) -> dict[str, Any]:
    """Crucible: ``Campaign.recommend()``; Ax: ``Client.get_best_parameterization()`` (model
    predictions, its default); Optuna: ``study.best_trial``; random: best observed."""
    if method == "crucible":
        return dict(opt.campaign.recommend().trial.params)
    if method == "ax":
        return opt.recommend()
    if hasattr(opt, "study"):
        return dict(opt.study.best_trial.params)
    return best_observed


# ---------------------------------------------------------------- asynchronous
def run_async(
    method: str, name: str, seed: int, strategy: dict[str, Any], ax_python: str = ""
) -> dict[str, Any]:
    """One discrete-event simulation with :data:`WORKERS` workers (see the module docstring)."""
    import numpy as np

    bench, problem = _bench_problem(name, seed)
    durations = np.random.default_rng(10_000 + seed).exponential(MEAN_TIME, problem.budget)
    opt = _make(method, bench, seed, strategy, ax_python)
    running: list[tuple[float, int, dict[str, Any]]] = []
    finished: list[tuple[float, float]] = []  # (time, value), in completion order
    cpu: list[float] = []
    pending_at_ask: list[int] = []
    now = 0.0

    def ask() -> None:
        params, ask_cpu = _ask(opt)
        cpu.append(ask_cpu)
        pending_at_ask.append(len(running))
        k = len(cpu) - 1
        heapq.heappush(running, (now + float(durations[k]), k, params))

    try:
        for _ in range(min(WORKERS, problem.budget)):
            ask()
        while running:
            now, _, params = heapq.heappop(running)
            result = bench.evaluate(params)
            opt.tell([params], [result])
            finished.append((now, result["objective"]))
            if len(cpu) < problem.budget:
                ask()
    finally:
        opt.close()
    return {
        "scenario": "async",
        "method": method,
        "problem": name,
        "seed": seed,
        "budget": problem.budget,
        "strategy": strategy if method == "crucible" else None,
        "times": [t for t, _ in finished],
        "values": [v for _, v in finished],
        "regret": _running_regret(problem, [v for _, v in finished]),
        "pending_at_ask": pending_at_ask,
        "cpu_per_ask": _model_cpu(cpu),
    }


def _running_regret(problem: Any, values: list[float]) -> list[float]:
    best, out = math.inf, []
    for value in values:
        best = min(best, value)
        out.append(problem.regret(best))
    return out


def horizon(budget: int) -> float:
    """Expected simulated time to finish ``budget`` evaluations with the 4 workers."""
    return budget * MEAN_TIME / WORKERS


def regret_at_time(record: dict[str, Any], t: float) -> float:
    """Regret of the best evaluation finished by time ``t`` (inf when none has)."""
    done = [r for r, when in zip(record["regret"], record["times"], strict=True) if when <= t]
    return done[-1] if done else math.inf


# ---------------------------------------------------------------- grid and report
def _run(job: tuple[str, str, str, int, dict[str, Any], str]) -> dict[str, Any]:
    os.environ["OMP_NUM_THREADS"] = "1"
    with contextlib.suppress(OSError):
        os.nice(15)
    import torch

    torch.set_num_threads(1)
    scenario, method, problem, seed, strategy, ax_python = job
    started = time.perf_counter()
    run = run_noisy if scenario == "noisy" else run_async
    record = run(method, problem, seed, strategy, ax_python)
    record["wall_s"] = time.perf_counter() - started
    return record


def _describe(rec: dict[str, Any]) -> str:
    if rec["scenario"] == "noisy":
        figure = (
            f"regret recommended {rec['regret_recommended']:.3g}, "
            f"best observed {rec['regret_best_observed']:.3g}"
        )
    else:
        figure = f"final regret {rec['regret'][-1]:.3g}"
    return (
        f"{rec['problem']:>17} {rec['method']:>13} seed {rec['seed']}: {figure}, "
        f"{rec['cpu_per_ask']:.3f} CPU-s/ask"
    )


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    import numpy as np

    q = np.quantile(values, [0.25, 0.5, 0.75])
    return float(q[0]), float(q[1]), float(q[2])


def _groups(records: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Records by problem and method (a Crucible run with Strategy overrides is its own row)."""
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for rec in records:
        label = rec["method"] + (f" {json.dumps(rec['strategy'])}" if rec.get("strategy") else "")
        out.setdefault((rec["problem"], label), []).append(rec)
    return dict(sorted(out.items()))


def print_noisy(records: list[dict[str, Any]]) -> None:
    """Median [IQR] true regret of the recommended and the best-observed point per method."""
    print(
        "| problem | method | seeds | regret of recommended point [IQR] "
        "| regret of best observed | CPU-s/ask | fitted / true noise variance |"
    )
    print("|---|---|---|---|---|---|---|")
    for (problem, method), runs in _groups(records).items():
        lo, mid, hi = _quartiles([r["regret_recommended"] for r in runs])
        observed = _quartiles([r["regret_best_observed"] for r in runs])[1]
        cpu = _quartiles([r["cpu_per_ask"] for r in runs])[1]
        ratios = [
            r["noise_var_fitted"] / r["noise_var_true"] for r in runs if "noise_var_true" in r
        ]
        q = _quartiles(ratios) if ratios else None
        noise = f"{q[1]:.2f} [{q[0]:.2f}, {q[2]:.2f}]" if q else ""
        print(
            f"| {problem} | {method} | {len(runs)} | {mid:.3g} [{lo:.3g}, {hi:.3g}] "
            f"| {observed:.3g} | {cpu:.3f} | {noise} |"
        )


def print_async(records: list[dict[str, Any]]) -> None:
    """Median regret at evaluation counts and at simulated times per method."""
    print(
        "| problem | method | seeds | median regret at 25/50/75/100 % of the evaluations "
        "| at 25/50/75/100 % of the time | CPU-s/ask |"
    )
    print("|---|---|---|---|---|---|")
    for (problem, method), runs in _groups(records).items():
        budget = runs[0]["budget"]
        at_n = [
            _quartiles([r["regret"][max(round(f * budget), 1) - 1] for r in runs])[1]
            for f in FRACTIONS
        ]
        at_t = [
            _quartiles([regret_at_time(r, f * horizon(budget)) for r in runs])[1]
            for f in FRACTIONS
        ]
        cpu = _quartiles([r["cpu_per_ask"] for r in runs])[1]
        counts = "/".join(str(max(round(f * budget), 1)) for f in FRACTIONS)
        times = "/".join(f"{f * horizon(budget):g}" for f in FRACTIONS)
        print(
            f"| {problem} | {method} | {len(runs)} | {_row(at_n)} (n = {counts}) "
            f"| {_row(at_t)} (t = {times}) | {cpu:.3f} |"
        )


def _row(values: list[float]) -> str:
    return " / ".join(f"{v:.3g}" for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=sorted(PROBLEMS))
    parser.add_argument("--seeds", default="0-4")
    parser.add_argument("--problems", default="")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--strategy", default="{}", help="JSON Strategy overrides (crucible)")
    parser.add_argument(
        "--ax-python",
        default="",
        help="interpreter with ax-platform (e.g. .ax-venv/bin/python); runs method 'ax'",
    )
    parser.add_argument("--out", default="")
    parser.add_argument("--summarize", default="", help="comma-separated JSONL files to table")
    args = parser.parse_args()
    if args.summarize:
        records = read_records(args.summarize)
    else:
        strategy = json.loads(args.strategy)
        problems = args.problems.split(",") if args.problems else PROBLEMS[args.scenario]
        jobs = [
            (args.scenario, m, p, s, strategy, args.ax_python)
            for p in problems
            for m in args.methods.split(",")
            for s in parse_seeds(args.seeds)
        ]
        out = Path(args.out or HERE / "results" / "tmp" / f"bo_{args.scenario}_runs.jsonl")
        records = run_grid(_run, jobs, out, args.workers, _describe)
    (print_noisy if args.scenario == "noisy" else print_async)(records)


if __name__ == "__main__":
    main()
