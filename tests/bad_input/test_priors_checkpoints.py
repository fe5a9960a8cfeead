"""Bad priors, training checkpoints, activity models and surrogate blobs get clear errors.

Every case asserts the error class and that the message names the field and the file; file
cases also check that the failed load left the file unchanged.
"""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skops.io as sio
import torch

from crucible.bo.surrogates import GPSurrogate, RandomForestSurrogate
from crucible.chem.activity import load_activity_model
from crucible.exceptions import InvalidFileError, InvalidInputError, NotFoundError
from crucible.generator.model_io import load_model
from crucible.testing.model_files import (
    tiny_rf_surrogate_bytes,
    write_tiny_activity_model,
    write_tiny_checkpoint,
    write_tiny_prior,
)
from crucible.training.engine import load_checkpoint


def _expect(
    error: type[Exception], field: str, load: Callable[[Path], Any], path: Path, match: str = ""
) -> str:
    before = path.read_bytes() if path.is_file() else None
    with pytest.raises(error) as info:
        load(path)
    message = str(info.value)
    assert field in message and str(path) in message, message
    assert match.lower() in message.lower(), message
    if before is not None:
        assert path.read_bytes() == before  # nothing stored changed
    return message


def _write(path: Path, content: bytes | str) -> Path:
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


def _truncate(path: Path) -> Path:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


def _replace_pickle(path: Path, content: bytes) -> Path:
    """Rewrite a torch zip with ``content`` as its ``data.pkl`` (a corrupted archive)."""
    source = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = content if item.filename.endswith("data.pkl") else source.read(item)
            target.writestr(item, data)
    path.write_bytes(out.getvalue())
    return path


# ------------------------------------------------------------------------------ priors


@pytest.fixture
def prior(tmp_path: Path) -> Path:
    return write_tiny_prior(tmp_path / "tiny.prior")


def _rewrite_prior(path: Path, **changes: Any) -> Path:
    data = torch.load(path, weights_only=True)
    data.update(changes)
    torch.save({k: v for k, v in data.items() if v is not _DROP}, path)
    return path


_DROP = object()

PRIOR_DAMAGE: dict[str, tuple[Callable[[Path], Path], str]] = {
    "empty": (lambda p: _write(p, b""), "empty"),
    "truncated": (_truncate, "not a readable torch file"),
    "corrupted_pickle": (lambda p: _replace_pickle(p, b"\x80\x02}q\x00(X\xff\xff"), "readable"),
    "text": (lambda p: _write(p, "CCO\nc1ccccc1\n"), "not a readable torch file"),
    "json": (lambda p: _write(p, json.dumps({"network": {}})), "readable"),
    "gzip": (lambda p: _write(p, gzip.compress(p.read_bytes())), "readable"),
    "zip_of_other_files": (
        lambda p: (zipfile.ZipFile(p, "w").writestr("readme.txt", "hi"), p)[1],
        "readable",
    ),
    "list_not_dict": (lambda p: (torch.save([1, 2], p), p)[1], "not a REINVENT"),
    "no_network": (lambda p: _rewrite_prior(p, network=_DROP), "not a REINVENT"),
    "other_model_type": (lambda p: _rewrite_prior(p, model_type="Libinvent"), "Libinvent"),
    "vocabulary_list": (lambda p: _rewrite_prior(p, vocabulary=["C", "O"]), "vocabulary"),
    "vocabulary_grown": (
        lambda p: _rewrite_prior(
            p,
            vocabulary={
                "tokens": {**(t := torch.load(p)["vocabulary"]["tokens"]), "[Xe]": len(t)}
            },
        ),
        "do not fit",
    ),
    "network_params_invalid": (
        lambda p: _rewrite_prior(p, network_params={"layer_size": 3}),
        "layer_size",
    ),
    "network_key_missing": (
        lambda p: _rewrite_prior(
            p, network={k: v for k, v in torch.load(p)["network"].items() if "_linear" not in k}
        ),
        "do not fit",
    ),
    "max_length_text": (
        lambda p: _rewrite_prior(p, max_sequence_length="long"),
        "max_sequence_length",
    ),
}


@pytest.mark.parametrize("damage", sorted(PRIOR_DAMAGE))
def test_damaged_prior_gets_a_clear_error(prior: Path, damage: str) -> None:
    change, match = PRIOR_DAMAGE[damage]
    _expect(InvalidFileError, "model_file", load_model, change(prior), match)


def test_missing_prior_and_folder_instead_of_prior(tmp_path: Path) -> None:
    _expect(NotFoundError, "model file", load_model, tmp_path / "nope.prior", "does not exist")
    _expect(NotFoundError, "model file", load_model, tmp_path, "does not exist")


# ------------------------------------------------------------------------ checkpoints


@pytest.fixture(scope="module")
def checkpoint_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return write_tiny_checkpoint(tmp_path_factory.mktemp("run")).read_bytes()


def _rewrite_checkpoint(path: Path, **changes: Any) -> Path:
    torch.save({**torch.load(path, weights_only=True), **changes}, path)
    return path


CHECKPOINT_DAMAGE: dict[str, tuple[Callable[[Path], Path], str]] = {
    "empty": (lambda p: _write(p, b""), "empty"),
    "truncated": (_truncate, "not a readable torch file"),
    "text": (lambda p: _write(p, "epoch 3\n"), "not a readable torch file"),
    "prior_instead": (
        lambda p: write_tiny_prior(p.with_name("x.prior")).replace(p) or p,
        "not a training checkpoint",
    ),
    "config_invalid": (lambda p: _rewrite_checkpoint(p, config={"epochs": -1}), "epochs"),
    "output_dim_changed": (lambda p: _rewrite_checkpoint(p, output_dim=3), "rebuild"),
    "input_shape_text": (lambda p: _rewrite_checkpoint(p, input_shape="64"), "rebuild"),
}


@pytest.mark.parametrize("damage", sorted(CHECKPOINT_DAMAGE))
def test_damaged_checkpoint_gets_a_clear_error(
    tmp_path: Path, checkpoint_bytes: bytes, damage: str
) -> None:
    path = tmp_path / "best.pt"
    path.write_bytes(checkpoint_bytes)
    change, match = CHECKPOINT_DAMAGE[damage]
    _expect(InvalidFileError, "checkpoint", load_checkpoint, change(path), match)


def test_missing_checkpoint(tmp_path: Path) -> None:
    _expect(InvalidFileError, "checkpoint", load_checkpoint, tmp_path / "best.pt", "not exist")


# ---------------------------------------------------------------------- activity models


@pytest.fixture(scope="module")
def activity_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = write_tiny_activity_model(tmp_path_factory.mktemp("model"))
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def _manifest(folder: Path, **changes: Any) -> Path:
    path = folder / "model.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))
    return path


def _break_tree(folder: Path) -> Path:
    path = folder / "forest.skops"
    forest = sio.loads(path.read_bytes(), trusted=["sklearn.tree._tree.Tree"])
    tree = forest.estimators_[0].tree_
    state = tree.__getstate__()
    state["nodes"] = state["nodes"].copy()
    state["nodes"]["left_child"][0] = 10**6
    tree.__setstate__(state)
    path.write_bytes(sio.dumps(forest))
    return path


ACTIVITY_DAMAGE: dict[str, tuple[Callable[[Path], Path], str]] = {
    "forest_empty": (lambda f: _write(f / "forest.skops", b""), "empty"),
    "forest_truncated": (lambda f: _truncate(f / "forest.skops"), "skops"),
    "forest_text": (
        lambda f: _write(f / "forest.skops", "trees"),
        "not a skops file",
    ),
    "forest_other_object": (
        lambda f: _write(f / "forest.skops", sio.dumps({"a": 1})),
        "not a fitted random forest",
    ),
    "forest_broken_tree": (_break_tree, "invalid node links"),
    "forest_missing": (
        lambda f: ((f / "forest.skops").unlink(), f)[1],
        "has no forest.skops",
    ),
    "manifest_not_json": (
        lambda f: _write(f / "model.json", "{kind: rf"),
        "not JSON",
    ),
    "manifest_no_kind": (lambda f: _manifest(f, kind=None), "kind"),
    "manifest_bad_params": (lambda f: _manifest(f, params={"n_estimators": 0}), "n_estimators"),
    "manifest_wrong_n_bits": (
        lambda f: (_manifest(f, params={"n_bits": 128}), f / "forest.skops")[1],
        "expected 128",
    ),
}


@pytest.mark.parametrize("damage", sorted(ACTIVITY_DAMAGE))
def test_damaged_activity_model_gets_a_clear_error(
    tmp_path: Path, activity_files: dict[str, bytes], damage: str
) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    for name, content in activity_files.items():
        (folder / name).write_bytes(content)
    change, match = ACTIVITY_DAMAGE[damage]
    named = change(folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(InvalidFileError) as info:
        load_activity_model(folder)
    message = str(info.value)
    assert "model_dir" in message and str(named) in message, message
    assert match.lower() in message.lower(), message
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_activity_model_of_an_unknown_kind(tmp_path: Path, activity_files: dict[str, bytes]):
    folder = tmp_path / "model"
    folder.mkdir()
    for name, content in activity_files.items():
        (folder / name).write_bytes(content)
    _manifest(folder, kind="xgboost")
    with pytest.raises(InvalidInputError, match=r"model\.kind: .*'xgboost'"):
        load_activity_model(folder)


# ------------------------------------------------------------------------ BO surrogates


@pytest.mark.parametrize(
    ("blob", "match"),
    [
        (b"", "empty"),
        (b"\x00\x01garbage", "not a skops file"),
        (sio.dumps({"forests": []}), "not a crucible-rf-surrogate-1 blob"),
        (tiny_rf_surrogate_bytes()[:200], "skops"),
    ],
    ids=["empty", "garbage", "wrong_content", "truncated"],
)
def test_bad_rf_surrogate_blob(blob: bytes, match: str) -> None:
    with pytest.raises(InvalidFileError, match=match) as info:
        RandomForestSurrogate.from_bytes(blob)
    assert "surrogate_state" in str(info.value) and "<bytes>" in str(info.value)


def test_truncated_gp_blob() -> None:
    gp = GPSurrogate()
    X = np.linspace(0, 1, 12).reshape(6, 2)
    gp.fit(X, X.sum(axis=1))
    with pytest.raises(InvalidFileError, match="surrogate_state: '<bytes>': is not a readable"):
        GPSurrogate.from_bytes(gp.to_bytes()[:300])
