"""Pickle-free network folders: round trip, and crafted or mismatched files refused."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch

from crucible.exceptions import InvalidFileError, UnsafeFileError
from crucible.training.config import ModelConfig
from crucible.training.export import CONFIG_FILE, WEIGHTS_FILE, load_network, save_network
from crucible.training.nets import build_model

CONFIG = ModelConfig(hidden_sizes=[8])


def _saved(tmp_path: Path) -> tuple[torch.nn.Module, Path]:
    torch.manual_seed(0)
    model = build_model(CONFIG, [5], 3).eval()
    return model, save_network(model, CONFIG, [5], 3, tmp_path / "net")


def test_a_saved_network_loads_back_with_the_same_outputs(tmp_path: Path) -> None:
    model, folder = _saved(tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == [CONFIG_FILE, WEIGHTS_FILE]
    spec = json.loads((folder / CONFIG_FILE).read_text())
    assert spec["input_shape"] == [5] and spec["output_dim"] == 3
    x = torch.randn(4, 5)
    with torch.no_grad():
        torch.testing.assert_close(load_network(folder)(x), model(x))


class _RunsCode:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.touch, (Path(self.marker),))

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)


def test_crafted_weights_are_refused_and_do_not_run(tmp_path: Path) -> None:
    _, folder = _saved(tmp_path)
    marker = tmp_path / "PWNED"
    (folder / WEIGHTS_FILE).write_bytes(pickle.dumps(_RunsCode(marker)))
    with pytest.raises(UnsafeFileError, match="network"):
        load_network(folder)
    torch.save({"x": _RunsCode(marker)}, folder / WEIGHTS_FILE)  # a torch zip with a global
    with pytest.raises(UnsafeFileError, match="network"):
        load_network(folder)
    assert not marker.exists()


def test_a_config_that_does_not_fit_the_weights_is_refused(tmp_path: Path) -> None:
    _, folder = _saved(tmp_path)
    spec = json.loads((folder / CONFIG_FILE).read_text())
    (folder / CONFIG_FILE).write_text(json.dumps({**spec, "output_dim": 4}))
    with pytest.raises(InvalidFileError, match="does not rebuild a network"):
        load_network(folder)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "unreadable"),
        ('{"format": "other"}', "is not a crucible.network file"),
        ('{"format": "crucible.network", "version": 99}', "has version 99"),
    ],
)
def test_a_bad_config_file_is_refused_by_name(tmp_path: Path, text: str, problem: str) -> None:
    _, folder = _saved(tmp_path)
    (folder / CONFIG_FILE).write_text(text)
    with pytest.raises(InvalidFileError, match=problem) as info:
        load_network(folder)
    assert CONFIG_FILE in str(info.value) and "network" in str(info.value)
