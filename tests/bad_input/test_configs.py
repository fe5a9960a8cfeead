"""Bad configs: every config a user or a flow parameter supplies is refused where it enters,
with a pydantic ValidationError (or an InvalidInputError) naming the field and the fix."""

from __future__ import annotations

import importlib
import math
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from crucible.exceptions import InvalidInputError

INF, NAN = math.inf, math.nan

# module:class, keyword arguments, fragments the message must hold (the field, the fix)
REFUSED: list[tuple[str, dict[str, Any], list[str]]] = [
    # training
    ("crucible.training.config:OptimizerConfig", {"lr": INF}, ["lr", "finite"]),
    ("crucible.training.config:OptimizerConfig", {"lr": NAN}, ["lr", "finite"]),
    ("crucible.training.config:OptimizerConfig", {"lr": -0.1}, ["lr", "greater than 0"]),
    ("crucible.training.config:OptimizerConfig", {"weight_decay": INF}, ["weight_decay"]),
    ("crucible.training.config:TrainConfig", {"device": "quantum"}, ["device", "'cuda:N'"]),
    ("crucible.training.config:TrainConfig", {"device": "cuda:x"}, ["device", "'auto'"]),
    ("crucible.training.config:TrainConfig", {"batch_size": 0}, ["batch_size"]),
    ("crucible.training.config:TrainConfig", {"epochs": 0}, ["epochs"]),
    ("crucible.training.config:TrainConfig", {"seed": -1}, ["seed"]),
    ("crucible.training.config:TrainConfig", {"learning_rate": 0.1}, ["learning_rate", "Extra"]),
    (
        "crucible.training.config:TrainConfig",
        {"epochs": 3, "schedule": {"warmup_epochs": 5}},
        ["schedule.warmup_epochs=5", "epochs=3", "lower"],
    ),
    ("crucible.training.config:TrainConfig", {"model": {"dropout": 1.5}}, ["model.dropout"]),
    ("crucible.training.config:TrainConfig", {"optimizer": {"lr": INF}}, ["optimizer.lr"]),
    ("crucible.training.config:TrainConfig", {"data": {"split_seed": -5}}, ["data.split_seed"]),
    ("crucible.training.config:TrainConfig", {"data": {"name": "mnist"}}, ["data.name", "digits"]),
    # transfer learning
    (
        "crucible.generator.transfer_learning:TransferLearningConfig",
        {"learning_rate": INF},
        ["learning_rate", "finite"],
    ),
    (
        "crucible.generator.transfer_learning:TransferLearningConfig",
        {"device": "quantum"},
        ["device", "'cpu'"],
    ),
    (
        "crucible.generator.transfer_learning:TransferLearningConfig",
        {"learning_rate": 1e-5, "min_learning_rate": 1e-3},
        ["min_learning_rate=0.001", "learning_rate=1e-05"],
    ),
    ("crucible.generator.transfer_learning:TransferLearningConfig", {"epochs": 0}, ["epochs"]),
    ("crucible.generator.transfer_learning:TransferLearningConfig", {"epoch": 5}, ["epoch"]),
    (
        "crucible.generator.transfer_learning:TransferLearningConfig",
        {"prior_sample_fraction": 1.0},
        ["prior_sample_fraction", "less than 1"],
    ),
    (
        "crucible.generator.transfer_learning:TransferLearningConfig",
        {"prior_anchor": INF},
        ["prior_anchor", "finite"],
    ),
    (
        "crucible.generator.transfer_learning:TransferLearningConfig",
        {"frozen_rnn_layers": -1},
        ["frozen_rnn_layers"],
    ),
    (
        "crucible.generator.transfer_learning:TransferLearningConfig",
        {"warmup_steps": -2},
        ["warmup_steps"],
    ),
    # reinforcement learning
    (
        "crucible.generator.reinforcement:LearningStrategyConfig",
        {"invalid_score": 0.5},
        ["invalid_score", "less than or equal to 0"],
    ),
    (
        "crucible.generator.reinforcement:StageConfig",
        {"min_steps": 60, "max_steps": 50},
        ["min_steps=60", "max_steps=50", "lower min_steps"],
    ),
    ("crucible.generator.reinforcement:StageConfig", {"max_score": 2.0}, ["max_score"]),
    (
        "crucible.generator.reinforcement:ReinforcementConfig",
        {"learning_strategy": {"rate": INF}},
        ["learning_strategy.rate"],
    ),
    (
        "crucible.generator.reinforcement:ReinforcementConfig",
        {"learning_strategy": {"sigma": NAN}},
        ["learning_strategy.sigma"],
    ),
    ("crucible.generator.reinforcement:ReinforcementConfig", {"batch_size": 1}, ["batch_size"]),
    (
        "crucible.generator.reinforcement:ReinforcementConfig",
        {"temperature": INF},
        ["temperature"],
    ),
    (
        "crucible.generator.reinforcement:ReinforcementConfig",
        {"diversity_filter": {"minscore": 2}},
        ["diversity_filter.minscore"],
    ),
    (
        "crucible.generator.reinforcement:ReinforcementConfig",
        {"inception": {"memory_size": 0}},
        ["inception.memory_size"],
    ),
    ("crucible.generator.jobs:StageSpec", {"scoring": {"components": []}}, ["scoring"]),
    (
        "crucible.generator.jobs:StageSpec",
        {"scoring": {"components": [{"type": "qed", "weight": INF}]}},
        ["scoring", "weight"],
    ),
    # prior pre-training
    ("crucible.generator.pretraining:PretrainConfig", {"learning_rate": NAN}, ["learning_rate"]),
    ("crucible.generator.pretraining:PretrainConfig", {"device": "tpu"}, ["device", "'auto'"]),
    (
        "crucible.generator.pretraining:PretrainConfig",
        {"network": {"num_layers": 0}},
        ["network.num_layers"],
    ),
    (
        "crucible.generator.pretraining:PretrainConfig",
        {"validation_fraction": 0.9},
        ["validation_fraction"],
    ),
    ("crucible.generator.pretraining:PretrainConfig", {"time_limit_s": INF}, ["time_limit_s"]),
    # activity models
    ("crucible.chem.activity:RandomForestParams", {"n_estimatorz": 5}, ["n_estimatorz"]),
    ("crucible.chem.activity:RandomForestParams", {"n_jobs": 0}, ["n_jobs", "-1"]),
    ("crucible.chem.activity:RandomForestParams", {"max_features": 2.5}, ["max_features"]),
    ("crucible.chem.activity:RandomForestParams", {"seed": 2**40}, ["seed"]),
    ("crucible.chem.activity:ChempropParams", {"device": "quantum"}, ["device"]),
    (
        "crucible.chem.activity:ChempropParams",
        {"init_lr": 1e-2, "max_lr": 1e-3},
        ["init_lr=0.01", "max_lr=0.001"],
    ),
    ("crucible.chem.activity:ChempropParams", {"max_lr": INF}, ["max_lr"]),
    # filters
    ("crucible.chem.filters:FilterConfig", {"activity_min": 250}, ["activity_min", "pChEMBL"]),
    ("crucible.chem.filters:FilterConfig", {"activity_min": -3}, ["activity_min", "pChEMBL"]),
    ("crucible.chem.filters:FilterConfig", {"activity_min": NAN}, ["activity_min"]),
    (
        "crucible.chem.filters:FilterConfig",
        {"property_ranges": {"tpsa": [140, 20]}},
        ["property_ranges.tpsa[0]=140", "property_ranges.tpsa[1]=20"],
    ),
    (
        "crucible.chem.filters:FilterConfig",
        {"property_ranges": {"mw": [200, 500]}},
        ["property", "'mw'", "molecular_weight"],
    ),
    ("crucible.chem.filters:FilterConfig", {"sa_max": 20}, ["sa_max"]),
    ("crucible.chem.filters:FilterConfig", {"qed_min": INF}, ["qed_min"]),
    ("crucible.chem.filters:FilterConfig", {"n_jobs": 0}, ["n_jobs"]),
    ("crucible.chem.filters:FilterConfig", {"lipinsky": True}, ["lipinsky"]),
    # scoring
    ("crucible.chem.scoring:ComponentConfig", {"type": "qed", "weight": -1}, ["weight"]),
    ("crucible.chem.scoring:ComponentConfig", {"type": "qed", "weight": INF}, ["weight"]),
    ("crucible.chem.scoring:ComponentConfig", {"type": "qed", "wieght": 1}, ["wieght"]),
    ("crucible.chem.scoring:ScoringConfig", {"components": []}, ["components"]),
    (
        "crucible.chem.scoring:ScoringConfig",
        {"components": [{"type": "qed"}], "cache_size": -1},
        ["cache_size"],
    ),
    ("crucible.chem.transforms:Sigmoid", {"low": 8, "high": 5}, ["high", "low", "swap"]),
    ("crucible.chem.transforms:Sigmoid", {"low": 5, "high": INF}, ["high"]),
    # HPO
    ("crucible.training.hpo:SamplerConfig", {"seed": -1}, ["seed"]),
    ("crucible.training.hpo:SamplerConfig", {"grid_points": 1}, ["grid_points"]),
    ("crucible.training.hpo:PrunerConfig", {"percentile": 150}, ["percentile"]),
    ("crucible.training.hpo:PrunerConfig", {"percentile": NAN}, ["percentile"]),
    # BO stopping rules (a flow parameter of bo-campaign)
    ("crucible.bo.stopping:StoppingRules", {"min_improvement": INF}, ["min_improvement"]),
    ("crucible.bo.stopping:StoppingRules", {"target": NAN}, ["target"]),
    ("crucible.bo.stopping:StoppingRules", {"max_wall_time_s": INF}, ["max_wall_time_s"]),
    # ligand data query and files
    ("crucible.data.chembl:ChemblQuery", {"target": "EGFR", "organismm": "x"}, ["organismm"]),
    ("crucible.data.chembl:ChemblQuery", {"target": "EGFR", "page_size": 5000}, ["page_size"]),
    ("crucible.data.chembl:ChemblQuery", {"target": "  "}, ["target"]),
    (
        "crucible.data.chembl:ChemblQuery",
        {"target": "EGFR", "activity_types": []},
        ["activity_types", "at least one"],
    ),
    ("crucible.data.io:ColumnMapping", {"smile": "SMILES"}, ["smile"]),
    ("crucible.data.io:ColumnMapping", {"activity_units": "kg"}, ["activity_units"]),
    ("crucible.data.standardise:StandardiseOptions", {"max_heavy_atoms": 0}, ["max_heavy_atoms"]),
    (
        "crucible.data.splits:SplitFractions",
        {"train": 0.5, "valid": 0.5, "test": 0.5},
        ["fractions", "sum to 1"],
    ),
    ("crucible.data.splits:SplitFractions", {"train": INF}, ["train"]),
]


def _model(path: str) -> type[BaseModel]:
    module, _, name = path.partition(":")
    model = getattr(importlib.import_module(module), name)
    assert issubclass(model, BaseModel)
    return model


@pytest.mark.parametrize(
    ("model", "kwargs", "fragments"),
    REFUSED,
    ids=[f"{case[0].rpartition(':')[2]}-{'-'.join(case[1])}" for case in REFUSED],
)
def test_bad_config_value_is_refused_naming_the_field(
    model: str, kwargs: dict[str, Any], fragments: list[str]
) -> None:
    with pytest.raises(ValidationError) as info:
        _model(model)(**kwargs)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, (fragment, message)


# module:class of every flow config; flows import Prefect, so they are loaded lazily here
FLOW_REFUSED: list[tuple[str, dict[str, Any], list[str]]] = [
    (
        "flows.hpo_flow:HpoFlowConfig",
        {"storage_url": "notaurl"},
        ["storage_url", "not a database URL", "sqlite:///"],
    ),
    (
        "flows.hpo_flow:HpoFlowConfig",
        {"tracking_uri": "mlflow here"},
        ["tracking_uri", "not a URI", "http://"],
    ),
    (
        "flows.bo_campaign_flow:BOCampaignConfig",
        {"store_url": "notaurl"},
        ["store_url", "not a database URL"],
    ),
    ("flows.bo_campaign_flow:BOCampaignConfig", {"batch": 4}, ["batch", "Extra"]),
    ("flows.bo_campaign_flow:BOCampaignConfig", {"workers": 0}, ["workers", "greater than"]),
    ("flows.bo_campaign_flow:BOCampaignConfig", {"workers": 65}, ["workers", "less than"]),
    ("flows.bo_campaign_flow:BOCampaignConfig", {"workers": "four"}, ["workers", "integer"]),
    (
        "flows.bo_campaign_flow:BOCampaignConfig",
        {"workers": 4, "evaluation": "human"},
        ["workers=4", "evaluation='human'", "Fix"],
    ),
    (
        "flows.bo_campaign_flow:BOCampaignConfig",
        {"objectives": [{"name": "y", "direction": "up"}]},
        ["objectives.0.direction", "'minimize' or 'maximize'"],
    ),
    (
        "flows.bo_campaign_flow:BOCampaignConfig",
        {"objectives": [{"name": "y", "threshold": INF}]},
        ["objectives.0.threshold", "finite"],
    ),
    (
        "flows.bo_campaign_flow:BOCampaignConfig",
        {"objectives": [{"name": "y"}, {"name": "y", "direction": "maximize"}]},
        ["objectives", "repeat", "Fix"],
    ),
    (
        "flows.training_flow:TrainFlowConfig",
        {"params": {"optimizer.lrr": 0.1}},
        ["optimizer.lrr", "no such training setting"],
    ),
    ("flows.training_flow:TrainFlowConfig", {"params": {"optimizer.lr": INF}}, ["lr"]),
    ("flows.training_flow:TrainFlowConfig", {"tracking_uri": "x"}, ["tracking_uri"]),
    (
        "flows.activity_model_flow:ActivityModelConfig",
        {"kind": "chemprop", "params": {"n_estimators": 5}},
        ["params", "n_estimators"],
    ),
    ("flows.activity_model_flow:ActivityModelConfig", {"kind": "svm"}, ["kind"]),
    ("flows.ligand_data_flow:LigandDataConfig", {"limit": 1}, ["limit"]),
    ("flows.ligand_data_flow:LigandDataConfig", {"split": {"seed": -1}}, ["split.seed"]),
    ("flows.ligand_data_flow:LigandDataConfig", {"source": "ftp"}, ["source"]),
    ("flows.ligand_data_flow:LigandDataConfig", {"source": "file"}, ["needs path", "source="]),
    (
        "flows.ligand_data_flow:LigandDataConfig",
        {"mapping": {"activty": "x"}},
        ["mapping.activty"],
    ),
    (
        "flows.molecular_design_flow:MolecularDesignConfig",
        {"device": "quantum"},
        ["device", "'cuda'"],
    ),
    ("flows.molecular_design_flow:MolecularDesignConfig", {"rl_target": 2}, ["rl_target"]),
    (
        "flows.molecular_design_flow:MolecularDesignConfig",
        {"activity_params": {"trees": 5}},
        ["activity_params", "trees"],
    ),
    (
        "flows.molecular_design_flow:MolecularDesignConfig",
        {"filters": {"activity_min": 250}},
        ["filters.activity_min", "pChEMBL"],
    ),
    (
        "flows.molecular_design_flow:MolecularDesignConfig",
        {"scoring": {"qed_weight": INF}},
        ["scoring.qed_weight"],
    ),
    (
        "flows.molecular_design_flow:MolecularDesignConfig",
        {"tl": {"learning_rate": INF}},
        ["tl.learning_rate"],
    ),
    ("flows.prior_flow:PriorFlowConfig", {"limit": 0}, ["limit"]),
    ("flows.prior_flow:PriorFlowConfig", {"quality_samples": 10**9}, ["quality_samples"]),
    ("flows.molecular_design_flow:MolecularDesignConfig", {"samples": 10**12}, ["samples"]),
    (
        "flows.transfer_learning_flow:TransferLearningFlowConfig",
        {"tl": {"sample_size": 10**8}},
        ["tl.sample_size", "1000000"],
    ),
    ("flows.prior_flow:PriorFlowConfig", {"pretrain": {"device": "quantum"}}, ["pretrain.device"]),
    ("flows.reinforcement_flow:ReinforcementFlowConfig", {"stages": []}, ["stages"]),
    ("flows.reinforcement_flow:ReinforcementFlowConfig", {"device": "gpu"}, ["device"]),
    (
        "flows.reinforcement_flow:ReinforcementFlowConfig",
        {"stages": [{"stage": {"min_steps": 9, "max_steps": 3}}]},
        ["min_steps=9", "max_steps=3"],
    ),
    ("flows.transfer_learning_flow:TransferLearningFlowConfig", {"tl": {"lr": 0.1}}, ["tl.lr"]),
    ("flows.transfer_learning_flow:TransferLearningFlowConfig", {"samples": -1}, ["samples"]),
    ("flows.hpo_flow:HpoFlowConfig", {"max_concurrent": 0}, ["max_concurrent"]),
    ("flows.hpo_flow:HpoFlowConfig", {"recover_stale_after_s": INF}, ["recover_stale_after_s"]),
]


@pytest.mark.parametrize(
    ("model", "kwargs", "fragments"),
    FLOW_REFUSED,
    ids=[f"{case[0].rpartition(':')[2]}-{'-'.join(case[1])}" for case in FLOW_REFUSED],
)
def test_bad_flow_parameter_is_refused_naming_the_field(
    model: str, kwargs: dict[str, Any], fragments: list[str]
) -> None:
    with pytest.raises(ValidationError) as info:
        _model(model).model_validate(kwargs)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_dotted_override_of_an_unknown_setting_names_it_and_the_fix() -> None:
    from crucible.training.config import TrainConfig

    with pytest.raises(InvalidInputError) as info:
        TrainConfig().with_overrides({"optimizer.learning_rate": 0.1})
    assert info.value.field == "optimizer.learning_rate" and "optimizer.lr" in info.value.fix


def test_rl_default_min_steps_follows_a_short_stage_but_explicit_reversal_fails() -> None:
    from crucible.generator.reinforcement import StageConfig

    assert StageConfig(max_steps=20).min_steps == 20  # default 50 clipped, not an error
    with pytest.raises(ValidationError, match="min_steps=21 must be <= max_steps=20"):
        StageConfig(max_steps=20, min_steps=21)


def test_assignment_is_validated_too() -> None:
    from crucible.training.config import TrainConfig

    config = TrainConfig()
    with pytest.raises(ValidationError, match="device"):
        config.device = "quantum"
    assert config.device == "auto"


@pytest.mark.parametrize("name", ["quantum", "CUDA", "cuda:", "graphics", ""])
def test_resolve_device_refuses_unknown_names(name: str) -> None:
    from crucible.device import resolve_device

    with pytest.raises(InvalidInputError) as info:
        resolve_device(name)
    assert info.value.field == "device" and "'cuda:N'" in str(info.value)


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:1"])
def test_every_accepted_device_form_validates(device: str) -> None:
    from crucible.training.config import TrainConfig

    assert TrainConfig(device=device).device == device


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"method": "mds"}, "method"),
        ({"seed": -1}, "seed"),
        ({"seed": "7"}, "seed"),
        ({"radius": 12}, "radius"),
        ({"n_bits": 0}, "n_bits"),
        ({"n_jobs": 0}, "n_jobs"),
    ],
)
def test_chemical_space_options_are_refused_before_any_work(
    options: dict[str, Any], field: str
) -> None:
    from crucible.viz.chemical_space import chemical_space_map

    sets = {"a": ["CCO", "CCN", "CCC", "c1ccccc1"]}
    with pytest.raises(InvalidInputError) as info:
        chemical_space_map(sets, **options)
    assert info.value.field == field and "Fix:" in str(info.value)
