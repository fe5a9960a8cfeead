"""Design-run benchmark: the ``make demo`` recipe's measured figures for several seeds.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/design.py [--seeds 0 1 2] [--rl-steps N]

Runs the demo's stages through the domain jobs (no Prefect, no MLflow) with the settings of
``flows.molecular_design_flow.demo_config()``: the seeded 1,500-ligand EGFR sample →
ChEMBL-pipeline standardisation → random split → random-forest activity model → TL on the
training actives (validated on the validation actives) → RL (activity, QED, SA, PAINS
penalty; scaffold filter) → 500 fresh samples judged by
:func:`crucible.generator.design_metrics.evaluate_design`. Prints one line per seed with
every figure of ``summary.json``, the CPU-seconds (this process, ``time.process_time``) of
each stage, and the targets missed.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")


class StageClock:
    """CPU-seconds per stage (process time of this process)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.process_time()

    def lap(self, stage: str) -> None:
        """Charge the CPU time since the last lap to ``stage``."""
        now = time.process_time()
        self.seconds[stage] = round(now - self._last, 1)
        self._last = now


def run_seed(
    seed: int, root: Path, rl_steps: int | None, tl_epochs: int | None, reuse_tl: bool = False
) -> dict[str, Any]:
    """One design run with ``seed`` for TL, RL and the final samples; returns its figures.

    With ``reuse_tl`` the data, activity model and TL model already in ``root`` are used
    (their CPU-seconds are then not measured).
    """
    from crucible.chem.activity import train_activity_model
    from crucible.data import load_egfr
    from crucible.data.splits import split_frame, write_actives
    from crucible.data.standardise import standardise_frame
    from crucible.generator import DEFAULT_PRIOR_PATH, jobs
    from crucible.generator.design_metrics import evaluate_design, missed_targets
    from crucible.generator.recipes import with_replayed_actives
    from crucible.generator.reinforcement import StageConfig
    from flows.molecular_design_flow import demo_config

    config = demo_config()
    clock = StageClock()
    started = time.process_time()
    split_dir, model_dir = root / "split", root / "activity" / "model"
    threshold = config.tl_active_min or 7.0
    if reuse_tl:
        tl_model, tl_epoch = root / "tl" / "model.prior", -1
        actives = {"train": root / "actives" / "train.csv"}
    else:
        frame = standardise_frame(load_egfr(limit=config.data.limit)).molecules
        split = split_frame(frame, config.data.split.method, seed=config.data.split.seed)
        split.write(split_dir)
        clock.lap("data")
        model = train_activity_model(
            config.activity_model, split.frames["train"], split.frames["test"],
            root / "activity", valid=split.frames["valid"], params=config.activity_params,
            track=False,
        )  # fmt: skip
        model_dir = Path(model.model_dir)
        clock.lap("activity_model")
        actives = write_actives(split_dir, root / "actives", threshold)
        tl_config = config.tl.model_copy(
            update={"seed": seed, "device": "cpu", **({"epochs": tl_epochs} if tl_epochs else {})}
        )
        tl = jobs.run_transfer_learning(
            DEFAULT_PRIOR_PATH, actives["train"], actives.get("valid"), tl_config, root / "tl",
            track=False,
        )  # fmt: skip
        tl_model, tl_epoch = Path(tl.model_path), tl.best_epoch
        clock.lap("transfer_learning")
    steps = rl_steps or config.rl_steps
    scoring = config.scoring.config(str(model_dir))
    stage = StageConfig(max_steps=steps, min_steps=steps // 4, max_score=config.rl_target)
    rl_config = config.rl.model_copy(update={"seed": seed})
    if config.rl_replay_actives:
        rl_config = with_replayed_actives(rl_config, str(actives["train"]))
    rl = jobs.run_reinforcement(
        tl_model, tl_model, [jobs.StageSpec(stage=stage, scoring=scoring)],
        rl_config, root / "rl", "cpu", track=False,
    )  # fmt: skip
    clock.lap("reinforcement")
    figures = evaluate_design(
        rl.agent_path, tl_model, scoring, model_dir, split_dir,
        root / "summary.json", n_samples=500, threshold=threshold, seed=seed,
    )  # fmt: skip
    clock.lap("evaluation")
    row: dict[str, Any] = {"seed": seed, **figures.as_dict(digits=3)}
    row["flow_cpu_s"] = round(time.process_time() - started, 1)
    row["tl_best_epoch"] = tl_epoch
    row["rl_steps"] = rl.steps
    row["cpu_s"] = clock.seconds
    row["missed"] = missed_targets(row)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rl-steps", type=int, default=None, help="default: the demo's")
    parser.add_argument("--tl-epochs", type=int, default=None, help="default: the demo's")
    parser.add_argument("--keep", type=Path, default=None, help="keep the run folders here")
    parser.add_argument(
        "--reuse-tl", action="store_true", help="RL only, from the TL model kept in --keep"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        base = (args.keep or Path(scratch)).resolve()
        # model paths in scoring configs must lie under a data root (crucible.naming)
        os.environ["CRUCIBLE_DATA_ROOT"] = str(base)
        for seed in args.seeds:
            row = run_seed(
                seed, base / f"seed-{seed}", args.rl_steps, args.tl_epochs, args.reuse_tl
            )
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
