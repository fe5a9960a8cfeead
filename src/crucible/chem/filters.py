"""Molecule filter chain: validity, duplicates, novelty, properties, alerts, SA, QED, activity.

The chain removes each molecule at the *first* stage it fails and reports, per stage, how
many molecules it removed and why (``FilterResult.summary``); every input keeps a row in
``FilterResult.frame`` with its reason and the properties computed for it.

How it is fast (see ``benchmarks/chem.py`` for the comparison with a naive loop):

1. Exact repeats of an input string are dropped before any parsing.
2. Chunks of SMILES go to ``n_jobs`` worker processes; each worker parses a SMILES once,
   canonicalises it, checks novelty against the reference set, then runs the per-molecule
   filters cheapest-per-removed-molecule first and stops at the first failure: property
   ranges (tens of thousands of molecules/s), alerts (RDKit FilterCatalog ~400/s, here
   screened with pattern fingerprints, :class:`crucible.chem.alerts.ScreenedCatalog`, and
   removing many), QED (~700/s; reuses the MW, logP, HBD and TPSA computed by the range
   filters), then SA (~4,000/s but rarely removing anything at usual thresholds).
3. Canonical duplicates are resolved in the parent (first occurrence wins), then the
   activity threshold runs once, batched, on the survivors only (models predict in batches).

Stage order (also the report order): ``invalid``, ``duplicate``, ``not_novel``, property
filters (``lipinski``, ``veber``, ``property_ranges``), ``alerts``, ``qed``, ``sa_score``,
``activity``. A molecule that would fail several filters is reported under the first.
:func:`filter_molecules_naive` is a plain one-process loop with the same
semantics, kept as the reference the fast chain is tested against.
"""

from __future__ import annotations

import multiprocessing
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, Field, model_validator

from crucible.chem.alerts import CatalogName, ScreenedCatalog, build_catalog
from crucible.chem.limits import MAX_SMILES_LENGTH, smiles_too_long
from crucible.chem.properties import descriptor, parse_smiles, qed_reusing
from crucible.exceptions import ConfigurationError
from crucible.validation import PChembl, check_order, strict_config

if TYPE_CHECKING:
    import pandas as pd
    from rdkit.Chem import Mol

    from crucible.chem.scoring import ActivityPredictor

__all__ = [
    "FilterConfig",
    "FilterResult",
    "FilterStage",
    "MoleculeFilter",
    "build_filters",
    "filter_molecules",
    "filter_molecules_naive",
]

#: Lipinski's rule of five (at most ``lipinski_max_violations`` violations allowed).
LIPINSKI: dict[str, tuple[float | None, float | None]] = {
    "molecular_weight": (None, 500.0),
    "slogp": (None, 5.0),
    "hbd": (None, 5.0),
    "hba": (None, 10.0),
}
#: Veber's oral bioavailability rules (no violation allowed).
VEBER: dict[str, tuple[float | None, float | None]] = {
    "rotatable_bonds": (None, 10.0),
    "tpsa": (None, 140.0),
}
Range = tuple[float | None, float | None]
_DEFAULT_ALERTS: tuple[CatalogName, ...] = ("PAINS", "BRENK")


class FilterConfig(BaseModel):
    """Which filters run and their thresholds (a Prefect flow parameter form).

    Attributes:
        deduplicate: Remove repeats of a canonical SMILES (first occurrence kept).
        novelty: Remove molecules whose canonical SMILES is in the reference (training)
            set; only applies when reference SMILES are given.
        lipinski: Apply Lipinski's rule of five.
        lipinski_max_violations: Violations tolerated (1 in Lipinski's original paper).
        veber: Apply Veber's rules (rotatable bonds <= 10, TPSA <= 140).
        property_ranges: Extra ``{property: [min, max]}`` ranges (either may be null);
            property names as in :data:`crucible.chem.properties.DESCRIPTORS`.
        sa_max: Remove molecules with SA score above this (e.g. 6); None = off.
        qed_min: Remove molecules with QED below this (e.g. 0.5); None = off.
        alerts: RDKit FilterCatalog sets whose alerts remove a molecule.
        activity_min: Remove molecules whose predicted activity (e.g. pChEMBL) is below
            this; needs an activity model or precomputed values. None = off.
        n_jobs: Worker processes (1 = in this process).
        chunk_size: SMILES per worker task.
        start_method: Multiprocessing start method; ``spawn`` is safe inside threaded
            programs such as Prefect workers.
    """

    model_config = strict_config()

    deduplicate: bool = True
    novelty: bool = True
    lipinski: bool = True
    lipinski_max_violations: int = Field(1, ge=0, le=4)
    veber: bool = True
    property_ranges: dict[str, Range] = Field(default_factory=dict)
    sa_max: float | None = Field(None, gt=1.0, le=10.0)
    qed_min: float | None = Field(None, ge=0.0, le=1.0)
    alerts: list[CatalogName] = Field(default_factory=lambda: list(_DEFAULT_ALERTS))
    activity_min: PChembl | None = None
    n_jobs: int = Field(2, ge=1)
    chunk_size: int = Field(500, ge=1)
    start_method: Literal["spawn", "forkserver", "fork"] = "spawn"

    @model_validator(mode="after")
    def _known_properties(self) -> FilterConfig:
        for name, (low, high) in self.property_ranges.items():
            descriptor(name)  # raises InvalidInputError listing the known names
            check_order(f"property_ranges.{name}[0]", low, f"property_ranges.{name}[1]", high)
        return self


# --------------------------------------------------------------------------- filters
class MoleculeFilter(ABC):
    """A per-molecule filter: ``check`` returns None to keep, or the reason to remove.

    ``cost`` orders the filters (cheapest first). ``check`` may store the values it
    computes in ``values`` so they end up in the results table.
    """

    name: ClassVar[str]
    cost: ClassVar[float]

    @abstractmethod
    def check(self, mol: Mol, values: dict[str, float]) -> str | None:
        """None if ``mol`` passes, else a short human-readable reason."""


def _value(mol: Mol, name: str, values: dict[str, float]) -> float:
    if name not in values:
        values[name] = descriptor(name)(mol)
    return values[name]


class _RangeFilter(MoleculeFilter):
    cost = 1.0

    def __init__(self, name: str, ranges: dict[str, Range], max_violations: int = 0) -> None:
        self.name = name  # type: ignore[misc]
        self.ranges = ranges
        self.max_violations = max_violations

    def check(self, mol: Mol, values: dict[str, float]) -> str | None:
        """Reason listing the violated ranges when more than ``max_violations`` fail."""
        broken = []
        for prop, (low, high) in self.ranges.items():
            value = _value(mol, prop, values)
            if (low is not None and value < low) or (high is not None and value > high):
                broken.append(f"{prop}={value:.4g} not in [{low}, {high}]")
        return "; ".join(broken) if len(broken) > self.max_violations else None


class _SAFilter(MoleculeFilter):
    name = "sa_score"
    cost = 40.0  # cheaper than QED but rarely removes anything at usual thresholds

    def __init__(self, maximum: float) -> None:
        self.maximum = maximum

    def check(self, mol: Mol, values: dict[str, float]) -> str | None:
        """Reason when the SA score is above the maximum."""
        sa = _value(mol, "sa_score", values)
        return f"SA score {sa:.3g} > {self.maximum}" if sa > self.maximum else None


class _QEDFilter(MoleculeFilter):
    name = "qed"
    cost = 30.0

    def __init__(self, minimum: float) -> None:
        self.minimum = minimum

    def check(self, mol: Mol, values: dict[str, float]) -> str | None:
        """Reason when QED is below the minimum."""
        if "qed" not in values:
            values["qed"] = qed_reusing(mol, values)
        qed = values["qed"]
        return f"QED {qed:.3g} < {self.minimum}" if qed < self.minimum else None


class _AlertFilter(MoleculeFilter):
    name = "alerts"
    cost = 20.0  # screened, slow per molecule and removes many (Brenk): runs before QED

    def __init__(self, catalogs: Sequence[str]) -> None:
        self.catalogs = list(catalogs)
        self._catalog = ScreenedCatalog(self.catalogs)

    def check(self, mol: Mol, values: dict[str, float]) -> str | None:
        """The description of the first matching alert (pattern-fingerprint screened)."""
        match = self._catalog.first_match(mol)
        return None if match is None else f"alert: {match}"


def _enabled_filters(config: FilterConfig) -> list[tuple[str, float]]:
    """``(name, cost)`` of the per-molecule filters ``config`` enables (nothing is built)."""
    enabled = [
        ("lipinski", _RangeFilter.cost, config.lipinski),
        ("veber", _RangeFilter.cost, config.veber),
        ("property_ranges", _RangeFilter.cost, bool(config.property_ranges)),
        ("sa_score", _SAFilter.cost, config.sa_max is not None),
        ("qed", _QEDFilter.cost, config.qed_min is not None),
        ("alerts", _AlertFilter.cost, bool(config.alerts)),
    ]
    return [(name, cost) for name, cost, on in enabled if on]


def build_filters(config: FilterConfig) -> list[MoleculeFilter]:
    """The per-molecule filters of ``config``, cheapest first."""
    filters: list[MoleculeFilter] = []
    if config.lipinski:
        filters.append(_RangeFilter("lipinski", LIPINSKI, config.lipinski_max_violations))
    if config.veber:
        filters.append(_RangeFilter("veber", VEBER))
    if config.property_ranges:
        filters.append(_RangeFilter("property_ranges", dict(config.property_ranges)))
    if config.sa_max is not None:
        filters.append(_SAFilter(config.sa_max))
    if config.qed_min is not None:
        filters.append(_QEDFilter(config.qed_min))
    if config.alerts:
        filters.append(_AlertFilter(config.alerts))
    return sorted(filters, key=lambda f: f.cost)


# --------------------------------------------------------------------------- results
@dataclass
class FilterStage:
    """One line of the filter report."""

    name: str
    removed: int
    remaining: int
    description: str


@dataclass
class _Outcome:
    canonical: str | None
    reason: str | None = None
    detail: str | None = None
    values: dict[str, float] = field(default_factory=dict)


@dataclass
class FilterResult:
    """Outcome of a filter run.

    Attributes:
        frame: One row per input: ``smiles, canonical_smiles, kept, reason, detail`` plus
            the computed properties (NaN where not computed).
        summary: Per stage, in chain order: removed count, remaining count, description.
    """

    frame: pd.DataFrame
    summary: list[FilterStage]

    @property
    def kept_smiles(self) -> list[str]:
        """Canonical SMILES of the molecules that passed every filter, in input order."""
        return [str(s) for s in self.frame.loc[self.frame["kept"], "canonical_smiles"]]

    def summary_rows(self) -> list[dict[str, Any]]:
        """The summary as a list of dicts (for a table artifact or CSV)."""
        return [vars(stage).copy() for stage in self.summary]

    def to_csv(self, directory: str | Path, prefix: str = "filtered") -> dict[str, Path]:
        """Write ``<prefix>_molecules.csv``, ``<prefix>_kept.csv`` and ``<prefix>_summary.csv``.

        Returns:
            The three paths by kind (``molecules``, ``kept``, ``summary``).
        """
        import pandas as pd

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = {
            "molecules": directory / f"{prefix}_molecules.csv",
            "kept": directory / f"{prefix}_kept.csv",
            "summary": directory / f"{prefix}_summary.csv",
        }
        self.frame.to_csv(paths["molecules"], index=False)
        self.frame[self.frame["kept"]].to_csv(paths["kept"], index=False)
        pd.DataFrame(self.summary_rows()).to_csv(paths["summary"], index=False)
        return paths


class FilteredFiles(BaseModel):
    """Where a filter run wrote its tables, and what it removed.

    Attributes:
        molecules: Every input with ``kept``, ``reason`` and the computed properties.
        kept: The molecules that passed every filter.
        summary: Per-stage removed/remaining counts (CSV).
        n_in: Molecules in.
        n_kept: Molecules kept.
        stages: The per-stage summary, in chain order.
    """

    molecules: str
    kept: str
    summary: str
    n_in: int
    n_kept: int
    stages: list[FilterStage]


# --------------------------------------------------------------------------- workers
_WORKER: dict[str, Any] = {}


def _init_worker(config: FilterConfig, reference: frozenset[str]) -> None:
    _WORKER["filters"] = build_filters(config)
    _WORKER["reference"] = reference


def _evaluate_chunk(smiles: Sequence[str]) -> list[_Outcome]:
    """Parse, canonicalise, check novelty and run the cheap-first filters on a chunk."""
    from rdkit import Chem

    filters: list[MoleculeFilter] = _WORKER["filters"]
    reference: frozenset[str] = _WORKER["reference"]
    outcomes = []
    for text in smiles:
        if smiles_too_long(text):
            detail = f"SMILES longer than {MAX_SMILES_LENGTH} characters"
            outcomes.append(_Outcome(None, "invalid", detail))
            continue
        mol = parse_smiles(text)
        if mol is None:
            outcomes.append(_Outcome(None, "invalid", "SMILES does not parse"))
            continue
        outcome = _Outcome(Chem.MolToSmiles(mol))
        if outcome.canonical in reference:
            outcome.reason, outcome.detail = "not_novel", "in the reference set"
        else:
            _first_failure(mol, filters, outcome)
        outcomes.append(outcome)
    return outcomes


def _first_failure(mol: Mol, filters: Iterable[MoleculeFilter], outcome: _Outcome) -> None:
    for molecule_filter in filters:
        detail = molecule_filter.check(mol, outcome.values)
        if detail is not None:
            outcome.reason, outcome.detail = molecule_filter.name, detail
            return


def _chunks(items: Sequence[str], size: int) -> list[Sequence[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _evaluate(
    unique: list[str], config: FilterConfig, reference: frozenset[str]
) -> list[_Outcome]:
    chunks = _chunks(unique, config.chunk_size)
    n_jobs = min(config.n_jobs, len(chunks), os.cpu_count() or 1)
    if n_jobs <= 1:
        _init_worker(config, reference)
        return [o for chunk in chunks for o in _evaluate_chunk(chunk)]
    context = multiprocessing.get_context(config.start_method)
    with context.Pool(n_jobs, initializer=_init_worker, initargs=(config, reference)) as pool:
        results = pool.map(_evaluate_chunk, chunks, chunksize=1)
    return [o for chunk in results for o in chunk]


# --------------------------------------------------------------------------- chain
def filter_molecules(
    smiles: Sequence[str],
    config: FilterConfig | None = None,
    reference_smiles: Iterable[str] | None = None,
    activity: ActivityPredictor | Sequence[float] | np.ndarray | None = None,
) -> FilterResult:
    """Run the filter chain.

    Args:
        smiles: ``n`` input SMILES.
        config: The filters; defaults to :class:`FilterConfig` defaults.
        reference_smiles: Training-set SMILES for the novelty filter (canonicalised here).
        activity: For ``activity_min``: a predictor (``predict(smiles) -> values``, called
            once on the survivors' canonical SMILES) or ``n`` precomputed values.

    Returns:
        The per-molecule table and the per-stage report.

    Raises:
        ConfigurationError: If ``activity_min`` is set without ``activity``.
    """
    config = config or FilterConfig()
    _check_activity_source(config, activity, len(smiles))
    reference = _canonical_set(reference_smiles) if config.novelty else frozenset()
    texts = [s if isinstance(s, str) else "" for s in smiles]
    unique = list(dict.fromkeys(texts))
    by_text = dict(zip(unique, _evaluate(unique, config, reference), strict=True))
    outcomes = _resolve_duplicates(texts, by_text, config.deduplicate)
    _apply_activity(outcomes, config, activity)
    return _assemble(texts, outcomes, config, reference)


def _check_activity_source(config: FilterConfig, activity: Any, n: int) -> None:
    if config.activity_min is None:
        return
    if activity is None:
        raise ConfigurationError(
            "activity_min is set but no activity model or values were given; pass "
            "activity=<predictor or values> or set activity_min to None"
        )
    if not hasattr(activity, "predict") and len(activity) != n:
        raise ConfigurationError(f"got {len(activity)} activity values for {n} SMILES")


def _canonical_set(smiles: Iterable[str] | None) -> frozenset[str]:
    if smiles is None:
        return frozenset()
    from rdkit import Chem

    mols = (parse_smiles(s) for s in smiles)
    return frozenset(Chem.MolToSmiles(m) for m in mols if m is not None)


def _resolve_duplicates(
    texts: list[str], by_text: dict[str, _Outcome], deduplicate: bool
) -> list[_Outcome]:
    """One outcome per input; later repeats (same string or canonical form) are duplicates."""
    seen: set[str] = set()
    outcomes = []
    for text in texts:
        outcome = by_text[text]
        key = outcome.canonical
        if deduplicate and key is not None and outcome.reason not in ("invalid",):
            if key in seen:
                outcome = _Outcome(key, "duplicate", "repeat of an earlier molecule")
            else:
                seen.add(key)
        outcomes.append(_copy(outcome))
    return outcomes


def _copy(outcome: _Outcome) -> _Outcome:
    return _Outcome(outcome.canonical, outcome.reason, outcome.detail, dict(outcome.values))


def _apply_activity(outcomes: list[_Outcome], config: FilterConfig, activity: Any) -> None:
    if config.activity_min is None:
        return
    alive = [i for i, o in enumerate(outcomes) if o.reason is None]
    if hasattr(activity, "predict"):
        predicted = np.asarray(activity.predict([outcomes[i].canonical for i in alive]), float)
    else:
        predicted = np.asarray(activity, dtype=float)[alive]
    for i, value in zip(alive, predicted.reshape(-1), strict=True):
        outcomes[i].values["activity"] = float(value)
        if not value >= config.activity_min:  # NaN fails too
            outcomes[i].reason = "activity"
            outcomes[i].detail = f"activity {value:.3g} < {config.activity_min}"


_DESCRIPTIONS = {
    "invalid": "SMILES that RDKit cannot parse",
    "duplicate": "repeats of an earlier canonical SMILES",
    "not_novel": "already in the reference (training) set",
    "lipinski": "Lipinski rule of five",
    "veber": "Veber rules (rotatable bonds <= 10, TPSA <= 140)",
    "property_ranges": "user property ranges",
    "sa_score": "synthetic accessibility above the maximum",
    "qed": "QED below the minimum",
    "alerts": "structural alerts (RDKit FilterCatalog)",
    "activity": "predicted activity below the minimum",
}


def _stage_names(config: FilterConfig) -> list[str]:
    names = ["invalid"]
    names += ["duplicate"] if config.deduplicate else []
    names += ["not_novel"] if config.novelty else []
    names += [name for name, _ in sorted(_enabled_filters(config), key=lambda item: item[1])]
    names += ["activity"] if config.activity_min is not None else []
    return names


def _assemble(
    texts: list[str], outcomes: list[_Outcome], config: FilterConfig, reference: frozenset[str]
) -> FilterResult:
    import pandas as pd

    value_names = sorted({k for o in outcomes for k in o.values})
    frame = pd.DataFrame(
        {
            "smiles": texts,
            "canonical_smiles": [o.canonical for o in outcomes],
            "kept": [o.reason is None for o in outcomes],
            "reason": [o.reason or "" for o in outcomes],
            "detail": [o.detail or "" for o in outcomes],
            **{k: [o.values.get(k, np.nan) for o in outcomes] for k in value_names},
        }
    )
    counts = frame["reason"].value_counts().to_dict()
    remaining, summary = len(frame), []
    for name in _stage_names(config):
        removed = int(counts.get(name, 0))
        remaining -= removed
        description = _DESCRIPTIONS.get(name, name)
        if name == "alerts":
            description += f": {', '.join(config.alerts)}"
        if name == "not_novel":
            description += f" ({len(reference)} reference molecules)"
        summary.append(FilterStage(name, removed, remaining, description))
    return FilterResult(frame=frame, summary=summary)


# --------------------------------------------------------------------------- reference
def filter_molecules_naive(
    smiles: Sequence[str],
    config: FilterConfig | None = None,
    reference_smiles: Iterable[str] | None = None,
    activity: Callable[[list[str]], Any] | None = None,
) -> list[str]:
    """The same filters as a plain loop: one process, every check in listed order.

    The straightforward script a chemist would write (parse, dedup, novelty, QED,
    activity, Lipinski, Veber, ranges, alerts, SA, one molecule at a time). Kept as the
    correctness reference and the speed baseline of ``benchmarks/chem.py``.

    Returns:
        Canonical SMILES of the kept molecules, in input order.
    """
    from rdkit import Chem
    from rdkit.Chem import QED

    config = config or FilterConfig()
    reference = _canonical_set(reference_smiles) if config.novelty else frozenset()
    catalogs = [build_catalog([name]) for name in config.alerts]
    kept, seen = [], set()
    for text in smiles:
        mol = parse_smiles(text)
        if mol is None:
            continue
        canonical = Chem.MolToSmiles(mol)
        if (config.deduplicate and canonical in seen) or canonical in reference:
            continue
        seen.add(canonical)
        if config.qed_min is not None and QED.qed(mol) < config.qed_min:
            continue
        if (
            config.activity_min is not None
            and activity is not None
            and not activity([canonical])[0] >= config.activity_min
        ):
            continue
        if not _naive_properties_pass(mol, config):
            continue
        if any(catalog.HasMatch(mol) for catalog in catalogs):
            continue
        if config.sa_max is not None and descriptor("sa_score")(mol) > config.sa_max:
            continue
        kept.append(canonical)
    return kept


def _naive_properties_pass(mol: Mol, config: FilterConfig) -> bool:
    checks: list[tuple[dict[str, Range], int]] = []
    if config.lipinski:
        checks.append((LIPINSKI, config.lipinski_max_violations))
    if config.veber:
        checks.append((VEBER, 0))
    if config.property_ranges:
        checks.append((dict(config.property_ranges), 0))
    for ranges, allowed in checks:
        violations = 0
        for prop, (low, high) in ranges.items():
            value = descriptor(prop)(mol)
            violations += (low is not None and value < low) or (high is not None and value > high)
        if violations > allowed:
            return False
    return True
