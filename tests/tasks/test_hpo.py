"""HPO task bodies (``task.fn``); artifacts go to the session's test Prefect server."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from crucible.space import Space
from crucible.training.config import TrainConfig
from crucible.training.hpo import HpoStudy, SamplerConfig, StudySpec
from tasks.hpo import analyse_study, create_or_load_study, register_best, run_trial

pytestmark = pytest.mark.usefixtures("prefect_harness")

SPACE = Space.from_dict(
    {
        "optimizer.lr": {"type": "continuous", "low": 3e-3, "high": 3e-2, "log": True},
        "model.width": {"type": "integer", "low": 16, "high": 64, "step": 16},
    }
)


def _spec(name: str, **kwargs) -> StudySpec:
    base = TrainConfig(epochs=2)
    return StudySpec(
        name=name, space=SPACE, base_config=base, sampler=SamplerConfig(seed=0), **kwargs
    )


@pytest.fixture(scope="module")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()  # migrate once, copy per test
    return path


@pytest.fixture
def mlflow_uri(mlflow_template: Path, crucible_home: Path, monkeypatch) -> str:
    crucible_home.mkdir(parents=True, exist_ok=True)
    shutil.copy(mlflow_template, crucible_home / "mlflow.db")
    uri = f"sqlite:///{crucible_home / 'mlflow.db'}"
    monkeypatch.setenv("CRUCIBLE_MLFLOW_TRACKING_URI", uri)
    return uri


def test_create_trials_analyse_register(mlflow_uri: str, tmp_path: Path) -> None:
    info = create_or_load_study.fn(_spec("tasks-study"))
    assert info.n_trials == 0 and info.remaining is None and info.parent_run_id
    outcomes = [run_trial.fn("tasks-study") for _ in range(2)]
    assert [o.state for o in outcomes] == ["COMPLETE", "COMPLETE"]
    assert outcomes[0].run_id and outcomes[0].values and outcomes[0].values[0] > 0
    summary = analyse_study.fn("tasks-study", str(tmp_path))
    assert summary.n_complete == 2 and len(summary.top_trials) == 2
    assert {Path(p).name for p in summary.plots.values()} == {
        "tasks-study-history.png",
        "tasks-study-importance.png",
    }
    hpo = HpoStudy.load("tasks-study")
    logged = {a.path for a in hpo.tracker.client.list_artifacts(info.parent_run_id)}
    assert {"tasks-study-history.png", "tasks-study-importance.png"} <= logged
    assert register_best.fn("tasks-study") == "1"


def test_resume_fails_stale_trials_and_skips_when_full() -> None:
    create_or_load_study.fn(_spec("resume", max_trials=2), tracking=False)
    study = HpoStudy.load("resume", tracking=False)
    crashed = study.study.ask(study._distributions)  # the previous run died mid-trial
    info = create_or_load_study.fn(
        _spec("resume", max_trials=2), tracking=False, recover_stale_after_s=0
    )
    assert info.recovered == [crashed.number] and info.remaining == 1
    retried = run_trial.fn("resume", tracking=False)
    assert retried.state == "COMPLETE" and retried.params == crashed.params
    assert run_trial.fn("resume", tracking=False).state == "SKIPPED"
