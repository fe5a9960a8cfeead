"""Standardisation of ligand tables with the ChEMBL Structure Pipeline.

Each SMILES goes through: parse → sanitise → ChEMBL ``standardize_mol`` (functional-group
normalisation, charge and stereo clean-up; ``normalise``) → ChEMBL ``get_parent_mol``
(isotopes, salts, solvents and counter-ions such as ``[Na+]``, ``Cl`` or ``[Zn+2]`` removed,
neutralised; ``largest_fragment``) → the largest organic fragment when several remain (ChEMBL
keeps every fragment when all of them are on its salt list, e.g. sodium acetate) → RDKit
uncharger (``neutralise``) → (remove stereochemistry) → canonical SMILES. Structures with no
carbon left (a lone metal ion) or with a metal (``chembl_structure_pipeline``'s exclusion
flag) are rejected. A molecule that fails any step is dropped *with its reason* (kept in
:attr:`StandardisationResult.rejected`), never silently.

The ChEMBL Structure Pipeline (Bento et al., J. Cheminform. 12:51, 2020; MIT licence) is
the ``chembl_structure_pipeline`` package. Molecules that become identical after
standardisation (salts, stereo removal) are merged: median activity, measurement count, all
source ids kept.

Example:
    >>> from crucible.data.standardise import standardise_smiles
    >>> standardise_smiles("CC(=O)[O-].[Na+]")
    ('CC(=O)O', None)
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from crucible.chem.limits import MAX_SMILES_LENGTH, smiles_too_long
from crucible.data.columns import ACTIVITY_COLUMN, ID_COLUMN, SMILES_COLUMN, YEAR_COLUMN
from crucible.validation import strict_config

if TYPE_CHECKING:
    import pandas as pd

INPUT_SMILES_COLUMN = "input_smiles"
REASON_COLUMN = "reason"
COUNT_COLUMN = "n_measurements"
SOURCE_IDS_COLUMN = "source_ids"


class StandardiseOptions(BaseModel):
    """What standardisation does.

    Attributes:
        largest_fragment: Keep the ChEMBL parent (salts, solvents and counter-ions removed),
            then the largest organic fragment if several remain.
        neutralise: Neutralise charges where a neutral form exists (RDKit ``Uncharger``).
        normalise: ChEMBL ``standardize_mol`` (functional groups such as nitro and N-oxides,
            charges, stereo clean-up).
        remove_stereo: Drop stereochemistry (so stereoisomers merge).
        deduplicate: Merge molecules with the same standardised SMILES.
        require_activity: Drop rows whose activity is missing (when the table has one).
        max_heavy_atoms: Drop larger molecules (peptides, macrocycles); None keeps all.
    """

    model_config = strict_config()

    largest_fragment: bool = True
    neutralise: bool = True
    normalise: bool = True
    remove_stereo: bool = False
    deduplicate: bool = True
    require_activity: bool = True
    max_heavy_atoms: int | None = Field(default=None, ge=1)


@dataclass
class StandardisationResult:
    """Output of :func:`standardise_frame`.

    Attributes:
        molecules: Standardised table (canonical ``smiles``, ``input_smiles``,
            ``n_measurements``, ``source_ids`` plus the input's other columns).
        rejected: The dropped rows: ``molecule_id``, ``input_smiles``, ``reason``.
        n_input: Rows read.
        n_merged: Rows folded into another by de-duplication.
        seconds: Wall time of the standardisation itself.
    """

    molecules: pd.DataFrame
    rejected: pd.DataFrame
    n_input: int
    n_merged: int
    seconds: float
    options: StandardiseOptions = field(default_factory=StandardiseOptions)

    def summary(self) -> dict[str, Any]:
        """Counts, reasons and throughput as a JSON-ready dict."""
        reasons = (
            self.rejected[REASON_COLUMN].value_counts().to_dict() if len(self.rejected) else {}
        )
        return {
            "n_input": self.n_input,
            "n_valid": self.n_input - len(self.rejected),
            "n_rejected": len(self.rejected),
            "n_merged": self.n_merged,
            "n_output": len(self.molecules),
            "rejection_reasons": {str(k): int(v) for k, v in reasons.items()},
            "molecules_per_second": self.n_input / self.seconds if self.seconds > 0 else None,
            "options": self.options.model_dump(),
        }


class StandardisedFiles(BaseModel):
    """Where a standardisation run wrote its tables, and its summary.

    Attributes:
        standardised: ``standardised.csv``.
        rejected: ``rejected.csv`` (each with its reason).
        summary_path: ``standardisation.json``.
        summary: :meth:`StandardisationResult.summary`.
    """

    standardised: str
    rejected: str
    summary_path: str
    summary: dict[str, Any]


class _Standardiser:
    """Holds the RDKit standardiser objects (built once, reused for every molecule)."""

    def __init__(self, options: StandardiseOptions) -> None:
        from chembl_structure_pipeline import standardizer
        from rdkit.Chem.MolStandardize import rdMolStandardize

        self.options = options
        self.chembl = standardizer
        self.chooser = rdMolStandardize.LargestFragmentChooser(preferOrganic=True)
        self.uncharger = rdMolStandardize.Uncharger()

    def __call__(self, smiles: object) -> tuple[str | None, str | None]:
        from rdkit import Chem

        if not isinstance(smiles, str) or not smiles.strip():
            return None, "empty or missing SMILES"
        if smiles_too_long(smiles):
            return None, f"SMILES longer than {MAX_SMILES_LENGTH} characters"
        mol = Chem.MolFromSmiles(smiles.strip(), sanitize=False)
        if mol is None:
            return None, "SMILES syntax error"
        if mol.GetNumAtoms() == 0:
            return None, "no atoms"
        try:
            Chem.SanitizeMol(mol)
        except Exception as exc:  # RDKit raises several sanitisation exception types.
            return None, f"sanitisation failed: {str(exc).splitlines()[0]}"
        return self._clean(mol)

    def _clean(self, mol: Any) -> tuple[str | None, str | None]:
        from rdkit import Chem

        options = self.options
        try:
            if options.normalise:
                mol = self.chembl.standardize_mol(mol)
            if options.largest_fragment:
                mol, _ = self.chembl.get_parent_mol(mol, neutralize=options.neutralise)
                if len(Chem.GetMolFrags(mol)) > 1:
                    mol = self.chooser.choose(mol)
            if options.neutralise:
                mol = self.uncharger.uncharge(mol)
            if options.remove_stereo:
                Chem.RemoveStereochemistry(mol)
        except Exception as exc:
            return None, f"standardisation failed: {str(exc).splitlines()[0]}"
        refused = self._inorganic(mol)
        if refused:
            return None, refused
        if (
            options.max_heavy_atoms is not None
            and mol.GetNumHeavyAtoms() > options.max_heavy_atoms
        ):
            return None, f"more than {options.max_heavy_atoms} heavy atoms"
        canonical = Chem.MolToSmiles(mol)
        return (canonical, None) if canonical else (None, "empty structure after standardisation")

    def _inorganic(self, mol: Any) -> str | None:
        """Why a parent structure is no organic ligand (None when it is one)."""
        if not any(atom.GetAtomicNum() == 6 for atom in mol.GetAtoms()):
            return "no organic structure (inorganic or lone metal ion)"
        if self.chembl.exclude_flag(mol, includeRDKitSanitization=False):
            return "metal-containing structure (ChEMBL exclusion flag)"
        return None


@contextmanager
def quiet_rdkit() -> Iterator[None]:
    """Silence RDKit's parse and sanitisation warnings (failures are reported instead)."""
    from rdkit import rdBase

    block = rdBase.BlockLogs()
    try:
        yield
    finally:
        del block


def standardise_smiles(
    smiles: str, options: StandardiseOptions | None = None
) -> tuple[str | None, str | None]:
    """Standardise one SMILES.

    Returns:
        ``(canonical_smiles, None)`` on success, ``(None, reason)`` on failure.
    """
    with quiet_rdkit():
        standardiser = _Standardiser(options or StandardiseOptions())
        return standardiser(smiles)


def standardise_many(
    smiles: Iterable[object], options: StandardiseOptions | None = None
) -> list[tuple[str | None, str | None]]:
    """Standardise many SMILES, reusing one set of RDKit standardisers."""
    with quiet_rdkit():
        standardiser = _Standardiser(options or StandardiseOptions())
        return [standardiser(s) for s in smiles]


def standardise_frame(
    frame: pd.DataFrame, options: StandardiseOptions | None = None
) -> StandardisationResult:
    """Standardise a canonical ligand table (see :mod:`crucible.data.io`).

    Args:
        frame: Table with at least ``smiles``; ``molecule_id``, ``pchembl_value`` and
            ``year`` are used when present.
        options: What to do; the defaults suit QSAR and generative-model training.

    Returns:
        The standardised table, the rejected rows with their reasons, and counts.
    """
    import numpy as np
    import pandas as pd

    options = options or StandardiseOptions()
    start = time.perf_counter()
    results = standardise_many(frame[SMILES_COLUMN].tolist(), options)
    seconds = time.perf_counter() - start
    table = frame.reset_index(drop=True).copy()
    if ID_COLUMN not in table:
        table[ID_COLUMN] = [f"row-{i}" for i in range(len(table))]
    table[INPUT_SMILES_COLUMN] = table[SMILES_COLUMN]
    table[SMILES_COLUMN] = [smi for smi, _ in results]
    table[REASON_COLUMN] = [reason for _, reason in results]
    if options.require_activity and ACTIVITY_COLUMN in table:
        missing = table[REASON_COLUMN].isna() & ~np.isfinite(table[ACTIVITY_COLUMN].astype(float))
        table.loc[missing, REASON_COLUMN] = "missing or non-numeric activity"
    bad = table[REASON_COLUMN].notna()
    rejected = table.loc[bad, [ID_COLUMN, INPUT_SMILES_COLUMN, REASON_COLUMN]].reset_index(
        drop=True
    )
    good = table.loc[~bad].drop(columns=[REASON_COLUMN]).reset_index(drop=True)
    if COUNT_COLUMN not in good:
        good[COUNT_COLUMN] = 1
    good[SOURCE_IDS_COLUMN] = good[ID_COLUMN].astype(str)
    merged = aggregate_duplicates(good) if options.deduplicate else good
    return StandardisationResult(
        molecules=merged,
        rejected=rejected if len(rejected) else pd.DataFrame(columns=rejected.columns),
        n_input=len(frame),
        n_merged=len(good) - len(merged),
        seconds=seconds,
        options=options,
    )


def aggregate_duplicates(frame: pd.DataFrame) -> pd.DataFrame:
    """Merge rows with the same ``smiles``.

    The first row's id and other columns are kept; ``pchembl_value`` becomes the median,
    ``year`` the earliest, ``n_measurements`` the sum and ``source_ids`` the ``;``-joined ids.
    The row order follows the first occurrence of each SMILES.
    """
    if not frame[SMILES_COLUMN].duplicated().any():
        return frame.reset_index(drop=True)
    groups = frame.groupby(SMILES_COLUMN, sort=False)
    merged = groups.first()
    if ACTIVITY_COLUMN in frame:
        merged[ACTIVITY_COLUMN] = groups[ACTIVITY_COLUMN].median()
    if YEAR_COLUMN in frame:
        merged[YEAR_COLUMN] = groups[YEAR_COLUMN].min()
    merged[COUNT_COLUMN] = groups[COUNT_COLUMN].sum()
    merged[SOURCE_IDS_COLUMN] = groups[SOURCE_IDS_COLUMN].agg(";".join)
    out = merged.reset_index()
    return out[list(frame.columns)]
