"""Diversity filters for RL (REINVENT 4 semantics): penalise over-sampled chemistry.

Scaffold filters keep a memory of scored molecules grouped in scaffold *buckets*:

* a SMILES already in memory scores 0;
* a molecule whose bucket already holds ``bucket_size`` members scores 0;
* a molecule scoring at least ``minscore`` is added to its bucket.

``PenalizeSameSmiles`` multiplies the score of every repeat SMILES by ``penalty_multiplier``.
Registry: :data:`DIVERSITY_FILTERS`; build one with :func:`build_diversity_filter`.
"""

from __future__ import annotations

import abc
from collections import Counter
from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field
from rdkit import DataStructs
from rdkit.Chem import rdFingerprintGenerator

from crucible.exceptions import InvalidInputError
from crucible.generator.chemistry import murcko_scaffold, to_mol, topological_scaffold
from crucible.validation import strict_config

DiversityFilterType = Literal[
    "IdenticalMurckoScaffold", "IdenticalTopologicalScaffold", "ScaffoldSimilarity",
    "PenalizeSameSmiles",
]  # fmt: skip


class DiversityFilterConfig(BaseModel):
    """REINVENT 4 ``[diversity_filter]`` section."""

    model_config = strict_config()

    type: DiversityFilterType = Field(
        "IdenticalMurckoScaffold",
        description="Which molecules share a bucket: same Murcko or topological scaffold, "
        "similar scaffold, or same SMILES.",
    )
    bucket_size: int = Field(25, ge=1, description="Molecules allowed per scaffold.")
    minscore: float = Field(0.4, ge=0, le=1, description="Score to be memorised.")
    minsimilarity: float = Field(0.4, ge=0, le=1, description="ScaffoldSimilarity threshold.")
    penalty_multiplier: float = Field(0.5, ge=0, le=1, description="PenalizeSameSmiles factor.")


class DiversityFilter(abc.ABC):
    """Base class: keeps the memory and applies the penalty to a batch."""

    def __init__(self, config: DiversityFilterConfig) -> None:
        self.config = config
        self.seen_smiles: set[str] = set()
        self.bucket_counts: Counter[str] = Counter()

    @abc.abstractmethod
    def scaffold_of(self, smiles: str) -> str:
        """The bucket key of a canonical SMILES."""

    def apply(
        self, smiles: Sequence[str | None], scores: np.ndarray
    ) -> tuple[np.ndarray, list[str]]:
        """Penalise ``scores`` and update the memory.

        Args:
            smiles: Canonical SMILES of the batch (None for invalid molecules).
            scores: ``n`` total scores before the filter.

        Returns:
            ``(filtered_scores, scaffolds)`` with ``""`` as scaffold of invalid molecules.
        """
        out = np.asarray(scores, dtype=float).copy()
        scaffolds: list[str] = []
        for i, text in enumerate(smiles):
            if text is None:
                scaffolds.append("")
                out[i] = 0.0
                continue
            scaffold = self.scaffold_of(text)
            scaffolds.append(scaffold)
            if text in self.seen_smiles or self.bucket_counts[scaffold] >= self.config.bucket_size:
                out[i] = 0.0
                continue
            if out[i] >= self.config.minscore:
                self.seen_smiles.add(text)
                self.bucket_counts[scaffold] += 1
        return out, scaffolds


class _IdenticalMurckoScaffold(DiversityFilter):
    def scaffold_of(self, smiles: str) -> str:
        return murcko_scaffold(smiles)


class _IdenticalTopologicalScaffold(DiversityFilter):
    def scaffold_of(self, smiles: str) -> str:
        return topological_scaffold(smiles)


class _ScaffoldSimilarity(DiversityFilter):
    """Murcko scaffolds merged into the bucket of the most similar earlier scaffold."""

    def __init__(self, config: DiversityFilterConfig) -> None:
        super().__init__(config)
        self._generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
        self._keys: list[str] = []
        self._fingerprints: list[DataStructs.ExplicitBitVect] = []

    def scaffold_of(self, smiles: str) -> str:
        scaffold = murcko_scaffold(smiles)
        if scaffold in self.bucket_counts or not scaffold:
            return scaffold
        mol = to_mol(scaffold)
        if mol is None:
            return scaffold
        fingerprint = self._generator.GetFingerprint(mol)
        if self._fingerprints:
            similarities = DataStructs.BulkTanimotoSimilarity(fingerprint, self._fingerprints)
            best = int(np.argmax(similarities))
            if similarities[best] >= self.config.minsimilarity:
                return self._keys[best]
        self._keys.append(scaffold)
        self._fingerprints.append(fingerprint)
        return scaffold


class _PenalizeSameSmiles(DiversityFilter):
    """Repeats of an already sampled SMILES get ``score × penalty_multiplier``."""

    def scaffold_of(self, smiles: str) -> str:
        return ""

    def apply(
        self, smiles: Sequence[str | None], scores: np.ndarray
    ) -> tuple[np.ndarray, list[str]]:
        out = np.asarray(scores, dtype=float).copy()
        for i, text in enumerate(smiles):
            if text is None:
                out[i] = 0.0
            elif text in self.seen_smiles:
                out[i] *= self.config.penalty_multiplier
            else:
                self.seen_smiles.add(text)
        return out, [""] * len(smiles)


DIVERSITY_FILTERS: dict[str, type[DiversityFilter]] = {
    "IdenticalMurckoScaffold": _IdenticalMurckoScaffold,
    "IdenticalTopologicalScaffold": _IdenticalTopologicalScaffold,
    "ScaffoldSimilarity": _ScaffoldSimilarity,
    "PenalizeSameSmiles": _PenalizeSameSmiles,
}


def build_diversity_filter(config: DiversityFilterConfig | None) -> DiversityFilter | None:
    """The filter named by ``config.type`` (None when ``config`` is None)."""
    if config is None:
        return None
    try:
        return DIVERSITY_FILTERS[config.type](config)
    except KeyError:
        raise InvalidInputError(
            "diversity_filter.type", f"unknown {config.type!r}", f"use {sorted(DIVERSITY_FILTERS)}"
        ) from None
