"""Multi-objective BO benchmark: Crucible vs Optuna's GPSampler and NSGA-II (and Ax).

Problems are BoTorch's multi-objective test functions, both objectives minimised:

* ``branin_currin``: BraninCurrin, 2-D, 40 evaluations;
* ``dtlz2``: DTLZ2 with 6 inputs and 2 objectives, 60 evaluations;
* ``c2dtlz2``: C2-DTLZ2 (DTLZ2 with one outcome constraint, feasible iff slack >= 0),
  6 inputs, 2 objectives, 60 evaluations;
* ``mixed_branin_currin``: BraninCurrin behind a 3-way categorical (each category maps
  the square onto itself and shifts both objectives; one category holds the true front),
  2 continuous inputs + 1 categorical, 40 evaluations.

The metric is the log10 hypervolume regret at the budget, ``log10(max_hv - hv)`` (floor
1e-10), where ``hv`` is the hypervolume of the feasible evaluations against the problem's
reference point (BoTorch's ``ref_point``) and ``max_hv`` that of the known Pareto front
(BoTorch's ``max_hv``); plus the CPU seconds per suggestion (process CPU time, torch on
one thread; mean over the model-based asks). Each method runs with its defaults: Crucible's
``Campaign`` with the default ``Strategy`` and no thresholds (the reference point is
inferred from the data), Optuna's ``GPSampler()`` and ``NSGAIISampler()``. With
``--ax-python`` (an interpreter of a separate environment with ``ax-platform``, see
``benchmarks/bo.py``) and ``ax`` among ``--methods``, Ax's default ``Client`` runs side by
side, each run in a subprocess of that interpreter.

    OMP_NUM_THREADS=1 nice -n 5 .venv/bin/python benchmarks/bo_moo.py [--seeds 0-4]
        [--problems branin_currin,dtlz2] [--methods crucible,optuna_gp,nsga2]
        [--workers 2] [--strategy '{"prior_mean": "fitted"}'] [--plots DIR]
        [--ax-python .ax-venv/bin/python]

Raw records go to ``benchmarks/results/tmp/bo_moo_runs.jsonl`` (one JSON line per run,
rewritten by each invocation); ``--plots DIR`` writes one Pareto-front PNG per problem
(the feasible evaluations of each method's median run, and the true front).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bo import parse_seeds, read_records, run_grid  # noqa: E402
from bobench.adapters.ax_remote import ax_environment  # noqa: E402

RESULTS = HERE / "results" / "tmp" / "bo_moo_runs.jsonl"
METHODS = ["crucible", "optuna_gp", "nsga2"]
LOG_FLOOR = 1e-10


@dataclass(frozen=True)
class MooProblem:
    """A BoTorch multi-objective test function with its budget."""

    name: str
    budget: int

    def function(self) -> Any:
        from botorch.test_functions import multi_objective as mo

        if self.name == "branin_currin":
            return mo.BraninCurrin()
        if self.name == "dtlz2":
            return mo.DTLZ2(dim=6, num_objectives=2)
        if self.name == "c2dtlz2":
            return mo.C2DTLZ2(dim=6, num_objectives=2)
        if self.name == "mixed_branin_currin":
            return MixedBraninCurrin(mo.BraninCurrin())
        raise ValueError(f"unknown problem {self.name!r}")


_MIXED_OFFSETS = {"a": (3.0, 0.5), "b": (0.0, 0.0), "c": (1.5, 0.25)}


class MixedBraninCurrin:
    """BraninCurrin behind a categorical ``c``: each category maps the unit square onto itself
    (``a``: identity, ``b``: ``1 - x``, ``c``: swapped coordinates) and adds an offset to
    both objectives (``a``: (3, 0.5), ``b``: none, ``c``: (1.5, 0.25)). Every category reaches
    the same objective set shifted by its offset, so the Pareto front is category ``b``'s,
    BraninCurrin's own, and so are the reference point and ``max_hv``."""

    categories = ("a", "b", "c")

    def __init__(self, base: Any) -> None:
        self.base = base
        self.dim, self.num_objectives = base.dim, base.num_objectives
        self.ref_point, self.max_hv = base.ref_point, base.max_hv

    def evaluate_params(self, x: list[float], category: str) -> list[float]:
        import torch

        u = {"a": x, "b": [1 - v for v in x], "c": x[::-1]}[category]
        y = self.base(torch.tensor([u], dtype=torch.float64))[0].tolist()
        return [v + o for v, o in zip(y, _MIXED_OFFSETS[category], strict=True)]

    def __call__(self, X: Any) -> Any:  # category b: the true front (for the plots)
        return self.base(1 - X)


PROBLEMS = {
    p.name: p
    for p in (
        MooProblem("branin_currin", 40),
        MooProblem("dtlz2", 60),
        MooProblem("c2dtlz2", 60),
        MooProblem("mixed_branin_currin", 40),
    )
}


def evaluate(fn: Any, params: dict[str, Any]) -> tuple[list[float], float | None]:
    """Objective values (minimised) and, for a constrained problem, the slack (>= 0 ok)."""
    import torch

    x = [float(params[f"x{i}"]) for i in range(fn.dim)]
    if getattr(fn, "categories", None):
        return fn.evaluate_params(x, params["c"]), None
    X = torch.tensor([x], dtype=torch.float64)
    y = fn(X)[0].tolist()
    slack = float(fn.evaluate_slack(X)[0, 0]) if getattr(fn, "num_constraints", 0) else None
    return y, slack


def hv_trace(fn: Any, ys: list[list[float]], slacks: list[float | None]) -> list[float]:
    """Hypervolume of the feasible evaluations so far, after each evaluation."""
    import numpy as np

    from crucible.bo.analysis import hypervolume

    ref = fn.ref_point.tolist()
    directions = ["minimize"] * len(ref)
    out, rows = [], []
    for y, s in zip(ys, slacks, strict=True):
        if s is None or s >= 0:
            rows.append(y)
        out.append(hypervolume(np.array(rows).reshape(-1, len(ref)), ref, directions))
    return out


# ---------------------------------------------------------------- optimisers
def _run_crucible(fn: Any, budget: int, seed: int, strategy: dict[str, Any]) -> dict[str, Any]:
    from crucible.bo import Campaign, Objective, OutcomeConstraint, Strategy

    names = [f"x{i}" for i in range(fn.dim)]
    space: dict[str, Any] = {n: {"type": "continuous", "low": 0.0, "high": 1.0} for n in names}
    if getattr(fn, "categories", None):
        space["c"] = {"type": "categorical", "choices": list(fn.categories)}
    options = dict(strategy)
    centre_first = options.pop("centre_first", False)
    # diagnostic: the metric's own reference point as the objectives' thresholds
    thresholds = fn.ref_point.tolist() if options.pop("metric_thresholds", False) else None
    objectives = [
        Objective(name=f"f{j}", threshold=thresholds[j] if thresholds else None)
        for j in range(fn.num_objectives)
    ]
    constrained = bool(getattr(fn, "num_constraints", 0))
    constraints = [OutcomeConstraint(metric="slack", operator=">=", bound=0.0)] * constrained
    with tempfile.TemporaryDirectory(prefix="bo-moo-") as tmp:
        campaign = Campaign.create(
            "moo",
            space,
            objectives,
            constraints,
            Strategy(seed=seed, **options),
            store_url=f"sqlite:///{tmp}/c.db",
        )
        queued = campaign.enqueue([_centre(space)]) if centre_first else []
        ys, slacks, cpu = [], [], []
        while len(ys) < budget:
            c0 = time.process_time()
            (trial,) = [queued.pop()] if queued else campaign.suggest(1)
            cpu.append((time.process_time() - c0, trial.source))
            y, s = evaluate(fn, trial.params)
            values = {f"f{j}": v for j, v in enumerate(y)}
            if s is not None:
                values["slack"] = s
            campaign.observe(trial.number, values)
            ys.append(y)
            slacks.append(s)
        ref = campaign.reference_point()
    model_cpu = [c for c, source in cpu if source == "model"]
    return {"ys": ys, "slacks": slacks, "cpu_per_ask": _mean(model_cpu), "ref": ref}


def _centre(space: dict[str, Any]) -> dict[str, Any]:
    """The centre of the box, first category (Ax's default design starts there)."""
    return {
        name: spec["choices"][0]
        if spec["type"] == "categorical"
        else (spec["low"] + spec["high"]) / 2
        for name, spec in space.items()
    }


def _run_optuna(method: str, fn: Any, budget: int, seed: int) -> dict[str, Any]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    constrained = bool(getattr(fn, "num_constraints", 0))

    def constraints(trial: Any) -> list[float]:
        return [-trial.user_attrs["slack"]]  # optuna: feasible iff <= 0

    kw: dict[str, Any] = {"constraints_func": constraints} if constrained else {}
    if method == "optuna_gp":
        sampler: Any = optuna.samplers.GPSampler(seed=seed, **kw)
    else:
        sampler = optuna.samplers.NSGAIISampler(seed=seed, **kw)
    study = optuna.create_study(directions=["minimize"] * fn.num_objectives, sampler=sampler)
    dists: dict[str, Any] = {
        f"x{i}": optuna.distributions.FloatDistribution(0.0, 1.0) for i in range(fn.dim)
    }
    if getattr(fn, "categories", None):
        dists["c"] = optuna.distributions.CategoricalDistribution(list(fn.categories))
    ys, slacks, cpu = [], [], []
    for _ in range(budget):
        c0 = time.process_time()
        trial = study.ask(dists)
        cpu.append(time.process_time() - c0)
        y, s = evaluate(fn, trial.params)
        if s is not None:
            trial.set_user_attr("slack", s)
        study.tell(trial, y)
        ys.append(y)
        slacks.append(s)
    startup = 10 if method == "optuna_gp" else 0  # GPSampler's n_startup_trials default
    return {"ys": ys, "slacks": slacks, "cpu_per_ask": _mean(cpu[startup:])}


_AX_SNIPPET = (
    "import json, sys; sys.path.insert(0, sys.argv[1]); import bo_moo; "
    "print(json.dumps(bo_moo.run_ax(sys.argv[2], int(sys.argv[3]))))"
)


def run_ax(problem: str, seed: int) -> dict[str, Any]:
    """One run of Ax's default ``Client`` (called inside the Ax interpreter)."""
    from ax.api.client import Client
    from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig

    spec = PROBLEMS[problem]
    fn = spec.function()
    client = Client(random_seed=seed)
    client.configure_experiment(
        parameters=[
            RangeParameterConfig(name=f"x{i}", parameter_type="float", bounds=(0.0, 1.0))
            for i in range(fn.dim)
        ]
        + [
            ChoiceParameterConfig(name="c", values=list(fn.categories), parameter_type="str")
            for _ in range(bool(getattr(fn, "categories", None)))
        ]
    )
    names = [f"f{j}" for j in range(fn.num_objectives)]
    constrained = bool(getattr(fn, "num_constraints", 0))
    client.configure_optimization(
        objective=", ".join(f"-{n}" for n in names),
        outcome_constraints=["slack >= 0"] if constrained else None,
    )
    ys, slacks, cpu = [], [], []
    while len(ys) < spec.budget:
        c0 = time.process_time()
        trials = client.get_next_trials(max_trials=1)
        cpu.append(time.process_time() - c0)
        for index, params in trials.items():
            y, s = evaluate(fn, dict(params))
            data = {n: v for n, v in zip(names, y, strict=True)}
            if s is not None:
                data["slack"] = s
            client.complete_trial(trial_index=index, raw_data=data)
            ys.append(y)
            slacks.append(s)
    return {"ys": ys, "slacks": slacks, "cpu_per_ask": _mean(cpu[5:])}


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def _run(job: tuple[str, str, int, dict[str, Any], str]) -> dict[str, Any]:
    os.environ["OMP_NUM_THREADS"] = "1"
    with contextlib.suppress(OSError):
        os.nice(5)
    import torch

    torch.set_num_threads(1)
    method, problem, seed, strategy, ax_python = job
    spec = PROBLEMS[problem]
    fn = spec.function()
    t0 = time.perf_counter()
    if method == "crucible":
        out = _run_crucible(fn, spec.budget, seed, strategy)
    elif method == "ax":
        cmd = [ax_python, "-c", _AX_SNIPPET, str(HERE), problem, str(seed)]
        env = ax_environment(ax_python)
        out = json.loads(subprocess.run(cmd, check=True, capture_output=True, env=env).stdout)
    else:
        out = _run_optuna(method, fn, spec.budget, seed)
    hv = hv_trace(fn, out["ys"], out["slacks"])
    regret = max(float(fn.max_hv) - hv[-1], LOG_FLOOR)
    return {
        "method": method,
        "problem": problem,
        "seed": seed,
        "budget": spec.budget,
        "strategy": strategy if method == "crucible" else None,
        "hv": hv,
        "max_hv": float(fn.max_hv),
        "log10_hv_regret": math.log10(regret),
        "first_in_box": next((i + 1 for i, v in enumerate(hv) if v > 0), None),
        "wall_s": time.perf_counter() - t0,
        **out,
    }


# ---------------------------------------------------------------- report
def _quartiles(values: list[float]) -> tuple[float, float, float]:
    import numpy as np

    q = np.quantile(values, [0.25, 0.5, 0.75])
    return float(q[0]), float(q[1]), float(q[2])


def summarise(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (problem, method): seeds, median [IQR] log10 HV regret, CPU-s per ask."""
    rows = []
    keys = sorted({(r["problem"], r["method"]) for r in records})
    for problem, method in keys:
        runs = [r for r in records if r["problem"] == problem and r["method"] == method]
        lo, mid, hi = _quartiles([r["log10_hv_regret"] for r in runs])
        rows.append(
            {
                "problem": problem,
                "method": method,
                "seeds": len(runs),
                "median": mid,
                "iqr": (lo, hi),
                "cpu_per_ask": median(r["cpu_per_ask"] for r in runs),
                "first_in_box": median(r["first_in_box"] or r["budget"] + 1 for r in runs),
            }
        )
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    print(
        "| problem | method | seeds | median log10 HV regret [IQR] | CPU-s per ask "
        "| first eval in ref box (median) |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['problem']} | {r['method']} | {r['seeds']} | {r['median']:.3f} "
            f"[{r['iqr'][0]:.3f}, {r['iqr'][1]:.3f}] | {r['cpu_per_ask']:.3f} "
            f"| {r['first_in_box']:g} |"
        )


def plot_fronts(records: list[dict[str, Any]], folder: Path) -> list[Path]:
    """One PNG per problem: each method's median run (feasible points) and the true front."""
    import numpy as np

    from crucible.bo.analysis import pareto_mask
    from crucible.viz.figures import pyplot, save_figure

    plt = pyplot()
    out = []
    for problem in sorted({r["problem"] for r in records}):
        fn = PROBLEMS[problem].function()
        fig, ax = plt.subplots(figsize=(6, 4.5))
        true = _true_front(fn)
        ax.plot(true[:, 0], true[:, 1], "k-", lw=1, label="true Pareto front")
        for k, method in enumerate(
            sorted({r["method"] for r in records if r["problem"] == problem})
        ):
            runs = sorted(
                (r for r in records if r["problem"] == problem and r["method"] == method),
                key=lambda r: r["log10_hv_regret"],
            )
            run = runs[len(runs) // 2]
            ok = [s is None or s >= 0 for s in run["slacks"]]
            Y = np.array(run["ys"])[ok]
            front = Y[pareto_mask(Y, ["minimize", "minimize"])]
            front = front[np.argsort(front[:, 0])]
            ax.scatter(Y[:, 0], Y[:, 1], s=8, color=f"C{k}", alpha=0.35)
            ax.plot(
                front[:, 0],
                front[:, 1],
                "o-",
                ms=4,
                color=f"C{k}",
                label=f"{method} (seed {run['seed']})",
            )
        ref = fn.ref_point.tolist()
        ax.axvline(ref[0], color="grey", ls=":", lw=1)
        ax.axhline(ref[1], color="grey", ls=":", lw=1, label="reference point")
        ax.set_xlim(min(true[:, 0].min(), 0) - 0.05 * ref[0], ref[0] * 1.6)
        ax.set_ylim(min(true[:, 1].min(), 0) - 0.05 * ref[1], ref[1] * 1.6)
        ax.set_xlabel("f0 (minimise)")
        ax.set_ylabel("f1 (minimise)")
        ax.set_title(f"{problem}: median run per method")
        ax.legend(fontsize=7)
        out.append(save_figure(fig, folder / f"bo_moo_{problem}.png"))
    return out


def _true_front(fn: Any) -> Any:
    """A dense sample of the true Pareto front (BoTorch's ``gen_pareto_front`` or a grid)."""
    import numpy as np
    import torch

    from crucible.bo.analysis import pareto_mask

    with contextlib.suppress(NotImplementedError, AttributeError):
        front = fn.gen_pareto_front(200).numpy()
        return front[np.argsort(front[:, 0])]
    grid = torch.rand(
        20_000, fn.dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64
    )
    Y = fn(grid).numpy()
    front = Y[pareto_mask(Y, ["minimize", "minimize"])]
    return front[np.argsort(front[:, 0])]


def _describe(rec: dict[str, Any]) -> str:
    return (
        f"{rec['problem']} {rec['method']} seed {rec['seed']}: log10 HV regret "
        f"{rec['log10_hv_regret']:.3f}, {rec['cpu_per_ask']:.3f} CPU-s/ask"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-4")
    parser.add_argument("--problems", default="branin_currin,dtlz2")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--strategy",
        default="{}",
        help="JSON Strategy overrides (crucible); "
        '"centre_first": true evaluates the box centre first, as Ax\'s design does; '
        '"metric_thresholds": true uses the metric\'s reference point as the thresholds',
    )
    parser.add_argument("--ax-python", default="")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--plots", default="")
    parser.add_argument("--summarize", default="", help="comma-separated JSONL files to table")
    args = parser.parse_args()
    if args.summarize:
        records = read_records(args.summarize)
    else:
        strategy = json.loads(args.strategy)
        jobs = [
            (m, p, s, strategy, args.ax_python)
            for p in args.problems.split(",")
            for m in args.methods.split(",")
            for s in parse_seeds(args.seeds)
        ]
        records = run_grid(_run, jobs, Path(args.out), args.workers, _describe)
    print_table(summarise(records))
    if args.plots:
        for path in plot_fronts(records, Path(args.plots)):
            print(f"plot: {path}")


if __name__ == "__main__":
    main()
