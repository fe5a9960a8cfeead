"""The training flow, called the way the BO campaign's deployment evaluation calls it."""

from __future__ import annotations

import math

from crucible.training.config import TrainConfig
from flows.training_flow import TrainFlowConfig, train


def test_training_flow_returns_numeric_metrics_for_a_bo_point(tmp_path) -> None:
    config = TrainFlowConfig(
        train=TrainConfig(epochs=2),
        objective="valid_accuracy",
        tracking=False,
        output_dir=str(tmp_path),
    )
    result = train(params={"optimizer.lr": 0.01, "model.width": 32}, config=config)
    assert result["objective"] == result["valid_accuracy"] > 0.8
    assert result["n_parameters"] == (64 * 32 + 32) + (32 * 32 + 32) + (32 * 10 + 10)
    assert all(isinstance(v, float) and math.isfinite(v) for v in result.values())
    assert (tmp_path / "best.pt").is_file()
