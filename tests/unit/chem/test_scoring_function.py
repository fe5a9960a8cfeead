"""Scoring function: configuration, aggregation, roles, invalid SMILES, registry."""

from __future__ import annotations

import numpy as np
import pytest

from crucible.chem.components import ActivityModelComponent
from crucible.chem.scoring import (
    MolBatch,
    ScoreResult,
    ScoringComponent,
    ScoringConfig,
    ScoringFunction,
    ScoringTerm,
    aggregate,
    build_scoring_function,
    get_component_class,
    register_component,
)
from crucible.chem.transforms import NoTransform, ValueMapping
from crucible.exceptions import AlreadyExistsError, ConfigurationError, InvalidInputError

SMILES = ["CCO", "c1ccccc1O", "not a smiles", "CC(=O)Oc1ccccc1C(=O)O", "", "CCO"]


class ConstantComponent(ScoringComponent):
    """Returns the same value for every molecule (for aggregation checks)."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def compute(self, batch: MolBatch) -> np.ndarray:
        return np.full(len(batch), self.value)


def _term(name: str, value: float, weight: float = 1.0, role: str = "score") -> ScoringTerm:
    return ScoringTerm(name, ConstantComponent(value), NoTransform(), weight, role)  # type: ignore[arg-type]


def test_aggregate_arithmetic_and_geometric_by_hand() -> None:
    scores = np.array([[0.2, 0.8], [1.0, 0.0]])
    weights = np.array([1.0, 3.0])
    np.testing.assert_allclose(aggregate(scores, weights, "arithmetic"), [0.65, 0.25])
    expected_geo = [0.2**0.25 * 0.8**0.75, 1.0**0.25 * 1e-8**0.75]
    np.testing.assert_allclose(aggregate(scores, weights, "geometric"), expected_geo)


def test_aggregate_drops_the_weight_of_nan_scores() -> None:
    scores = np.array([[np.nan, 0.4], [np.nan, np.nan]])
    np.testing.assert_allclose(aggregate(scores, np.array([5.0, 1.0]), "arithmetic"), [0.4, 0])
    np.testing.assert_allclose(aggregate(scores, np.array([5.0, 1.0]), "geometric"), [0.4, 0])


def test_weighted_terms_filters_and_penalties_combine_like_reinvent() -> None:
    function = ScoringFunction(
        [_term("a", 0.2, 1.0), _term("b", 0.8, 3.0), _term("pen", 0.5, role="penalty")]
    )
    result = function.score(SMILES)
    assert result.total[0] == pytest.approx(0.65 * 0.5)
    blocked = ScoringFunction([_term("a", 0.9), _term("f", 0.0, role="filter")])
    assert (blocked.score(SMILES).total == 0).all()


def test_invalid_smiles_score_zero_with_nan_components() -> None:
    config = ScoringConfig.model_validate(
        {"components": [{"type": "qed"}, {"type": "sa_score", "weight": 2}]}
    )
    result = build_scoring_function(config).score(SMILES)
    assert isinstance(result, ScoreResult)
    assert result.valid.tolist() == [True, True, False, True, False, True]
    assert (result.total[[2, 4]] == 0).all()
    assert np.isnan(result.raw["qed"][[2, 4]]).all()
    assert ((result.total >= 0) & (result.total <= 1)).all()
    assert result.total[0] == result.total[5]  # duplicates are scored once, identically
    qed, sa = result.transformed["qed"], result.transformed["sa_score"]
    np.testing.assert_allclose(result.total[0], (qed[0] + 2 * sa[0]) / 3)


def test_geometric_mean_is_never_above_arithmetic() -> None:
    components = [
        {"type": "qed"},
        {"type": "molecular_weight"},
        {"type": "tanimoto_similarity", "params": {"smiles": ["c1ccccc1O"]}},
    ]
    arith = build_scoring_function({"components": components}).score(SMILES).total
    geo = build_scoring_function({"components": components, "aggregation": "geometric"})
    assert (geo.score(SMILES).total <= arith + 1e-12).all()


def test_default_roles_and_transforms_come_from_the_component() -> None:
    function = build_scoring_function(
        {
            "components": [
                {"type": "qed"},
                {"type": "custom_alerts", "params": {"catalogs": ["BRENK"]}},
                {"type": "substructure_match", "params": {"smarts": ["c1ccccc1"]}},
            ]
        }
    )
    roles = {t.name: t.role for t in function.terms}
    assert roles == {"qed": "score", "custom_alerts": "filter", "substructure_match": "penalty"}
    result = function.score(["CCO", "c1ccccc1O", "O=C(O)c1ccccc1N=Nc1ccccc1"])
    qed = result.transformed["qed"]
    assert result.total[0] == pytest.approx(qed[0] * 0.5)  # no benzene: penalty 0.5
    assert result.total[1] == pytest.approx(qed[1])
    assert result.total[2] == 0.0  # azo alert filters it out


def test_frame_has_raw_and_transformed_columns() -> None:
    frame = build_scoring_function({"components": [{"type": "qed", "name": "drug"}]}).score(SMILES)
    table = frame.to_frame()
    assert list(table.columns) == ["smiles", "valid", "total", "drug", "drug (raw)"]
    assert len(table) == len(SMILES)


def test_in_memory_predictor_replaces_the_configured_source() -> None:
    class Fixed:
        def predict(self, smiles: list[str]) -> np.ndarray:
            return np.full(len(smiles), 8.0)

    config = {
        "components": [{"type": "activity_model", "name": "egfr", "params": {"factory": "x:y"}}]
    }
    function = build_scoring_function(
        config, components={"egfr": ActivityModelComponent.from_predictor(Fixed())}
    )
    result = function.score(["CCO", "bad"])
    assert result.raw["egfr"][0] == 8.0
    assert result.total[0] == pytest.approx(1 / (1 + 10**-1.25))  # default sigmoid 5-8 at 8


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"components": [{"type": "nope"}]}, "components[0].type"),
        ({"components": [{"type": "tanimoto_similarity"}]}, "components[0].params.smiles"),
        ({"components": [{"type": "qed", "weight": -1}]}, "scoring.components.0.weight"),
        ({"components": []}, "scoring.components"),
        ({"components": [{"type": "qed"}], "aggregation": "median"}, "scoring.aggregation"),
    ],
)
def test_bad_configurations_name_the_field(config: dict, field: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        build_scoring_function(config)
    assert info.value.field == field


def test_repeated_names_and_no_score_terms_are_rejected() -> None:
    with pytest.raises(ValueError, match="unique"):
        ScoringConfig.model_validate({"components": [{"type": "qed"}, {"type": "qed"}]})
    with pytest.raises(ConfigurationError, match="at least one 'score' term"):
        build_scoring_function(
            {"components": [{"type": "custom_alerts", "params": {"catalogs": ["PAINS"]}}]}
        )


def test_count_components_demand_a_transform() -> None:
    with pytest.raises(ConfigurationError, match="transform"):
        build_scoring_function({"components": [{"type": "num_rings"}]})
    function = build_scoring_function(
        {"components": [{"type": "num_rings", "transform": {"type": "step", "low": 1}}]}
    )
    assert function.score(["C1CC1", "CCC"]).total.tolist() == [1.0, 0.0]


def test_user_components_register_and_collisions_fail() -> None:
    @register_component("test_ring_atoms", overwrite=True)
    class RingAtoms(ScoringComponent):
        def compute(self, batch: MolBatch) -> np.ndarray:
            return np.array([m.GetRingInfo().NumAtomRings(0) for m in batch.mols], float)

    assert get_component_class("TestRingAtoms") is RingAtoms
    with pytest.raises(AlreadyExistsError):
        register_component("qed")(RingAtoms)
    function = build_scoring_function(
        {
            "components": [
                {
                    "type": "test_ring_atoms",
                    "transform": {"type": "value_mapping", "mapping": {"1": 1.0}},
                }
            ]
        }
    )
    assert function.score(["c1ccccc1", "CC"]).total.tolist() == [1.0, 0.0]
    assert isinstance(function.terms[0].transform, ValueMapping)


def test_config_round_trips_through_json() -> None:
    config = ScoringConfig.model_validate(
        {
            "aggregation": "geometric",
            "components": [
                {"type": "sa_score", "transform": {"type": "reverse_sigmoid", "low": 2, "high": 5}}
            ],
        }
    )
    again = ScoringConfig.model_validate_json(config.model_dump_json())
    assert again == config


def test_importing_scoring_filters_and_maps_loads_no_heavy_library() -> None:
    import json
    import subprocess
    import sys

    code = (
        "import sys, json; import crucible.chem.scoring, crucible.chem.filters, "
        "crucible.viz.chemical_space, crucible.viz.molecules; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], check=True,
                                       capture_output=True, text=True).stdout)  # fmt: skip
    heavy = {"rdkit", "sklearn", "torch", "prefect", "umap", "openTSNE", "matplotlib"}
    assert not heavy & {name.split(".")[0] for name in loaded}


def test_cache_reuses_raw_values_across_calls_and_is_bounded() -> None:
    calls: list[int] = []

    class Counting(ScoringComponent):
        def compute(self, batch: MolBatch) -> np.ndarray:
            calls.append(len(batch))
            return np.array([m.GetNumAtoms() / 10 for m in batch.mols])

    terms = [ScoringTerm("n", Counting(), NoTransform())]
    cached = ScoringFunction(terms, cache_size=3)
    first = cached.score(["CCO", "CC", "bad"])
    again = cached.score(["CC", "CCO", "CCCC", "bad"])
    assert calls == [2, 1]  # only CCCC is new the second time
    assert again.total[0] == first.total[1] and again.total[3] == 0 and not again.valid[3]
    assert len(cached._cache) == 4  # never smaller than the current call
    cached.score(["c1ccccc1"])
    assert len(cached._cache) == 3 and "c1ccccc1" in cached._cache
    assert "CC" not in cached._cache  # the least recently used entry went first
    uncached = ScoringFunction(terms)
    uncached.score(["CCO"]), uncached.score(["CCO"])
    assert calls[-2:] == [1, 1] and not uncached._cache
    assert ScoringFunction(terms).score([]).total.shape == (0,)
