"""Training configuration: one pydantic model per concern, composed into :class:`TrainConfig`.

Every field has a default, so ``TrainConfig()`` trains the default MLP on digits. HPO
builds a config from sampled parameters with :func:`TrainConfig.with_overrides`, which
takes dotted names (``"optimizer.lr"``, ``"model.dropout"``) so that a search space written
once with :mod:`crucible.space` maps onto the config without glue code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from crucible.exceptions import InvalidInputError
from crucible.validation import DeviceName, Seed, check_order, strict_config

OptimizerName = Literal["adam", "adamw", "sgd"]
ScheduleName = Literal["none", "cosine", "step", "exponential"]
LossName = Literal["cross_entropy", "mse", "l1"]
DatasetLayout = Literal["flat", "image", "sequence"]
DatasetName = Literal["digits", "wine", "breast_cancer", "diabetes", "egfr"]


class _Strict(BaseModel):
    model_config = strict_config(validate_assignment=True)


class ModelConfig(_Strict):
    """Network architecture and its sizes.

    ``architecture`` names an entry of the registry in :mod:`crucible.training.nets`
    (built in: ``mlp``, ``cnn1d``, ``cnn2d``, ``lstm``, ``gru``, ``transformer``); user
    architectures registered there are accepted too and receive :attr:`options`.
    """

    architecture: str = Field(default="mlp", description="Registered architecture name.")
    hidden_sizes: list[int] = Field(
        default_factory=lambda: [128, 64], description="MLP hidden layer widths."
    )
    channels: list[int] = Field(
        default_factory=lambda: [16, 32], description="CNN channels per conv block."
    )
    kernel_size: int = Field(default=3, ge=1, description="CNN kernel size.")
    hidden_size: int = Field(default=64, ge=1, description="LSTM/GRU hidden size.")
    num_layers: int = Field(default=1, ge=1, description="RNN / transformer layers.")
    d_model: int = Field(default=32, ge=1, description="Transformer model width.")
    nhead: int = Field(default=4, ge=1, description="Transformer attention heads.")
    dim_feedforward: int = Field(default=64, ge=1, description="Transformer FFN width.")
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0, description="Dropout probability.")
    activation: Literal["relu", "gelu", "tanh", "silu"] = "relu"
    options: dict[str, Any] = Field(
        default_factory=dict, description="Extra keyword options for user architectures."
    )

    @field_validator("hidden_sizes", "channels")
    @classmethod
    def _positive_sizes(cls, value: list[int]) -> list[int]:
        if any(size < 1 for size in value):
            raise ValueError("every size must be >= 1")
        return value

    @model_validator(mode="after")
    def _heads_divide_width(self) -> ModelConfig:
        if self.architecture == "transformer" and self.d_model % self.nhead:
            raise ValueError(
                f"d_model={self.d_model} must be divisible by nhead={self.nhead}; "
                "pick d_model as a multiple of nhead"
            )
        return self


class OptimizerConfig(_Strict):
    """Optimiser, learning rate and regularisation."""

    name: OptimizerName = "adamw"
    lr: float = Field(default=1e-3, gt=0.0, description="Peak learning rate.")
    weight_decay: float = Field(default=1e-4, ge=0.0)
    momentum: float = Field(default=0.9, ge=0.0, lt=1.0, description="SGD momentum.")
    nesterov: bool = False
    grad_clip_norm: float | None = Field(
        default=None, gt=0.0, description="Clip the global gradient norm to this value."
    )


class ScheduleConfig(_Strict):
    """Learning-rate schedule, applied once per epoch, after an optional linear warm-up."""

    name: ScheduleName = "cosine"
    warmup_epochs: int = Field(default=0, ge=0, description="Linear warm-up epochs.")
    step_size: int = Field(default=10, ge=1, description="Step schedule: epochs per decay.")
    gamma: float = Field(default=0.5, gt=0.0, le=1.0, description="Step/exponential decay.")
    min_lr_ratio: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Cosine floor as a fraction of the peak lr."
    )


class EarlyStoppingConfig(_Strict):
    """Stop when the monitored metric has not improved by ``min_delta`` for ``patience``."""

    enabled: bool = True
    patience: int = Field(default=10, ge=1)
    min_delta: float = Field(default=0.0, ge=0.0)


class CheckpointConfig(_Strict):
    """Where and how often to save checkpoints (the best one is always kept in memory)."""

    directory: Path | None = Field(
        default=None, description="Folder for checkpoint files; None keeps them in memory."
    )
    every_n_epochs: int = Field(default=0, ge=0, description="0 saves only the best.")


class DataConfig(_Strict):
    """A bundled dataset and how to split it (used when ``fit`` gets no data).

    ``egfr`` is the ligand-data stage's bundled ChEMBL EGFR set (5,568 molecules): Morgan
    count fingerprints (radius 2, ``n_bits``) → pIC50, a regression task.
    """

    name: DatasetName = Field(
        default="digits", description="digits, wine, breast_cancer, diabetes or egfr."
    )
    layout: DatasetLayout = Field(
        default="flat", description="flat (N, F), image (N, 1, H, W) or sequence (N, T, F)."
    )
    valid_fraction: float = Field(default=0.2, gt=0.0, lt=1.0)
    split_seed: Seed = 0
    limit: int | None = Field(
        default=None, ge=10, description="egfr: seeded random sample of this many molecules."
    )
    n_bits: int = Field(default=2048, ge=16, description="egfr: Morgan count-vector length.")


class TrainConfig(_Strict):
    """Everything ``fit`` needs. Defaults train a small MLP on scikit-learn's digits."""

    model: ModelConfig = Field(default_factory=ModelConfig)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    early_stopping: EarlyStoppingConfig = Field(default_factory=EarlyStoppingConfig)
    checkpoint: CheckpointConfig = Field(default_factory=CheckpointConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    loss: LossName | None = Field(
        default=None, description="None picks cross_entropy for classification, else mse."
    )
    batch_size: int = Field(default=64, ge=1)
    epochs: int = Field(default=30, ge=1)
    monitor: str = Field(
        default="valid_loss", description="Metric that picks the best epoch and early stops."
    )
    monitor_mode: Literal["min", "max"] = "min"
    seed: Seed = 0
    device: DeviceName = Field(
        default="auto", description="auto (CUDA when present), cpu, cuda[:N]."
    )
    amp: bool = Field(default=True, description="Mixed precision (bf16/fp16) on CUDA only.")
    num_threads: int = Field(default=0, ge=0, description="torch CPU threads; 0 = leave.")

    @model_validator(mode="after")
    def _warmup_within_epochs(self) -> TrainConfig:
        check_order("schedule.warmup_epochs", self.schedule.warmup_epochs, "epochs", self.epochs)
        return self

    def with_overrides(self, overrides: dict[str, Any]) -> TrainConfig:
        """Return a copy with dotted-name overrides applied and validated.

        Args:
            overrides: ``{"optimizer.lr": 3e-3, "model.hidden_sizes": [256, 128], ...}``.
                Top-level names (``"batch_size"``) work too.

        Returns:
            The new validated config.

        Raises:
            InvalidInputError: If a name does not exist or a value fails validation.
        """
        data = self.model_dump()
        for dotted, value in overrides.items():
            node = data
            *parents, leaf = dotted.split(".")
            for part in parents:
                if not isinstance(node.get(part), dict):
                    raise InvalidInputError(
                        dotted, f"'{part}' is not a section of TrainConfig", _SECTIONS_FIX
                    )
                node = node[part]
            if leaf not in node and not (parents and parents[-1] == "options"):
                raise InvalidInputError(dotted, "no such training setting", _SECTIONS_FIX)
            node[leaf] = value
        try:
            return TrainConfig.model_validate(data)
        except ValueError as exc:
            raise InvalidInputError("overrides", str(exc), "fix the values named above") from exc


_SECTIONS_FIX = (
    "use a dotted name such as 'optimizer.lr', 'model.dropout', 'schedule.name', "
    "'batch_size' (see crucible.training.config.TrainConfig)"
)
