import csv
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

from crucible.exceptions import InvalidInputError
from crucible.generator.diversity_filters import DiversityFilterConfig
from crucible.generator.model import GenerativeModel
from crucible.generator.model_io import load_model
from crucible.generator.pretraining import PretrainConfig, pretrain
from crucible.generator.reinforcement import (
    STATE_DUPLICATE,
    STATE_INVALID,
    STATE_VALID,
    LearningStrategyConfig,
    ReinforcementConfig,
    Scorer,
    Stage,
    StageConfig,
    classify,
    dap_loss,
    likelihood_penalty,
    reinforce,
)
from crucible.generator.replay import InceptionConfig
from crucible.generator.tokenizer import Vocabulary

from .conftest import TINY_CORPUS, TINY_NETWORK


@dataclass
class _Result:
    total: np.ndarray
    raw: dict = field(default_factory=dict)
    transformed: dict = field(default_factory=dict)


class NitrogenScorer:
    """Test scorer: 1 for SMILES with a nitrogen atom, else 0.1; counts calls."""

    def __init__(self) -> None:
        self.scored: list[str] = []

    def score(self, smiles):
        self.scored.extend(smiles)
        raw = np.array([float(s.count("N") + s.count("n")) for s in smiles])
        total = np.where(raw > 0, 1.0, 0.1)
        return _Result(total, {"nitrogens": raw}, {"nitrogens": total})


@pytest.fixture(scope="module")
def trained_tiny(tmp_path_factory) -> GenerativeModel:
    config = PretrainConfig(
        network=TINY_NETWORK, epochs=12, batch_size=16, learning_rate=1e-2, sample_size=0,
        validation_fraction=0.0, device="cpu",
    )  # fmt: skip
    result = pretrain(TINY_CORPUS * 6, config, tmp_path_factory.mktemp("prior"))
    return load_model(result.model_path)


def test_dap_loss_matches_formula() -> None:
    agent_nll = torch.tensor([10.0, 20.0])
    prior_nll = torch.tensor([12.0, 18.0])
    scores = torch.tensor([0.5, 0.0])
    loss, augmented = dap_loss(agent_nll, prior_nll, scores, sigma=128.0)
    expected_aug = torch.tensor([-12.0 + 64.0, -18.0])
    assert torch.allclose(augmented, expected_aug)
    assert torch.allclose(loss, (expected_aug + agent_nll) ** 2)


def test_likelihood_penalty_is_weighted_mean_inverse_nll_and_raises_nll() -> None:
    nll = torch.tensor([10.0, 40.0], requires_grad=True)
    penalty = likelihood_penalty(nll, 5000.0)
    assert float(penalty.detach()) == pytest.approx(5000.0 * (0.1 + 0.025) / 2)
    penalty.backward()
    assert nll.grad is not None
    # descending the penalty raises the NLL, most for the most likely sequence
    assert (nll.grad < 0).all() and nll.grad[0] < nll.grad[1]


def test_likelihood_penalty_keeps_the_agent_nll_higher(trained_tiny, tmp_path) -> None:
    def final_nll(weight: float) -> float:
        torch.manual_seed(5)
        strategy = LearningStrategyConfig(rate=5e-3, likelihood_penalty=weight)
        config = _config(batch_size=32, diversity_filter=None, learning_strategy=strategy)
        stage = Stage(StageConfig(max_steps=15, min_steps=15), NitrogenScorer())
        result = reinforce(trained_tiny, trained_tiny.clone(), [stage], config,
                           tmp_path / str(weight))  # fmt: skip
        return float(np.mean([r.agent_nll for r in result.history[-5:]]))

    assert final_nll(5000.0) > final_nll(0.0) + 1.0


def test_invalid_score_lowers_the_target_of_invalid_smiles_only(trained_tiny, tmp_path) -> None:
    torch.manual_seed(0)
    strategy = LearningStrategyConfig(rate=1e-3, invalid_score=-0.5)
    stage = Stage(StageConfig(max_steps=4, min_steps=4), NitrogenScorer())
    result = reinforce(trained_tiny, trained_tiny.clone(), [stage],
                       _config(learning_strategy=strategy), tmp_path)  # fmt: skip
    with open(result.csv_paths[0]) as handle:
        rows = list(csv.DictReader(handle))
    assert {row["SMILES_state"] for row in rows} >= {"0", "1"}
    for row in rows:
        shift = -64.0 if row["SMILES_state"] == "0" else 128 * float(row["Score"])
        assert float(row["Target"]) == pytest.approx(-float(row["Prior"]) + shift, abs=1e-2)
        if row["SMILES_state"] == "0":
            assert float(row["Score"]) == 0.0  # the reported score stays 0


def test_classify_marks_invalid_and_in_batch_duplicates() -> None:
    canonical, states = classify(["CCO", "OCC", "C1CC", "c1ccccc1"])
    assert canonical == ["CCO", "CCO", None, "c1ccccc1"]
    assert list(states) == [STATE_VALID, STATE_DUPLICATE, STATE_INVALID, STATE_VALID]


def test_scorer_protocol_accepts_the_chem_scoring_function() -> None:
    from crucible.chem.scoring import ScoringConfig, build_scoring_function

    function = build_scoring_function(ScoringConfig(components=[{"type": "qed"}]))
    assert isinstance(function, Scorer) and isinstance(NitrogenScorer(), Scorer)


def _config(**kwargs) -> ReinforcementConfig:
    base = dict(batch_size=16, learning_strategy=LearningStrategyConfig(rate=1e-3))
    return ReinforcementConfig(**{**base, **kwargs})


def test_csv_has_reinvent_columns_and_one_row_per_smiles_per_step(trained_tiny, tmp_path) -> None:
    torch.manual_seed(0)
    stages = [
        Stage(StageConfig(max_steps=3, min_steps=3), NitrogenScorer()),
        Stage(StageConfig(max_steps=5, min_steps=0, max_score=0.0, chkpt_file="s2.chkpt"),
              NitrogenScorer()),
    ]  # fmt: skip
    result = reinforce(trained_tiny, trained_tiny.clone(), stages, _config(), tmp_path)
    assert [r.stage for r in result.history] == [1, 1, 1, 2]  # stage 2 hits its target at once
    with open(result.csv_paths[0]) as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == [
        "Agent", "Prior", "Target", "Score", "SMILES", "SMILES_state", "Scaffold",
        "nitrogens", "nitrogens (raw)", "step",
    ]  # fmt: skip
    assert len(rows) == 3 * 16 and {r["step"] for r in rows} == {"1", "2", "3"}
    for row in rows:
        target = -float(row["Prior"]) + 128 * float(row["Score"])
        assert float(row["Target"]) == pytest.approx(target, abs=1e-2)
        if row["SMILES_state"] != "1":
            assert float(row["Score"]) == 0.0
    data = torch.load(tmp_path / "s2.chkpt", weights_only=True)
    assert data["staged_learning"]["stage"] == 2
    assert load_model(result.agent_path).vocabulary.tokens == trained_tiny.vocabulary.tokens


def test_rl_raises_the_score_and_keeps_prior_frozen(trained_tiny, tmp_path) -> None:
    torch.manual_seed(3)
    prior_state = {k: v.clone() for k, v in trained_tiny.network.state_dict().items()}
    stage = Stage(StageConfig(max_steps=25, min_steps=25), NitrogenScorer())
    config = _config(
        batch_size=32, diversity_filter=None, learning_strategy=LearningStrategyConfig(rate=5e-3)
    )
    result = reinforce(trained_tiny, trained_tiny.clone(), [stage], config, tmp_path)
    scores = [r.mean_score for r in result.history]
    assert np.mean(scores[-5:]) > np.mean(scores[:5]) + 0.1
    for key, value in trained_tiny.network.state_dict().items():
        assert torch.equal(value, prior_state[key])


def test_inception_memory_is_filled_and_seeded(trained_tiny, tmp_path) -> None:
    from crucible.generator.reinforcement import StagedLearning

    config = _config(inception=InceptionConfig(memory_size=5, sample_size=3, smiles=["CCN"]))
    learner = StagedLearning(trained_tiny, trained_tiny.clone(), config, tmp_path)
    learner.run([Stage(StageConfig(max_steps=2, min_steps=2), NitrogenScorer())])
    assert 0 < len(learner.memory) <= 5
    assert "CCN" in {e.smiles for e in learner.memory.entries}


def test_inception_memory_is_seeded_from_a_smiles_file(trained_tiny, tmp_path) -> None:
    from crucible.generator.reinforcement import StagedLearning

    seeds = tmp_path / "actives.smi"
    seeds.write_text("CCN\nCCCN\nnot-a-smiles\n")
    inception = InceptionConfig(memory_size=5, sample_size=3, smiles_file=str(seeds))
    learner = StagedLearning(trained_tiny, trained_tiny.clone(), _config(inception=inception),
                             tmp_path / "rl")  # fmt: skip
    learner._seed_memory(NitrogenScorer())
    assert {e.smiles for e in learner.memory.entries} == {"CCN", "CCCN"}


def test_oracle_budget_stops_the_run_and_each_smiles_is_scored_once(
    trained_tiny, tmp_path
) -> None:
    scorer = NitrogenScorer()
    stage = Stage(StageConfig(max_steps=50, min_steps=50), scorer)
    result = reinforce(trained_tiny, trained_tiny.clone(), [stage], _config(max_oracle_calls=20),
                       tmp_path)  # fmt: skip
    assert len(result.history) < 50 and result.history[-1].oracle_calls >= 20
    assert len(scorer.scored) == len(set(scorer.scored)) == len(result.scored)


def test_diversity_filter_zeroes_repeated_smiles_in_the_run(trained_tiny, tmp_path) -> None:
    stage = Stage(StageConfig(max_steps=4, min_steps=4), NitrogenScorer())
    config = _config(diversity_filter=DiversityFilterConfig(bucket_size=1, minscore=0.0))
    result = reinforce(trained_tiny, trained_tiny.clone(), [stage], config, tmp_path)
    with open(result.csv_paths[0]) as handle:
        rows = [r for r in csv.DictReader(handle) if r["SMILES_state"] == "1"]
    by_scaffold: dict[str, int] = {}
    for row in rows:
        if float(row["Score"]) > 0:
            by_scaffold[row["Scaffold"]] = by_scaffold.get(row["Scaffold"], 0) + 1
    assert by_scaffold and max(by_scaffold.values()) == 1


def test_vocabulary_mismatch_is_rejected(trained_tiny, tmp_path) -> None:
    other = GenerativeModel.create(Vocabulary.from_smiles(["CCO"]), TINY_NETWORK)
    with pytest.raises(InvalidInputError, match="vocabulary"):
        reinforce(trained_tiny, other, [Stage(StageConfig(), NitrogenScorer())], _config(),
                  tmp_path)  # fmt: skip
    with pytest.raises(InvalidInputError, match="stages"):
        reinforce(trained_tiny, trained_tiny.clone(), [], _config(), tmp_path)
