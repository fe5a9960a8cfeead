"""Generator task bodies (``task.fn``); artifacts go to the session's test Prefect server."""

import csv
from pathlib import Path

import pytest

from crucible.chem.scoring import ScoringConfig
from crucible.generator.jobs import StageSpec, use_reinvent
from crucible.generator.model import NetworkConfig
from crucible.generator.pretraining import PretrainConfig
from crucible.generator.reinforcement import ReinforcementConfig, StageConfig
from crucible.generator.transfer_learning import TransferLearningConfig
from crucible.settings import get_settings
from crucible.testing.generator import TINY_CORPUS, train_tiny_prior, write_tiny_corpus
from tasks.generator import (
    _tl_cache_key,
    pretrain_prior,
    reinforce,
    sample,
    transfer_learn,
    transfer_learn_reinvent,
)

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture(scope="module")
def tiny_prior(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(train_tiny_prior(tmp_path_factory.mktemp("prior")))


def _split(tmp_path: Path) -> tuple[str, str]:
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    rows = ["molecule_id,smiles"] + [f"M{i},{s}" for i, s in enumerate(TINY_CORPUS[:24])]
    train.write_text("\n".join([*rows, "M99,CCI", "M98,CC.[Na+]"]) + "\n")
    tests = [f"T{i},{s}" for i, s in enumerate(TINY_CORPUS[24:])]
    test.write_text("molecule_id,smiles\n" + "\n".join(tests) + "\n")
    return str(train), str(test)


def test_pretrain_task_tracks_epochs_in_mlflow(tmp_path: Path) -> None:
    import mlflow

    config = PretrainConfig(
        network=NetworkConfig(num_layers=1, layer_size=16, embedding_layer_size=8), epochs=2,
        batch_size=16, sample_size=20, max_sequence_length=40, device="cpu",
        validation_fraction=0.2,
    )  # fmt: skip
    corpus = write_tiny_corpus(tmp_path / "corpus.smi", repeats=2)
    result = pretrain_prior.fn(str(corpus), config, str(tmp_path / "out"))
    assert Path(result.model_path).is_file() and Path(result.plot).is_file()
    assert [row.epoch for row in result.history] == [1, 2]
    client = mlflow.MlflowClient(get_settings().mlflow_tracking_uri)
    history = client.get_metric_history(result.mlflow_run_id, "valid_nll")
    assert [m.step for m in history] == [1, 2]
    artifacts = {a.path for a in client.list_artifacts(result.mlflow_run_id)}
    assert {"nll.png", "history.json", "prior.prior"} <= artifacts


def test_transfer_learn_task_reports_best_epoch_and_skips(tiny_prior: str, tmp_path: Path) -> None:
    train, test = _split(tmp_path)
    config = TransferLearningConfig(epochs=2, batch_size=8, sample_size=10, device="cpu")
    result = transfer_learn.fn(tiny_prior, train, test, config, str(tmp_path / "tl"), track=False)
    assert result.best_epoch in (1, 2) and result.validation_size == len(TINY_CORPUS[24:])
    assert result.skipped_count == 1  # the salt; "CCI" is in the vocabulary
    with open(result.skipped_csv) as handle:
        assert next(csv.reader(handle)) == ["SMILES", "reason"]
    assert Path(result.model_path).name == "model.prior"


def test_transfer_learning_cache_key_follows_files_and_config(tiny_prior, tmp_path) -> None:
    train, test = _split(tmp_path)
    params = dict(prior_path=tiny_prior, train_path=train, valid_path=test,
                  config={"epochs": 2}, output_dir="x")  # fmt: skip
    key = _tl_cache_key(None, params)
    assert key == _tl_cache_key(None, dict(params))
    assert key != _tl_cache_key(None, {**params, "config": {"epochs": 3}})
    Path(train).write_text(Path(train).read_text() + "M100,CCCC\n")
    assert key != _tl_cache_key(None, params)


def test_reinforce_task_with_qed_scoring(tiny_prior: str, tmp_path: Path) -> None:
    qed = ScoringConfig.model_validate({"components": [{"type": "qed"}]})
    stages = [StageSpec(stage=StageConfig(max_steps=2, min_steps=2), scoring=qed)]
    result = reinforce.fn(tiny_prior, None, stages, ReinforcementConfig(batch_size=16),
                          str(tmp_path / "rl"), device="cpu", track=False)  # fmt: skip
    assert result.steps == 2 and Path(result.plot).is_file() and len(result.history) == 2
    with open(result.csv_paths[0]) as handle:
        header = next(csv.reader(handle))
    assert header[-3:] == ["qed", "qed (raw)", "step"]
    assert Path(tmp_path / "rl" / "stage_1.chkpt").is_file()


def test_sample_task_writes_reinvent_sampling_csv(tiny_prior: str, tmp_path: Path) -> None:
    result = sample.fn(tiny_prior, 50, str(tmp_path / "s.csv"), device="cpu")
    with open(result.csv) as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["SMILES", "SMILES_state", "NLL"] and len(rows) == 51
    assert 0 <= result.validity <= 1 and result.rows == 50


def test_reinvent_engine_hands_tl_to_an_external_reinvent(tiny_prior, tmp_path, monkeypatch):
    import os
    import stat
    import sys

    fake = tmp_path / "bin" / "reinvent"
    fake.parent.mkdir()
    fake.write_text(
        f"#!{sys.executable}\n"
        "import shutil, sys, tomllib\n"
        "p = tomllib.load(open(sys.argv[-1], 'rb'))['parameters']\n"
        "assert open(p['smiles_file']).read().strip()\n"
        "shutil.copyfile(p['input_model_file'], p['output_model_file'])\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    train, test = _split(tmp_path)
    assert use_reinvent("auto")
    result = transfer_learn_reinvent.fn(
        tiny_prior, train, test, TransferLearningConfig(device="cpu"), str(tmp_path / "ext")
    )
    assert result.engine == "reinvent" and Path(result.model_path).is_file()
