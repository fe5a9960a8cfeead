"""Measured figures of a molecular-design run (the targets of ``make demo``).

A design run is judged on a fixed number of fresh samples from the final agent (500 by
default), each figure over *all* samples unless said otherwise:

* ``valid_fraction``: RDKit-parsable SMILES;
* ``predicted_active_fraction``: predicted pChEMBL >= the threshold by the activity model
  that RL optimised (invalid samples count as inactive);
* ``independent_active_fraction``: the same by an *independent* model, a random forest on
  RDKit 2D descriptors (:class:`DescriptorForest`), trained on the same training split and
  never used for scoring, so a generator that exploits the RL model's fingerprint
  featurisation does not pass by construction;
* ``median_nn_similarity_to_actives``: median over valid samples of the Tanimoto similarity
  (Morgan radius 2, 2,048 bits) to the nearest training active;
* ``unique_scaffold_fraction``: distinct Murcko scaffolds / valid samples;
* ``rl_score_gain``: mean RL score of the final agent's samples over that of the same number
  of samples from the transfer-learned model (invalid = 0);
* ``flow_cpu_s``: CPU seconds of the run (filled in by the caller).

:data:`TARGETS` holds the thresholds and :func:`missed_targets` names those not met.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel

from crucible.chem.properties import morgan_generator, parse_smiles
from crucible.exceptions import InvalidInputError

if TYPE_CHECKING:
    from rdkit.Chem import Mol

    from crucible.chem.scoring import ScoringConfig

#: pChEMBL at or above which a molecule counts as active (an activity of 100 nM or better).
ACTIVE_THRESHOLD = 7.0

#: ``(comparison, value)`` per figure: ``>=`` means the figure must reach the value.
TARGETS: dict[str, tuple[str, float]] = {
    "valid_fraction": (">=", 0.95),
    "predicted_active_fraction": (">=", 0.40),
    "independent_active_fraction": (">=", 0.30),
    "median_nn_similarity_to_actives": (">=", 0.40),
    "unique_scaffold_fraction": (">=", 0.50),
    "rl_score_gain": (">=", 1.3),
}

Predict = Callable[[Sequence[str]], np.ndarray]


class DesignMetrics(BaseModel):
    """The figures of a design run (see the module docstring)."""

    valid_fraction: float
    predicted_active_fraction: float
    independent_active_fraction: float
    median_nn_similarity_to_actives: float
    unique_scaffold_fraction: float
    rl_score_gain: float
    flow_cpu_s: float = float("nan")
    n_samples: int = 0

    def as_dict(self, digits: int = 4) -> dict[str, float | int | None]:
        """Rounded, JSON-ready dict (NaN and inf become None)."""
        return {
            key: (round(value, digits) if math.isfinite(value) else None)
            if isinstance(value, float)
            else value
            for key, value in self.model_dump().items()
        }


def cpu_seconds() -> float:
    """CPU seconds (user + system) of this process and its finished child processes."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def parse_all(smiles: Sequence[str]) -> list[Mol | None]:
    """RDKit molecules (None where a SMILES does not parse)."""
    return [parse_smiles(text) if text else None for text in smiles]


def valid_fraction(mols: Sequence[Mol | None]) -> float:
    """Share of parsed molecules (0 for no samples)."""
    return sum(m is not None for m in mols) / len(mols) if mols else 0.0


def active_fraction(predictions: np.ndarray, threshold: float = ACTIVE_THRESHOLD) -> float:
    """Share of predictions >= ``threshold``; NaN (invalid molecule) counts as inactive."""
    values = np.asarray(predictions, dtype=float)
    if values.size == 0:
        return 0.0
    return float(np.mean(np.nan_to_num(values, nan=-np.inf) >= threshold))


def fingerprints(mols: Sequence[Mol]) -> list[Any]:
    """Morgan bit vectors (radius 2, 2,048 bits) of parsed molecules."""
    generator = morgan_generator(2, 2048)
    return [generator.GetFingerprint(m) for m in mols]


def median_nn_similarity(mols: Sequence[Mol | None], reference: Sequence[Mol]) -> float:
    """Median over valid ``mols`` of the Tanimoto similarity to the nearest reference.

    Raises:
        InvalidInputError: When ``reference`` is empty.
    """
    from rdkit import DataStructs

    if not reference:
        raise InvalidInputError(
            "reference", "has no molecules", "give the training actives to compare with"
        )
    reference_fps = fingerprints(reference)
    sample_fps = fingerprints([m for m in mols if m is not None])
    if not sample_fps:
        return 0.0
    nearest = [max(DataStructs.BulkTanimotoSimilarity(fp, reference_fps)) for fp in sample_fps]
    return float(np.median(nearest))


def unique_scaffold_fraction(mols: Sequence[Mol | None]) -> float:
    """Distinct Murcko scaffolds over valid molecules (acyclic ones share the empty one)."""
    from rdkit import Chem
    from rdkit.Chem.Scaffolds import MurckoScaffold

    valid = [m for m in mols if m is not None]
    if not valid:
        return 0.0
    scaffolds = {Chem.MolToSmiles(MurckoScaffold.GetScaffoldForMol(m)) for m in valid}
    return len(scaffolds) / len(valid)


def score_gain(
    final_scores: Sequence[float] | np.ndarray, baseline_scores: Sequence[float] | np.ndarray
) -> float:
    """Mean of ``final_scores`` over mean of ``baseline_scores`` (NaN scores count as 0).

    Returns:
        The ratio; ``inf`` when the baseline mean is 0 and the final one is not.
    """
    final = _mean(final_scores)
    base = _mean(baseline_scores)
    if base <= 0:
        return math.inf if final > 0 else float("nan")
    return final / base


def _mean(values: Sequence[float] | np.ndarray) -> float:
    array = np.nan_to_num(np.asarray(values, dtype=float))
    return float(array.mean()) if array.size else 0.0


class DescriptorForest:
    """Random forest on RDKit 2D descriptors: the independent activity check.

    Different featurisation from the RL activity model (Morgan counts), same training
    split. Descriptors RDKit cannot compute (NaN, inf) become 0.

    Args:
        n_estimators: Trees.
        seed: Random seed.
    """

    def __init__(self, n_estimators: int = 200, seed: int = 0) -> None:
        from sklearn.ensemble import RandomForestRegressor

        self.forest = RandomForestRegressor(
            n_estimators=n_estimators, max_features=0.3, min_samples_leaf=1, random_state=seed
        )

    @staticmethod
    def features(mols: Sequence[Mol]) -> np.ndarray:
        """Descriptor matrix, one row per molecule."""
        from rdkit.Chem import Descriptors

        functions = [function for _, function in Descriptors.descList]
        rows = [[_safe(function, mol) for function in functions] for mol in mols]
        matrix = np.asarray(rows, dtype=np.float64)
        matrix[~np.isfinite(matrix)] = 0.0
        return np.clip(matrix, -1e9, 1e9)

    def fit(self, smiles: Sequence[str], values: Sequence[float]) -> DescriptorForest:
        """Fit on parsable ``smiles`` and their activities."""
        keep, mols = _parsed(smiles)
        if len(keep) < 2:
            raise InvalidInputError("smiles", "fewer than 2 parsable molecules", "give more")
        self.forest.fit(self.features(mols), np.asarray(values, float)[keep])
        return self

    def predict(self, smiles: Sequence[str]) -> np.ndarray:
        """Predictions (NaN where a SMILES does not parse)."""
        keep, mols = _parsed(smiles)
        out = np.full(len(smiles), np.nan)
        if keep:
            out[keep] = self.forest.predict(self.features(mols))
        return out


def _parsed(smiles: Sequence[str]) -> tuple[list[int], list[Mol]]:
    """Indices of the parsable SMILES and their molecules."""
    pairs = [(i, m) for i, m in enumerate(parse_all(smiles)) if m is not None]
    return [i for i, _ in pairs], [m for _, m in pairs]


def _safe(function: Callable[[Mol], float], mol: Mol) -> float:
    try:
        return float(function(mol))
    except (ValueError, ZeroDivisionError, RuntimeError, OverflowError):
        return 0.0


def evaluate_samples(
    samples: Sequence[str],
    actives: Sequence[str],
    predict: Predict,
    predict_independent: Predict,
    final_scores: Sequence[float] | np.ndarray,
    baseline_scores: Sequence[float] | np.ndarray,
    threshold: float = ACTIVE_THRESHOLD,
) -> DesignMetrics:
    """The figures of a design run from its final samples.

    Args:
        samples: Raw sampled SMILES from the final agent (invalid ones included).
        actives: Training-set actives (the nearest-neighbour reference; without any the
            similarity is NaN).
        predict: The RL activity model's ``predict`` (NaN for invalid SMILES).
        predict_independent: The independent model's ``predict``.
        final_scores: RL scores of ``samples`` (invalid = 0).
        baseline_scores: RL scores of as many samples of the transfer-learned model.
        threshold: pChEMBL counted as active.
    """
    mols = parse_all(samples)
    reference = [m for m in parse_all(actives) if m is not None]
    valid_smiles = [s if m is not None else "" for s, m in zip(samples, mols, strict=True)]
    return DesignMetrics(
        valid_fraction=valid_fraction(mols),
        predicted_active_fraction=active_fraction(
            _predict_valid(predict, valid_smiles), threshold
        ),
        independent_active_fraction=active_fraction(
            _predict_valid(predict_independent, valid_smiles), threshold
        ),
        median_nn_similarity_to_actives=(
            median_nn_similarity(mols, reference) if reference else float("nan")
        ),
        unique_scaffold_fraction=unique_scaffold_fraction(mols),
        rl_score_gain=score_gain(final_scores, baseline_scores),
        n_samples=len(samples),
    )


def _predict_valid(predict: Predict, smiles: Sequence[str]) -> np.ndarray:
    """Predictions for the non-empty SMILES; NaN for the empty (invalid) ones."""
    out = np.full(len(smiles), np.nan)
    keep = [i for i, s in enumerate(smiles) if s]
    if keep:
        out[keep] = np.asarray(predict([smiles[i] for i in keep]), dtype=float)
    return out


def missed_targets(summary: Mapping[str, Any]) -> dict[str, str]:
    """The figures of ``summary`` that miss :data:`TARGETS`, with what was asked."""
    missed = {}
    for key, (_, goal) in TARGETS.items():
        value = summary.get(key)
        if value is None or not (isinstance(value, int | float) and value >= goal):
            missed[key] = f"{value} < {goal}"
    return missed


def evaluate_design(
    agent_path: str | Path,
    tl_model_path: str | Path,
    scoring: ScoringConfig | Mapping[str, Any],
    activity_model_dir: str | Path,
    split_dir: str | Path,
    output_json: str | Path,
    n_samples: int = 500,
    threshold: float = ACTIVE_THRESHOLD,
    seed: int = 0,
    cpu_started: float | None = None,
    kept_csv: str | Path | None = None,
) -> DesignMetrics:
    """Sample the final agent and the TL model, compute the figures, write ``output_json``.

    With ``kept_csv`` the independent model also predicts the filtered molecules and writes
    them to :data:`INDEPENDENT_CSV` next to ``output_json`` (the report then reuses them
    instead of fitting the forest a second time).

    Args:
        agent_path: The final RL agent.
        tl_model_path: The transfer-learned model RL started from (the score baseline).
        scoring: The RL scoring configuration (a ``ScoringConfig`` dict).
        activity_model_dir: The RL activity model (a saved ``crucible.chem.activity`` model).
        split_dir: Folder with ``train.csv`` (``smiles``, ``pchembl_value``).
        output_json: Where the summary goes (``summary.json`` of the design folder).
        n_samples: Samples from each model.
        threshold: pChEMBL counted as active (training actives and predictions).
        seed: Sampling and forest seed.
        cpu_started: :func:`cpu_seconds` at the start of the run; ``flow_cpu_s`` is then
            the CPU time from there to the end of this evaluation.
        kept_csv: Filtered molecules (``canonical_smiles`` or ``smiles`` column) to predict.
    """
    import json

    import pandas as pd

    from crucible.chem.activity import load_activity_model
    from crucible.chem.scoring import ScoringConfig
    from crucible.data.columns import ACTIVITY_COLUMN, SMILES_COLUMN
    from crucible.generator.jobs import build_scorer
    from crucible.generator.model_io import load_model
    from crucible.generator.training import seed_everything

    train = pd.read_csv(Path(split_dir) / "train.csv")
    actives = train.loc[train[ACTIVITY_COLUMN] >= threshold, SMILES_COLUMN].tolist()
    scorer = build_scorer(ScoringConfig.model_validate(scoring))
    seed_everything(seed)
    samples = load_model(agent_path, "cpu").sample(n_samples).smiles
    baseline = load_model(tl_model_path, "cpu").sample(n_samples).smiles
    independent = DescriptorForest(seed=seed).fit(
        train[SMILES_COLUMN].tolist(), train[ACTIVITY_COLUMN].tolist()
    )
    summary = evaluate_samples(
        samples,
        actives,
        load_activity_model(activity_model_dir).predict,
        independent.predict,
        scorer.score(samples).total,
        scorer.score(baseline).total,
        threshold,
    )
    path = Path(output_json)
    if kept_csv is not None:
        write_independent_predictions(independent, kept_csv, path.with_name(INDEPENDENT_CSV))
    if cpu_started is not None:
        summary.flow_cpu_s = cpu_seconds() - cpu_started
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary.as_dict(), indent=2))
    return summary


#: File (next to ``summary.json``) with the independent model's pChEMBL of the kept molecules.
INDEPENDENT_CSV = "independent_predictions.csv"


def write_independent_predictions(
    forest: DescriptorForest, kept_csv: str | Path, output_csv: str | Path
) -> Path:
    """Write ``smiles`` (canonical) and ``pchembl_independent`` for the kept molecules."""
    import pandas as pd

    from crucible.chem.results import canonical

    kept = pd.read_csv(kept_csv)
    column = "canonical_smiles" if "canonical_smiles" in kept.columns else "smiles"
    values: list[str] = (
        kept[column].dropna().astype(str).tolist() if column in kept.columns else []
    )
    keys = list(dict.fromkeys(k for s in values if (k := canonical(s)) is not None))
    frame = pd.DataFrame({"smiles": keys, "pchembl_independent": forest.predict(keys)})
    path = Path(output_csv)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def read_independent_predictions(path: str | Path) -> Predict:
    """A ``predict`` reading the file of :func:`write_independent_predictions`.

    Raises:
        KeyError: For a SMILES the file lacks.
    """
    import pandas as pd

    frame = pd.read_csv(path)
    table = dict(zip(frame["smiles"].astype(str), frame["pchembl_independent"], strict=True))

    def predict(smiles: Sequence[str]) -> np.ndarray:
        return np.array([table[text] for text in smiles], dtype=float)

    return predict
