"""Scoring components' base class, the molecule batch they share, and their registry.

A leaf of :mod:`crucible.chem`: :mod:`crucible.chem.components` (the built-in components)
and :mod:`crucible.chem.scoring` (the scoring function) both import these names from here,
so the components never import the scoring module that loads them. Import them from
:mod:`crucible.chem.scoring`, which re-exports them.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, TypeVar, runtime_checkable

import numpy as np
from pydantic import BaseModel

from crucible._imports import require
from crucible.chem.properties import morgan_generator, parse_smiles
from crucible.chem.transforms import NoTransform, Transform
from crucible.exceptions import AlreadyExistsError, ConfigurationError
from crucible.validation import strict_config

if TYPE_CHECKING:
    from rdkit.Chem import Mol

__all__ = [
    "ActivityPredictor",
    "MolBatch",
    "NoParams",
    "Role",
    "ScoringComponent",
    "lookup_component",
    "register_component",
    "registered_components",
    "scatter",
]

#: How a term enters the total: weighted score, multiplicative filter, or penalty.
Role = Literal["score", "filter", "penalty"]


@runtime_checkable
class ActivityPredictor(Protocol):
    """What the ``activity_model`` component needs from a trained model.

    Any object with this one method works (the random forest and Chemprop models of
    :mod:`crucible.chem.activity`, a scikit-learn wrapper, a remote client).
    """

    def predict(self, smiles: Sequence[str]) -> np.ndarray:
        """Predict one value per SMILES (e.g. pChEMBL).

        Args:
            smiles: Valid SMILES strings (the scoring function passes canonical SMILES of
                parsable molecules only).

        Returns:
            Array of shape ``len(smiles)``; NaN where the model cannot predict.
        """
        ...


class MolBatch:
    """The parsable molecules of one scoring call, parsed once and shared by components.

    Attributes:
        smiles: All input SMILES (length ``n``).
        valid: Boolean mask of parsable inputs, shape ``n``.
        index: Positions of the valid inputs, shape ``n_valid``.
        mols: RDKit molecules of the valid inputs (length ``n_valid``).
    """

    def __init__(self, smiles: Sequence[str]) -> None:
        self.smiles = list(smiles)
        parsed = [parse_smiles(s) for s in self.smiles]
        self.valid = np.array([m is not None for m in parsed], dtype=bool)
        self.index = np.flatnonzero(self.valid)
        self.mols: list[Mol] = [m for m in parsed if m is not None]
        self._cache: dict[Any, Any] = {}

    def __len__(self) -> int:
        """Number of valid molecules (what :meth:`ScoringComponent.compute` returns)."""
        return len(self.mols)

    @property
    def canonical_smiles(self) -> list[str]:
        """Canonical SMILES of the valid molecules (computed once)."""
        if "canonical" not in self._cache:
            to_smiles = require("rdkit.Chem").MolToSmiles
            self._cache["canonical"] = [to_smiles(m) for m in self.mols]
        return list(self._cache["canonical"])

    def morgan(self, radius: int = 2, n_bits: int = 2048) -> list[Any]:
        """Morgan bit vectors of the valid molecules (computed once per setting)."""
        key = ("morgan", radius, n_bits)
        if key not in self._cache:
            generator = morgan_generator(radius, n_bits)
            self._cache[key] = [generator.GetFingerprint(m) for m in self.mols]
        return list(self._cache[key])


class NoParams(BaseModel):
    """Parameters of a component that takes none."""

    model_config = strict_config()


class ScoringComponent(ABC):
    """Base class of scoring components.

    Subclasses set ``Params`` (a pydantic model; extra keys forbidden is recommended),
    optionally ``default_role`` and :meth:`default_transform`, and implement
    :meth:`compute`. They are constructed with their parameters and must not keep
    per-call state, so one instance can score many batches.

    Args:
        params: A ``Params`` instance or a mapping validated into one.
    """

    Params: ClassVar[type[BaseModel]] = NoParams
    default_role: ClassVar[Role] = "score"
    #: Set by :func:`register_component`.
    registered_name: ClassVar[str] = ""

    def __init__(self, params: BaseModel | Mapping[str, Any] | None = None) -> None:
        if isinstance(params, self.Params):
            self.params: Any = params
        else:
            data = params.model_dump() if isinstance(params, BaseModel) else dict(params or {})
            self.params = self.Params.model_validate(data)

    @classmethod
    def default_transform(cls) -> Transform:
        """The transform used when a configuration gives none."""
        return NoTransform()

    @abstractmethod
    def compute(self, batch: MolBatch) -> np.ndarray:
        """Raw values for the valid molecules of ``batch``.

        Args:
            batch: The parsed molecules.

        Returns:
            Float array of shape ``len(batch)``; NaN where a molecule cannot be scored.
        """

    def __call__(self, smiles: Sequence[str]) -> np.ndarray:
        """Raw values for a list of SMILES, shape ``len(smiles)``; NaN where invalid."""
        batch = MolBatch(smiles)
        return scatter(self, batch)


def scatter(component: ScoringComponent, batch: MolBatch) -> np.ndarray:
    """Run ``component`` on ``batch`` and place its values at the valid positions.

    Returns:
        Raw values, shape ``len(batch.smiles)``; NaN at invalid positions.

    Raises:
        ConfigurationError: If ``compute`` does not return one value per valid molecule.
    """
    out = np.full(len(batch.smiles), np.nan)
    if len(batch) == 0:
        return out
    values = np.asarray(component.compute(batch), dtype=np.float64).reshape(-1)
    if values.shape != (len(batch),):
        raise ConfigurationError(
            f"component {type(component).__name__} returned {values.shape[0]} values for "
            f"{len(batch)} molecules; compute() must return one value per valid molecule"
        )
    out[batch.index] = values
    return out


# --------------------------------------------------------------------------- registry
_REGISTRY: dict[str, type[ScoringComponent]] = {}
_C = TypeVar("_C", bound=type[ScoringComponent])


def _normalise(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name).lower()


def register_component(name: str, *, overwrite: bool = False) -> Callable[[_C], _C]:
    """Class decorator that registers a scoring component under ``name``.

    Args:
        name: The ``type`` that configurations use (case/underscore/dash-insensitive).
        overwrite: Replace an existing registration instead of failing.

    Raises:
        AlreadyExistsError: If the name is taken and ``overwrite`` is False.

    Example:
        >>> @register_component("heavy_atom_count_demo", overwrite=True)
        ... class HeavyAtoms(ScoringComponent):
        ...     def compute(self, batch):
        ...         return np.array([m.GetNumHeavyAtoms() for m in batch.mols], float)
    """

    def decorate(cls: _C) -> _C:
        if not (isinstance(cls, type) and issubclass(cls, ScoringComponent)):
            raise TypeError(f"{cls!r} must subclass ScoringComponent to be registered")
        key = _normalise(name)
        if key in _REGISTRY and not overwrite and _REGISTRY[key] is not cls:
            raise AlreadyExistsError(
                f"a scoring component named {name!r} is already registered "
                f"({_REGISTRY[key].__qualname__}); pick another name or pass overwrite=True"
            )
        cls.registered_name = name
        _REGISTRY[key] = cls
        return cls

    return decorate


def registered_components() -> dict[str, type[ScoringComponent]]:
    """Normalised name -> class of every registered component (built-ins only once loaded)."""
    return dict(_REGISTRY)


def lookup_component(name: str) -> type[ScoringComponent] | None:
    """The class registered as ``name`` (any case, dashes, underscores), or ``None``."""
    return _REGISTRY.get(_normalise(name))
