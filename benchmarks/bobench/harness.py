"""Runs one (method, problem, seed) optimisation and returns a JSON-able record."""

from __future__ import annotations

import math
import os
import time
import traceback

from .problems import get_problem


def regret_trace(problem, objectives, feasibles):
    """Simple regret after each evaluation (best feasible so far minus optimum).

    Infeasible evaluations count as ``problem.worst_feasible``; regret is clipped
    at 0 (the optimum is a numerically polished value)."""
    best = math.inf
    out = []
    for f, ok in zip(objectives, feasibles, strict=False):
        val = f if ok else problem.worst_feasible
        best = min(best, val)
        out.append(max(best - problem.optimum, 0.0))
    return out


def run_one(
    method: str, problem_name: str, seed: int, n_init: int = 8, extra: dict | None = None
) -> dict:
    """Run one optimisation; ``extra`` goes to the adapter's constructor."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import torch

        torch.set_num_threads(1)
    except Exception:
        pass
    from .adapters import make
    from .adapters.base import feasible

    problem = get_problem(problem_name)
    rec = {
        "method": method,
        "problem": problem_name,
        "seed": seed,
        "budget": problem.budget,
        "n_init": n_init,
        "ok": False,
    }
    t_start, c_start = time.perf_counter(), time.process_time()
    asks, tells, objs, feas, points = [], [], [], [], []
    try:
        t0 = time.perf_counter()
        opt = make(method, problem, seed, n_init=n_init, **(extra or {}))
        rec["setup_s"] = time.perf_counter() - t0
        if problem.is_mixed and not opt.supports_mixed:
            raise RuntimeError(f"{method} does not support mixed spaces")
        while len(objs) < problem.budget:
            remaining = problem.budget - len(objs)
            t0, c0 = time.perf_counter(), time.process_time()
            batch = opt.ask(remaining)
            t_ask, c_ask = time.perf_counter() - t0, time.process_time() - c0
            if not batch:
                raise RuntimeError("ask() returned no points")
            batch = batch[:remaining]
            results = [problem.evaluate(p) for p in batch]
            t0 = time.perf_counter()
            opt.tell(batch, results)
            t_tell = time.perf_counter() - t0
            asks.append([len(batch), t_ask, c_ask])  # points, wall s, CPU s of this process
            tells.append(t_tell)
            for p, r in zip(batch, results, strict=False):
                objs.append(float(r["objective"]))
                feas.append(bool(feasible(r)))
                points.append({k: (v if isinstance(v, str) else float(v)) for k, v in p.items()})
        rec["info"] = opt.info()
        opt.close()
        rec["ok"] = True
    except Exception as e:  # record the failure, keep the partial trace
        rec["error"] = f"{type(e).__name__}: {e}"
        rec["traceback"] = traceback.format_exc()[-4000:]
    rec["total_s"] = time.perf_counter() - t_start
    rec["total_cpu_s"] = time.process_time() - c_start
    rec["asks"] = asks
    rec["tells"] = tells
    rec["objectives"] = objs
    rec["feasible"] = feas
    rec["points"] = points
    rec["regret"] = regret_trace(problem, objs, feas)
    return rec
