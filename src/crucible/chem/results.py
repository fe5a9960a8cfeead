"""The results table of a design run: one row per kept molecule with every score.

The filter stage keeps canonical SMILES without scores and the scoring stage scores the raw
samples; :func:`results_table` joins them by canonical SMILES and adds what a chemist ranks
by: predicted pChEMBL (the RL activity model and, when given, an independent model), QED,
SA score, structural alerts, the Tanimoto similarity to the nearest training active and that
active, and the Murcko scaffold. Rows are ranked by the aggregate score (best first).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from crucible.chem.alerts import ScreenedCatalog
from crucible.chem.properties import morgan_generator, parse_smiles, sa_score
from crucible.exceptions import InvalidInputError

if TYPE_CHECKING:
    import pandas as pd
    from rdkit.Chem import Mol

__all__ = ["RESULT_COLUMNS", "canonical", "results_table"]

Predict = Callable[[Sequence[str]], np.ndarray]

#: Columns of :func:`results_table`, in order.
RESULT_COLUMNS = (
    "rank", "id", "smiles", "score", "pchembl_predicted", "pchembl_independent", "qed",
    "sa_score", "alerts", "nn_similarity", "nn_active", "scaffold",
)  # fmt: skip


def canonical(smiles: str) -> str | None:
    """RDKit canonical (isomeric) SMILES, or None when it does not parse."""
    from rdkit import Chem

    mol = parse_smiles(smiles) if isinstance(smiles, str) else None
    return None if mol is None else str(Chem.MolToSmiles(mol))


def _best_scores(smiles: Sequence[str], scores: Sequence[float]) -> dict[str, float]:
    """Canonical SMILES -> its highest score among the scored rows."""
    best: dict[str, float] = {}
    for text, score in zip(smiles, scores, strict=True):
        key = canonical(text)
        value = float(score) if np.isfinite(score) else float("nan")
        if key is not None and not (key in best and best[key] >= value):
            best[key] = value
    return best


def _nearest(mols: Sequence[Mol], actives: Sequence[str]) -> tuple[list[float], list[str]]:
    """Tanimoto similarity (Morgan r2, 2,048 bits) to the nearest active and that active."""
    from rdkit import DataStructs

    pairs = [(s, m) for s in actives if (m := parse_smiles(s)) is not None]
    if not pairs:
        return [float("nan")] * len(mols), [""] * len(mols)
    generator = morgan_generator(2, 2048)
    reference = [generator.GetFingerprint(m) for _, m in pairs]
    similarities, nearest = [], []
    for mol in mols:
        values = DataStructs.BulkTanimotoSimilarity(generator.GetFingerprint(mol), reference)
        best = int(np.argmax(values))
        similarities.append(float(values[best]))
        nearest.append(pairs[best][0])
    return similarities, nearest


def _properties(mols: Sequence[Mol], alerts: Sequence[str]) -> dict[str, list[Any]]:
    """QED, SA score, matched alert descriptions and Murcko scaffold of each molecule."""
    from rdkit import Chem
    from rdkit.Chem import QED
    from rdkit.Chem.Scaffolds import MurckoScaffold

    catalog = ScreenedCatalog(alerts) if alerts else None
    out: dict[str, list[Any]] = {"qed": [], "sa_score": [], "alerts": [], "scaffold": []}
    for mol in mols:
        out["qed"].append(float(QED.qed(mol)))
        out["sa_score"].append(float(sa_score(mol)))
        matches = [] if catalog is None else _alert_names(catalog, mol)
        out["alerts"].append("; ".join(matches))
        out["scaffold"].append(Chem.MolToSmiles(MurckoScaffold.GetScaffoldForMol(mol)))
    return out


def _alert_names(catalog: ScreenedCatalog, mol: Mol) -> list[str]:
    entries = catalog.entries
    return [
        str(entries[i].GetDescription())
        for i in catalog.candidates(mol)
        if entries[i].HasFilterMatch(mol)
    ]


def results_table(
    scored: pd.DataFrame,
    kept: Sequence[str],
    actives: Sequence[str],
    predict: Predict,
    predict_independent: Predict | None = None,
    alerts: Sequence[str] = ("PAINS", "BRENK"),
    smiles_column: str = "smiles",
    score_column: str = "total",
    id_prefix: str = "mol",
) -> pd.DataFrame:
    """One row per kept molecule with every score, best aggregate score first.

    Args:
        scored: Scored samples (``smiles_column`` and ``score_column``, e.g. ``scored.csv``).
        kept: SMILES that passed the filters (e.g. ``canonical_smiles`` of
            ``filtered_kept.csv``); duplicates and unparsable ones are dropped.
        actives: Training-set actives (the nearest-neighbour reference).
        predict: The RL activity model's ``predict`` (pChEMBL per SMILES).
        predict_independent: An independent model's ``predict``; the column is NaN without.
        alerts: Alert catalogs whose matches are listed (e.g. ``["PAINS", "BRENK"]``).
        smiles_column: SMILES column of ``scored``.
        score_column: Aggregate-score column of ``scored``.
        id_prefix: Prefix of the molecule ids (``<prefix>-0001`` is rank 1).

    Returns:
        A frame with :data:`RESULT_COLUMNS`; ``score`` is NaN for a kept molecule that was
        not among the scored ones.

    Raises:
        InvalidInputError: If ``scored`` lacks the SMILES or score column.
    """
    import pandas as pd

    for field, column in (("smiles_column", smiles_column), ("score_column", score_column)):
        if column not in scored.columns:
            raise InvalidInputError(field, f"no column {column!r} in the scored table",
                                    f"use one of {list(scored.columns)}")  # fmt: skip
    best = _best_scores(scored[smiles_column].astype(str).tolist(),
                        scored[score_column].to_numpy(dtype=float).tolist())  # fmt: skip
    keys = list(dict.fromkeys(k for s in kept if (k := canonical(str(s))) is not None))
    mols = [parse_smiles(k) for k in keys]
    frame = pd.DataFrame({"smiles": keys,
                          "score": [best.get(k, float("nan")) for k in keys]})  # fmt: skip
    frame["pchembl_predicted"] = _predict(predict, keys)
    frame["pchembl_independent"] = (
        _predict(predict_independent, keys) if predict_independent else np.nan
    )
    for name, values in _properties(mols, alerts).items():  # type: ignore[arg-type]
        frame[name] = values
    frame["nn_similarity"], frame["nn_active"] = _nearest(mols, actives)  # type: ignore[arg-type]
    order = ["score", "pchembl_predicted"]
    frame = frame.sort_values(order, ascending=False, na_position="last", kind="stable")
    frame = frame.reset_index(drop=True)
    frame["rank"] = np.arange(1, len(frame) + 1)
    frame["id"] = [f"{id_prefix}-{rank:04d}" for rank in frame["rank"]]
    return frame[list(RESULT_COLUMNS)]


def _predict(predict: Predict, smiles: list[str]) -> np.ndarray:
    if not smiles:
        return np.zeros(0)
    return np.asarray(predict(smiles), dtype=float)
