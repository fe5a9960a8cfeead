"""Network architectures and their registry.

A builder takes the :class:`~crucible.training.config.ModelConfig`, the per-example input
shape and the output width, and returns a ``torch.nn.Module``. Built in:

========== ============================ =====================================
name       input per example            notes
========== ============================ =====================================
mlp        ``(F,)`` (any shape, flattened) hidden_sizes, dropout, activation
cnn1d      ``(C, L)`` or ``(L,)``        channels, kernel_size; global avg pool
cnn2d      ``(C, H, W)`` or ``(H, W)``   channels, kernel_size; global avg pool
lstm, gru  ``(T, F)`` or ``(T,)``        hidden_size, num_layers; last step
transformer ``(T, F)`` or ``(T,)``       d_model, nhead, num_layers; mean pool
========== ============================ =====================================

Register your own with :func:`register_architecture`::

    @register_architecture("my_net")
    def build_my_net(config, input_shape, output_dim):
        return MyNet(input_shape, output_dim, **config.options)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from crucible.exceptions import AlreadyExistsError, InvalidInputError

if TYPE_CHECKING:
    from crucible.training.config import ModelConfig

Builder = Callable[["ModelConfig", tuple[int, ...], int], nn.Module]

_REGISTRY: dict[str, Builder] = {}


def register_architecture(name: str, *, replace: bool = False) -> Callable[[Builder], Builder]:
    """Decorator that registers a network builder under ``name``.

    Args:
        name: Value of ``ModelConfig.architecture`` that selects the builder.
        replace: Allow replacing an existing entry.

    Returns:
        The decorator (it returns the builder unchanged).

    Raises:
        AlreadyExistsError: If ``name`` is taken and ``replace`` is false.
    """

    def decorator(builder: Builder) -> Builder:
        if name in _REGISTRY and not replace:
            raise AlreadyExistsError(
                f"architecture {name!r} is already registered; pick another name "
                "or pass replace=True"
            )
        _REGISTRY[name] = builder
        return builder

    return decorator


def available_architectures() -> list[str]:
    """Names accepted by ``ModelConfig.architecture``."""
    return sorted(_REGISTRY)


def build_model(config: ModelConfig, input_shape: Sequence[int], output_dim: int) -> nn.Module:
    """Build the network named by ``config.architecture``.

    Args:
        config: The model section of the training config.
        input_shape: Shape of one example, without the batch dimension.
        output_dim: Number of classes (classification) or targets (regression).

    Returns:
        A module mapping ``batch x *input_shape`` to ``batch x output_dim``.

    Raises:
        InvalidInputError: If the architecture is unknown or does not fit the input shape.
    """
    builder = _REGISTRY.get(config.architecture)
    if builder is None:
        raise InvalidInputError(
            "model.architecture",
            f"unknown architecture {config.architecture!r}",
            f"use one of {available_architectures()} or register yours with "
            "crucible.training.nets.register_architecture",
        )
    return builder(config, tuple(int(s) for s in input_shape), int(output_dim))


def _activation(name: str) -> nn.Module:
    return {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "silu": nn.SiLU}[name]()


def _require_rank(name: str, input_shape: tuple[int, ...], ranks: tuple[int, ...]) -> None:
    if len(input_shape) not in ranks:
        raise InvalidInputError(
            "model.architecture",
            f"{name} needs inputs of rank {ranks} per example, got shape {input_shape}",
            "choose data.layout to match (flat → mlp, image → cnn2d, sequence → "
            "cnn1d/lstm/gru/transformer)",
        )


@register_architecture("mlp")
def _build_mlp(config: ModelConfig, input_shape: tuple[int, ...], output_dim: int) -> nn.Module:
    layers: list[Any] = [nn.Flatten()]
    width = math.prod(input_shape)
    for hidden in config.hidden_sizes:
        layers += [nn.Linear(width, hidden), _activation(config.activation)]
        layers += [nn.Dropout(config.dropout)] if config.dropout > 0 else []
        width = hidden
    layers.append(nn.Linear(width, output_dim))
    return nn.Sequential(*layers)


def _conv_stack(config: ModelConfig, in_channels: int, dims: int) -> list[Any]:
    conv = nn.Conv1d if dims == 1 else nn.Conv2d
    layers: list[Any] = []
    for channels in config.channels:
        layers += [
            conv(in_channels, channels, config.kernel_size, padding="same"),
            _activation(config.activation),
        ]
        layers += [nn.Dropout(config.dropout)] if config.dropout > 0 else []
        in_channels = channels
    pool = nn.AdaptiveAvgPool1d(1) if dims == 1 else nn.AdaptiveAvgPool2d(1)
    return [*layers, pool, nn.Flatten()]


@register_architecture("cnn1d")
def _build_cnn1d(config: ModelConfig, input_shape: tuple[int, ...], output_dim: int) -> nn.Module:
    _require_rank("cnn1d", input_shape, (1, 2))
    in_channels = input_shape[0] if len(input_shape) == 2 else 1
    head = [nn.Unflatten(1, (1, input_shape[0]))] if len(input_shape) == 1 else []
    body = _conv_stack(config, in_channels, dims=1)
    return nn.Sequential(*head, *body, nn.Linear(config.channels[-1], output_dim))


@register_architecture("cnn2d")
def _build_cnn2d(config: ModelConfig, input_shape: tuple[int, ...], output_dim: int) -> nn.Module:
    _require_rank("cnn2d", input_shape, (2, 3))
    in_channels = input_shape[0] if len(input_shape) == 3 else 1
    head = [nn.Unflatten(1, (1, *input_shape))] if len(input_shape) == 2 else []
    body = _conv_stack(config, in_channels, dims=2)
    return nn.Sequential(*head, *body, nn.Linear(config.channels[-1], output_dim))


def _sequence_head(input_shape: tuple[int, ...]) -> tuple[list[Any], int]:
    """Layers that turn ``batch x T`` into ``batch x T x 1``; and the feature width."""
    if len(input_shape) == 1:
        return [nn.Unflatten(1, (input_shape[0], 1))], 1
    return [], input_shape[1]


class RecurrentNet(nn.Module):
    """``batch x T x F`` → LSTM/GRU → last step → linear → ``batch x output_dim``."""

    def __init__(
        self, kind: str, config: ModelConfig, input_shape: tuple[int, ...], output_dim: int
    ) -> None:
        super().__init__()
        _require_rank(kind, input_shape, (1, 2))
        head, features = _sequence_head(input_shape)
        rnn_cls = nn.LSTM if kind == "lstm" else nn.GRU
        self.head = nn.Sequential(*head)
        self.rnn = rnn_cls(
            features,
            config.hidden_size,
            num_layers=config.num_layers,
            batch_first=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        self.out = nn.Linear(config.hidden_size, output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``batch x T [x F]`` to ``batch x output_dim``."""
        sequence, _ = self.rnn(self.head(x))
        return self.out(sequence[:, -1])


class TransformerNet(nn.Module):
    """``batch x T x F`` → linear embed + learned positions → encoder → mean pool → linear."""

    def __init__(self, config: ModelConfig, input_shape: tuple[int, ...], output_dim: int) -> None:
        super().__init__()
        _require_rank("transformer", input_shape, (1, 2))
        head, features = _sequence_head(input_shape)
        self.head = nn.Sequential(*head)
        self.embed = nn.Linear(features, config.d_model)
        self.position = nn.Parameter(torch.zeros(1, input_shape[0], config.d_model))
        layer = nn.TransformerEncoderLayer(
            config.d_model,
            config.nhead,
            dim_feedforward=config.dim_feedforward,
            dropout=config.dropout,
            activation="gelu" if config.activation == "gelu" else "relu",
            batch_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, config.num_layers, enable_nested_tensor=False)
        self.out = nn.Linear(config.d_model, output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``batch x T [x F]`` to ``batch x output_dim``."""
        hidden = self.encoder(self.embed(self.head(x)) + self.position)
        return self.out(hidden.mean(dim=1))


@register_architecture("lstm")
def _build_lstm(config: ModelConfig, input_shape: tuple[int, ...], output_dim: int) -> nn.Module:
    return RecurrentNet("lstm", config, input_shape, output_dim)


@register_architecture("gru")
def _build_gru(config: ModelConfig, input_shape: tuple[int, ...], output_dim: int) -> nn.Module:
    return RecurrentNet("gru", config, input_shape, output_dim)


@register_architecture("transformer")
def _build_transformer(
    config: ModelConfig, input_shape: tuple[int, ...], output_dim: int
) -> nn.Module:
    return TransformerNet(config, input_shape, output_dim)
