"""Architecture registry: built-ins, user architectures, clear errors."""

from __future__ import annotations

import pytest
from torch import nn

from crucible.exceptions import AlreadyExistsError, InvalidInputError
from crucible.training.config import ModelConfig, TrainConfig
from crucible.training.engine import fit
from crucible.training.nets import available_architectures, build_model, register_architecture


def test_builtins_are_registered() -> None:
    assert {"mlp", "cnn1d", "cnn2d", "lstm", "gru", "transformer"} <= set(
        available_architectures()
    )


def test_user_architecture_is_trained_by_fit() -> None:
    @register_architecture("test_linear_probe", replace=True)
    def build(config: ModelConfig, input_shape: tuple[int, ...], output_dim: int) -> nn.Module:
        return nn.Sequential(
            nn.Flatten(), nn.Linear(input_shape[0], output_dim, bias=config.options["bias"])
        )

    config = TrainConfig(epochs=5).with_overrides(
        {
            "model.architecture": "test_linear_probe",
            "model.options": {"bias": False},
            "optimizer.lr": 0.01,
        }
    )
    result = fit(config)
    assert result.n_parameters == 64 * 10  # no bias
    assert result.best_metrics["valid_accuracy"] > 0.8


def test_duplicate_registration_refused() -> None:
    with pytest.raises(AlreadyExistsError, match="replace=True"):
        register_architecture("mlp")(lambda c, s, o: nn.Identity())


def test_unknown_architecture_names_the_choices() -> None:
    with pytest.raises(InvalidInputError, match="register_architecture"):
        build_model(ModelConfig(architecture="resnet999"), (64,), 10)


def test_rank_mismatch_suggests_layout() -> None:
    with pytest.raises(InvalidInputError, match="layout"):
        build_model(ModelConfig(architecture="cnn2d"), (64,), 10)


def test_transformer_heads_must_divide_width() -> None:
    with pytest.raises(ValueError, match="divisible"):
        ModelConfig(architecture="transformer", d_model=30, nhead=4)
