"""The training flow (the BO campaign's evaluation via run_deployment)."""

from __future__ import annotations

from crucible.training.config import TrainConfig
from flows.training_flow import TrainFlowConfig, train


def test_training_flow_returns_the_objective(tmp_path) -> None:
    config = TrainFlowConfig(
        train=TrainConfig(epochs=2),
        params={"optimizer.lr": 0.01, "model.width": 32},
        objective="valid_accuracy",
        tracking=False,
        output_dir=str(tmp_path),
    )
    result = train(config)
    assert result["objective"] == result["metrics"]["valid_accuracy"] > 0.8
    assert (tmp_path / "best.pt").is_file()
