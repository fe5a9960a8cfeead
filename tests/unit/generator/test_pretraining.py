import json

import torch

from crucible.generator.model_io import load_model
from crucible.generator.pretraining import PretrainConfig, pretrain, read_smiles_file, split_corpus

from .conftest import TINY_CORPUS, TINY_NETWORK


def test_pretraining_records_epochs_checkpoints_and_quality(tmp_path) -> None:
    config = PretrainConfig(
        network=TINY_NETWORK, epochs=3, batch_size=8, learning_rate=1e-2, sample_size=30,
        validation_fraction=0.2, device="cpu", extra_tokens=["I"], max_sequence_length=40,
    )  # fmt: skip
    seen = []
    result = pretrain(TINY_CORPUS * 4, config, tmp_path, data_source="tiny", on_epoch=seen.append)
    assert [r.epoch for r in result.history] == [1, 2, 3] == [r.epoch for r in seen]
    assert result.history[-1].train_nll < result.history[0].train_nll
    assert result.history[-1].valid_nll < result.history[0].valid_nll
    for record in result.history:
        assert 0 <= record.validity <= 1 and 0 <= record.uniqueness <= 1
        assert (tmp_path / f"epoch_{record.epoch}.prior").is_file()
    history = json.loads((tmp_path / "history.json").read_text())
    assert history[2]["learning_rate"] < history[0]["learning_rate"]
    model = load_model(result.model_path)
    assert "I" in model.vocabulary
    assert model.metadata["updates"] == [1, 2, 3]
    assert json.loads(model.metadata["comments"][0])["crucible_recipe"]["epochs"] == 3


def test_time_limit_stops_after_an_epoch(tmp_path) -> None:
    config = PretrainConfig(
        network=TINY_NETWORK, epochs=50, batch_size=8, sample_size=0, time_limit_s=1e-6,
        device="cpu",
    )  # fmt: skip
    result = pretrain(TINY_CORPUS, config, tmp_path)
    assert len(result.history) == 1 and result.stopped_early


def test_read_smiles_file_skips_header_and_reads_gz(tmp_path) -> None:
    import gzip

    path = tmp_path / "x.smi.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("SMILES\nCCO,1\nc1ccccc1 name\n\nCCN\n")
    assert read_smiles_file(path) == ["CCO", "c1ccccc1", "CCN"]
    assert read_smiles_file(path, limit=1) == ["CCO"]


def test_split_is_seeded_and_disjoint() -> None:
    config = PretrainConfig(validation_fraction=0.25)
    train, valid = split_corpus(TINY_CORPUS, config)
    assert len(valid) == 6 and not set(train) & set(valid)
    assert split_corpus(TINY_CORPUS, config) == (train, valid)
    torch.manual_seed(0)


def test_read_smiles_file_uses_a_named_smiles_column(tmp_path) -> None:
    path = tmp_path / "split.csv"
    path.write_text("molecule_id,smiles,pchembl_value\nCHEMBL1,CCO,5.0\nCHEMBL2,c1ccccc1,6\n")
    assert read_smiles_file(path) == ["CCO", "c1ccccc1"]
