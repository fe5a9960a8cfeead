import pickle
import sys
import types
import uuid

import pytest
import torch

from crucible.exceptions import InvalidInputError, NotFoundError
from crucible.generator import DEFAULT_PRIOR_PATH
from crucible.generator.model_io import load_model, model_to_dict, read_model_dict, save_model

REINVENT_KEYS = {
    "model_type", "version", "metadata", "vocabulary", "max_sequence_length", "network",
    "network_params",
}  # fmt: skip


def test_saved_file_is_plain_types_and_round_trips(tiny_model, tmp_path) -> None:
    path = save_model(tiny_model, tmp_path / "m.prior")
    data = torch.load(path, weights_only=True)
    assert set(data) == REINVENT_KEYS
    assert data["model_type"] == "Reinvent" and data["version"] == 1
    assert data["vocabulary"]["tokens"]["$"] == 0 and data["vocabulary"]["tokens"]["^"] == 1
    assert data["network_params"]["layer_size"] == 32
    assert set(data["metadata"]) >= {"model_id", "origina_data_source", "updates"}
    loaded = load_model(path)
    smiles = ["CCO", "c1ccccc1"]
    assert loaded.likelihood_smiles(smiles) == pytest.approx(tiny_model.likelihood_smiles(smiles))


def _write_reinvent_style_file(data: dict, path) -> None:
    """Pickle stand-ins of REINVENT's own classes, as REINVENT itself writes files."""
    names = ["reinvent", "reinvent.models", "reinvent.models.meta_data"]
    modules = {name: types.ModuleType(name) for name in names}

    class SMILESTokenizer:
        pass

    class ModelMetaData:
        def __init__(self) -> None:
            self.model_id = uuid.uuid4()
            self.origina_data_source = "chembl"

    for cls in (SMILESTokenizer, ModelMetaData):
        cls.__module__ = "reinvent.models.meta_data"
        cls.__qualname__ = cls.__name__
        setattr(modules["reinvent.models.meta_data"], cls.__name__, cls)
    sys.modules.update(modules)
    try:
        torch.save({**data, "tokenizer": SMILESTokenizer(), "metadata": ModelMetaData()}, path)
    finally:
        for name in names:
            sys.modules.pop(name)


def test_reads_files_that_pickle_reinvent_classes_without_reinvent(tiny_model, tmp_path) -> None:
    path = tmp_path / "reinvent.prior"
    _write_reinvent_style_file(model_to_dict(tiny_model), path)
    assert "reinvent" not in sys.modules
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
    loaded = load_model(path)
    assert loaded.metadata["origina_data_source"] == "chembl"
    assert isinstance(loaded.metadata["model_id"], str)
    assert loaded.likelihood_smiles(["CCO"]) == pytest.approx(
        tiny_model.likelihood_smiles(["CCO"])
    )
    assert "reinvent" not in sys.modules


class _Evil:
    def __reduce__(self):
        import os

        return (os.getcwd, ())


def test_refuses_arbitrary_globals(tiny_model, tmp_path) -> None:
    path = tmp_path / "evil.prior"
    torch.save({**model_to_dict(tiny_model), "payload": _Evil()}, path)
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        read_model_dict(path)


def test_missing_and_foreign_files_get_clear_errors(tmp_path) -> None:
    with pytest.raises(NotFoundError):
        load_model(tmp_path / "nope.prior")
    torch.save({"something": 1}, tmp_path / "x.pt")
    with pytest.raises(InvalidInputError, match="model_file"):
        load_model(tmp_path / "x.pt")


def test_shipped_prior_is_reinvent_default_size_and_samples_valid_smiles() -> None:
    assert DEFAULT_PRIOR_PATH.stat().st_size < 25 * 1024 * 1024
    data = torch.load(DEFAULT_PRIOR_PATH, weights_only=True)
    assert set(data) == REINVENT_KEYS
    model = load_model(DEFAULT_PRIOR_PATH)
    assert model.config.num_layers == 3 and model.config.layer_size == 512
    from crucible.generator.chemistry import sample_quality

    torch.manual_seed(0)
    quality = sample_quality(model.sample(128, batch_size=128).smiles)
    assert quality["validity"] >= 0.9
    assert quality["uniqueness"] >= 0.98
