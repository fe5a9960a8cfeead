import numpy as np
import pytest

from crucible.exceptions import InvalidInputError
from crucible.generator.diversity_filters import (
    DIVERSITY_FILTERS,
    DiversityFilterConfig,
    build_diversity_filter,
)
from crucible.generator.replay import InceptionConfig, ReplayMemory


def _filter(kind: str, **kwargs):
    return build_diversity_filter(DiversityFilterConfig(type=kind, **kwargs))


def test_identical_murcko_bucket_and_repeats() -> None:
    df = _filter("IdenticalMurckoScaffold", bucket_size=2, minscore=0.5)
    batch = ["Cc1ccccc1", "Cc1ccccc1", "Oc1ccccc1", "Nc1ccccc1", "C1CCNCC1", None]
    scores, scaffolds = df.apply(batch, np.array([0.9, 0.9, 0.9, 0.9, 0.9, 0.9]))
    # repeat SMILES -> 0; third benzene member -> 0 (bucket of 2 full); invalid -> 0
    assert list(scores) == [0.9, 0.0, 0.9, 0.0, 0.9, 0.0]
    assert scaffolds[:3] == ["c1ccccc1"] * 3 and scaffolds[-1] == ""


def test_low_scores_are_not_memorised() -> None:
    df = _filter("IdenticalMurckoScaffold", bucket_size=1, minscore=0.5)
    first, _ = df.apply(["Cc1ccccc1"], np.array([0.2]))
    second, _ = df.apply(["Cc1ccccc1", "Oc1ccccc1"], np.array([0.2, 0.8]))
    assert list(first) == [0.2] and list(second) == [0.2, 0.8]
    third, _ = df.apply(["Nc1ccccc1"], np.array([0.8]))
    assert list(third) == [0.0]


def test_topological_scaffold_merges_heteroatom_variants() -> None:
    df = _filter("IdenticalTopologicalScaffold", bucket_size=1, minscore=0.0)
    scores, scaffolds = df.apply(["Cc1ccccc1", "Cc1ccncc1"], np.array([1.0, 1.0]))
    assert scaffolds[0] == scaffolds[1] and list(scores) == [1.0, 0.0]
    murcko = _filter("IdenticalMurckoScaffold", bucket_size=1, minscore=0.0)
    assert list(murcko.apply(["Cc1ccccc1", "Cc1ccncc1"], np.array([1.0, 1.0]))[0]) == [1.0, 1.0]


def test_scaffold_similarity_shares_buckets_of_similar_scaffolds() -> None:
    df = _filter("ScaffoldSimilarity", bucket_size=1, minscore=0.0, minsimilarity=0.3)
    batch = ["CCc1ccc2ccccc2c1", "CCc1ccc2ncccc2c1", "C1CCNC1"]
    scores, scaffolds = df.apply(batch, np.ones(3))
    assert scaffolds[1] == scaffolds[0] and list(scores) == [1.0, 0.0, 1.0]


def test_penalize_same_smiles_multiplies_repeats() -> None:
    df = _filter("PenalizeSameSmiles", penalty_multiplier=0.5)
    scores, _ = df.apply(["CCO", "CCO", "CCN"], np.array([0.8, 0.8, 0.6]))
    assert list(scores) == [0.8, 0.4, 0.6]


def test_registry_and_none() -> None:
    assert set(DIVERSITY_FILTERS) == {
        "IdenticalMurckoScaffold", "IdenticalTopologicalScaffold", "ScaffoldSimilarity",
        "PenalizeSameSmiles",
    }  # fmt: skip
    assert build_diversity_filter(None) is None
    config = DiversityFilterConfig.model_construct(type="Nope")
    with pytest.raises(InvalidInputError):
        build_diversity_filter(config)


def test_replay_memory_keeps_the_best_unique() -> None:
    memory = ReplayMemory(InceptionConfig(memory_size=2, sample_size=5))
    memory.add(["A", "B", "C"], [0.1, 0.9, 0.5], [1.0, 2.0, 3.0])
    memory.add(["A"], [0.95], [1.0])
    assert [e.smiles for e in memory.entries] == ["A", "B"]
    assert len(memory.sample()) == 2
