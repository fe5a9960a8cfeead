"""TrainConfig: defaults, dotted overrides, validation errors that name the field."""

from __future__ import annotations

import pytest

from crucible.exceptions import InvalidInputError
from crucible.training.config import TrainConfig


def test_overrides_apply_and_validate() -> None:
    config = TrainConfig().with_overrides(
        {"optimizer.lr": 0.01, "model.hidden_sizes": [32], "batch_size": 16}
    )
    assert config.optimizer.lr == 0.01 and config.model.hidden_sizes == [32]
    assert config.batch_size == 16
    assert TrainConfig().optimizer.lr == 1e-3  # the original is untouched


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"optimizer.learning_rate": 0.1}, "optimizer.learning_rate"),
        ({"nosuch.lr": 0.1}, "nosuch.lr"),
        ({"optimizer.lr": -1.0}, "overrides"),
        ({"model.dropout": 1.5}, "overrides"),
    ],
)
def test_bad_overrides_name_the_field(overrides: dict, field: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        TrainConfig().with_overrides(overrides)
    assert info.value.field == field


def test_config_round_trips_through_json() -> None:
    config = TrainConfig().with_overrides({"schedule.name": "step", "model.architecture": "gru"})
    assert TrainConfig.model_validate_json(config.model_dump_json()) == config


def test_training_package_and_config_import_light() -> None:
    import json
    import subprocess
    import sys

    code = (
        "import sys, json, crucible.training, crucible.training.config; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    assert not loaded & {"torch", "optuna", "mlflow", "prefect", "sklearn", "botorch"}
