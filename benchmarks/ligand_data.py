"""Ligand-data benchmark: standardisation throughput and EGFR activity-model quality.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ligand_data.py [--chemprop-epochs 10]

Prints, for the bundled EGFR set (ChEMBL 27 via TeachOpenCADD, 5,568 molecules):
* standardisation molecules per CPU-second (process time, one core);
* random forest test R² / RMSE on a random and a scaffold split (seed 0, 80/10/10), with
  fit CPU-seconds;
* optionally Chemprop test R² after a few epochs (random split of a seeded subset).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chemprop-epochs", type=int, default=0, help="0 skips Chemprop")
    parser.add_argument("--chemprop-limit", type=int, default=2000)
    parser.add_argument("--trees", type=int, default=300)
    args = parser.parse_args()

    from crucible.chem.activity import train_activity_model
    from crucible.data import load_egfr
    from crucible.data.splits import split_frame
    from crucible.data.standardise import standardise_frame

    frame = load_egfr()
    cpu = time.process_time()
    result = standardise_frame(frame)
    cpu = time.process_time() - cpu
    summary = result.summary()
    print(
        f"standardise EGFR: {len(frame)} in, {summary['n_output']} out "
        f"({summary['n_rejected']} rejected, {summary['n_merged']} merged); "
        f"{len(frame) / cpu:,.0f} molecules/CPU-s ({cpu:.2f} CPU-s)"
    )
    molecules = result.molecules
    with tempfile.TemporaryDirectory() as tmp:
        for method in ("random", "scaffold"):
            frames = split_frame(molecules, method, seed=0).frames
            cpu = time.process_time()
            trained = train_activity_model(
                "random_forest",
                frames["train"],
                frames["test"],
                Path(tmp) / method,
                params={"n_estimators": args.trees},
                track=False,
            )
            cpu = time.process_time() - cpu
            test = trained.metrics["test"]
            print(
                f"random_forest ({args.trees} trees) {method:8s} split: test R² {test['r2']:.3f} "
                f"RMSE {test['rmse']:.3f} (n_train {len(frames['train'])}, n_test {test['n']}); "
                f"fit+evaluate {cpu:.1f} CPU-s"
            )
        if args.chemprop_epochs:
            subset = standardise_frame(load_egfr(limit=args.chemprop_limit, seed=0)).molecules
            frames = split_frame(subset, "random", seed=0).frames
            cpu = time.process_time()
            trained = train_activity_model(
                "chemprop",
                frames["train"],
                frames["test"],
                Path(tmp) / "chemprop",
                valid=frames["valid"],
                params={"epochs": args.chemprop_epochs},
                track=False,
            )
            cpu = time.process_time() - cpu
            test = trained.metrics["test"]
            print(
                f"chemprop ({args.chemprop_epochs} epochs, {len(subset)} molecules) random "
                f"split: test R² {test['r2']:.3f} RMSE {test['rmse']:.3f}; "
                f"{cpu:.1f} CPU-s incl. import"
            )


if __name__ == "__main__":
    main()
