import os
import stat
import sys
import tomllib
from pathlib import Path

import pytest

from crucible.exceptions import ConfigurationError
from crucible.generator.diversity_filters import DiversityFilterConfig
from crucible.generator.reinforcement import (
    LearningStrategyConfig,
    ReinforcementConfig,
    StageConfig,
)
from crucible.generator.reinvent_toml import (
    run_reinvent,
    staged_learning_config,
    to_toml,
    transfer_learning_config,
)
from crucible.generator.replay import InceptionConfig
from crucible.generator.transfer_learning import TransferLearningConfig

SCORING = {
    "aggregation": "geometric",
    "components": [
        {"type": "qed", "weight": 1.0},
        {"type": "molecular_weight", "name": "MW",
         "transform": {"type": "double_sigmoid", "low": 200, "high": 500}},
        {"type": "tanimoto_similarity", "params": {"smiles": ["c1ccccc1O"]}},
        {"type": "num_rings", "transform": {"type": "step", "low": 2}},
    ],
}  # fmt: skip


def test_transfer_learning_toml_has_reinvent_keys() -> None:
    config = TransferLearningConfig(epochs=7, batch_size=32, learning_rate=2e-4, device="cpu")
    data = tomllib.loads(to_toml(transfer_learning_config(
        config, "prior.prior", "train.smi", "tl.model", "valid.smi")))  # fmt: skip
    assert data["run_type"] == "transfer_learning" and data["device"] == "cpu"
    parameters = data["parameters"]
    assert parameters["num_epochs"] == 7 and parameters["batch_size"] == 32
    assert parameters["validation_smiles_file"] == "valid.smi"
    assert parameters["sample_batch_size"] >= 100
    assert data["scheduler"] == {"lr": 2e-4, "min": 1e-7, "gamma": 0.95, "step": 10}


def test_staged_learning_refuses_a_likelihood_penalty_reinvent_lacks() -> None:
    config = ReinforcementConfig(learning_strategy=LearningStrategyConfig(likelihood_penalty=5e3))
    stages = [(StageConfig(), {"components": [{"type": "qed"}]})]
    with pytest.raises(ConfigurationError, match="likelihood_penalty"):
        staged_learning_config(config, stages, "p.prior", "a.prior")


def test_staged_learning_refuses_an_invalid_score_reinvent_lacks() -> None:
    config = ReinforcementConfig(learning_strategy=LearningStrategyConfig(invalid_score=-0.3))
    stages = [(StageConfig(), {"components": [{"type": "qed"}]})]
    with pytest.raises(ConfigurationError, match="invalid_score"):
        staged_learning_config(config, stages, "p.prior", "a.prior")


def test_staged_learning_toml_round_trips_with_nested_arrays_of_tables() -> None:
    config = ReinforcementConfig(
        batch_size=64, diversity_filter=DiversityFilterConfig(bucket_size=10),
        inception=InceptionConfig(memory_size=20, sample_size=5),
    )  # fmt: skip
    stages = [(StageConfig(max_steps=50, min_steps=10, max_score=0.8), SCORING),
              (StageConfig(max_steps=20), {"components": [{"type": "qed"}]})]  # fmt: skip
    data = tomllib.loads(to_toml(staged_learning_config(config, stages, "p.prior", "a.prior",
                                                        device="cpu")))  # fmt: skip
    assert data["learning_strategy"] == {"type": "dap", "sigma": 128.0, "rate": 1e-4}
    assert data["diversity_filter"]["type"] == "IdenticalMurckoScaffold"
    assert data["diversity_filter"]["bucket_size"] == 10
    assert data["inception"] == {"memory_size": 20, "sample_size": 5}
    first, second = data["stage"]
    assert first["max_steps"] == 50 and first["chkpt_file"] == "stage_1.chkpt"
    assert first["scoring"]["type"] == "geometric_mean"
    components = first["scoring"]["component"]
    assert [next(iter(c)) for c in components] == [
        "QED", "MolecularWeight", "TanimotoSimilarity", "NumRings",
    ]  # fmt: skip
    weight = components[1]["MolecularWeight"]["endpoint"][0]
    assert weight["name"] == "MW" and weight["transform"]["type"] == "double_sigmoid"
    assert components[2]["TanimotoSimilarity"]["endpoint"][0]["params"]["smiles"] == ["c1ccccc1O"]
    assert components[3]["NumRings"]["endpoint"][0]["transform"] == {"type": "right_step",
                                                                     "low": 2.0}  # fmt: skip
    assert second["scoring"]["component"][0]["QED"]["endpoint"][0]["weight"] == 1.0


def test_components_without_reinvent_counterpart_are_refused() -> None:
    scoring = {"components": [{"type": "python_callable", "params": {"function": "math:fabs"}}]}
    with pytest.raises(ConfigurationError, match="no REINVENT 4 counterpart"):
        staged_learning_config(ReinforcementConfig(), [(StageConfig(), scoring)], "p", "a")


def test_runner_writes_toml_and_calls_reinvent(tmp_path: Path, monkeypatch) -> None:
    fake = tmp_path / "bin" / "reinvent"
    fake.parent.mkdir()
    fake.write_text(
        f"#!{sys.executable}\n"
        "import sys, tomllib\n"
        "config = tomllib.load(open(sys.argv[-1], 'rb'))\n"
        "open(config['parameters']['output_model_file'], 'w').write('model')\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    config = transfer_learning_config(TransferLearningConfig(device="cpu"), "p", "t.smi",
                                      str(tmp_path / "tl.model"))  # fmt: skip
    result = run_reinvent(config, tmp_path / "work")
    assert result["returncode"] == 0 and (tmp_path / "tl.model").read_text() == "model"
    assert tomllib.loads(Path(result["toml"]).read_text())["run_type"] == "transfer_learning"


def test_runner_without_reinvent_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigurationError, match="no 'reinvent' executable"):
        run_reinvent({"run_type": "sampling"}, tmp_path)


def test_inception_smiles_file_is_reinvents_key(tmp_path) -> None:
    seeds = str(tmp_path / "actives.smi")
    config = ReinforcementConfig(inception=InceptionConfig(memory_size=20, smiles_file=seeds))
    out = staged_learning_config(config, [(StageConfig(), {"components": [{"type": "qed"}]})],
                                 "p.prior", "a.prior")  # fmt: skip
    assert out["inception"] == {"memory_size": 20, "sample_size": 10, "smiles_file": seeds}


@pytest.mark.parametrize(
    "option",
    [{"freeze_embedding": True}, {"frozen_rnn_layers": 1}, {"prior_anchor": 0.1},
     {"warmup_steps": 8}, {"prior_sample_fraction": 0.2}],
)  # fmt: skip
def test_transfer_learning_refuses_options_reinvent_lacks(option: dict) -> None:
    config = TransferLearningConfig(**option)
    with pytest.raises(ConfigurationError, match=next(iter(option))):
        transfer_learning_config(config, "prior", "train.smi", "out.model")
