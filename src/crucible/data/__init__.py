"""Ligand data: ChEMBL fetch, file import, standardisation, splits and bundled data sets.

Light to import: RDKit, pandas and the ChEMBL client are imported inside the functions that
use them. Entry points:

* :func:`crucible.data.load_egfr` - the bundled EGFR (CHEMBL203) set, offline.
* :mod:`crucible.data.chembl` - :func:`~crucible.data.chembl.fetch_activities`.
* :mod:`crucible.data.io` - :func:`~crucible.data.io.read_ligands` with a column mapping.
* :mod:`crucible.data.standardise` - :func:`~crucible.data.standardise.standardise_frame`.
* :mod:`crucible.data.splits` - :func:`~crucible.data.splits.split_frame` and the registry.
"""

from crucible.data.datasets import egfr_path, load_egfr
from crucible.data.io import ColumnMapping, read_ligands
from crucible.data.provenance import Provenance

__all__ = ["ColumnMapping", "Provenance", "egfr_path", "load_egfr", "read_ligands"]
