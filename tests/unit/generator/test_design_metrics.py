import json
import math

import numpy as np
import pytest

from crucible.exceptions import InvalidInputError
from crucible.generator.design_metrics import (
    TARGETS,
    DescriptorForest,
    active_fraction,
    evaluate_samples,
    median_nn_similarity,
    missed_targets,
    parse_all,
    score_gain,
    unique_scaffold_fraction,
    valid_fraction,
)

ERLOTINIB = "COCCOc1cc2ncnc(Nc3cccc(C#C)c3)c2cc1OCCOC"
GEFITINIB = "COc1cc2ncnc(Nc3ccc(F)c(Cl)c3)c2cc1OCCCN1CCOCC1"


def test_valid_fraction_counts_unparsable_samples() -> None:
    mols = parse_all(["CCO", "C1CC", "", "c1ccccc1"])
    assert valid_fraction(mols) == 0.5
    assert valid_fraction([]) == 0.0


def test_active_fraction_counts_invalid_as_inactive() -> None:
    assert active_fraction(np.array([7.0, 6.99, np.nan, 8.2])) == 0.5
    assert active_fraction(np.array([7.5]), threshold=8.0) == 0.0
    assert active_fraction(np.array([])) == 0.0


def test_nearest_neighbour_similarity_is_one_for_a_training_active() -> None:
    reference = [m for m in parse_all([ERLOTINIB, GEFITINIB]) if m is not None]
    assert median_nn_similarity(parse_all([ERLOTINIB, None or ""]), reference) == 1.0
    unrelated = median_nn_similarity(parse_all(["CCCCCCO"]), reference)
    assert 0.0 <= unrelated < 0.2
    with pytest.raises(InvalidInputError, match="reference"):
        median_nn_similarity(parse_all(["CCO"]), [])


def test_unique_scaffold_fraction_over_valid_molecules() -> None:
    # two benzene-scaffold molecules, one pyridine, one acyclic (empty scaffold), one invalid
    mols = parse_all(["Cc1ccccc1", "Oc1ccccc1", "c1ccncc1", "CCO", "C1CC"])
    assert unique_scaffold_fraction(mols) == pytest.approx(3 / 4)
    assert unique_scaffold_fraction(parse_all(["C1CC"])) == 0.0


def test_score_gain_treats_nan_as_zero() -> None:
    assert score_gain([0.6, 0.6], [0.3, np.nan]) == pytest.approx(0.6 / 0.15)
    assert score_gain([0.5], [0.0]) == math.inf
    assert math.isnan(score_gain([0.0], [0.0]))


def test_descriptor_forest_learns_a_descriptor_trend() -> None:
    chains = ["C" * n + "O" for n in range(2, 20)]
    values = [float(n) for n in range(2, 20)]
    forest = DescriptorForest(n_estimators=50).fit(chains, values)
    predicted = forest.predict(["CCCO", "C" * 18 + "O", "C1CC"])
    assert predicted[0] < 6 and predicted[1] > 14
    assert math.isnan(predicted[2])


def test_evaluate_samples_and_missed_targets() -> None:
    samples = [ERLOTINIB, GEFITINIB, "CCO", "C1CC"]

    def predict(smiles: list[str]) -> np.ndarray:
        assert "C1CC" not in smiles  # invalid samples never reach the models
        return np.array([8.0 if "ncnc" in s else 5.0 for s in smiles])

    summary = evaluate_samples(
        samples, [ERLOTINIB], predict, predict, [0.8, 0.8, 0.1, 0.0], [0.2, 0.2, 0.2, 0.2]
    )
    assert summary.valid_fraction == 0.75
    assert summary.predicted_active_fraction == 0.5
    assert summary.independent_active_fraction == 0.5
    assert summary.unique_scaffold_fraction == pytest.approx(1.0)
    assert summary.rl_score_gain == pytest.approx(0.425 / 0.2)
    row = json.loads(json.dumps(summary.as_dict()))
    assert set(TARGETS) <= set(row)
    assert 0.4 <= summary.median_nn_similarity_to_actives < 1.0  # 1.0, ~0.5, ~0.1
    assert set(missed_targets(row)) == {"valid_fraction"}
