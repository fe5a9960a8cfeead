"""Training through crucible.tracking: per-epoch metrics, fit_tracked runs, the registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crucible.tracking import PARENT_TAG, MlflowTracker
from crucible.training.callbacks import TrackingCallback
from crucible.training.config import TrainConfig
from crucible.training.datasets import load_dataset
from crucible.training.engine import fit, fit_tracked
from crucible.training.export import log_network_model


def test_epochs_of_a_nested_run_are_steps(mlflow_uri: str, tmp_path: Path) -> None:
    tracker = MlflowTracker()  # default URI from the settings
    assert tracker.tracking_uri == mlflow_uri
    parent = tracker.start_run("study-a", "study-a", tags={"crucible.role": "study"})
    run = tracker.start_run("study-a", "trial-0", parent_run_id=parent.run_id)
    run.log_params({"optimizer.lr": 0.01, "model.architecture": "mlp"})
    config = TrainConfig(epochs=3).with_overrides({"checkpoint.directory": str(tmp_path)})
    result = fit(config, load_dataset(), callbacks=[TrackingCallback(run)])
    run.log_metrics({"best_valid_loss": result.best_value, "nan_is_skipped": float("nan")})
    assert result.best_checkpoint_path is not None
    run.log_artifact(result.best_checkpoint_path, "checkpoints")
    run.end()

    client = tracker.client
    stored = client.get_run(run.run_id)
    exp = client.get_experiment_by_name("study-a")
    assert stored.info.experiment_id == exp.experiment_id != "0"
    assert stored.data.tags[PARENT_TAG] == parent.run_id
    assert stored.data.params["optimizer.lr"] == "0.01"
    assert "nan_is_skipped" not in stored.data.metrics and "epoch" not in stored.data.metrics
    history = client.get_metric_history(run.run_id, "valid_loss")
    assert [m.step for m in history] == [1, 2, 3]
    assert [m.value for m in history] == pytest.approx([h["valid_loss"] for h in result.history])
    artifacts = [a.path for a in client.list_artifacts(run.run_id, "checkpoints")]
    assert artifacts == ["checkpoints/best.pt"]


def test_fit_tracked_records_config_best_metrics_and_checkpoint(
    mlflow_uri: str, tmp_path: Path
) -> None:
    tracker = MlflowTracker()
    config = TrainConfig(epochs=2).with_overrides({"checkpoint.directory": str(tmp_path)})
    result, run_id = fit_tracked(config, tracker=tracker, params={"point": 3}, tags={"k": "v"})
    stored = tracker.client.get_run(run_id)
    assert stored.info.status == "FINISHED"
    assert stored.data.tags["crucible.role"] == "training" and stored.data.tags["k"] == "v"
    assert stored.data.params["optimizer.lr"] == str(config.optimizer.lr)
    assert stored.data.params["point"] == "3"
    assert stored.data.metrics["best_valid_loss"] == pytest.approx(result.best_value)
    assert [a.path for a in tracker.client.list_artifacts(run_id, "checkpoint")] == [
        "checkpoint/best.pt"
    ]


def test_a_failed_fit_keeps_its_reason(mlflow_uri: str) -> None:
    tracker = MlflowTracker()
    config = TrainConfig(epochs=2)
    with pytest.raises(Exception) as info:
        fit_tracked(config, data="not a dataset", tracker=tracker, experiment="failing")
    runs = tracker.client.search_runs([tracker.experiment_id("failing")])
    assert len(runs) == 1 and runs[0].info.status == "FAILED"
    assert runs[0].data.tags["crucible.fail_reason"].startswith(type(info.value).__name__)


def test_best_model_is_registered_with_best_value(mlflow_uri: str) -> None:
    import mlflow

    tracker = MlflowTracker()
    parent = tracker.start_run("study-c", "study-c")
    data = load_dataset()
    config = TrainConfig(epochs=2)
    result = fit(config, data)
    best = repr(float(result.best_value))
    version = tracker.register_model(
        parent.run_id,
        "study-c",
        log_network_model(
            result.model,
            config.model,
            data.input_shape,
            data.output_dim,
            data.example_input(),
            "study-c",
        ),
        version_tags={"best_value": best, "trial_number": "0"},
        model_tags={"best_value": best},
    )
    assert version == "1"
    registered = tracker.client.get_registered_model("study-c")
    assert float(registered.tags["best_value"]) == pytest.approx(result.best_value)
    mv = tracker.client.get_model_version("study-c", "1")
    assert mv.tags["trial_number"] == "0"
    mlflow.set_tracking_uri(mlflow_uri)
    loaded = mlflow.pyfunc.load_model("models:/study-c/1")  # models from code, no pickle
    x = data.valid.tensors[0][:4]
    expected = result.model.to("cpu").eval()(x).detach().numpy()
    np.testing.assert_allclose(loaded.predict(x.numpy()), expected, rtol=1e-5, atol=1e-6)
    stored = Path(mlflow.artifacts.download_artifacts("models:/study-c/1"))
    files = sorted(p.relative_to(stored).as_posix() for p in stored.rglob("*") if p.is_file())
    assert "artifacts/network/weights.pt" in files and "artifacts/network/network.json" in files
    assert not [f for f in files if f.endswith((".pkl", ".pickle", ".cloudpickle"))], files
    assert "_network_pyfunc.py" in (stored / "MLmodel").read_text()
