import dataclasses
import pickle
import sys
import types
import uuid
from pathlib import Path

import pytest
import torch

from crucible.exceptions import InvalidInputError, NotFoundError, UnsafeFileError
from crucible.generator import BROAD_PRIOR_PATH, DEFAULT_PRIOR_PATH
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


def _write_reinvent_style_file(data: dict, path, extra: dict | None = None) -> None:
    """Pickle stand-ins of REINVENT's own classes, under their real names, as REINVENT does."""
    vocabulary_module = "reinvent.models.reinvent.models.vocabulary"
    names = ["reinvent", "reinvent.models", "reinvent.models.meta_data", vocabulary_module]
    modules = {name: types.ModuleType(name) for name in names}

    class SMILESTokenizer:
        pass

    @dataclasses.dataclass
    class ModelMetaData:
        hash_id: str | None
        model_id: uuid.UUID
        origina_data_source: str
        comments: list = dataclasses.field(default_factory=list)

    for cls, module in ((SMILESTokenizer, vocabulary_module), (ModelMetaData, names[2])):
        cls.__module__ = module
        cls.__qualname__ = cls.__name__
        setattr(modules[module], cls.__name__, cls)
    sys.modules.update(modules)
    try:
        metadata = ModelMetaData(None, uuid.uuid4(), "chembl", ["from REINVENT"])
        torch.save(
            {**data, "tokenizer": SMILESTokenizer(), "metadata": metadata, **(extra or {})}, path
        )
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
    assert loaded.metadata["comments"] == ["from REINVENT"]
    assert isinstance(loaded.metadata["model_id"], str) and len(loaded.metadata["model_id"]) == 32
    assert loaded.likelihood_smiles(["CCO"]) == pytest.approx(
        tiny_model.likelihood_smiles(["CCO"])
    )
    assert "reinvent" not in sys.modules
    still_allowed = {repr(g) for g in torch.serialization.get_safe_globals()}
    assert not any("reinvent" in g.lower() for g in still_allowed)  # the allow-list was scoped


def test_other_reinvent_objects_are_refused_and_converted_when_trusted(tiny_model, tmp_path):
    from crucible.cli import main

    path = tmp_path / "agent.chkpt"
    diversity_filter = types.SimpleNamespace(bucket=25)  # stands for a pickled REINVENT object
    _write_reinvent_style_file(
        model_to_dict(tiny_model), path, {"staged_learning": {"filter": diversity_filter}}
    )
    with pytest.raises(UnsafeFileError, match=r"types\.SimpleNamespace") as info:
        read_model_dict(path)
    assert str(path) in str(info.value) and "convert-legacy prior" in str(info.value)
    out = tmp_path / "agent.prior"
    assert main(["convert-legacy", "prior", str(path), str(out), "--trusted"]) == 0
    converted = load_model(out)
    assert converted.metadata["origina_data_source"] == "chembl"
    assert converted.likelihood_smiles(["CCO"]) == pytest.approx(
        tiny_model.likelihood_smiles(["CCO"])
    )


class _Evil:
    def __reduce__(self):
        import os

        return (os.getcwd, ())


def test_refuses_arbitrary_globals(tiny_model, tmp_path) -> None:
    path = tmp_path / "evil.prior"
    torch.save({**model_to_dict(tiny_model), "payload": _Evil()}, path)
    with pytest.raises(UnsafeFileError, match=r"posix\.getcwd"):
        read_model_dict(path)


def test_missing_and_foreign_files_get_clear_errors(tmp_path) -> None:
    with pytest.raises(NotFoundError):
        load_model(tmp_path / "nope.prior")
    torch.save({"something": 1}, tmp_path / "x.pt")
    with pytest.raises(InvalidInputError, match="model_file"):
        load_model(tmp_path / "x.pt")


@pytest.mark.parametrize(
    ("path", "min_validity"), [(DEFAULT_PRIOR_PATH, 0.9), (BROAD_PRIOR_PATH, 0.7)]
)
def test_shipped_priors_are_reinvent_default_size_and_sample_valid_smiles(
    path: Path, min_validity: float
) -> None:
    assert path.stat().st_size < 25 * 1024 * 1024
    data = torch.load(path, weights_only=True)
    assert set(data) == REINVENT_KEYS
    model = load_model(path)
    assert model.config.num_layers == 3 and model.config.layer_size == 512
    assert model.vocabulary.tokens == load_model(DEFAULT_PRIOR_PATH).vocabulary.tokens
    from crucible.generator.chemistry import sample_quality

    torch.manual_seed(0)
    quality = sample_quality(model.sample(128, batch_size=128).smiles)
    assert quality["validity"] >= min_validity
    assert quality["uniqueness"] >= 0.98
