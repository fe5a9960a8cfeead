"""Train / validation / test splits of ligand tables.

Four splitters, each an implementation of :class:`Splitter` registered by name:

* ``random``: a seeded permutation.
* ``scaffold``: Bemis–Murcko scaffolds kept whole (no scaffold in two splits); large scaffold
  groups go to training first, the rest in seeded random order (Chemprop's "balanced"
  scaffold split), so test molecules are structurally new.
* ``stratified``: activity quantile bins, each bin split with the same fractions, so every
  split covers the whole activity range.
* ``temporal``: oldest molecules train, newest test (needs a ``year`` column).

Add a splitter by subclassing :class:`Splitter` and calling :func:`register_splitter`.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, model_validator

from crucible.data.io import ACTIVITY_COLUMN, SMILES_COLUMN, YEAR_COLUMN, write_table
from crucible.exceptions import InvalidInputError
from crucible.validation import strict_config

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

SPLIT_NAMES = ("train", "valid", "test")
SCAFFOLD_COLUMN = "scaffold"


class SplitFractions(BaseModel):
    """Fractions of molecules in each split; each in [0, 1], train > 0, summing to 1.

    Attributes:
        train: Share used to fit models and fine-tune the generator.
        valid: Share for early stopping and model choice.
        test: Share held out for the final metrics.
    """

    model_config = strict_config()

    train: float = 0.8
    valid: float = 0.1
    test: float = 0.1

    @model_validator(mode="after")
    def _check(self) -> SplitFractions:
        for name in SPLIT_NAMES:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise InvalidInputError(
                    f"fractions.{name}", f"{value} is outside [0, 1]", "use a value in [0, 1]"
                )
        if self.train <= 0.0:
            raise InvalidInputError("fractions.train", "must be > 0", "give training a share")
        total = self.train + self.valid + self.test
        if abs(total - 1.0) > 1e-6:
            raise InvalidInputError(
                "fractions",
                f"train + valid + test = {total:.6g}, not 1",
                "make the three fractions sum to 1 (e.g. 0.8, 0.1, 0.1)",
            )
        return self

    def counts(self, n: int) -> tuple[int, int, int]:
        """Target sizes for ``n`` molecules (rounded; training takes the remainder)."""
        n_test = round(n * self.test)
        n_valid = round(n * self.valid)
        return n - n_valid - n_test, n_valid, n_test


class Splitter(ABC):
    """Assigns each row of a ligand table to ``train``, ``valid`` or ``test``."""

    name: ClassVar[str]

    @abstractmethod
    def assign(self, frame: pd.DataFrame, fractions: SplitFractions, seed: int) -> np.ndarray:
        """Label every row.

        Args:
            frame: Canonical ligand table (``smiles``; ``pchembl_value``/``year`` if needed).
            fractions: Validated split fractions.
            seed: Seed of every random choice; the same seed gives the same split.

        Returns:
            Array of shape ``(n_rows,)`` with values in ``{"train", "valid", "test"}``.
        """


_SPLITTERS: dict[str, type[Splitter]] = {}


def register_splitter(cls: type[Splitter]) -> type[Splitter]:
    """Register a splitter class under ``cls.name`` (usable as a decorator)."""
    _SPLITTERS[cls.name] = cls
    return cls


def available_splitters() -> list[str]:
    """Names of the registered splitters."""
    return sorted(_SPLITTERS)


def get_splitter(name: str) -> Splitter:
    """An instance of the splitter registered as ``name``."""
    if name not in _SPLITTERS:
        raise InvalidInputError(
            "split.method", f"unknown split {name!r}", f"use one of {available_splitters()}"
        )
    return _SPLITTERS[name]()


def _labels_from_order(order: np.ndarray, sizes: tuple[int, int, int]) -> np.ndarray:
    import numpy as np

    labels = np.empty(len(order), dtype=object)
    n_train, n_valid, _ = sizes
    labels[order[:n_train]] = "train"
    labels[order[n_train : n_train + n_valid]] = "valid"
    labels[order[n_train + n_valid :]] = "test"
    return labels


@register_splitter
class _RandomSplitter(Splitter):
    name = "random"

    def assign(self, frame: pd.DataFrame, fractions: SplitFractions, seed: int) -> np.ndarray:
        import numpy as np

        order = np.random.default_rng(seed).permutation(len(frame))
        return _labels_from_order(order, fractions.counts(len(frame)))


def murcko_scaffolds(smiles: list[str]) -> list[str]:
    """Bemis–Murcko scaffold SMILES per molecule (``""`` for acyclic or unparsable ones)."""
    from rdkit import Chem
    from rdkit.Chem.Scaffolds import MurckoScaffold

    out = []
    for smi in smiles:
        mol = Chem.MolFromSmiles(smi) if isinstance(smi, str) else None
        out.append(MurckoScaffold.MurckoScaffoldSmiles(mol=mol) if mol is not None else "")
    return out


@register_splitter
class _ScaffoldSplitter(Splitter):
    name = "scaffold"

    def assign(self, frame: pd.DataFrame, fractions: SplitFractions, seed: int) -> np.ndarray:
        import numpy as np

        scaffolds = (
            frame[SCAFFOLD_COLUMN].tolist()
            if SCAFFOLD_COLUMN in frame
            else murcko_scaffolds(frame[SMILES_COLUMN].tolist())
        )
        groups: dict[str, list[int]] = {}
        for row, scaffold in enumerate(scaffolds):
            groups.setdefault(scaffold, []).append(row)
        n_train, n_valid, n_test = fractions.counts(len(frame))
        rng = np.random.default_rng(seed)
        sets = list(groups.values())
        big = [g for g in sets if len(g) > max(n_valid, n_test) / 2]
        small = [g for g in sets if len(g) <= max(n_valid, n_test) / 2]
        ordered = [big[i] for i in rng.permutation(len(big))]
        ordered += [small[i] for i in rng.permutation(len(small))]
        labels = np.empty(len(frame), dtype=object)
        filled = {"train": 0, "valid": 0}
        for group in ordered:
            if filled["train"] + len(group) <= n_train:
                target = "train"
            elif filled["valid"] + len(group) <= n_valid:
                target = "valid"
            else:
                target = "test"
            if target in filled:
                filled[target] += len(group)
            labels[group] = target
        return labels


@register_splitter
class _StratifiedSplitter(Splitter):
    name = "stratified"
    n_bins: ClassVar[int] = 10

    def assign(self, frame: pd.DataFrame, fractions: SplitFractions, seed: int) -> np.ndarray:
        import numpy as np
        import pandas as pd

        if ACTIVITY_COLUMN not in frame:
            raise InvalidInputError(
                "split.method", "'stratified' needs a pchembl_value column", "use 'random'"
            )
        n_bins = max(1, min(self.n_bins, len(frame) // 10))
        bins = pd.qcut(frame[ACTIVITY_COLUMN].rank(method="first"), n_bins, labels=False)
        rng = np.random.default_rng(seed)
        labels = np.empty(len(frame), dtype=object)
        for value in range(n_bins):
            rows = np.flatnonzero(bins.to_numpy() == value)
            order = rows[rng.permutation(len(rows))]
            labels[order] = _labels_from_order(np.arange(len(rows)), fractions.counts(len(rows)))
        return labels


@register_splitter
class _TemporalSplitter(Splitter):
    name = "temporal"

    def assign(self, frame: pd.DataFrame, fractions: SplitFractions, seed: int) -> np.ndarray:
        import numpy as np

        if YEAR_COLUMN not in frame:
            raise InvalidInputError(
                "split.method",
                "'temporal' needs a year column and the table has none",
                "map a year column (ColumnMapping.year) or use 'scaffold' or 'random'",
            )
        years = frame[YEAR_COLUMN].astype(float).to_numpy()
        if np.isnan(years).any():
            raise InvalidInputError(
                "split.method",
                f"{int(np.isnan(years).sum())} rows have no year",
                "drop rows without a year first, or use another split",
            )
        tie_break = np.random.default_rng(seed).permutation(len(frame))
        order = np.lexsort((tie_break, years))
        return _labels_from_order(order, fractions.counts(len(frame)))


@dataclass
class SplitResult:
    """The three tables of a split and a summary (sizes, activity, scaffold overlap)."""

    frames: dict[str, pd.DataFrame]
    summary: dict[str, Any]

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """Write ``train.csv``, ``valid.csv``, ``test.csv`` and ``split_summary.json``."""
        out = Path(out_dir)
        paths = {name: write_table(self.frames[name], out / f"{name}.csv") for name in SPLIT_NAMES}
        summary_path = out / "split_summary.json"
        summary_path.write_text(json.dumps(self.summary, indent=2))
        paths["summary"] = summary_path
        return paths


class SplitFiles(BaseModel):
    """Where a split was written.

    Attributes:
        train: ``train.csv``.
        valid: ``valid.csv``.
        test: ``test.csv``.
        summary_path: ``split_summary.json``.
        provenance: ``provenance.json`` with the standardise and split steps (when the
            source's provenance was given).
        summary: The split's summary (method, sizes, seed).
    """

    train: str
    valid: str
    test: str
    summary_path: str
    provenance: str | None = None
    summary: dict[str, Any]

    def paths(self) -> dict[str, str]:
        """``train``, ``valid`` and ``test`` paths by split name."""
        return {"train": self.train, "valid": self.valid, "test": self.test}


def split_frame(
    frame: pd.DataFrame,
    method: str = "random",
    fractions: SplitFractions | None = None,
    seed: int = 0,
) -> SplitResult:
    """Split a (standardised) ligand table.

    Args:
        frame: Canonical table with ``smiles`` (and ``pchembl_value``/``year`` if needed).
        method: A registered splitter name (:func:`available_splitters`).
        fractions: Target fractions; 0.8/0.1/0.1 by default.
        seed: Seed; the same inputs and seed give the same split.

    Returns:
        The train/valid/test tables (each with a ``scaffold`` column) and a summary.
    """
    fractions = fractions or SplitFractions()
    if len(frame) < 3:
        raise InvalidInputError("frame", f"{len(frame)} molecules", "split at least 3 molecules")
    table = frame.reset_index(drop=True).copy()
    if SCAFFOLD_COLUMN not in table:
        table[SCAFFOLD_COLUMN] = murcko_scaffolds(table[SMILES_COLUMN].tolist())
    labels = get_splitter(method).assign(table, fractions, seed)
    frames = {name: table.loc[labels == name].reset_index(drop=True) for name in SPLIT_NAMES}
    return SplitResult(frames=frames, summary=_summary(frames, method, fractions, seed))


def _summary(
    frames: dict[str, pd.DataFrame], method: str, fractions: SplitFractions, seed: int
) -> dict[str, Any]:
    total = sum(len(f) for f in frames.values())
    per_split: dict[str, Any] = {}
    for name, part in frames.items():
        entry: dict[str, Any] = {
            "n": len(part),
            "fraction": len(part) / total,
            "n_scaffolds": int(part[SCAFFOLD_COLUMN].nunique()),
        }
        if ACTIVITY_COLUMN in part and len(part):
            activity = part[ACTIVITY_COLUMN].astype(float)
            entry |= {
                "activity_mean": float(activity.mean()),
                "activity_std": float(activity.std()),
            }
        per_split[name] = entry
    train_scaffolds = set(frames["train"][SCAFFOLD_COLUMN])
    return {
        "method": method,
        "seed": seed,
        "requested_fractions": fractions.model_dump(),
        "n_molecules": total,
        "splits": per_split,
        "test_scaffolds_in_train": len(set(frames["test"][SCAFFOLD_COLUMN]) & train_scaffolds),
        "valid_scaffolds_in_train": len(set(frames["valid"][SCAFFOLD_COLUMN]) & train_scaffolds),
    }


def write_actives(
    split_dir: str | Path,
    out_dir: str | Path,
    threshold: float,
    names: tuple[str, ...] = ("train", "valid"),
) -> dict[str, Path]:
    """Write the actives (``pchembl_value >= threshold``) of a written split.

    Transfer learning on a target's actives (REINVENT's focused-set TL) reads these files:
    ``train.csv`` to fine-tune on, ``valid.csv`` to validate on.

    Args:
        split_dir: Folder with the split's ``<name>.csv`` tables.
        out_dir: Receives one ``<name>.csv`` per name with the active rows only.
        threshold: pChEMBL counted as active (e.g. 7, i.e. 100 nM or better).
        names: Which split tables to filter.

    Returns:
        The written path per name; a name other than ``train`` without any active is left
        out (no file).

    Raises:
        InvalidInputError: If a table has no activity column or the training one no active.
    """
    import pandas as pd

    paths: dict[str, Path] = {}
    for name in names:
        table = pd.read_csv(Path(split_dir) / f"{name}.csv")
        if ACTIVITY_COLUMN not in table:
            raise InvalidInputError(
                f"{name}.csv", f"has no {ACTIVITY_COLUMN} column", "split a table with activities"
            )
        actives = table.loc[table[ACTIVITY_COLUMN] >= threshold]
        if name == "train" and actives.empty:
            best = float(table[ACTIVITY_COLUMN].max())
            raise InvalidInputError(
                "threshold",
                f"{threshold} leaves no training active (highest pChEMBL {best:.2f})",
                "lower the activity threshold",
            )
        if not actives.empty:
            paths[name] = write_table(
                actives.reset_index(drop=True), Path(out_dir) / f"{name}.csv"
            )
    return paths
