"""The HPO flow end to end: bounded concurrent trials, a failing trial, resume, registry."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from torch import nn

from crucible.space import Space
from crucible.training.config import TrainConfig
from crucible.training.hpo import HpoStudy, SamplerConfig, StudySpec
from crucible.training.nets import register_architecture
from flows.hpo_flow import PRESETS, HpoFlowConfig, hpo


@register_architecture("test_flow_broken", replace=True)
def _broken(config, input_shape, output_dim) -> nn.Module:
    class Broken(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.zeros(1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise RuntimeError("broken on purpose")

    return Broken()


@pytest.fixture
def mlflow_uri(tmp_path_factory, crucible_home: Path, monkeypatch) -> str:
    from mlflow import MlflowClient

    template = tmp_path_factory.getbasetemp() / "hpo-flow-mlflow.db"
    if not template.exists():
        MlflowClient(f"sqlite:///{template}").search_experiments()
    crucible_home.mkdir(parents=True, exist_ok=True)
    shutil.copy(template, crucible_home / "mlflow.db")
    uri = f"sqlite:///{crucible_home / 'mlflow.db'}"
    monkeypatch.setenv("CRUCIBLE_MLFLOW_TRACKING_URI", uri)
    return uri


def _artifact_keys() -> set[str]:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return {a.key for a in client.read_artifacts() if a.key}


def test_hpo_flow_survives_a_failed_trial_resumes_and_registers(mlflow_uri: str) -> None:
    space = Space.from_dict(
        {
            "optimizer.lr": {"type": "continuous", "low": 3e-3, "high": 3e-2, "log": True},
            "model.architecture": {"type": "categorical", "choices": ["mlp", "test_flow_broken"]},
        }
    )
    spec = StudySpec(
        name="flow-study",
        space=space,
        base_config=TrainConfig(epochs=2),
        max_trials=4,
        sampler=SamplerConfig(seed=0),
    )
    # The flow composes its config over the HPO preset (fields the caller did not set, such
    # as early_stopping.patience here, take the preset's value): create the study with the
    # spec the flow will run, so the flow resumes it instead of refusing a different spec.
    spec = PRESETS.resolve("default", HpoFlowConfig(study=spec)).study
    study = HpoStudy.create(spec)
    study.study.enqueue_trial({"optimizer.lr": 0.01, "model.architecture": "test_flow_broken"})
    for lr in (0.01, 0.02):
        study.study.enqueue_trial({"optimizer.lr": lr, "model.architecture": "mlp"})

    result = hpo(HpoFlowConfig(study=spec, n_trials=3, max_concurrent=2))
    states = sorted(o.state for o in result.outcomes)
    assert states == ["COMPLETE", "COMPLETE", "FAIL"], result.outcomes
    failed = next(o for o in result.outcomes if o.state == "FAIL")
    assert failed.reason == "RuntimeError: broken on purpose"
    assert result.registered_version == "1" and result.n_trials == 3
    keys = _artifact_keys()
    assert {
        "hpo-flow-study-history",
        "hpo-flow-study-importance",
        "hpo-flow-study-top-trials",
        "hpo-flow-study-progress",
    } <= keys

    again = hpo(HpoFlowConfig(study=spec, register_best=False))  # resume: up to max_trials
    assert len(again.outcomes) == 1 and again.n_trials == 4
