"""Experience replay ("inception" in REINVENT): a memory of the best unique SMILES so far."""

from __future__ import annotations

import random
from dataclasses import dataclass

from pydantic import BaseModel, Field, field_validator

from crucible.chem.limits import check_smiles_list
from crucible.naming import InputPath
from crucible.validation import strict_config


class InceptionConfig(BaseModel):
    """REINVENT 4 ``[inception]`` section."""

    model_config = strict_config()

    memory_size: int = Field(50, ge=1, description="SMILES kept (highest scores).")
    sample_size: int = Field(10, ge=1, description="SMILES replayed per step.")
    smiles: list[str] = Field(
        default_factory=list, description="Seed SMILES scored and stored at the start."
    )
    smiles_file: InputPath = Field(
        "",
        description=(
            "A SMILES file (.smi/.csv) whose molecules seed the memory too (REINVENT 4's "
            "inception smiles_file), e.g. a design run's training actives."
        ),
    )

    @field_validator("smiles")
    @classmethod
    def _capped(cls, value: list[str]) -> list[str]:
        return check_smiles_list(value, "inception.smiles", max_items=10_000)


@dataclass(frozen=True)
class MemoryEntry:
    """One remembered molecule: canonical SMILES, its score and its prior NLL."""

    smiles: str
    score: float
    prior_nll: float


class ReplayMemory:
    """Top-``memory_size`` unique SMILES by score."""

    def __init__(self, config: InceptionConfig, seed: int = 0) -> None:
        self.config = config
        self._entries: dict[str, MemoryEntry] = {}
        self._rng = random.Random(seed)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def entries(self) -> list[MemoryEntry]:
        """Entries, best first."""
        return sorted(self._entries.values(), key=lambda e: e.score, reverse=True)

    def add(self, smiles: list[str], scores: list[float], prior_nll: list[float]) -> None:
        """Offer molecules; only the best ``memory_size`` unique ones are kept."""
        for text, score, nll in zip(smiles, scores, prior_nll, strict=True):
            current = self._entries.get(text)
            if current is None or score > current.score:
                self._entries[text] = MemoryEntry(text, float(score), float(nll))
        if len(self._entries) > self.config.memory_size:
            keep = self.entries[: self.config.memory_size]
            self._entries = {e.smiles: e for e in keep}

    def sample(self) -> list[MemoryEntry]:
        """Up to ``sample_size`` random entries (empty when the memory is)."""
        entries = list(self._entries.values())
        size = min(self.config.sample_size, len(entries))
        return self._rng.sample(entries, size)
