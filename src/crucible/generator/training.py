"""Shared maximum-likelihood training pieces for pre-training and transfer learning."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from crucible.generator.model import GenerativeModel, pad_sequences

logger = logging.getLogger(__name__)

#: Length buckets per training batch (see :meth:`GenerativeModel.likelihood`). Measured on
#: one CPU thread, 4 buckets beat 2 by 5-20 % per step (batch 128 MOSES and batch 50 EGFR,
#: 2×256 and 3×512); 6 or 8 were no better than 4.
LENGTH_BUCKETS = 4


@dataclass
class EpochRecord:
    """Metrics of one training epoch.

    Attributes:
        epoch: 1-based epoch number.
        train_nll: Mean training NLL per molecule over the epoch.
        valid_nll: Mean NLL per molecule on the validation SMILES (NaN without them).
        learning_rate: Learning rate used in this epoch.
        validity: Share of valid SMILES among the epoch's samples.
        uniqueness: Unique valid / valid among the samples.
        novelty: Unique valid not in the training set / unique valid.
        seconds: Wall-clock seconds for the epoch (training + evaluation).
        checkpoint: Path of the checkpoint written after the epoch ("" when none).
        skipped: Molecules skipped this epoch (e.g. out-of-vocabulary randomised SMILES).
    """

    epoch: int
    train_nll: float
    valid_nll: float
    learning_rate: float
    validity: float = float("nan")
    uniqueness: float = float("nan")
    novelty: float = float("nan")
    seconds: float = 0.0
    checkpoint: str = ""
    skipped: int = 0

    def as_dict(self) -> dict[str, float | int | str]:
        """Plain dict (for tables, JSON and MLflow)."""
        return asdict(self)


@dataclass
class TrainingResult:
    """Outcome of a training run.

    Attributes:
        model_path: The final model file (the best epoch's model for TL with validation).
        history: One record per epoch.
        best_epoch: Epoch with the lowest validation NLL (last epoch without validation).
        stopped_early: Whether early stopping or a time limit ended the run.
        extra: Stage-specific information (e.g. skipped SMILES).
    """

    model_path: str
    history: list[EpochRecord]
    best_epoch: int
    stopped_early: bool = False
    extra: dict[str, object] = field(default_factory=dict)


EpochCallback = Callable[[EpochRecord], None]


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def encode_all(model: GenerativeModel, smiles: Sequence[str]) -> list[list[int]]:
    """Encode SMILES as index lists (every SMILES must be in the vocabulary)."""
    return [model.vocabulary.encode(text) for text in smiles]


def train_one_epoch(
    model: GenerativeModel,
    encoded: Sequence[Sequence[int]],
    optimizer: torch.optim.Optimizer,
    batch_size: int,
    clip_gradient_norm: float,
    rng: random.Random,
    log_every: int = 0,
    regulariser: Callable[[], torch.Tensor] | None = None,
    before_step: Callable[[torch.optim.Optimizer], None] | None = None,
) -> float:
    """One pass over ``encoded`` in shuffled batches; returns the mean NLL per molecule.

    Args:
        model: The model to train (in place).
        encoded: Index lists, one per SMILES.
        optimizer: Optimiser of the model's trainable parameters.
        batch_size: SMILES per step.
        clip_gradient_norm: Gradient-norm clip (0 = off).
        rng: Shuffles the order.
        log_every: Log the running NLL every this many steps (0 = never).
        regulariser: Added to each step's loss (e.g. a pull toward the prior's weights).
        before_step: Called with the optimiser before each update (e.g. a learning-rate
            warm-up).
    """
    model.network.train()
    order = list(range(len(encoded)))
    rng.shuffle(order)
    total, count = 0.0, 0
    started = time.perf_counter()
    for step, start in enumerate(range(0, len(order), batch_size), start=1):
        batch = pad_sequences(
            [encoded[i] for i in order[start : start + batch_size]], model.device
        )
        nll = model.likelihood(batch, buckets=LENGTH_BUCKETS)
        loss = nll.mean() if regulariser is None else nll.mean() + regulariser()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip_gradient_norm > 0:
            torch.nn.utils.clip_grad_norm_(model.network.parameters(), clip_gradient_norm)
        if before_step is not None:
            before_step(optimizer)
        optimizer.step()
        total += float(nll.detach().sum())
        count += batch.shape[0]
        if log_every and step % log_every == 0:
            logger.info(
                "step %d: mean NLL %.3f (%.1f s)",
                step,
                total / count,
                time.perf_counter() - started,
            )
    model.network.eval()
    return total / max(count, 1)


@torch.no_grad()
def mean_nll(
    model: GenerativeModel, encoded: Sequence[Sequence[int]], batch_size: int = 512
) -> float:
    """Mean NLL per molecule over already-encoded SMILES (NaN when empty)."""
    if not encoded:
        return float("nan")
    model.network.eval()
    total = 0.0
    for start in range(0, len(encoded), batch_size):
        batch = pad_sequences(list(encoded[start : start + batch_size]), model.device)
        total += float(model.likelihood(batch, buckets=LENGTH_BUCKETS).sum())
    return total / len(encoded)
