"""Crucible's training engine vs PyTorch Lightning on the same network, data and optimiser.

Trains the default MLP (``crucible.training.nets``) on scikit-learn's digits for a fixed
number of epochs twice: with ``crucible.training.engine.fit`` and with a
``lightning.LightningModule`` wrapping the same network (AdamW, same learning rate, batch
size and seed; a ``DataLoader`` over the same tensors; logger, checkpointing, progress bar
and model summary off). Prints CPU seconds per epoch of each and the final validation
accuracy, the figures behind the engine decision in ``docs/hpo.md``.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/lightning_overhead.py [--epochs 20]
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")

import lightning as L  # noqa: N812
import torch
from torch import nn
from torch.utils.data import DataLoader

from crucible.training.config import TrainConfig
from crucible.training.datasets import load_dataset
from crucible.training.engine import fit
from crucible.training.nets import build_model


class _Module(L.LightningModule):
    def __init__(self, net: nn.Module, lr: float, weight_decay: float) -> None:
        super().__init__()
        self.net, self.lr, self.weight_decay = net, lr, weight_decay
        self.correct, self.seen = 0, 0

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.cross_entropy(self.net(x), y)

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> None:
        x, y = batch
        self.correct += int((self.net(x).argmax(dim=1) == y).sum())
        self.seen += len(y)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)


def _crucible(config: TrainConfig) -> tuple[float, float]:
    start = time.process_time()
    result = fit(config)
    return (time.process_time() - start) / config.epochs, result.history[-1]["valid_accuracy"]


def _lightning(config: TrainConfig) -> tuple[float, float]:
    split = load_dataset(config.data)
    torch.manual_seed(config.seed)
    net = build_model(config.model, split.input_shape, split.output_dim)
    module = _Module(net, config.optimizer.lr, config.optimizer.weight_decay)
    train = DataLoader(split.train, batch_size=config.batch_size, shuffle=True)
    valid = DataLoader(split.valid, batch_size=config.batch_size)
    trainer = L.Trainer(
        max_epochs=config.epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    start = time.process_time()
    trainer.fit(module, train, valid)
    seconds = (time.process_time() - start) / config.epochs
    module.correct, module.seen = 0, 0
    trainer.validate(module, valid, verbose=False)
    return seconds, module.correct / module.seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    logging.getLogger("lightning").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    config = TrainConfig.model_validate(
        {"epochs": args.epochs, "device": "cpu", "early_stopping": {"enabled": False}}
    )
    print("| engine | CPU s per epoch | final validation accuracy |")
    print("|---|---|---|")
    for name, run in (("crucible.training.engine", _crucible), ("Lightning Trainer", _lightning)):
        per_epoch, accuracy = run(config)
        print(f"| {name} | {per_epoch:.4f} | {accuracy:.4f} |")


if __name__ == "__main__":
    main()
