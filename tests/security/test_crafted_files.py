"""Crafted files that would run code when unpickled are refused, and run nothing.

Every payload here would create a marker file if it were executed. Each case asserts that the
loader raises an :class:`UnsafeFileError` (or another :class:`CrucibleError`) whose message
names the file, and that the marker file does not appear.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import sys
import types
import zipfile
from pathlib import Path
from typing import Any

import joblib
import pytest
import torch
import torch.utils.collect_env

from crucible.bo.surrogates import GPSurrogate, RandomForestSurrogate
from crucible.chem.activity import load_activity_model
from crucible.cli import main
from crucible.exceptions import CrucibleError, InvalidInputError, UnsafeFileError
from crucible.generator.model_io import load_model, model_to_dict
from crucible.testing.model_files import (
    tiny_rf_surrogate_bytes,
    write_tiny_activity_model,
    write_tiny_checkpoint,
    write_tiny_prior,
)
from crucible.training.engine import load_checkpoint


class _System:
    """Unpickles as ``os.system(command)``."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (self.command,))


class _CollectEnvRun(_System):
    """Unpickles as ``torch.utils.collect_env.run(command)`` (runs a shell command)."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (torch.utils.collect_env.run, (self.command,))


class _Eval(_System):
    """Unpickles as ``eval("__import__('os').system(command)")``."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (eval, (f"__import__('os').system({self.command!r})",))


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "PWNED"


def _touch(marker: Path) -> str:
    return f"touch {marker}"


def _refused(error: pytest.ExceptionInfo[BaseException], path: Path | str, marker: Path) -> None:
    assert isinstance(error.value, CrucibleError)
    assert str(path) in str(error.value), str(error.value)
    assert not marker.exists(), "the payload ran"


# ------------------------------------------------------------------------------ priors


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_plain_pickle_prior_is_refused(tmp_path: Path, marker: Path, protocol: int) -> None:
    path = tmp_path / "evil.prior"
    path.write_bytes(pickle.dumps(_System(_touch(marker)), protocol=protocol))
    with pytest.raises(UnsafeFileError) as error:
        load_model(path)
    _refused(error, path, marker)


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        (_System, "system"),
        (_CollectEnvRun, "torch.utils.collect_env.run"),
        (_Eval, "eval"),
    ],
)
def test_torch_prior_with_a_code_global_is_refused(
    tmp_path: Path, marker: Path, payload: type[_System], named: str
) -> None:
    base = torch.load(write_tiny_prior(tmp_path / "ok.prior"), weights_only=True)
    path = tmp_path / "evil.prior"
    torch.save({**base, "comments": payload(_touch(marker))}, path)
    with pytest.raises(UnsafeFileError, match=named) as error:
        load_model(path)
    _refused(error, path, marker)
    assert "convert-legacy prior" in str(error.value)


def test_legacy_torch_format_prior_is_refused(tmp_path: Path, marker: Path) -> None:
    path = tmp_path / "evil.prior"
    torch.save({"x": _System(_touch(marker))}, path, _use_new_zipfile_serialization=False)
    with pytest.raises(UnsafeFileError) as error:
        load_model(path)
    _refused(error, path, marker)


def test_reinvent_stand_in_cannot_be_called_with_a_command(tmp_path: Path, marker: Path) -> None:
    """A file naming REINVENT's metadata class as a function gets an inert class, not code."""
    module = types.ModuleType("reinvent.models.meta_data")

    class ModelMetaData:
        def __reduce__(self) -> tuple[Any, ...]:
            return (ModelMetaData, (_touch(marker),))

    ModelMetaData.__module__, ModelMetaData.__qualname__ = module.__name__, "ModelMetaData"
    module.ModelMetaData = ModelMetaData  # type: ignore[attr-defined]
    names = ["reinvent", "reinvent.models"]
    sys.modules.update({name: types.ModuleType(name) for name in names})
    sys.modules[module.__name__] = module
    try:
        base = torch.load(write_tiny_prior(tmp_path / "ok.prior"), weights_only=True)
        path = tmp_path / "evil.prior"
        torch.save({**base, "metadata": ModelMetaData()}, path)
    finally:
        for name in [*names, module.__name__]:
            sys.modules.pop(name)
    with pytest.raises(CrucibleError) as error:
        load_model(path)
    _refused(error, path, marker)


# ----------------------------------------------------------------------- activity models


def test_joblib_forest_is_refused_with_the_conversion_command(
    tmp_path: Path, marker: Path
) -> None:
    folder = write_tiny_activity_model(tmp_path / "model")
    (folder / "forest.skops").unlink()
    joblib.dump(_System(_touch(marker)), folder / "forest.joblib")
    with pytest.raises(UnsafeFileError, match="convert-legacy activity-model") as error:
        load_activity_model(folder)
    _refused(error, folder / "forest.joblib", marker)


def test_pickle_named_forest_skops_is_refused(tmp_path: Path, marker: Path) -> None:
    folder = write_tiny_activity_model(tmp_path / "model")
    (folder / "forest.skops").write_bytes(pickle.dumps(_System(_touch(marker))))
    with pytest.raises(UnsafeFileError, match="plain pickle") as error:
        load_activity_model(folder)
    _refused(error, folder / "forest.skops", marker)


def _skops_with_global(data: bytes, module: str, name: str) -> bytes:
    """A skops archive whose top object claims to be ``module.name``."""
    source = zipfile.ZipFile(io.BytesIO(data))
    schema = json.loads(source.read("schema.json"))
    schema["__module__"], schema["__class__"] = module, name
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.namelist():
            content = json.dumps(schema) if item == "schema.json" else source.read(item)
            target.writestr(item, content)
    return out.getvalue()


def test_skops_forest_claiming_os_system_is_refused(tmp_path: Path, marker: Path) -> None:
    folder = write_tiny_activity_model(tmp_path / "model")
    path = folder / "forest.skops"
    path.write_bytes(_skops_with_global(path.read_bytes(), "os", "system"))
    with pytest.raises(UnsafeFileError, match=r"os\.system") as error:
        load_activity_model(folder)
    _refused(error, path, marker)


def test_chemprop_weights_with_a_payload_are_refused(tmp_path: Path, marker: Path) -> None:
    folder = write_tiny_activity_model(tmp_path / "model")
    manifest = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps({**manifest, "kind": "chemprop", "params": {}}))
    path = folder / "chemprop_state.pt"
    torch.save({"format": "x", "state_dict": _System(_touch(marker))}, path)
    with pytest.raises(UnsafeFileError) as error:
        load_activity_model(folder)
    _refused(error, path, marker)


def test_legacy_chemprop_checkpoint_is_not_loaded(tmp_path: Path, marker: Path) -> None:
    folder = write_tiny_activity_model(tmp_path / "model")
    manifest = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps({**manifest, "kind": "chemprop", "params": {}}))
    torch.save({"hyper_parameters": _System(_touch(marker))}, folder / "chemprop.pt")
    with pytest.raises(UnsafeFileError, match="convert-legacy activity-model") as error:
        load_activity_model(folder)
    _refused(error, folder / "chemprop.pt", marker)


# ---------------------------------------------------------------------------- checkpoints


@pytest.mark.parametrize("payload", [_System, _CollectEnvRun])
def test_checkpoint_with_a_payload_is_refused(
    tmp_path: Path, marker: Path, payload: type[_System]
) -> None:
    good = torch.load(write_tiny_checkpoint(tmp_path / "run"), weights_only=True)
    path = tmp_path / "best.pt"
    torch.save({**good, "metrics": payload(_touch(marker))}, path)
    with pytest.raises(UnsafeFileError) as error:
        load_checkpoint(path)
    _refused(error, path, marker)


def test_register_best_refuses_a_checkpoint_path_outside_the_study(
    tmp_path: Path, marker: Path
) -> None:
    import optuna

    from crucible.training.hpo import HpoStudy, StudySpec, default_space

    evil = tmp_path / "elsewhere" / "best.pt"
    evil.parent.mkdir()
    torch.save({"state_dict": _System(_touch(marker))}, evil)
    study = HpoStudy.create(StudySpec(name="s", space=default_space()), tracking=False)
    trial = optuna.trial.create_trial(
        params={}, distributions={}, value=0.1, user_attrs={"checkpoint": str(evil)}
    )
    study.study.add_trial(trial)
    with pytest.raises(InvalidInputError, match=r"trial\.user_attrs\.checkpoint") as error:
        study.register_best()
    _refused(error, "best.pt", marker)


# ------------------------------------------------------------------------ BO surrogates


def test_pickled_rf_surrogate_blob_is_refused(marker: Path) -> None:
    with pytest.raises(UnsafeFileError, match="surrogate_state") as error:
        RandomForestSurrogate.from_bytes(pickle.dumps(_System(_touch(marker))))
    _refused(error, "<bytes>", marker)


def test_skops_rf_surrogate_blob_claiming_os_system_is_refused(marker: Path) -> None:
    blob = _skops_with_global(tiny_rf_surrogate_bytes(), "os", "system")
    with pytest.raises(UnsafeFileError, match=r"os\.system") as error:
        RandomForestSurrogate.from_bytes(blob)
    _refused(error, "<bytes>", marker)


def test_gp_state_blob_with_a_payload_is_refused(marker: Path) -> None:
    buffer = io.BytesIO()
    torch.save({"X": _CollectEnvRun(_touch(marker))}, buffer)
    with pytest.raises(UnsafeFileError, match="collect_env") as error:
        GPSurrogate.from_bytes(buffer.getvalue())
    _refused(error, "<bytes>", marker)


# ---------------------------------------------------------------------- the converter


def test_converter_reads_nothing_without_trusted(
    tmp_path: Path, marker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "old.blob"
    path.write_bytes(pickle.dumps(_System(_touch(marker))))
    out = tmp_path / "new.blob"
    assert main(["convert-legacy", "rf-surrogate", str(path), str(out)]) == 2
    assert "--trusted" in capsys.readouterr().err
    assert not marker.exists() and not out.exists()


def test_model_to_dict_output_has_no_pickled_objects(tmp_path: Path) -> None:
    """What Crucible writes loads with weights_only=True and no extra globals."""
    path = write_tiny_prior(tmp_path / "ok.prior")
    data = torch.load(path, weights_only=True)
    assert set(data) == set(model_to_dict(load_model(path)))
