"""The RL recipes and how the reinforcement flow picks one by objective."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from crucible.exceptions import InvalidInputError
from crucible.generator import BROAD_PRIOR_PATH, DEFAULT_PRIOR_PATH
from crucible.generator.jobs import StageSpec, run_reinvent_reinforcement, stage_scorer
from crucible.generator.oracles import Oracle
from crucible.generator.recipes import (
    oracle_reinforcement,
    recipe_for_objectives,
    reinforcement_recipe,
)
from crucible.generator.reinforcement import ReinforcementConfig
from flows.reinforcement_flow import PRESETS, ReinforcementFlowConfig

TWO_COMPONENTS = {"components": [{"type": "qed"}, {"type": "sa_score"}]}


def test_oracle_recipe_is_pmo_settings_with_inception_and_no_filter() -> None:
    config = oracle_reinforcement(seed=3)
    assert (config.learning_strategy.sigma, config.learning_strategy.rate) == (60.0, 5e-4)
    assert config.inception is not None and config.inception.sample_size == 10
    assert config.diversity_filter is None and config.batch_size == 64 and config.seed == 3


@pytest.mark.parametrize(
    ("counts", "recipe"),
    [([1], "oracle"), ([1, 1], "oracle"), ([0], "oracle"), ([3], "design"), ([1, 2], "design")],
)
def test_recipe_follows_the_number_of_objectives(counts: list[int], recipe: str) -> None:
    assert recipe_for_objectives(counts) == recipe


def test_flow_picks_the_oracle_recipe_for_a_pmo_oracle_stage() -> None:
    config = ReinforcementFlowConfig(stages=[StageSpec(oracle="zaleplon_mpo")])
    assert config.recipe() == "oracle"
    assert config.rl_settings() == oracle_reinforcement()


def test_flow_default_single_component_run_gets_the_oracle_recipe() -> None:
    config = PRESETS.resolve("default", ReinforcementFlowConfig())
    assert config.recipe() == "oracle"
    assert config.rl_settings().inception is not None


def test_flow_picks_the_design_recipe_for_an_aggregate_and_applies_rl_changes() -> None:
    config = ReinforcementFlowConfig(
        stages=[StageSpec(scoring=TWO_COMPONENTS)], rl=ReinforcementConfig(batch_size=16)
    )
    settings = PRESETS.resolve("default", config).rl_settings()
    assert config.recipe() == "design"
    assert settings.batch_size == 16 and settings.learning_strategy.sigma == 60.0
    assert settings.diversity_filter is not None and settings.diversity_filter.bucket_size == 50


def test_flow_recipe_can_be_named() -> None:
    config = ReinforcementFlowConfig(stages=[StageSpec(oracle="qed")], rl_recipe="reinvent4")
    assert config.rl_settings() == reinforcement_recipe("reinvent4") == ReinforcementConfig()


def test_each_recipe_starts_from_its_shipped_prior_unless_a_prior_is_given() -> None:
    oracle = ReinforcementFlowConfig(stages=[StageSpec(oracle="mestranol_similarity")])
    design = ReinforcementFlowConfig(stages=[StageSpec(scoring=TWO_COMPONENTS)])
    named = ReinforcementFlowConfig(stages=[StageSpec(oracle="qed")], rl_recipe="reinvent4")
    assert oracle.prior_file() == str(BROAD_PRIOR_PATH)
    assert design.prior_file() == named.prior_file() == str(DEFAULT_PRIOR_PATH)
    given = oracle.model_copy(update={"prior_path": str(DEFAULT_PRIOR_PATH)})
    assert given.prior_file() == str(DEFAULT_PRIOR_PATH)


def test_oracle_stage_is_scored_by_the_oracle() -> None:
    scorer = stage_scorer(StageSpec(oracle="isomers_c7h8n2o2"))
    assert isinstance(scorer, Oracle)
    scores = scorer(["Cc1ccc(N)c([N+](=O)[O-])c1", "CCO"])
    assert scores[0] == pytest.approx(1.0) and scores[1] < 0.01


def test_unknown_oracle_names_the_field() -> None:
    with pytest.raises(ValidationError, match="oracle"):
        StageSpec(oracle="zaleplon")


def test_reinvent_engine_refuses_oracle_stages(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"stages\.oracle"):
        run_reinvent_reinforcement(
            None, None, [StageSpec(oracle="median1")], ReinforcementConfig(), tmp_path
        )


def test_design_recipe_replays_the_actives_and_penalises_invalid_smiles(tmp_path: Path) -> None:
    from crucible.generator.recipes import design_reinforcement, with_replayed_actives

    config = design_reinforcement(seed=2)
    assert config.learning_strategy.invalid_score == -0.5 and config.inception is not None
    actives = str(tmp_path / "train.csv")
    seeded = with_replayed_actives(config, actives)
    assert seeded.inception is not None and seeded.inception.smiles_file == actives
    assert config.inception.smiles_file == ""  # the recipe itself is unchanged
    plain = config.model_copy(update={"inception": None})
    assert with_replayed_actives(plain, actives) == plain
