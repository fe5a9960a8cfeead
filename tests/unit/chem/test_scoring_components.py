"""Every built-in scoring component passes the shared contract, plus component specifics."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from crucible.chem.components import (
    ActivityModelComponent,
    CustomAlertsComponent,
    PythonCallableComponent,
    SubstructureMatchComponent,
    TanimotoSimilarityComponent,
)
from crucible.chem.scoring import ScoringComponent, available_components, get_component_class
from crucible.exceptions import ConfigurationError, InvalidInputError
from crucible.plugins import SCORING_COMPONENTS
from crucible.testing.scoring_contract import ScoringComponentContract


class HeavyAtomPredictor:
    """A deterministic stand-in model: predicts 4 + heavy atoms / 5 (a fake pChEMBL)."""

    def predict(self, smiles: Sequence[str]) -> np.ndarray:
        from rdkit import Chem

        return np.array([4 + Chem.MolFromSmiles(s).GetNumHeavyAtoms() / 5 for s in smiles])


def make_predictor(offset: float = 0.0) -> HeavyAtomPredictor:
    predictor = HeavyAtomPredictor()
    predictor.offset = offset  # type: ignore[attr-defined]
    return predictor


def smiles_length(smiles: list[str], scale: float = 1.0) -> list[float]:
    return [len(s) * scale for s in smiles]


def _too_short(smiles: list[str]) -> list[float]:
    return [1.0]


# Scoring functions are chosen by registered name, never by import path.
SCORING_COMPONENTS.register("test-make-predictor", make_predictor, overwrite=True)
SCORING_COMPONENTS.register("test-smiles-length", smiles_length, overwrite=True)
SCORING_COMPONENTS.register("test-too-short", _too_short, overwrite=True)

DESCRIPTOR_NAMES = [
    "qed",
    "sa_score",
    "molecular_weight",
    "slogp",
    "tpsa",
    "hbd",
    "hba",
    "rotatable_bonds",
    "num_heavy_atoms",
    "num_rings",
    "num_aromatic_rings",
    "fraction_csp3",
]


@pytest.fixture(params=DESCRIPTOR_NAMES)
def descriptor_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class TestDescriptorComponents(ScoringComponentContract):
    @pytest.fixture(autouse=True)
    def _name(self, descriptor_name: str) -> None:
        self.name = descriptor_name

    def make_component(self) -> ScoringComponent:
        return get_component_class(self.name)()


class TestTanimoto(ScoringComponentContract):
    def make_component(self) -> ScoringComponent:
        return TanimotoSimilarityComponent({"smiles": ["CC(=O)Oc1ccccc1C(=O)O", "C1CC1"]})


class TestSubstructureMatch(ScoringComponentContract):
    def make_component(self) -> ScoringComponent:
        return SubstructureMatchComponent({"smarts": ["c1ccccc1", "[CX3](=O)[OX2H1]"]})


class TestCustomAlerts(ScoringComponentContract):
    def make_component(self) -> ScoringComponent:
        return CustomAlertsComponent({"smarts": ["N=N"], "catalogs": ["PAINS", "BRENK"]})


class TestActivityModelFactory(ScoringComponentContract):
    def make_component(self) -> ScoringComponent:
        return ActivityModelComponent({"factory": "test-make-predictor"})


class TestActivityModelInMemory(ScoringComponentContract):
    def make_component(self) -> ScoringComponent:
        return ActivityModelComponent.from_predictor(HeavyAtomPredictor())


class TestPythonCallable(ScoringComponentContract):
    def make_component(self) -> ScoringComponent:
        return PythonCallableComponent(
            {"function": "test-smiles-length", "kwargs": {"scale": 0.5}}
        )


def test_builtins_are_registered() -> None:
    names = set(available_components())
    assert set(DESCRIPTOR_NAMES) <= names
    assert {"tanimoto_similarity", "custom_alerts", "activity_model", "python_callable"} <= names


def test_component_names_are_case_and_underscore_insensitive() -> None:
    assert get_component_class("Molecular-Weight") is get_component_class("molecular_weight")
    assert get_component_class("SAScore") is get_component_class("sa_score")


def test_known_values_of_descriptors() -> None:
    aspirin = ["CC(=O)Oc1ccccc1C(=O)O"]
    assert get_component_class("molecular_weight")()(aspirin)[0] == pytest.approx(180.159, 1e-3)
    assert get_component_class("hbd")()(aspirin)[0] == 1
    assert get_component_class("hba")()(aspirin)[0] == 3
    assert get_component_class("qed")()(aspirin)[0] == pytest.approx(0.550, abs=1e-3)
    # Ertl's SA score of aspirin is about 1.58 (RDKit Contrib reference implementation).
    assert get_component_class("sa_score")()(aspirin)[0] == pytest.approx(1.58, abs=0.02)


def test_tanimoto_of_a_reference_to_itself_is_one_and_mean_is_lower() -> None:
    refs = ["CC(=O)Oc1ccccc1C(=O)O", "CCCCCCCC"]
    best = TanimotoSimilarityComponent({"smiles": refs})(["CC(=O)Oc1ccccc1C(=O)O"])
    mean = TanimotoSimilarityComponent({"smiles": refs, "aggregate": "mean"})(
        ["CC(=O)Oc1ccccc1C(=O)O"]
    )
    assert best[0] == pytest.approx(1.0)
    assert 0.0 <= mean[0] < 0.6


def test_tanimoto_rejects_an_invalid_reference() -> None:
    with pytest.raises(ValueError, match="positions \\[1\\]"):
        TanimotoSimilarityComponent({"smiles": ["CCO", "C1CC"]})


def test_alerts_count_pains_and_custom_smarts() -> None:
    alerts = CustomAlertsComponent({"smarts": ["[N;R0]=[N;R0]"], "catalogs": ["BRENK"]})
    values = alerts(["CCO", "O=C(O)c1ccccc1N=Nc1ccccc1"])
    assert values[0] == 0
    assert values[1] >= 2  # the custom azo SMARTS plus Brenk's azo group


def test_alerts_need_a_pattern_and_valid_smarts() -> None:
    with pytest.raises(ValueError, match="at least one"):
        CustomAlertsComponent({})
    with pytest.raises(InvalidInputError, match=r"params.smarts\[0\]"):
        SubstructureMatchComponent({"smarts": ["[C"]})


def test_activity_model_needs_exactly_one_source() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        ActivityModelComponent({})
    with pytest.raises(InvalidInputError, match=r"params\.factory"):
        ActivityModelComponent({"factory": "no_such_module_xyz:f"})
    with pytest.raises(InvalidInputError, match="model_path"):
        ActivityModelComponent({"model_path": "/nonexistent/model.pkl"})


def test_activity_model_rejects_objects_without_predict() -> None:
    with pytest.raises(InvalidInputError, match="predict"):
        ActivityModelComponent.from_predictor(object())  # type: ignore[arg-type]


def test_callable_returning_the_wrong_length_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="one value per SMILES"):
        PythonCallableComponent({"function": "test-too-short"})(["CCO", "CCN"])


@pytest.fixture(scope="module")
def saved_forest(tmp_path_factory: pytest.TempPathFactory) -> str:
    from crucible.chem.activity import get_activity_model

    train = ["CCO", "CCCO", "CCCCO", "c1ccccc1", "c1ccccc1O", "CC(=O)O", "CCN", "CCCCCCN"]
    model = get_activity_model("random_forest", {"n_estimators": 5, "n_bits": 256})
    folder = tmp_path_factory.mktemp("rf") / "model"
    model.fit(train, np.linspace(4, 9, len(train))).save(folder)
    return str(folder)


class TestActivityModelSavedRandomForest(ScoringComponentContract):
    """The data helper's saved random forest, loaded through ``model_path``."""

    @pytest.fixture(autouse=True)
    def _folder(self, saved_forest: str) -> None:
        self.folder = saved_forest

    def make_component(self) -> ScoringComponent:
        return ActivityModelComponent({"model_path": self.folder})
