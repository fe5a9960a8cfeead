"""Structural alerts: RDKit FilterCatalog sets (PAINS, Brenk, NIH, ...) and custom SMARTS."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from crucible._imports import require
from crucible.exceptions import InvalidInputError

if TYPE_CHECKING:
    from rdkit.Chem import Mol

__all__ = ["CatalogName", "build_catalog", "compile_smarts", "count_alerts"]

#: Alert sets that ship with RDKit's FilterCatalog.
CatalogName = Literal["PAINS", "PAINS_A", "PAINS_B", "PAINS_C", "BRENK", "NIH", "ZINC", "CHEMBL"]


def build_catalog(names: Sequence[str]) -> Any:
    """An RDKit ``FilterCatalog`` holding the named alert sets.

    Args:
        names: Catalog names, e.g. ``["PAINS", "BRENK"]`` (see :data:`CatalogName`).

    Raises:
        InvalidInputError: For an unknown catalog name.
    """
    fc = require("rdkit.Chem.FilterCatalog")
    params = fc.FilterCatalogParams()
    known = fc.FilterCatalogParams.FilterCatalogs
    for name in names:
        entry = getattr(known, str(name).upper(), None)
        if entry is None:
            raise InvalidInputError(
                "catalogs", f"unknown alert catalog {name!r}", f"use some of {CatalogName}"
            )
        params.AddCatalog(entry)
    return fc.FilterCatalog(params)


def compile_smarts(patterns: Sequence[str], field: str = "smarts") -> list[Mol]:
    """Parse SMARTS patterns, failing with the index of the first invalid one."""
    chem = require("rdkit.Chem")
    compiled = []
    for i, pattern in enumerate(patterns):
        query = chem.MolFromSmarts(pattern) if isinstance(pattern, str) and pattern else None
        if query is None:
            raise InvalidInputError(
                f"{field}[{i}]", f"{pattern!r} is not a valid SMARTS", "fix or remove the pattern"
            )
        compiled.append(query)
    return compiled


def count_alerts(mol: Mol, catalog: Any | None, patterns: Sequence[Mol]) -> int:
    """Number of catalog entries plus custom patterns that match ``mol``."""
    hits = len(catalog.GetMatches(mol)) if catalog is not None else 0
    return hits + sum(1 for query in patterns if mol.HasSubstructMatch(query))


def first_alert(mol: Mol, catalog: Any | None, patterns: Sequence[Mol]) -> str | None:
    """Description of the first alert that matches ``mol`` (None when clean); cheap path."""
    if catalog is not None:
        entry = catalog.GetFirstMatch(mol)
        if entry is not None:
            return str(entry.GetDescription())
    for query in patterns:
        if mol.HasSubstructMatch(query):
            return f"SMARTS {require('rdkit.Chem').MolToSmarts(query)}"
    return None
