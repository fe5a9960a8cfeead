"""The RDKit-only oracles of the PMO benchmark (Gao et al., NeurIPS 2022) as RL scorers.

PMO scores molecules with the Therapeutics Data Commons (TDC) oracles, which re-implement
the goal-directed objectives of GuacaMol (Brown et al., J. Chem. Inf. Model. 2019). This
module re-implements them from those definitions (GuacaMol ``standard_benchmarks.py``,
``common_scoring_functions.py``, ``score_modifier.py``, ``utils/fingerprints.py``,
``utils/descriptors.py``; TDC ``chem_utils/oracle/oracle.py``; both MIT-licensed). No code is
copied; the reference molecules, SMARTS patterns, fingerprint types, modifier parameters and
means are theirs.

Definitions, as GuacaMol builds them:

* **Fingerprints** are RDKit *count* fingerprints, unfolded: ECFP4 / ECFP6 = Morgan radius 2 /
  3, FCFP4 = Morgan radius 2 with feature invariants, AP = atom pairs up to distance 10, PHCO
  = Gobbi 2D pharmacophore fingerprint; similarity is Tanimoto on them.
* **Modifiers**: Gaussian ``exp(-((x - mu) / sigma)^2 / 2)``; MinGaussian (1 for ``x <= mu``),
  MaxGaussian (1 for ``x >= mu``); Clipped (linear from ``lower_x`` to ``upper_x``, clipped to
  [0, 1]).
* **Means**: geometric ``prod(x)^(1/n)`` (a zero term makes the score 0) or arithmetic.
* **Isomer scoring** of a formula: a Gaussian (σ 1) on the count of each element of the
  formula (hydrogens made explicit) and a Gaussian (σ 2) on the total number of atoms,
  hydrogens included; geometric mean. (TDC's oracle once counted the total atoms by parsing
  the SMILES string as a formula; its later ``Isomer_scoring`` counts them on the molecule
  with explicit hydrogens, as GuacaMol does and as done here. Only this definition lets a true
  isomer score 1. The pre-fix variants are available as ``*_prev``, TDC's names for them:
  PMO's published table appears to predate the fix for these oracles; see
  :func:`smiles_text_atoms`.)
* **SMARTS scoring**: 1 if the pattern matches (0 if ``inverse``), else the opposite.

An invalid SMILES (unparsable, unsanitisable, or empty) scores 0. Every oracle is a callable
``list[str] -> np.ndarray`` and has ``score(smiles)`` returning an :class:`OracleResult`, so it
serves directly as the scorer of :class:`crucible.generator.reinforcement.StagedLearning`.
RDKit is imported only when an oracle is built or called.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from crucible._imports import require
from crucible.exceptions import InvalidInputError

if TYPE_CHECKING:
    from rdkit.Chem import Mol

FingerprintType = Literal["ECFP4", "ECFP6", "FCFP4", "AP", "PHCO"]
Mean = Literal["geometric", "arithmetic"]

PHARMACOPHORE_SMILES = "CCCOc1cc2ncnc(Nc3ccc4ncsc4c3)c2cc1S(=O)(=O)C(C)(C)C"
QUINAZOLINE_SCAFFOLD = "[#7]-c1n[c;h1]nc2[c;h1]c(-[#8])[c;h0][c;h1]c12"
REFERENCE_SMILES = {
    "celecoxib": "CC1=CC=C(C=C1)C1=CC(=NN1C1=CC=C(C=C1)S(N)(=O)=O)C(F)(F)F",
    "thiothixene": "CN(C)S(=O)(=O)c1ccc2Sc3ccccc3C(=CCCN4CCN(C)CC4)c2c1",
    "mestranol": "COc1ccc2[C@H]3CC[C@@]4(C)[C@@H](CC[C@@]4(O)C#C)[C@@H]3CCc2c1",
    "camphor": "CC1(C)C2CCC1(C)C(=O)C2",
    "menthol": "CC(C)C1CCC(C)CC1O",
    "fexofenadine": "CC(C)(C(=O)O)c1ccc(cc1)C(O)CCCN2CCC(CC2)C(O)(c3ccccc3)c4ccccc4",
    "ranolazine": "COc1ccccc1OCC(O)CN2CCN(CC(=O)Nc3c(C)cccc3C)CC2",
    "sitagliptin": "Fc1cc(c(F)cc1F)CC(N)CC(=O)N3Cc2nnc(n2CC3)C(F)(F)F",
    "zaleplon": "O=C(C)N(CC)C1=CC=CC(C2=CC=NC3=C(C=NN23)C#N)=C1",
    "pharmacophore": PHARMACOPHORE_SMILES,
}


# ------------------------------------------------------------------------------ modifiers
@dataclass(frozen=True)
class Gaussian:
    """``exp(-((x - mu) / sigma)^2 / 2)``: 1 at ``mu``."""

    mu: float
    sigma: float

    def __call__(self, x: float) -> float:  # noqa: D102
        return math.exp(-0.5 * ((x - self.mu) / self.sigma) ** 2)


@dataclass(frozen=True)
class MinGaussian:
    """1 for ``x <= mu``, a Gaussian tail above (GuacaMol's ``MinGaussianModifier``)."""

    mu: float
    sigma: float

    def __call__(self, x: float) -> float:  # noqa: D102
        return Gaussian(self.mu, self.sigma)(max(x, self.mu))


@dataclass(frozen=True)
class MaxGaussian:
    """1 for ``x >= mu``, a Gaussian tail below (GuacaMol's ``MaxGaussianModifier``)."""

    mu: float
    sigma: float

    def __call__(self, x: float) -> float:  # noqa: D102
        return Gaussian(self.mu, self.sigma)(min(x, self.mu))


@dataclass(frozen=True)
class Clipped:
    """Linear from (``lower_x``, ``low``) to (``upper_x``, ``high``), clipped to [low, high]."""

    upper_x: float
    lower_x: float = 0.0
    high: float = 1.0
    low: float = 0.0

    def __call__(self, x: float) -> float:  # noqa: D102
        slope = (self.high - self.low) / (self.upper_x - self.lower_x)
        return min(max(self.high + slope * (x - self.upper_x), self.low), self.high)


def identity(x: float) -> float:
    """The raw value, unchanged."""
    return x


def combine(values: Sequence[float], mean: Mean) -> float:
    """Geometric (``prod^(1/n)``, 0 if any value is 0) or arithmetic mean."""
    array = np.asarray(values, dtype=float)
    if mean == "geometric":
        return float(np.prod(array) ** (1.0 / len(array)))
    return float(np.mean(array))


# --------------------------------------------------------------------------- descriptors
@cache
def _count_generator(kind: str) -> Any:
    generators = require("rdkit.Chem.rdFingerprintGenerator", extra="chem")

    if kind == "AP":
        return generators.GetAtomPairGenerator(maxDistance=10)
    radius = {"ECFP4": 2, "ECFP6": 3, "FCFP4": 2}[kind]
    features = generators.GetMorganFeatureAtomInvGen() if kind == "FCFP4" else None
    return generators.GetMorganGenerator(radius=radius, atomInvariantsGenerator=features)


def fingerprint(mol: Mol, kind: FingerprintType) -> Any:
    """GuacaMol's fingerprint of ``mol`` (unfolded counts; PHCO: Gobbi 2D pharmacophores)."""
    if kind == "PHCO":
        from rdkit.Chem.Pharm2D import Generate, Gobbi_Pharm2D

        return Generate.Gen2DFingerprint(mol, Gobbi_Pharm2D.factory)
    return _count_generator(kind).GetSparseCountFingerprint(mol)


def parse_mol(smiles: str) -> Mol | None:
    """A sanitised RDKit molecule, or None for an invalid or empty SMILES."""
    from rdkit import Chem

    require("rdkit.RDLogger", extra="chem").DisableLog("rdApp.*")
    if not isinstance(smiles, str) or not smiles.strip():
        return None
    mol = Chem.MolFromSmiles(smiles)
    return mol if mol is not None and mol.GetNumAtoms() > 0 else None


class TanimotoTo:
    """Tanimoto similarity to a reference molecule with one fingerprint type."""

    def __init__(self, reference: str, kind: FingerprintType) -> None:
        mol = parse_mol(reference)
        if mol is None:
            raise InvalidInputError("reference", f"{reference!r} is not a valid SMILES",
                                    "give the reference molecule as a valid SMILES")  # fmt: skip
        self.kind: FingerprintType = kind
        self.reference = fingerprint(mol, kind)

    def __call__(self, mol: Mol) -> float:  # noqa: D102
        from rdkit import DataStructs

        return float(DataStructs.TanimotoSimilarity(fingerprint(mol, self.kind), self.reference))


@dataclass(frozen=True)
class AtomCount:
    """Number of atoms of one element, implicit hydrogens counted for ``H``."""

    element: str

    def __call__(self, mol: Mol) -> float:  # noqa: D102
        from rdkit import Chem

        if self.element == "H":
            mol = Chem.AddHs(mol)
        return float(sum(atom.GetSymbol() == self.element for atom in mol.GetAtoms()))


def total_atoms(mol: Mol) -> float:
    """Number of atoms, hydrogens included."""
    from rdkit import Chem

    return float(Chem.AddHs(mol).GetNumAtoms())


def parse_formula(formula: str) -> list[tuple[str, int]]:
    """``"C7H8N2O2"`` -> ``[("C", 7), ("H", 8), ("N", 2), ("O", 2)]``.

    Raises:
        InvalidInputError: If the text is not a plain molecular formula.
    """
    pairs = re.findall(r"([A-Z][a-z]*)(\d*)", formula)
    if not pairs or "".join(e + n for e, n in pairs) != formula:
        raise InvalidInputError("formula", f"{formula!r} is not a molecular formula",
                                "write element symbols and counts, e.g. 'C7H8N2O2'")  # fmt: skip
    return [(element, int(count) if count else 1) for element, count in pairs]


@dataclass(frozen=True)
class SmartsMatch:
    """1 if ``pattern`` matches (0 with ``inverse``), else the opposite."""

    pattern: str
    inverse: bool = False

    def __call__(self, mol: Mol) -> float:  # noqa: D102
        found = mol.HasSubstructMatch(_smarts(self.pattern))
        return float(found != self.inverse)


@cache
def _smarts(pattern: str) -> Any:
    from rdkit import Chem

    query = Chem.MolFromSmarts(pattern)
    if query is None:
        raise InvalidInputError("pattern", f"{pattern!r} is not valid SMARTS", "fix the SMARTS")
    return query


def _logp(mol: Mol) -> float:
    return float(require("rdkit.Chem.Crippen", extra="chem").MolLogP(mol))


def _tpsa(mol: Mol) -> float:
    return float(require("rdkit.Chem.rdMolDescriptors", extra="chem").CalcTPSA(mol))


def _qed(mol: Mol) -> float:
    from rdkit.Chem import QED

    return float(QED.qed(mol))


# ------------------------------------------------------------------------------- oracles
@dataclass(frozen=True)
class Term:
    """One scored property: a raw descriptor of the molecule and the modifier applied to it."""

    name: str
    descriptor: Callable[[Mol], float]
    modifier: Callable[[float], float] = identity


def smiles_text_atoms(mol: Mol) -> float:
    """TDC's pre-2022-08 "total atoms": the canonical SMILES *string* parsed as a formula.

    Reproduces the ``*_prev`` isomer oracles of TDC (their ``Isomer_scoring_prev``): aromatic
    atoms are glued to the preceding capital (``Cc`` counts once), ring-closure digits count
    as multiplicities and implicit hydrogens are not counted. Kept only so that figures can
    be compared with results computed before TDC fixed it (mims-harvard/TDC pull request 171).
    """
    from rdkit import Chem

    text = Chem.MolToSmiles(mol)
    return float(sum(int(n) if n else 1 for _, n in re.findall(r"([A-Z][a-z]*)(\d*)", text)))


def formula_terms(formula: str, prev: bool = False) -> list[Term]:
    """GuacaMol's isomer terms: each element count (σ 1) and the total atom count (σ 2).

    Args:
        formula: The target molecular formula.
        prev: Count the total atoms as TDC's pre-fix oracles did (:func:`smiles_text_atoms`).
    """
    counts = parse_formula(formula)
    terms = [Term(f"n_{e}", AtomCount(e), Gaussian(n, 1.0)) for e, n in counts]
    total = Gaussian(sum(n for _, n in counts), 2.0)
    return [*terms, Term("n_atoms", smiles_text_atoms if prev else total_atoms, total)]


@dataclass(frozen=True)
class IsomerScore:
    """Closeness of a molecule to a molecular formula, in [0, 1] (1 for an isomer)."""

    formula: str
    mean: Mean = "geometric"
    prev: bool = False
    terms: tuple[Term, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "terms", tuple(formula_terms(self.formula, self.prev)))

    def __call__(self, mol: Mol) -> float:  # noqa: D102
        return combine([t.modifier(t.descriptor(mol)) for t in self.terms], self.mean)


@dataclass
class OracleResult:
    """Scores of one batch (the shape the RL loop's scorer protocol expects).

    Attributes:
        smiles: The input SMILES (length ``n``).
        total: Oracle scores in [0, 1], 0 for invalid SMILES.
        valid: Whether each SMILES parsed.
        raw: Term name -> raw descriptor values (NaN where invalid).
        transformed: Term name -> modified values in [0, 1] (NaN where invalid).
    """

    smiles: list[str]
    total: np.ndarray
    valid: np.ndarray
    raw: dict[str, np.ndarray]
    transformed: dict[str, np.ndarray]


@dataclass(frozen=True)
class Oracle:
    """A PMO oracle: terms combined by a mean; callable on a list of SMILES."""

    name: str
    terms: tuple[Term, ...]
    mean: Mean = "geometric"

    def __call__(self, smiles: Sequence[str]) -> np.ndarray:
        """Scores in [0, 1], shape ``len(smiles)``; invalid SMILES score 0."""
        return self.score(smiles).total

    def score_mol(self, mol: Mol) -> tuple[float, list[float], list[float]]:
        """Total, raw values and modified values of one valid molecule."""
        raw = [term.descriptor(mol) for term in self.terms]
        modified = [term.modifier(value) for term, value in zip(self.terms, raw, strict=True)]
        return min(max(combine(modified, self.mean), 0.0), 1.0), raw, modified

    def score(self, smiles: Sequence[str]) -> OracleResult:
        """Score a batch; see :class:`OracleResult`."""
        n, width = len(smiles), len(self.terms)
        total, valid = np.zeros(n), np.zeros(n, dtype=bool)
        raw, modified = np.full((n, width), np.nan), np.full((n, width), np.nan)
        for i, text in enumerate(smiles):
            mol = parse_mol(text)
            if mol is not None:
                total[i], raw[i], modified[i] = self.score_mol(mol)
                valid[i] = True
        names = [term.name for term in self.terms]
        return OracleResult(
            smiles=list(smiles),
            total=total,
            valid=valid,
            raw={name: raw[:, j] for j, name in enumerate(names)},
            transformed={name: modified[:, j] for j, name in enumerate(names)},
        )


def _similarity(name: str, kind: FingerprintType, modifier: Callable[[float], float] = identity,
                term: str = "similarity") -> Term:  # fmt: skip
    return Term(term, TanimotoTo(REFERENCE_SMILES[name], kind), modifier)


def _sitagliptin(prev: bool = False) -> tuple[Term, ...]:
    mol = parse_mol(REFERENCE_SMILES["sitagliptin"])
    assert mol is not None
    return (
        _similarity("sitagliptin", "ECFP4", Gaussian(0.0, 0.1)),
        Term("logp", _logp, Gaussian(_logp(mol), 0.2)),
        Term("tpsa", _tpsa, Gaussian(_tpsa(mol), 5.0)),
        Term("isomer", IsomerScore("C16H15F6N5O", prev=prev)),
    )


def _hop(deco: bool) -> tuple[Term, ...]:
    pharmacophore = TanimotoTo(PHARMACOPHORE_SMILES, "PHCO")
    if deco:  # keep the quinazoline scaffold, change the sulfone and the benzothiazole
        return (
            Term("pharmacophore", pharmacophore, Clipped(0.85)),
            Term("no_sulfone", SmartsMatch("CS([#6])(=O)=O", inverse=True)),
            Term("no_benzothiazole", SmartsMatch("[#7]-c1ccc2ncsc2c1", inverse=True)),
            Term("scaffold", SmartsMatch(QUINAZOLINE_SCAFFOLD)),
        )
    decoration = "[#6]-[#6]-[#6]-[#8]-[#6]~[#6]~[#6]~[#6]~[#6]-[#7]-c1ccc2ncsc2c1"
    return (
        Term("pharmacophore", pharmacophore, Clipped(0.75)),
        Term("decoration", SmartsMatch(decoration)),
        Term("no_scaffold", SmartsMatch(QUINAZOLINE_SCAFFOLD, inverse=True)),
    )


def _qed_oracle() -> tuple[tuple[Term, ...], Mean]:
    return (Term("qed", _qed),), "arithmetic"


def _rediscovery(name: str) -> Callable[[], tuple[tuple[Term, ...], Mean]]:
    return lambda: ((_similarity(name, "ECFP4"),), "arithmetic")


def _mestranol() -> tuple[tuple[Term, ...], Mean]:
    return (_similarity("mestranol", "AP", Clipped(0.75)),), "arithmetic"


def _median1() -> tuple[tuple[Term, ...], Mean]:
    camphor = _similarity("camphor", "ECFP4", term="camphor")
    return (camphor, _similarity("menthol", "ECFP4", term="menthol")), "geometric"


def _isomers(prev: bool = False) -> tuple[tuple[Term, ...], Mean]:
    return tuple(formula_terms("C7H8N2O2", prev)), "geometric"


def _fexofenadine() -> tuple[tuple[Term, ...], Mean]:
    similar = _similarity("fexofenadine", "AP", Clipped(0.8))
    polar = Term("tpsa", _tpsa, MaxGaussian(90, 10))  # make fexofenadine less greasy
    return (similar, polar, Term("logp", _logp, MinGaussian(4, 1))), "geometric"


def _ranolazine() -> tuple[tuple[Term, ...], Mean]:
    similar = _similarity("ranolazine", "AP", Clipped(0.7))
    logp = Term("logp", _logp, MaxGaussian(7, 1))
    tpsa = Term("tpsa", _tpsa, MaxGaussian(95, 20))
    return (similar, logp, tpsa, Term("n_F", AtomCount("F"), Gaussian(1, 1.0))), "geometric"


def _zaleplon(prev: bool = False) -> tuple[tuple[Term, ...], Mean]:
    isomer = Term("isomer", IsomerScore("C19H17N3O2", prev=prev))
    return (_similarity("zaleplon", "ECFP4"), isomer), "geometric"


_BUILDERS: dict[str, Callable[[], tuple[tuple[Term, ...], Mean]]] = {
    "qed": _qed_oracle,
    "celecoxib_rediscovery": _rediscovery("celecoxib"),
    "thiothixene_rediscovery": _rediscovery("thiothixene"),
    "mestranol_similarity": _mestranol,
    "median1": _median1,
    "isomers_c7h8n2o2": _isomers,
    "fexofenadine_mpo": _fexofenadine,
    "ranolazine_mpo": _ranolazine,
    "sitagliptin_mpo": lambda: (_sitagliptin(), "geometric"),
    "zaleplon_mpo": _zaleplon,
    "deco_hop": lambda: (_hop(deco=True), "arithmetic"),
    "scaffold_hop": lambda: (_hop(deco=False), "arithmetic"),
    # TDC's pre-fix variants (see smiles_text_atoms), under TDC's names for them
    "isomers_c7h8n2o2_prev": lambda: _isomers(prev=True),
    "sitagliptin_mpo_prev": lambda: (_sitagliptin(prev=True), "geometric"),
    "zaleplon_mpo_prev": lambda: _zaleplon(prev=True),
}

#: The names :func:`build_oracle` accepts (PMO's / TDC's names).
ORACLE_NAMES: tuple[str, ...] = tuple(_BUILDERS)
#: PMO's 10 RDKit-only oracles of issue 20 plus QED and celecoxib rediscovery.
PMO_ORACLES: tuple[str, ...] = tuple(name for name in ORACLE_NAMES if not name.endswith("_prev"))


def build_oracle(name: str) -> Oracle:
    """The PMO oracle called ``name`` (one of :data:`ORACLE_NAMES`).

    Raises:
        InvalidInputError: For an unknown name; the known names are listed.
    """
    if name not in _BUILDERS:
        raise InvalidInputError("oracle", f"unknown oracle {name!r}",
                                f"use one of {', '.join(ORACLE_NAMES)}")  # fmt: skip
    terms, mean = _BUILDERS[name]()
    return Oracle(name, terms, mean)
