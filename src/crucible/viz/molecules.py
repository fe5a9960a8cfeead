"""Molecule grid images (RDKit ``Draw.MolsToGridImage``) with score legends."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from crucible._imports import require
from crucible.chem.properties import parse_smiles
from crucible.exceptions import InvalidInputError

__all__ = ["PROPERTY_COLUMNS", "grid_legend", "molecule_grid", "top_molecules"]

#: Legend label -> column of a scored CSV (``score_molecules``) holding that raw value.
PROPERTY_COLUMNS = {"pChEMBL": "activity (raw)", "QED": "qed (raw)", "SA": "sa_score (raw)"}


def grid_legend(rank: int, score: tuple[str, float] | None, values: dict[str, Any]) -> str:
    """``#rank score x  pChEMBL a QED b SA c`` (rounded; ``–`` for a missing value).

    Args:
        rank: 1 for the best molecule.
        score: ``(name, value)`` shown on the first line, if any.
        values: Label -> value for the second line (e.g. ``{"pChEMBL": 7.21, "QED": 0.6}``).
    """
    from crucible.viz.numbers import rounded

    first = f"#{rank}" + (f" {score[0]} {rounded(score[1])}" if score else "")
    second = " ".join(f"{label} {rounded(value, 3 if label == 'pChEMBL' else 2)}"
                      for label, value in values.items())  # fmt: skip
    return f"{first}  {second}" if second else first


def top_molecules(
    smiles: Sequence[str], scores: Sequence[float] | np.ndarray, n: int = 12
) -> tuple[list[str], np.ndarray]:
    """The ``n`` best-scoring distinct, parsable SMILES (NaN scores last), best first.

    Args:
        smiles: ``m`` SMILES.
        scores: ``m`` scores (higher is better).
        n: How many to keep.

    Returns:
        ``(smiles, scores)`` of at most ``n`` molecules.
    """
    values = np.asarray(scores, dtype=np.float64)
    if values.shape != (len(smiles),):
        raise InvalidInputError("scores", f"{values.size} scores for {len(smiles)} SMILES",
                                "give one score per SMILES")  # fmt: skip
    order = np.argsort(np.where(np.isnan(values), -np.inf, values), kind="stable")[::-1]
    chosen: list[int] = []
    seen: set[str] = set()
    for i in order:
        if len(chosen) == n:
            break
        if smiles[i] in seen or parse_smiles(smiles[i]) is None:
            continue
        seen.add(smiles[i])
        chosen.append(int(i))
    return [smiles[i] for i in chosen], values[chosen]


def molecule_grid(
    smiles: Sequence[str],
    path: str | Path,
    scores: Sequence[float] | np.ndarray | None = None,
    legends: Sequence[str] | None = None,
    mols_per_row: int = 4,
    size: int = 260,
    score_name: str = "score",
) -> Path:
    """Draw molecules in a grid PNG, each with its rank and score (or a given legend).

    Args:
        smiles: SMILES to draw, in order (invalid ones are skipped).
        path: Output PNG path.
        scores: Optional score per SMILES, printed under each molecule.
        legends: Optional legend per SMILES (overrides the score legend).
        mols_per_row: Grid columns.
        size: Pixels per molecule cell.
        score_name: Label of the score in the legend.

    Returns:
        The PNG path.

    Raises:
        InvalidInputError: If no SMILES parses.
    """
    draw = require("rdkit.Chem.Draw")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[Any, str]] = []
    for i, text in enumerate(smiles):
        mol = parse_smiles(text)
        if mol is None:
            continue
        if legends is not None:
            legend = str(legends[i])
        elif scores is not None:
            legend = f"#{len(rows) + 1}  {score_name} {float(scores[i]):.3f}"
        else:
            legend = f"#{len(rows) + 1}"
        rows.append((mol, legend))
    if not rows:
        raise InvalidInputError("smiles", "no parsable SMILES to draw", "give valid SMILES")
    image = draw.MolsToGridImage(
        [m for m, _ in rows],
        molsPerRow=min(mols_per_row, len(rows)),
        subImgSize=(size, size),
        legends=[legend for _, legend in rows],
    )
    image.save(str(path))
    return path
