"""REINVENT-style scoring: components -> transforms -> weighted aggregation.

A *component* computes one raw value per molecule (QED, a pChEMBL prediction, a
similarity). A *transform* (:mod:`crucible.chem.transforms`) maps raw values onto [0, 1].
A :class:`ScoringFunction` combines the transformed values of its *terms* (component +
transform + weight + role) into one total score per SMILES:

* ``score`` terms are averaged with normalised weights, arithmetically
  (``sum_i w_i s_i / sum_i w_i``) or geometrically (``prod_i s_i ^ (w_i / sum_i w_i)``,
  scores clamped to >= 1e-8). A NaN score (the component could not score that molecule)
  drops its weight for that molecule; a molecule with no finite score gets 0.
* ``filter`` terms carry no weight and multiply the total by their transformed value
  (0 or 1 for alerts): a molecule that fails a filter scores 0.
* ``penalty`` terms carry no weight and multiply the total by their value in [0, 1]
  (REINVENT's ``MatchingSubstructure`` gives 0.5 to molecules without the substructure).
* Invalid SMILES (unparsable or empty) score 0 and get NaN raw values.

Each SMILES is parsed once per call; the parsed molecules (and their Morgan fingerprints,
computed on first use) are shared by every component through a :class:`MolBatch`.
Duplicate SMILES in one call are scored once.

Components are plugins: subclass :class:`ScoringComponent`, give it a pydantic ``Params``
model and decorate it with :func:`register_component`; configurations then refer to it by
name (names are case-, dash- and underscore-insensitive, like REINVENT's).

Example:
    >>> from crucible.chem.scoring import ScoringConfig, build_scoring_function
    >>> config = ScoringConfig.model_validate({
    ...     "aggregation": "geometric",
    ...     "components": [
    ...         {"type": "qed", "weight": 1.0},
    ...         {"type": "molecular_weight",
    ...          "transform": {"type": "double_sigmoid", "low": 200, "high": 500}},
    ...     ],
    ... })
    >>> result = build_scoring_function(config).score(["CCO", "c1ccccc1O", "not a smiles"])
    >>> result.total.shape, bool(result.valid[2]), float(result.total[2])
    ((3,), False, 0.0)
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, Field, ValidationError, model_validator

from crucible.chem.base import (
    ActivityPredictor,
    MolBatch,
    NoParams,
    Role,
    ScoringComponent,
    lookup_component,
    register_component,
    registered_components,
    scatter,
)
from crucible.chem.transforms import Transform, TransformConfig
from crucible.exceptions import ConfigurationError, InvalidInputError
from crucible.validation import strict_config

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ActivityPredictor",
    "ComponentConfig",
    "MolBatch",
    "NoParams",
    "Role",
    "ScoreResult",
    "ScoringComponent",
    "ScoringConfig",
    "ScoringFunction",
    "ScoringTerm",
    "aggregate",
    "available_components",
    "build_scoring_function",
    "get_component_class",
    "register_component",
]

Aggregation = Literal["arithmetic", "geometric"]

_GEOMETRIC_FLOOR = 1e-8


@dataclass
class ScoreResult:
    """Scores of one batch of SMILES.

    Attributes:
        smiles: The input SMILES, in input order (length ``n``).
        total: Aggregated scores, shape ``n``, in [0, 1]; 0 for invalid SMILES.
        valid: Whether each SMILES parsed, shape ``n``.
        raw: Component name -> raw values, shape ``n`` (NaN where invalid or unscored).
        transformed: Component name -> transformed values in [0, 1], shape ``n``
            (NaN where invalid or unscored).
    """

    smiles: list[str]
    total: np.ndarray
    valid: np.ndarray
    raw: dict[str, np.ndarray] = field(default_factory=dict)
    transformed: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.smiles)

    def to_frame(self) -> pd.DataFrame:
        """One row per SMILES: ``smiles, valid, total``, then ``<name>`` and ``<name> (raw)``."""
        import pandas as pd

        columns: dict[str, Any] = {"smiles": self.smiles, "valid": self.valid, "total": self.total}
        for name in self.transformed:
            columns[name] = self.transformed[name]
            columns[f"{name} (raw)"] = self.raw[name]
        return pd.DataFrame(columns)


def _load_builtins() -> None:
    import crucible.chem.components  # noqa: F401  (registers the built-in components)


def available_components() -> list[str]:
    """Names of all registered components (built-ins included), sorted."""
    _load_builtins()
    return sorted(cls.registered_name for cls in registered_components().values())


def get_component_class(name: str) -> type[ScoringComponent]:
    """The component class registered as ``name``.

    Looks in Crucible's own registry first, then among the scoring plug-ins an administrator
    installed (entry-point group ``crucible.scoring_components``, :mod:`crucible.plugins`).

    Raises:
        InvalidInputError: If nothing is registered under that name, or the plug-in of that
            name is a function (use it through ``python_callable``).
    """
    _load_builtins()
    registered = lookup_component(name)
    if registered is not None:
        return registered
    from crucible.plugins import SCORING_COMPONENTS

    plugins = SCORING_COMPONENTS.names()
    if name in plugins:
        found = SCORING_COMPONENTS.get(name, "type")
        if isinstance(found, type) and issubclass(found, ScoringComponent):
            return found
        raise InvalidInputError(
            "type",
            f"the scoring plug-in {name!r} is a function, not a ScoringComponent class",
            f"use {{'type': 'python_callable', 'params': {{'function': {name!r}}}}}",
        )
    raise InvalidInputError(
        "type",
        f"unknown scoring component {name[:200]!r}",
        f"use one of {available_components()}, an installed plug-in {plugins}, or register "
        "yours with @register_component",
    )


# --------------------------------------------------------------------------- config
class ComponentConfig(BaseModel):
    """One term of a scoring configuration.

    Attributes:
        type: Registered component name, e.g. ``"qed"``, ``"activity_model"``.
        name: Column name in results (defaults to ``type``); must be unique.
        weight: Relative weight of a ``score`` term (ignored for filters and penalties).
        role: ``score``, ``filter`` or ``penalty``; defaults to the component's own.
        params: The component's parameters (validated by its ``Params`` model).
        transform: How raw values map onto [0, 1]; defaults to the component's own.
    """

    model_config = strict_config()

    type: str
    name: str | None = None
    weight: float = Field(1.0, ge=0.0)
    role: Role | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    transform: TransformConfig | None = None

    @property
    def label(self) -> str:
        """The result column name."""
        return self.name or self.type


class ScoringConfig(BaseModel):
    """A scoring function as data (JSON/TOML/Prefect parameter friendly).

    Attributes:
        components: The terms; names must be unique.
        aggregation: ``arithmetic`` or ``geometric`` weighted mean of the ``score`` terms.
        cache_size: Raw values of this many SMILES kept across calls (0 = off).
    """

    model_config = strict_config()

    components: list[ComponentConfig] = Field(min_length=1)
    aggregation: Aggregation = "arithmetic"
    cache_size: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _unique_names(self) -> ScoringConfig:
        labels = [c.label for c in self.components]
        duplicates = sorted({label for label in labels if labels.count(label) > 1})
        if duplicates:
            raise ValueError(
                f"component names must be unique, {duplicates} repeat; set 'name' on each"
            )
        return self


class ScoredFile(BaseModel):
    """A scored SMILES file and its headline figures.

    Attributes:
        path: CSV with ``smiles, valid, total`` then each term transformed and raw.
        grid: PNG grid of the best molecules (None when none is valid).
        n: SMILES scored.
        valid_fraction: Share of valid SMILES.
        mean_total: Mean total score.
        max_total: Best total score.
    """

    path: str
    grid: str | None = None
    n: int
    valid_fraction: float
    mean_total: float
    max_total: float


@dataclass(frozen=True)
class ScoringTerm:
    """A built component with its transform, weight and role."""

    name: str
    component: ScoringComponent
    transform: Transform
    weight: float = 1.0
    role: Role = "score"


# --------------------------------------------------------------------------- maths
def aggregate(scores: np.ndarray, weights: np.ndarray, method: Aggregation) -> np.ndarray:
    """Weighted arithmetic or geometric mean that skips NaN entries.

    Args:
        scores: ``n x m`` matrix of transformed scores in [0, 1]; NaN = not scored.
        weights: ``m`` non-negative weights (normalised per row over finite entries).
        method: ``"arithmetic"`` or ``"geometric"`` (scores clamped to >= 1e-8).

    Returns:
        ``n`` aggregated scores in [0, 1]; 0 for a row without any finite weighted score.
    """
    scores = np.asarray(scores, dtype=np.float64)
    finite = ~np.isnan(scores)
    w = np.where(finite, np.asarray(weights, dtype=np.float64)[None, :], 0.0)
    w_sum = w.sum(axis=1)
    safe = np.where(finite, scores, 0.0)
    if method == "arithmetic":
        numerator = (w * safe).sum(axis=1)
        mean = np.divide(numerator, w_sum, out=np.zeros_like(w_sum), where=w_sum > 0)
    else:
        logs = (w * np.log(np.clip(safe, _GEOMETRIC_FLOOR, 1.0))).sum(axis=1)
        mean = np.where(
            w_sum > 0, np.exp(np.divide(logs, w_sum, out=np.zeros_like(w_sum), where=w_sum > 0)), 0
        )
    return np.asarray(np.clip(mean, 0.0, 1.0))


# --------------------------------------------------------------------------- function
class ScoringFunction:
    """Scores lists of SMILES with a fixed set of terms.

    Args:
        terms: The terms; at least one must have role ``score`` with a positive weight.
        aggregation: ``arithmetic`` or ``geometric``.
        cache_size: Remember the raw values of up to this many SMILES strings across
            calls (least recently used dropped first), like REINVENT's per-run cache; 0
            turns it off. Only for deterministic components.

    Raises:
        ConfigurationError: If the terms have no positive-weight score term or repeated names.
    """

    def __init__(
        self,
        terms: Sequence[ScoringTerm],
        aggregation: Aggregation = "arithmetic",
        cache_size: int = 0,
    ) -> None:
        self.terms = list(terms)
        self.aggregation: Aggregation = aggregation
        self.cache_size = int(cache_size)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        names = [t.name for t in self.terms]
        if len(set(names)) != len(names):
            raise ConfigurationError(f"term names must be unique, got {names}")
        if not any(t.role == "score" and t.weight > 0 for t in self.terms):
            raise ConfigurationError(
                "a scoring function needs at least one 'score' term with weight > 0; "
                "filters and penalties only scale the total"
            )

    @property
    def names(self) -> list[str]:
        """Term names, in order."""
        return [t.name for t in self.terms]

    def __call__(self, smiles: Sequence[str]) -> np.ndarray:
        """Total scores only, shape ``len(smiles)``."""
        return self.score(smiles).total

    def score(self, smiles: Sequence[str]) -> ScoreResult:
        """Score a list of SMILES.

        Args:
            smiles: ``n`` SMILES strings (invalid or empty strings allowed).

        Returns:
            A :class:`ScoreResult` with arrays of shape ``n``.
        """
        smiles = [s if isinstance(s, str) else "" for s in smiles]
        if not smiles:
            return ScoreResult([], np.zeros(0), np.zeros(0, dtype=bool),
                               {t.name: np.zeros(0) for t in self.terms},
                               {t.name: np.zeros(0) for t in self.terms})  # fmt: skip
        unique, inverse = np.unique(np.array(smiles, dtype=object), return_inverse=True)
        inverse = inverse.reshape(-1)
        valid, raw = self._raw_values([str(s) for s in unique])
        transformed = {t.name: t.transform(raw[t.name]) for t in self.terms}
        total = self._combine(transformed)
        total[~valid] = 0.0
        return ScoreResult(
            smiles=list(smiles),
            total=total[inverse],
            valid=valid[inverse],
            raw={k: v[inverse] for k, v in raw.items()},
            transformed={k: v[inverse] for k, v in transformed.items()},
        )

    def _raw_values(self, unique: list[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Validity (shape ``u``) and raw values per term (shape ``u``), via the cache."""
        missing = [s for s in unique if s not in self._cache]
        if missing:
            batch = MolBatch(missing)
            columns = [scatter(t.component, batch) for t in self.terms]
            rows = np.column_stack([batch.valid.astype(np.float64), *columns])
            self._cache.update(zip(missing, rows, strict=True))
        for text in unique:
            self._cache.move_to_end(text)
        while len(self._cache) > max(self.cache_size, len(unique)):
            self._cache.popitem(last=False)
        table = np.stack([self._cache[s] for s in unique])
        if self.cache_size == 0:
            self._cache.clear()
        raw = {t.name: table[:, i + 1] for i, t in enumerate(self.terms)}
        return table[:, 0].astype(bool), raw

    def _combine(self, transformed: dict[str, np.ndarray]) -> np.ndarray:
        scoring = [t for t in self.terms if t.role == "score"]
        matrix = np.stack([transformed[t.name] for t in scoring], axis=1)
        weights = np.array([t.weight for t in scoring])
        total = aggregate(matrix, weights, self.aggregation)
        for term in self.terms:
            if term.role != "score":
                total = total * np.nan_to_num(transformed[term.name], nan=1.0)
        return np.asarray(total)


def build_scoring_function(
    config: ScoringConfig | Mapping[str, Any],
    components: Mapping[str, ScoringComponent] | None = None,
) -> ScoringFunction:
    """Build a :class:`ScoringFunction` from a configuration.

    Args:
        config: A :class:`ScoringConfig` or a mapping validated into one.
        components: Optional ready-made component instances by term name; they replace
            the ones the configuration would build (e.g. an ``activity_model`` term given
            an in-memory model via ``ActivityModelComponent.from_predictor``).

    Returns:
        The scoring function.

    Raises:
        InvalidInputError: For an unknown component type or invalid component parameters;
            the field path (``components[i].params...``) and the fix are named.
    """
    if not isinstance(config, ScoringConfig):
        try:
            config = ScoringConfig.model_validate(config)
        except ValidationError as exc:
            raise _as_input_error(exc, "scoring") from None
    given = dict(components or {})
    terms = [_build_term(i, c, given) for i, c in enumerate(config.components)]
    unknown = sorted(set(given) - {t.name for t in terms})
    if unknown:
        raise InvalidInputError(
            "components", f"instances given for unknown terms {unknown}", "use the term names"
        )
    return ScoringFunction(terms, aggregation=config.aggregation, cache_size=config.cache_size)


def _build_term(
    index: int, config: ComponentConfig, given: Mapping[str, ScoringComponent]
) -> ScoringTerm:
    try:
        cls = get_component_class(config.type)
    except InvalidInputError as exc:
        raise InvalidInputError(f"components[{index}].type", exc.problem, exc.fix) from None
    component = given.get(config.label)
    if component is None:
        try:
            component = cls(config.params)
        except ValidationError as exc:
            raise _as_input_error(exc, f"components[{index}].params") from None
    return ScoringTerm(
        name=config.label,
        component=component,
        transform=config.transform if config.transform is not None else cls.default_transform(),
        weight=config.weight,
        role=config.role or cls.default_role,
    )


def _as_input_error(exc: ValidationError, prefix: str) -> InvalidInputError:
    first = exc.errors()[0]
    location = ".".join(str(part) for part in first["loc"])
    return InvalidInputError(
        f"{prefix}.{location}" if location else prefix,
        first["msg"],
        "correct this value (see docs/chem.md for each component's parameters)",
    )
