"""Molecular properties shared by scoring components and filters (RDKit, imported lazily).

* :func:`parse_smiles` parses quietly (RDKit's error log is silenced) and returns None for
  an invalid or empty SMILES.
* :data:`DESCRIPTORS` names one function ``Mol -> float`` per property, so a scoring
  component and a filter that use ``"tpsa"`` compute the same number.
* :func:`sa_score` is Ertl & Schuffenhauer's synthetic accessibility score (1 easy ... 10
  hard) from RDKit's ``Contrib/SA_Score``, which ships inside the RDKit wheel.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from crucible._imports import require
from crucible.chem.limits import smiles_too_long

if TYPE_CHECKING:
    from rdkit.Chem import Mol

__all__ = [
    "DESCRIPTORS",
    "descriptor",
    "morgan_generator",
    "parse_smiles",
    "qed_reusing",
    "sa_score",
]


@cache
def _quiet_rdkit() -> Any:
    """Import RDKit's Chem module once and silence its parse-error log."""
    chem = require("rdkit.Chem")
    require("rdkit.RDLogger").DisableLog("rdApp.*")
    return chem


def parse_smiles(smiles: str) -> Mol | None:
    """Parse a SMILES string; None for invalid, empty or over-long input (nothing is logged).

    SMILES over :data:`crucible.chem.limits.MAX_SMILES_LENGTH` characters are never handed to
    RDKit (its parser's memory grows with the length).
    """
    if not isinstance(smiles, str) or not smiles.strip() or smiles_too_long(smiles):
        return None
    chem = _quiet_rdkit()
    mol = chem.MolFromSmiles(smiles)
    if mol is None or mol.GetNumAtoms() == 0:
        return None
    return mol


@cache
def _sascorer() -> Any:
    """Load RDKit's Contrib ``sascorer`` module from the installed wheel (once)."""
    rdconfig = require("rdkit.RDConfig")
    path = os.path.join(rdconfig.RDContribDir, "SA_Score", "sascorer.py")
    spec = importlib.util.spec_from_file_location("crucible_sascorer", path)
    if spec is None or spec.loader is None:  # pragma: no cover - broken RDKit install
        raise FileNotFoundError(f"RDKit Contrib SA_Score not found at {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.readFragmentScores()
    return module


def sa_score(mol: Mol) -> float:
    """Synthetic accessibility score, 1 (easy) to 10 (hard)."""
    return float(_sascorer().calculateScore(mol))


def _qed(mol: Mol) -> float:
    return float(require("rdkit.Chem.QED").qed(mol))


def qed_reusing(mol: Mol, values: dict[str, float]) -> float:
    """QED, reusing MW, logP, HBD and TPSA already computed for ``mol`` (e.g. by filters).

    Gives exactly ``QED.qed(mol)``: the reused values are the same RDKit functions that
    ``QED.properties`` calls. Molecules with explicit hydrogens (which ``QED.properties``
    removes first) take the plain path.

    Args:
        mol: The molecule.
        values: Property cache by :data:`DESCRIPTORS` name; missing entries are filled.
    """
    if mol.GetNumAtoms() != mol.GetNumHeavyAtoms():
        return _qed(mol)
    qed = require("rdkit.Chem.QED")
    chem = require("rdkit.Chem")
    rdmd = require("rdkit.Chem.rdMolDescriptors")

    def cached(name: str) -> float:
        if name not in values:
            values[name] = DESCRIPTORS[name](mol)
        return values[name]

    properties = qed.QEDproperties(
        MW=cached("molecular_weight"),
        ALOGP=cached("slogp"),
        HBA=sum(
            len(mol.GetSubstructMatches(p)) for p in qed.Acceptors if mol.HasSubstructMatch(p)
        ),
        HBD=cached("hbd"),
        PSA=cached("tpsa"),
        ROTB=rdmd.CalcNumRotatableBonds(mol, rdmd.NumRotatableBondsOptions.Strict),
        AROM=len(chem.GetSSSR(chem.DeleteSubstructs(chem.Mol(mol), qed.AliphaticRings))),
        ALERTS=sum(1 for alert in qed.StructuralAlerts if mol.HasSubstructMatch(alert)),
    )
    return float(qed.qed(mol, qedProperties=properties))


def _rd(name: str) -> Callable[[Mol], float]:
    """A descriptor from ``rdkit.Chem.rdMolDescriptors`` by function name."""

    def compute(mol: Mol) -> float:
        return float(getattr(require("rdkit.Chem.rdMolDescriptors"), name)(mol))

    compute.__name__ = name
    return compute


def _slogp(mol: Mol) -> float:
    return float(require("rdkit.Chem.Crippen").MolLogP(mol))


def _heavy_atoms(mol: Mol) -> float:
    return float(mol.GetNumHeavyAtoms())


#: Property name -> function of an RDKit molecule. HBD/HBA are RDKit's
#: ``CalcNumHBD``/``CalcNumHBA``; molecular weight is the average weight (``MolWt``).
DESCRIPTORS: dict[str, Callable[[Mol], float]] = {
    "qed": _qed,
    "sa_score": sa_score,
    "molecular_weight": _rd("_CalcMolWt"),
    "slogp": _slogp,
    "tpsa": _rd("CalcTPSA"),
    "hbd": _rd("CalcNumHBD"),
    "hba": _rd("CalcNumHBA"),
    "rotatable_bonds": _rd("CalcNumRotatableBonds"),
    "num_heavy_atoms": _heavy_atoms,
    "num_rings": _rd("CalcNumRings"),
    "num_aromatic_rings": _rd("CalcNumAromaticRings"),
    "fraction_csp3": _rd("CalcFractionCSP3"),
}


def descriptor(name: str) -> Callable[[Mol], float]:
    """The property function called ``name`` (see :data:`DESCRIPTORS`).

    Raises:
        InvalidInputError: If no such property exists; the message lists the known ones.
    """
    from crucible.exceptions import InvalidInputError

    try:
        return DESCRIPTORS[name]
    except KeyError:
        raise InvalidInputError(
            "property", f"unknown property {name!r}", f"use one of {sorted(DESCRIPTORS)}"
        ) from None


@cache
def morgan_generator(radius: int = 2, n_bits: int = 2048) -> Any:
    """An RDKit Morgan fingerprint generator (ECFP4 for ``radius=2``), cached per setting."""
    gen = require("rdkit.Chem.rdFingerprintGenerator")
    return gen.GetMorganGenerator(radius=radius, fpSize=n_bits)
