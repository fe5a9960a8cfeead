"""Built-in scoring components (registered on import by :mod:`crucible.chem.scoring`).

=====================  =======================================  ====================  =======
name                   raw value                                default transform     role
=====================  =======================================  ====================  =======
qed                    QED (0-1)                                none                  score
sa_score               SA score (1 easy - 10 hard)              reverse_sigmoid 2-6   score
molecular_weight       average MW (Da)                          double_sigmoid        score
slogp                  Crippen logP                             double_sigmoid 1-5    score
tpsa                   TPSA (A^2)                               reverse_sigmoid       score
hbd / hba              H-bond donors / acceptors                step <= 5 / <= 10     score
rotatable_bonds        rotatable bonds                          step <= 10            score
num_heavy_atoms ...    counts (also num_rings,                  (must be given)       score
                       num_aromatic_rings); fraction_csp3       none
tanimoto_similarity    max/mean Tanimoto to references (ECFP)   none                  score
substructure_match     1 if any SMARTS matches else 0           {1: 1, 0: 0.5}        penalty
custom_alerts          number of alerts (SMARTS + catalogs)     step <= 0             filter
activity_model         model prediction (e.g. pChEMBL)          sigmoid 5-8           score
python_callable        value of a registered scoring function   none                  score
=====================  =======================================  ====================  =======
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from crucible._imports import require
from crucible.chem.alerts import CatalogName, ScreenedCatalog, compile_smarts, count_alerts
from crucible.chem.base import (
    ActivityPredictor,
    MolBatch,
    Role,
    ScoringComponent,
    register_component,
)
from crucible.chem.limits import check_smiles_list
from crucible.chem.properties import descriptor, parse_smiles
from crucible.chem.transforms import (
    DoubleSigmoid,
    ReverseSigmoid,
    Sigmoid,
    Step,
    Transform,
    ValueMapping,
)
from crucible.exceptions import ConfigurationError, InvalidInputError
from crucible.naming import input_path

__all__ = [
    "ActivityModelComponent",
    "CustomAlertsComponent",
    "PythonCallableComponent",
    "SubstructureMatchComponent",
    "TanimotoSimilarityComponent",
]


class _DescriptorComponent(ScoringComponent):
    """A per-molecule RDKit property from :data:`crucible.chem.properties.DESCRIPTORS`."""

    property_name: ClassVar[str]

    def compute(self, batch: MolBatch) -> np.ndarray:
        """Property values, shape ``len(batch)``."""
        function = descriptor(self.property_name)
        return np.array([function(mol) for mol in batch.mols], dtype=np.float64)


@register_component("qed")
class QEDComponent(_DescriptorComponent):
    """Quantitative estimate of drug-likeness (Bickerton 2012), already in [0, 1]."""

    property_name = "qed"


@register_component("sa_score")
class SAScoreComponent(_DescriptorComponent):
    """Synthetic accessibility (Ertl 2009), 1 easy to 10 hard; lower is better."""

    property_name = "sa_score"

    @classmethod
    def default_transform(cls) -> Transform:
        """Reverse sigmoid from 2 (score ~1) to 6 (score ~0)."""
        return ReverseSigmoid(low=2.0, high=6.0, k=0.5)


@register_component("molecular_weight")
class MolecularWeightComponent(_DescriptorComponent):
    """Average molecular weight (Da)."""

    property_name = "molecular_weight"

    @classmethod
    def default_transform(cls) -> Transform:
        """Plateau between 200 and 500 Da (REINVENT's example parameters)."""
        return DoubleSigmoid(low=200.0, high=500.0, coef_div=500.0, coef_si=20.0, coef_se=20.0)


@register_component("slogp")
class SlogPComponent(_DescriptorComponent):
    """Crippen logP."""

    property_name = "slogp"

    @classmethod
    def default_transform(cls) -> Transform:
        """Plateau between logP 1 and 5."""
        return DoubleSigmoid(low=1.0, high=5.0, coef_div=20.0, coef_si=20.0, coef_se=20.0)


@register_component("tpsa")
class TPSAComponent(_DescriptorComponent):
    """Topological polar surface area (A^2)."""

    property_name = "tpsa"

    @classmethod
    def default_transform(cls) -> Transform:
        """About 1 below 120 A^2, about 0 above 160 A^2 (Veber: <= 140)."""
        return ReverseSigmoid(low=120.0, high=160.0, k=0.5)


@register_component("hbd")
class HBDComponent(_DescriptorComponent):
    """Hydrogen-bond donors (RDKit ``CalcNumHBD``)."""

    property_name = "hbd"

    @classmethod
    def default_transform(cls) -> Transform:
        """Lipinski: at most 5 donors."""
        return Step(high=5.0)


@register_component("hba")
class HBAComponent(_DescriptorComponent):
    """Hydrogen-bond acceptors (RDKit ``CalcNumHBA``)."""

    property_name = "hba"

    @classmethod
    def default_transform(cls) -> Transform:
        """Lipinski: at most 10 acceptors."""
        return Step(high=10.0)


@register_component("rotatable_bonds")
class RotatableBondsComponent(_DescriptorComponent):
    """Rotatable bonds."""

    property_name = "rotatable_bonds"

    @classmethod
    def default_transform(cls) -> Transform:
        """Veber: at most 10 rotatable bonds."""
        return Step(high=10.0)


class _CountComponent(_DescriptorComponent):
    """A count without a natural [0, 1] scale: configurations must give a transform."""

    @classmethod
    def default_transform(cls) -> Transform:
        """None exists: fail with the fix."""
        raise ConfigurationError(
            f"component {cls.registered_name!r} has no natural [0, 1] scale; give it a "
            "'transform' (e.g. step, sigmoid or double_sigmoid)"
        )


@register_component("num_heavy_atoms")
class HeavyAtomsComponent(_CountComponent):
    """Heavy atoms."""

    property_name = "num_heavy_atoms"


@register_component("num_rings")
class RingsComponent(_CountComponent):
    """Rings (SSSR)."""

    property_name = "num_rings"


@register_component("num_aromatic_rings")
class AromaticRingsComponent(_CountComponent):
    """Aromatic rings."""

    property_name = "num_aromatic_rings"


@register_component("fraction_csp3")
class FractionCsp3Component(_DescriptorComponent):
    """Fraction of sp3 carbons, already in [0, 1]."""

    property_name = "fraction_csp3"


# --------------------------------------------------------------------------- similarity
class TanimotoParams(BaseModel):
    """Parameters of ``tanimoto_similarity``.

    Attributes:
        smiles: Reference SMILES (at least one, all valid).
        radius: Morgan radius (2 = ECFP4).
        n_bits: Fingerprint length.
        aggregate: ``max`` (nearest reference) or ``mean`` similarity.
    """

    model_config = ConfigDict(extra="forbid")

    smiles: list[str] = Field(min_length=1)
    radius: int = Field(2, ge=0, le=6)
    n_bits: int = Field(2048, ge=64, le=16384)
    aggregate: Literal["max", "mean"] = "max"

    @field_validator("smiles")
    @classmethod
    def _parsable(cls, value: list[str]) -> list[str]:
        check_smiles_list(value, "params.smiles")
        bad = [i for i, s in enumerate(value) if parse_smiles(s) is None]
        if bad:
            raise ValueError(f"reference SMILES at positions {bad} do not parse; fix them")
        return value


@register_component("tanimoto_similarity")
class TanimotoSimilarityComponent(ScoringComponent):
    """Tanimoto similarity of Morgan bit fingerprints to reference molecules, in [0, 1]."""

    Params = TanimotoParams

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        from crucible.chem.properties import morgan_generator

        generator = morgan_generator(self.params.radius, self.params.n_bits)
        self._references = [generator.GetFingerprint(parse_smiles(s)) for s in self.params.smiles]

    def compute(self, batch: MolBatch) -> np.ndarray:
        """Max or mean similarity to the references, shape ``len(batch)``."""
        bulk = require("rdkit.DataStructs").BulkTanimotoSimilarity
        reduce = np.max if self.params.aggregate == "max" else np.mean
        fingerprints = batch.morgan(self.params.radius, self.params.n_bits)
        return np.array([reduce(bulk(fp, self._references)) for fp in fingerprints], float)


# --------------------------------------------------------------------------- substructures
class SubstructureParams(BaseModel):
    """Parameters of ``substructure_match``: SMARTS patterns (any match counts)."""

    model_config = ConfigDict(extra="forbid")

    smarts: list[str] = Field(min_length=1)


@register_component("substructure_match")
class SubstructureMatchComponent(ScoringComponent):
    """1 if any SMARTS matches, else 0; by default a penalty (x0.5 without a match)."""

    Params = SubstructureParams
    default_role: ClassVar[Role] = "penalty"

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self._patterns = compile_smarts(self.params.smarts, "params.smarts")

    @classmethod
    def default_transform(cls) -> Transform:
        """REINVENT's MatchingSubstructure: 1.0 with a match, 0.5 without."""
        return ValueMapping(mapping={1.0: 1.0, 0.0: 0.5})

    def compute(self, batch: MolBatch) -> np.ndarray:
        """1.0 or 0.0 per molecule, shape ``len(batch)``."""
        return np.array(
            [any(m.HasSubstructMatch(q) for q in self._patterns) for m in batch.mols], float
        )


class AlertsParams(BaseModel):
    """Parameters of ``custom_alerts``: SMARTS and/or RDKit catalogs (PAINS, BRENK, ...)."""

    model_config = ConfigDict(extra="forbid")

    smarts: list[str] = Field(default_factory=list)
    catalogs: list[CatalogName] = Field(default_factory=list)

    @model_validator(mode="after")
    def _something(self) -> AlertsParams:
        if not self.smarts and not self.catalogs:
            raise ValueError("give at least one SMARTS in 'smarts' or one name in 'catalogs'")
        return self


@register_component("custom_alerts")
class CustomAlertsComponent(ScoringComponent):
    """Number of structural alerts matched; by default a filter (any alert -> total 0)."""

    Params = AlertsParams
    default_role: ClassVar[Role] = "filter"

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self._patterns = compile_smarts(self.params.smarts, "params.smarts")
        self._catalog = ScreenedCatalog(self.params.catalogs) if self.params.catalogs else None

    @classmethod
    def default_transform(cls) -> Transform:
        """1 when no alert matches, else 0."""
        return Step(high=0.0)

    def compute(self, batch: MolBatch) -> np.ndarray:
        """Alert counts, shape ``len(batch)``."""
        return np.array(
            [count_alerts(m, self._catalog, self._patterns) for m in batch.mols], float
        )


# --------------------------------------------------------------------------- user code
def _load_plugin_function(name: str, field: str) -> Callable[..., Any]:
    """The function registered as ``name`` in :data:`crucible.plugins.SCORING_COMPONENTS`.

    A free ``module:function`` path is imported only with ``CRUCIBLE_ALLOW_IMPORT_PATHS`` on.
    """
    from crucible.plugins import SCORING_COMPONENTS

    target = SCORING_COMPONENTS.get(name, field)
    if isinstance(target, type) and issubclass(target, ScoringComponent):
        raise InvalidInputError(
            field,
            f"{name!r} is a scoring component class, not a function",
            f"use it directly as a component: {{'type': {name!r}}}",
        )
    if not callable(target):
        raise InvalidInputError(field, f"{name!r} is not callable", "register a function")
    return target


#: A registered plug-in name, or a ``module:function`` path (only honoured with
#: ``CRUCIBLE_ALLOW_IMPORT_PATHS`` on).
_PLUGIN_PATTERN = r"^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,99}|[A-Za-z_][\w.]*:[A-Za-z_][\w.]*)$"


class ActivityModelParams(BaseModel):
    """Parameters of ``activity_model``: where the predictor comes from (exactly one).

    Attributes:
        model_path: A model saved by :mod:`crucible.chem.activity` (random forest or
            Chemprop), loaded with its ``load_activity_model``.
        factory: Name of a registered scoring plug-in (:mod:`crucible.plugins`) that
            returns an :class:`ActivityPredictor` when called with ``factory_kwargs``.
        factory_kwargs: Keyword arguments for ``factory``.
    """

    model_config = ConfigDict(extra="forbid")

    model_path: Path | None = None
    factory: str | None = Field(None, pattern=_PLUGIN_PATTERN)
    factory_kwargs: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_source(self) -> ActivityModelParams:
        if (self.model_path is None) == (self.factory is None):
            raise ValueError("give exactly one of 'model_path' and 'factory'")
        return self


def _load_saved_model(path: Path) -> ActivityPredictor:
    path = input_path(path, "params.model_path")
    if not path.exists():
        raise InvalidInputError(
            "params.model_path", f"{path} does not exist", "train a model first or fix the path"
        )
    activity = importlib.import_module("crucible.chem.activity")
    loader = getattr(activity, "load_activity_model", None)
    if loader is None:
        raise ConfigurationError(
            "crucible.chem.activity has no load_activity_model(); use 'factory' instead"
        )
    return loader(path)


@register_component("activity_model")
class ActivityModelComponent(ScoringComponent):
    """Predictions of a trained activity model (e.g. pChEMBL) for canonical SMILES.

    Args:
        params: :class:`ActivityModelParams` (ignored when ``predictor`` is given).
        predictor: An object with ``predict(smiles) -> np.ndarray`` to use directly.
    """

    Params = ActivityModelParams

    def __init__(self, params: Any = None, predictor: ActivityPredictor | None = None) -> None:
        if predictor is not None:
            if not isinstance(predictor, ActivityPredictor):
                raise InvalidInputError(
                    "predictor", f"{type(predictor).__name__} has no predict()", "wrap it"
                )
            self.params = None
            self.predictor = predictor
            return
        super().__init__(params)
        if self.params.model_path is not None:
            self.predictor = _load_saved_model(self.params.model_path)
        else:
            factory = _load_plugin_function(self.params.factory, "params.factory")
            self.predictor = factory(**self.params.factory_kwargs)

    @classmethod
    def from_predictor(cls, predictor: ActivityPredictor) -> ActivityModelComponent:
        """Wrap an in-memory predictor (pass it to ``build_scoring_function(components=)``)."""
        return cls(predictor=predictor)

    @classmethod
    def default_transform(cls) -> Transform:
        """Sigmoid over pChEMBL 5 (~0.05), 6.5 (0.5), 8 (~0.95)."""
        return Sigmoid(low=5.0, high=8.0, k=0.25)

    def compute(self, batch: MolBatch) -> np.ndarray:
        """Predictions for the canonical SMILES, shape ``len(batch)``."""
        return _predict(self.predictor.predict, batch.canonical_smiles, "activity model")


class PythonCallableParams(BaseModel):
    """Parameters of ``python_callable``.

    Attributes:
        function: Name of a registered scoring function (:mod:`crucible.plugins`, entry-point
            group ``crucible.scoring_components``); called as ``function(smiles, **kwargs)``
            with a list of canonical SMILES, returning one float per SMILES (NaN allowed).
        kwargs: Extra keyword arguments.
    """

    model_config = ConfigDict(extra="forbid")

    function: str = Field(pattern=_PLUGIN_PATTERN)
    kwargs: dict[str, Any] = Field(default_factory=dict)


@register_component("python_callable")
class PythonCallableComponent(ScoringComponent):
    """Values of a registered scoring function on the canonical SMILES of the valid molecules."""

    Params = PythonCallableParams

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self._function = _load_plugin_function(self.params.function, "params.function")

    def compute(self, batch: MolBatch) -> np.ndarray:
        """The function's values, shape ``len(batch)``."""
        return _predict(
            lambda smiles: self._function(smiles, **self.params.kwargs),
            batch.canonical_smiles,
            self.params.function,
        )


def _predict(function: Callable[[list[str]], Any], smiles: Sequence[str], what: str) -> Any:
    values = np.asarray(function(list(smiles)), dtype=np.float64).reshape(-1)
    if values.shape[0] != len(smiles):
        raise ConfigurationError(
            f"{what} returned {values.shape[0]} values for {len(smiles)} SMILES; "
            "it must return exactly one value per SMILES"
        )
    return values
