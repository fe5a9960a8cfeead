"""Data sets shipped with Crucible, usable offline.

The EGFR (CHEMBL203) IC50 extract of ChEMBL 27, via TeachOpenCADD talktorial T001, is the
default data set of the molecular-design demo::

    from crucible.data import load_egfr
    frame = load_egfr()          # 5,568 rows: molecule_id, smiles, pchembl_value
    frame.attrs["provenance"]    # a Provenance dict with the attribution
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from crucible.data.io import ColumnMapping, read_ligands
from crucible.data.provenance import CHEMBL27_TEACHOPENCADD_ATTRIBUTION, Provenance, sha256_of

if TYPE_CHECKING:
    import pandas as pd

EGFR_FILE = "egfr_chembl27_teachopencadd.csv"
#: How the bundled EGFR file's columns map onto the canonical ones.
EGFR_MAPPING = ColumnMapping(
    smiles="smiles",
    molecule_id="molecule_chembl_id",
    activity="pIC50",
    activity_units="p",
    keep=["IC50"],
)


def egfr_path() -> Path:
    """Path of the bundled EGFR CSV inside the installed package."""
    return Path(str(resources.files("crucible").joinpath("resources", "data", EGFR_FILE)))


def egfr_provenance() -> Provenance:
    """Provenance of the bundled EGFR extract (ChEMBL 27 via TeachOpenCADD)."""
    path = egfr_path()
    return Provenance(
        source="bundled",
        description="EGFR (CHEMBL203, human) IC50, one row per molecule",
        query={
            "target_chembl_id": "CHEMBL203",
            "standard_type": "IC50",
            "standard_relation": "=",
            "standard_units": "nM",
            "assay_type": "B",
            "aggregation": "one row per molecule (TeachOpenCADD T001)",
        },
        chembl_release="ChEMBL_27",
        base_url=str(path),
        n_records=5568,
        n_molecules=5568,
        files={EGFR_FILE: sha256_of(path)},
        attribution=CHEMBL27_TEACHOPENCADD_ATTRIBUTION,
    )


def load_egfr(limit: int | None = None, seed: int = 0) -> pd.DataFrame:
    """The bundled EGFR set as a canonical table (see :mod:`crucible.data.io`).

    Args:
        limit: Keep a seeded random sample of ``limit`` rows (quick demos and tests; the
            file is sorted by potency, so its first rows would be a biased sample).
        seed: Seed of that sample.

    Returns:
        Columns ``molecule_id``, ``smiles``, ``pchembl_value`` (pIC50) and ``IC50`` (nM);
        ``frame.attrs["provenance"]`` holds the provenance as a dict.
    """
    frame = read_ligands(egfr_path(), EGFR_MAPPING, fmt="csv")
    if limit is not None:
        frame = frame.sample(n=min(limit, len(frame)), random_state=seed).reset_index(drop=True)
    frame.attrs["provenance"] = egfr_provenance().model_dump(mode="json")
    return frame
