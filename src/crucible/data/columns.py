"""Names of the canonical ligand-table columns (a leaf module: no Crucible imports).

:mod:`crucible.data.io` writes these columns and :mod:`crucible.data.standardise` reads
them; both import the names from here so neither imports the other at module level.
"""

from __future__ import annotations

__all__ = ["ACTIVITY_COLUMN", "ID_COLUMN", "SMILES_COLUMN", "YEAR_COLUMN"]

#: The file's identifier, or ``row-<n>`` when the file has none (str).
ID_COLUMN = "molecule_id"
#: The structure as written in the file, then standardised (str or None).
SMILES_COLUMN = "smiles"
#: Activity on the pChEMBL scale, -log10 molar (float, optional).
ACTIVITY_COLUMN = "pchembl_value"
#: E.g. the publication year, for temporal splits (float, optional).
YEAR_COLUMN = "year"
