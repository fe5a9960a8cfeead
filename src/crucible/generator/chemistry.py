"""RDKit helpers for the generator: canonical/randomised SMILES, scaffolds, sample quality."""

from __future__ import annotations

import random
from collections.abc import Collection, Iterable, Sequence
from functools import lru_cache

from rdkit import Chem, RDLogger
from rdkit.Chem.Scaffolds import MurckoScaffold

from crucible.chem.limits import smiles_too_long

RDLogger.DisableLog("rdApp.*")  # type: ignore[attr-defined]


def to_mol(smiles: str) -> Chem.Mol | None:
    """RDKit molecule, or None when ``smiles`` does not parse (or is empty or over-long)."""
    if not smiles or smiles_too_long(smiles):
        return None
    return Chem.MolFromSmiles(smiles)


def canonicalize(smiles: str, isomeric: bool = False) -> str | None:
    """Canonical SMILES, or None when invalid."""
    mol = to_mol(smiles)
    if mol is None:
        return None
    return Chem.MolToSmiles(mol, isomericSmiles=isomeric)


def canonicalize_many(smiles: Iterable[str], isomeric: bool = False) -> list[str | None]:
    """Canonical SMILES of each input (None where invalid)."""
    return [canonicalize(text, isomeric) for text in smiles]


def randomize(smiles: str, rng: random.Random, isomeric: bool = False) -> str | None:
    """A random (non-canonical) SMILES of the same molecule, or None when invalid."""
    mol = to_mol(smiles)
    if mol is None:
        return None
    return randomize_mol(mol, rng, isomeric)


def randomize_mol(mol: Chem.Mol, rng: random.Random, isomeric: bool = False) -> str:
    """A random SMILES of an already parsed molecule (same draw as :func:`randomize`).

    Parsing once and randomising the molecule every epoch saves one RDKit parse per molecule
    and epoch in transfer learning.
    """
    order = list(range(mol.GetNumAtoms()))
    rng.shuffle(order)
    shuffled = Chem.RenumberAtoms(mol, order)
    return Chem.MolToSmiles(shuffled, canonical=False, isomericSmiles=isomeric)


@lru_cache(maxsize=200_000)
def murcko_scaffold(smiles: str) -> str:
    """Bemis–Murcko scaffold SMILES ("" for acyclic or invalid molecules)."""
    mol = to_mol(smiles)
    if mol is None:
        return ""
    try:
        return Chem.MolToSmiles(MurckoScaffold.GetScaffoldForMol(mol))
    except (ValueError, RuntimeError):
        return ""


@lru_cache(maxsize=200_000)
def topological_scaffold(smiles: str) -> str:
    """Generic (all-carbon, single-bond) Murcko scaffold SMILES ("" when none)."""
    scaffold = murcko_scaffold(smiles)
    mol = to_mol(scaffold)
    if mol is None:
        return ""
    try:
        generic = MurckoScaffold.MakeScaffoldGeneric(mol)
        return Chem.MolToSmiles(MurckoScaffold.GetScaffoldForMol(generic))
    except (ValueError, RuntimeError):
        return ""


def sample_quality(smiles: Sequence[str], reference: Collection[str] = ()) -> dict[str, float]:
    """MOSES-style quality of generated SMILES.

    Args:
        smiles: Generated SMILES.
        reference: Canonical training SMILES for novelty (skipped when empty).

    Returns:
        ``validity`` (valid / all), ``uniqueness`` (unique valid / valid), ``novelty``
        (unique valid not in ``reference`` / unique valid; NaN without a reference) and
        ``num_samples``.
    """
    canonical = [c for c in canonicalize_many(smiles) if c]
    unique = set(canonical)
    total = max(len(smiles), 1)
    novelty = float("nan")
    if reference and unique:
        novelty = sum(1 for c in unique if c not in reference) / len(unique)
    return {
        "num_samples": float(len(smiles)),
        "validity": len(canonical) / total,
        "uniqueness": len(unique) / len(canonical) if canonical else 0.0,
        "novelty": novelty,
    }
