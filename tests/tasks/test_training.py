"""Training task body (``task.fn``): tracked run, curves, checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from crucible.training.config import TrainConfig
from tasks.training import train_model

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_train_task_applies_params_and_writes_curves(tmp_path: Path) -> None:
    config = TrainConfig(epochs=3)
    params = {"model.width": 32, "model.depth": 1, "optimizer.lr": 0.01}
    result = train_model.fn(config, str(tmp_path), params, tracking=False)
    assert result.n_parameters == 64 * 32 + 32 + 32 * 10 + 10
    assert len(result.history) == 3 and result.metrics["valid_accuracy"] > 0.8
    assert Path(result.curves).stat().st_size > 5000
    assert Path(result.checkpoint).parent == tmp_path
    assert result.run_id is None


def test_train_task_runs_callbacks_chosen_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.data.plugin_dist import install_plugin_distribution

    install_plugin_distribution(tmp_path / "site-packages", monkeypatch)
    callbacks = [{"name": "lab-stop", "params": {"epoch": 2}}]  # an installed entry point
    result = train_model.fn(TrainConfig(epochs=5), str(tmp_path), tracking=False,
                            callbacks=callbacks)  # fmt: skip
    assert len(result.history) == 2
