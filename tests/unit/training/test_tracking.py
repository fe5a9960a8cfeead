"""MLflow tracking: parent/nested runs, batched epoch metrics, artifacts, the registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crucible.training.config import TrainConfig
from crucible.training.datasets import load_dataset
from crucible.training.engine import fit
from crucible.training.tracking import (
    MlflowTracker,
    NullTracker,
    TrackingCallback,
    make_tracker,
)


def test_nested_trial_runs_land_in_the_study_experiment(mlflow_uri: str, tmp_path: Path) -> None:
    tracker = MlflowTracker()  # default URI from the settings
    assert tracker.tracking_uri == mlflow_uri
    parent = tracker.start_study("study-a", {"direction": "minimize"})
    assert tracker.start_study("study-a", {}) == parent  # found again, not duplicated
    recorder = tracker.start_trial("study-a", parent, 0)
    recorder.log_params({"optimizer.lr": 0.01, "model.architecture": "mlp"})
    config = TrainConfig(epochs=3).with_overrides({"checkpoint.directory": str(tmp_path)})
    result = fit(config, load_dataset(), callbacks=[TrackingCallback(recorder)])
    recorder.log_metrics({"best_valid_loss": result.best_value, "nan_is_skipped": float("nan")})
    assert result.best_checkpoint_path is not None
    recorder.log_artifact(result.best_checkpoint_path, "checkpoints")
    recorder.finish("COMPLETE")

    client = tracker.client
    run = client.get_run(recorder.run_id)
    exp = client.get_experiment_by_name("study-a")
    assert run.info.experiment_id == exp.experiment_id != "0"
    assert run.data.tags["mlflow.parentRunId"] == parent
    assert run.data.tags["crucible.trial_number"] == "0"
    assert run.data.tags["crucible.state"] == "COMPLETE"
    assert run.data.params["optimizer.lr"] == "0.01"
    assert "nan_is_skipped" not in run.data.metrics
    history = client.get_metric_history(recorder.run_id, "valid_loss")
    assert [m.step for m in history] == [1, 2, 3]
    assert [m.value for m in history] == pytest.approx([h["valid_loss"] for h in result.history])
    artifacts = [a.path for a in client.list_artifacts(recorder.run_id, "checkpoints")]
    assert artifacts == ["checkpoints/best.pt"]


def test_failed_trial_keeps_its_reason(mlflow_uri: str) -> None:
    tracker = MlflowTracker(mlflow_uri)
    recorder = tracker.start_trial("study-b", tracker.start_study("study-b", {}), 3)
    recorder.finish("FAIL", "TrainingDivergedError: loss became nan")
    run = tracker.client.get_run(recorder.run_id)
    assert run.info.status == "FAILED"
    assert run.data.tags["crucible.fail_reason"].startswith("TrainingDivergedError")


def test_best_model_is_registered_with_best_value(mlflow_uri: str) -> None:
    import mlflow

    tracker = MlflowTracker()
    parent = tracker.start_study("study-c", {})
    data = load_dataset()
    result = fit(TrainConfig(epochs=2), data)
    version = tracker.register_model(
        "study-c",
        parent,
        result.model,
        data.example_input(),
        result.best_value,
        {"trial_number": "0"},
    )
    assert version == "1"
    registered = tracker.client.get_registered_model("study-c")
    assert float(registered.tags["best_value"]) == pytest.approx(result.best_value)
    mv = tracker.client.get_model_version("study-c", "1")
    assert mv.tags["trial_number"] == "0"
    mlflow.set_tracking_uri(mlflow_uri)
    loaded = mlflow.pytorch.load_model("models:/study-c/1")
    x = data.valid.tensors[0][:4]
    np.testing.assert_allclose(
        loaded(x).detach().numpy(), result.model(x).detach().numpy(), rtol=1e-5, atol=1e-6
    )


def test_make_tracker_choices(mlflow_uri: str) -> None:
    assert isinstance(make_tracker(False), NullTracker)
    assert isinstance(make_tracker(mlflow_uri), MlflowTracker)
    null = NullTracker()
    assert make_tracker(null) is null
    recorder = null.start_trial("s", null.start_study("s", {}), 0)
    recorder.log_epoch(1, {"a": 1.0})
    assert recorder.run_id is None
