"""Contract tests that every scoring component must pass (Optuna ``pytest_samplers`` style).

Use it for your own components too::

    from crucible.testing.scoring_contract import ScoringComponentContract

    class TestMyComponent(ScoringComponentContract):
        def make_component(self):
            return MyComponent({"threshold": 3})
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from crucible.chem.scoring import (
    MolBatch,
    ScoringComponent,
    ScoringFunction,
    ScoringTerm,
    get_component_class,
)
from crucible.chem.transforms import Sigmoid, Transform
from crucible.exceptions import ConfigurationError

__all__ = ["CONTRACT_SMILES", "ScoringComponentContract"]

#: Valid drug-like and odd molecules, plus invalid entries at known positions.
CONTRACT_SMILES: list[str] = [
    "CC(=O)Oc1ccccc1C(=O)O",  # aspirin
    "CN1CCC[C@H]1c1cccnc1",  # nicotine
    "not-a-smiles",
    "c1ccccc1O",
    "",
    "CC(C)Cc1ccc(cc1)[C@@H](C)C(=O)O",  # ibuprofen
    "C1CC1",
    "O=C(O)c1ccccc1N=Nc1ccccc1",  # azo compound (an alert)
    "c1ccccc1(",  # unbalanced
    "[Na+].[Cl-]",
    "CC(=O)Oc1ccccc1C(=O)O",  # duplicate of the first
]
_INVALID = [2, 4, 8]


class ScoringComponentContract:
    """Mixin of contract tests; subclasses implement :meth:`make_component`."""

    smiles: ClassVar[list[str]] = CONTRACT_SMILES
    invalid_positions: ClassVar[list[int]] = _INVALID

    def make_component(self) -> ScoringComponent:
        """Return a fresh component instance to test."""
        raise NotImplementedError

    def _values(self, smiles: list[str]) -> np.ndarray:
        return np.asarray(self.make_component()(smiles))

    def test_one_float_per_smiles(self) -> None:
        """One float64 value per input SMILES."""
        values = self._values(self.smiles)
        assert values.shape == (len(self.smiles),)
        assert values.dtype == np.float64

    def test_invalid_smiles_are_nan_and_valid_ones_finite(self) -> None:
        """Invalid SMILES give NaN; valid ones a finite value."""
        values = self._values(self.smiles)
        assert np.isnan(values[self.invalid_positions]).all()
        valid = [i for i in range(len(self.smiles)) if i not in self.invalid_positions]
        assert np.isfinite(values[valid]).all()

    def test_empty_and_all_invalid_batches(self) -> None:
        """Empty and all-invalid batches work."""
        assert self._values([]).shape == (0,)
        assert np.isnan(self._values(["x", ""])).all()

    def test_compute_matches_batch_length(self) -> None:
        """``compute`` returns one value per valid molecule."""
        batch = MolBatch(self.smiles)
        assert np.asarray(self.make_component().compute(batch)).shape == (len(batch),)

    def test_permutation_equivariant_and_deterministic(self) -> None:
        """Shuffling the input shuffles the output; repeated calls agree."""
        component = self.make_component()
        order = np.random.default_rng(0).permutation(len(self.smiles))
        first = component(self.smiles)
        shuffled = component([self.smiles[i] for i in order])
        np.testing.assert_allclose(shuffled, first[order], equal_nan=True)
        np.testing.assert_allclose(component(self.smiles), first, equal_nan=True)

    def test_same_smiles_same_value(self) -> None:
        """The same SMILES twice gets the same value."""
        values = self._values(self.smiles)
        assert values[0] == values[-1]

    def test_params_round_trip(self) -> None:
        """A component rebuilt from its dumped parameters scores the same."""
        component = self.make_component()
        if component.params is None:  # built around an in-memory object
            return
        rebuilt = type(component)(component.params.model_dump())
        np.testing.assert_allclose(rebuilt(self.smiles), component(self.smiles), equal_nan=True)

    def test_registered_under_its_name(self) -> None:
        """The class is in the registry under its name."""
        cls = type(self.make_component())
        assert cls.registered_name, f"{cls.__name__} is not registered"
        assert get_component_class(cls.registered_name) is cls

    def test_scores_in_unit_interval_inside_a_scoring_function(self) -> None:
        """Inside a scoring function: totals in [0, 1], invalid SMILES score 0."""
        component = self.make_component()
        term = ScoringTerm("c", component, self._transform_for(component), 1.0, "score")
        result = ScoringFunction([term]).score(self.smiles)
        assert ((result.total >= 0) & (result.total <= 1)).all()
        assert (result.total[self.invalid_positions] == 0).all()
        assert not result.valid[self.invalid_positions].any()
        finite = result.transformed["c"][~np.isnan(result.transformed["c"])]
        assert ((finite >= 0) & (finite <= 1)).all()

    def _transform_for(self, component: ScoringComponent) -> Transform:
        try:
            return type(component).default_transform()
        except ConfigurationError:
            values = component(self.smiles)
            return Sigmoid(low=float(np.nanmin(values)), high=float(np.nanmax(values)) + 1.0)
