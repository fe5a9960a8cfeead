"""CPU seconds of one Ax SAASBO suggestion on Hartmann6 embedded in 30-D (not a full run).

A full Ax-SAASBO run of the high-dimensional benchmark (100 suggestions, seeds 0-9) does not
fit this project's CPU budget, so this script measures what one suggestion costs: for each
number of observations ``n`` it attaches ``n`` uniformly random points with their Hartmann6
values to a fresh Ax ``Client`` whose generation strategy is ``Generators.SAASBO`` (Ax 1.3.1:
``SaasFullyBayesianSingleTaskGP`` fitted by NUTS with BoTorch's defaults, 512 warm-up steps,
256 samples, thinning 16; then qLogNEI), and times ``get_next_trials(1)`` in process CPU
seconds (one torch thread). Run it with Ax's interpreter (see ``docs/bo.md``):

    OMP_NUM_THREADS=1 .ax-venv/bin/python benchmarks/saasbo_timing.py --n 20 60 100

One JSON line per ``n``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")


def hartmann6_30(params: dict[str, float]) -> float:
    """Hartmann6 on the first 6 of 30 inputs (the benchmark's ``hartmann6_30``)."""
    import torch
    from botorch.test_functions import Hartmann

    x = torch.tensor([[params[f"x{i}"] for i in range(6)]], dtype=torch.float64)
    return float(Hartmann(dim=6)(x))


def one_suggestion(n: int, seed: int, dim: int = 30) -> dict[str, float]:
    """CPU and wall seconds of one SAASBO suggestion after ``n`` random observations."""
    import numpy as np
    from ax.adapter.registry import Generators
    from ax.api.client import Client
    from ax.api.configs import RangeParameterConfig
    from ax.generation_strategy.generation_node import GenerationStep
    from ax.generation_strategy.generation_strategy import GenerationStrategy

    client = Client(random_seed=seed)
    client.configure_experiment(
        parameters=[
            RangeParameterConfig(name=f"x{i}", parameter_type="float", bounds=(0.0, 1.0))
            for i in range(dim)
        ]
    )
    client.configure_optimization(objective="-f")
    nodes = [GenerationStep(generator=Generators.SAASBO, num_trials=-1)]
    client.set_generation_strategy(GenerationStrategy(name="SAASBO", nodes=nodes))
    rng = np.random.default_rng(seed)
    for _ in range(n):
        params = {f"x{i}": float(v) for i, v in enumerate(rng.random(dim))}
        index = client.attach_trial(parameters=params)
        client.complete_trial(trial_index=index, raw_data={"f": hartmann6_30(params)})
    c0, w0 = time.process_time(), time.perf_counter()
    client.get_next_trials(max_trials=1)
    return {"cpu_s": time.process_time() - c0, "wall_s": time.perf_counter() - w0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[20, 60, 100])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    logging.disable(logging.WARNING)
    for n in args.n:
        timing = one_suggestion(n, args.seed)
        print(json.dumps({"n": n, "seed": args.seed, **timing}), flush=True)


if __name__ == "__main__":
    main()
