"""Prefect task of the scoring stage: score a SMILES file with a REINVENT-style function.

One call into :func:`crucible.chem.scoring.build_scoring_function`; writes one CSV row per
SMILES (total, then each component transformed and raw) and publishes a summary table and
a grid of the best molecules.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from prefect import get_run_logger, task

from crucible.chem.components import ActivityModelComponent
from crucible.chem.limits import check_smiles_length
from crucible.chem.scoring import ScoredFile, ScoringConfig, build_scoring_function
from crucible.viz.molecules import molecule_grid, top_molecules
from tasks._artifacts import Row, publish_image, publish_table


def read_smiles(path: str | Path, column: str = "smiles") -> list[str]:
    """The SMILES column of a CSV file (a clear error names the missing column)."""
    frame = pd.read_csv(path)
    if column not in frame.columns:
        from crucible.exceptions import InvalidInputError

        raise InvalidInputError(
            "smiles_column", f"{path} has no column {column!r}", f"use one of {list(frame)}"
        )
    smiles = [s if isinstance(s, str) else "" for s in frame[column].tolist()]
    for row, text in enumerate(smiles, start=2):  # row 1 is the header
        check_smiles_length(text, f"smiles_csv ({Path(path).name}, row {row}, column {column!r})")
    return smiles


@task(name="score-molecules", retries=0)
def score_molecules(
    smiles_csv: str,
    scoring: ScoringConfig,
    out_csv: str,
    smiles_column: str = "smiles",
    activity_models: dict[str, str] | None = None,
    top_n: int = 12,
) -> ScoredFile:
    """Score every SMILES of ``smiles_csv`` and write ``out_csv``.

    Args:
        smiles_csv: Input CSV with a SMILES column.
        scoring: The scoring function.
        out_csv: Output CSV (``smiles, valid, total, <component>, <component> (raw)``).
        smiles_column: Name of the SMILES column.
        activity_models: Term name -> saved activity-model folder, overriding that term's
            ``params`` (handy when the model was trained earlier in the same flow).
        top_n: Molecules in the published grid image.

    Returns:
        ``path``, ``grid``, ``n``, ``valid_fraction``, ``mean_total``, ``max_total``.
    """
    logger = get_run_logger()
    components = {
        name: ActivityModelComponent({"model_path": folder})
        for name, folder in (activity_models or {}).items()
    }
    function = build_scoring_function(scoring, components=components)
    smiles = read_smiles(smiles_csv, smiles_column)
    result = function.score(smiles)
    out = Path(out_csv)
    out.parent.mkdir(parents=True, exist_ok=True)
    result.to_frame().to_csv(out, index=False)
    summary = _summary(result.total, result.valid, result.transformed)
    publish_table(summary, key="scoring-summary", description=f"{len(smiles)} SMILES scored")
    best, values = top_molecules(smiles, np.where(result.valid, result.total, np.nan), top_n)
    grid = None
    if best:
        grid = molecule_grid(best, out.with_suffix(".top.png"), values, score_name="total")
        publish_image(grid, key="scoring-top-molecules", description=f"Top {len(best)} by total")
    logger.info("scored %d SMILES, %.1f%% valid", len(smiles), 100 * result.valid.mean())
    return ScoredFile(
        path=str(out),
        grid=str(grid) if grid else None,
        n=len(smiles),
        valid_fraction=float(result.valid.mean()) if smiles else 0.0,
        mean_total=float(result.total.mean()) if smiles else 0.0,
        max_total=float(result.total.max()) if smiles else 0.0,
    )


def _summary(
    total: np.ndarray, valid: np.ndarray, transformed: dict[str, np.ndarray]
) -> list[Row]:
    rows = [{"term": "total", "mean": float(np.mean(total)) if total.size else 0.0,
             "valid": int(valid.sum())}]  # fmt: skip
    for name, values in transformed.items():
        finite = values[~np.isnan(values)]
        rows.append(
            {
                "term": name,
                "mean": float(finite.mean()) if finite.size else float("nan"),
                "valid": int(finite.size),
            }
        )
    return rows
