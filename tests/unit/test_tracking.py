"""crucible.tracking against a real MLflow store (a SQLite file in tmp_path), and the no-op."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from crucible.exceptions import InvalidInputError
from crucible.tracking import (
    PARENT_TAG,
    MlflowTracker,
    NullRun,
    NullTracker,
    make_tracker,
    open_run,
)

mlflow = pytest.importorskip("mlflow")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, migrated MLflow database (creating the schema costs seconds; copying not)."""
    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    mlflow.MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def tracker(template: Path, tmp_path: Path) -> MlflowTracker:
    shutil.copy(template, tmp_path / "mlflow.db")
    return MlflowTracker(
        f"sqlite:///{tmp_path / 'mlflow.db'}",
        artifact_location=(tmp_path / "artifacts").as_uri(),
        flush_s=0.0,
    )


def test_parent_run_with_nested_children(tracker: MlflowTracker, tmp_path: Path) -> None:
    """One parent run tagged with the orchestrator's id; stages nest under it."""
    parent = tracker.start_run("design", "design-1", tags={"prefect.flow_run_id": "f-123"})
    parent.log_params({"target": "EGFR", "rl": {"steps": 50, "agent": {"lr": 1e-4}}})
    scoring = parent.start_child("scoring", tags={"stage": "scoring"})
    scoring.log_metrics({"mean_score": 0.5, "note": "text is skipped"}, step=1)
    scoring.log_metrics({"mean_score": 0.7, "nan": math.nan, "inf": math.inf}, step=2)
    grandchild = scoring.start_child("component-qed")
    grandchild.end()
    report = tmp_path / "report.md"
    report.write_text("# report")
    scoring.log_artifact(report, "reports")
    scoring.end()
    failed = parent.start_child("generation")
    failed.set_tags({"crucible.fail_reason": "x" * 6000})
    failed.end("FAILED")
    parent.end()

    client = tracker.client
    top = client.get_run(parent.run_id)
    assert top.data.tags["prefect.flow_run_id"] == "f-123" and PARENT_TAG not in top.data.tags
    assert top.data.params == {"target": "EGFR", "rl.steps": "50", "rl.agent.lr": "0.0001"}
    assert top.info.status == "FINISHED"
    exp = top.info.experiment_id
    children = client.search_runs([exp], filter_string=f"tags.`{PARENT_TAG}` = '{parent.run_id}'")
    assert {r.info.run_name for r in children} == {"scoring", "generation"}
    assert client.get_run(grandchild.run_id).data.tags[PARENT_TAG] == scoring.run_id
    history = client.get_metric_history(scoring.run_id, "mean_score")
    assert [(m.step, m.value) for m in history] == [(1, 0.5), (2, 0.7)]
    assert set(client.get_run(scoring.run_id).data.metrics) == {"mean_score"}
    assert [a.path for a in client.list_artifacts(scoring.run_id, "reports")] == [
        "reports/report.md"
    ]
    generation = client.get_run(failed.run_id)
    assert generation.info.status == "FAILED"
    assert len(generation.data.tags["crucible.fail_reason"]) == 5000
    assert tracker.find_run("design", {"prefect.flow_run_id": "f-123"}) == parent.run_id
    assert tracker.find_run("design", {"prefect.flow_run_id": "other"}) is None


def test_writes_wait_for_flush_s_and_always_go_out_at_the_end(tracker: MlflowTracker) -> None:
    tracker.flush_s = math.inf
    run = tracker.start_run("buffered", "one")
    run.log_params({"a": 1})
    for step in range(1, 4):
        run.log_metrics({"loss": 1.0 / step}, step=step)
    assert tracker.client.get_run(run.run_id).data.metrics == {}
    run.end()
    stored = tracker.client.get_run(run.run_id).data
    assert stored.params == {"a": "1"} and stored.metrics == {"loss": pytest.approx(1 / 3)}
    assert len(tracker.client.get_metric_history(run.run_id, "loss")) == 3


def test_get_run_reopens_a_run_and_writes_at_once(tracker: MlflowTracker) -> None:
    tracker.flush_s = math.inf
    run = tracker.start_run("reopen", "parent")
    handle = tracker.get_run(run.run_id)
    handle.log_metrics({"best_value": 0.25})
    assert tracker.client.get_run(run.run_id).data.metrics == {"best_value": 0.25}
    child = handle.start_child("late-child")
    assert tracker.client.get_run(child.run_id).data.tags[PARENT_TAG] == run.run_id
    assert isinstance(tracker.get_run(None), NullRun)


def test_register_model_needs_a_run(tracker: MlflowTracker) -> None:
    with pytest.raises(InvalidInputError, match=r"^run_id: "):
        tracker.register_model(None, "m", lambda mlflow: None)


def test_null_tracker_records_nothing_through_the_same_protocol(tmp_path: Path) -> None:
    tracker = NullTracker()
    run = tracker.start_run("e", "r", tags={"a": "b"}, parent_run_id="x")
    child = run.start_child("c")
    child.log_params({"a": {"b": 1}})
    child.log_metrics({"m": 1.0}, step=3)
    child.log_artifact(tmp_path / "missing.txt")
    child.end("FAILED")
    run.end()
    assert run.run_id is None and child.run_id is None
    assert tracker.find_run("e", {"a": "b"}) is None
    assert tracker.register_model("x", "m", lambda mlflow: None) is None


def test_make_tracker_and_open_run(tracker: MlflowTracker) -> None:
    assert isinstance(make_tracker(False), NullTracker)
    assert isinstance(make_tracker(tracker.tracking_uri), MlflowTracker)
    assert make_tracker(tracker) is tracker
    assert open_run("e", "r", tracking=False).run_id is None
    run = open_run("opened", "r", tracking=tracker, tags={"k": "v"})
    run.end()
    assert tracker.client.get_run(run.run_id).data.tags["k"] == "v"
