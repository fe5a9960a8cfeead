"""The training engine: ``fit(config, train, valid, callbacks)`` → :class:`FitResult`.

One loop for every architecture: seeded, device ``auto`` (CUDA when present), mixed
precision on CUDA (bf16 where supported, else fp16 with a gradient scaler), gradient
clipping, a per-epoch learning-rate schedule with linear warm-up, early stopping on a
monitored metric, the best weights kept in memory and optionally written to disk with
periodic checkpoints. Tensor datasets are batched by indexing tensors that already live on
the device, which is several times faster than a ``DataLoader`` for small tabular data.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from crucible.device import resolve_device
from crucible.exceptions import CrucibleError, InvalidFileError, InvalidInputError
from crucible.tracking import Tracker, flatten, make_tracker
from crucible.training.callbacks import Callback, TrackingCallback
from crucible.training.config import ScheduleConfig, TrainConfig
from crucible.training.datasets import DatasetSplit, Task, load_dataset
from crucible.training.nets import build_model
from crucible.training.results import FitResult


class TrainingDivergedError(CrucibleError, FloatingPointError):
    """The training loss became NaN or infinite (lower the learning rate or clip grads)."""


def fit(
    config: TrainConfig | None = None,
    train: DatasetSplit | Dataset[Any] | None = None,
    valid: Dataset[Any] | None = None,
    callbacks: Sequence[Callback] = (),
) -> FitResult:
    """Train a network as ``config`` says and return the history and the best weights.

    Args:
        config: The training config (defaults: MLP on digits).
        train: A :class:`DatasetSplit` (then ``valid`` is ignored), a training dataset
            yielding ``(x, y)`` pairs, or None to load ``config.data``. Integer targets mean
            classification, float targets regression.
        valid: Validation dataset when ``train`` is a plain dataset.
        callbacks: Per-epoch hooks (see :class:`~crucible.training.callbacks.Callback`).

    Returns:
        The :class:`FitResult`.

    Raises:
        InvalidInputError: If data and config do not fit together.
        TrainingDivergedError: If the loss becomes NaN or infinite.
    """
    config = config or TrainConfig()
    split = _as_split(config, train, valid)
    start = time.perf_counter()
    _seed_everything(config.seed)
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    device = resolve_device(config.device)
    model = build_model(config.model, split.input_shape, split.output_dim).to(device)
    loop = _Loop(config, split, model, device)
    for callback in callbacks:
        callback.on_fit_start(model, config)
    result = loop.run(callbacks)
    result.seconds = time.perf_counter() - start
    for callback in callbacks:
        callback.on_fit_end(result)
    return result


def fit_tracked(
    config: TrainConfig,
    data: Any = None,
    *,
    experiment: str = "crucible-training",
    tracker: Tracker | None = None,
    params: Mapping[str, Any] | None = None,
    callbacks: Sequence[Callback] = (),
    tags: Mapping[str, str] | None = None,
) -> tuple[FitResult, str | None]:
    """Train one config and record it as a single tracked run (not part of a study).

    Args:
        config: The training configuration.
        data: Data for :func:`fit` (``config.data`` when None).
        experiment: Experiment name.
        tracker: Where to record (MLflow at the settings' URI when None).
        params: Parameters to record (e.g. a BO campaign's point); the flattened config
            is always recorded.
        callbacks: Extra per-epoch callbacks.
        tags: Extra run tags (``run_name`` also names the run).

    Returns:
        The fit result and the run id (None with a no-op tracker).
    """
    tracker = tracker or make_tracker(True)
    run = tracker.start_run(
        experiment,
        (tags or {}).get("run_name", config.model.architecture),
        tags={"crucible.role": "training", **dict(tags or {})},
    )
    run.log_params({**flatten(config.model_dump(mode="json")), **dict(params or {})})
    try:
        result = fit(config, data, callbacks=[TrackingCallback(run), *callbacks])
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        run.set_tags({"crucible.state": "FAIL", "crucible.fail_reason": reason})
        run.end("FAILED")
        raise
    run.log_metrics({f"best_{k}": v for k, v in result.best_metrics.items()})
    if result.best_checkpoint_path is not None:
        run.log_artifact(result.best_checkpoint_path, "checkpoint")
    run.set_tags({"crucible.state": "COMPLETE"})
    run.end()
    return result, run.run_id


def _as_split(
    config: TrainConfig, train: DatasetSplit | Dataset[Any] | None, valid: Dataset[Any] | None
) -> DatasetSplit:
    if train is None:
        return load_dataset(config.data)
    if isinstance(train, DatasetSplit):
        return train
    if valid is None:
        raise InvalidInputError("valid", "missing", "pass a validation dataset with train")
    x0, y0 = train[0]
    y0 = torch.as_tensor(y0)
    task: Task = "regression" if y0.is_floating_point() else "classification"
    if task == "classification":
        output_dim = 1 + int(max(int(train[i][1]) for i in range(len(train))))  # type: ignore[arg-type]
    else:
        output_dim = int(y0.numel())
    return DatasetSplit(train, valid, tuple(torch.as_tensor(x0).shape), output_dim, task)  # type: ignore[arg-type]


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def lr_factor(schedule: ScheduleConfig, epoch: int, epochs: int) -> float:
    """Multiplier of the peak learning rate during ``epoch`` (0-based).

    Linear warm-up ``(e + 1) / warmup_epochs`` for the first ``warmup_epochs``, then the
    schedule over the remaining epochs.
    """
    if epoch < schedule.warmup_epochs:
        return (epoch + 1) / schedule.warmup_epochs
    t = epoch - schedule.warmup_epochs
    span = max(epochs - schedule.warmup_epochs, 1)
    if schedule.name == "cosine":
        floor = schedule.min_lr_ratio
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t / span))
    if schedule.name == "step":
        return float(schedule.gamma ** (t // schedule.step_size))
    if schedule.name == "exponential":
        return float(schedule.gamma**t)
    return 1.0


def _make_optimizer(config: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    opt = config.optimizer
    params = [p for p in model.parameters() if p.requires_grad]
    if opt.name == "sgd":
        return torch.optim.SGD(
            params,
            lr=opt.lr,
            momentum=opt.momentum,
            nesterov=opt.nesterov and opt.momentum > 0,
            weight_decay=opt.weight_decay,
        )
    cls = torch.optim.AdamW if opt.name == "adamw" else torch.optim.Adam
    return cls(params, lr=opt.lr, weight_decay=opt.weight_decay)


def _make_loss(config: TrainConfig, task: Task) -> nn.Module:
    name = config.loss or ("cross_entropy" if task == "classification" else "mse")
    if (name == "cross_entropy") != (task == "classification"):
        raise InvalidInputError(
            "loss",
            f"{name!r} does not fit a {task} dataset",
            "use cross_entropy for classification and mse or l1 for regression",
        )
    return {"cross_entropy": nn.CrossEntropyLoss, "mse": nn.MSELoss, "l1": nn.L1Loss}[name]()


class _Loop:
    """State of one training run (kept private: ``fit`` is the API)."""

    def __init__(
        self, config: TrainConfig, split: DatasetSplit, model: nn.Module, device: torch.device
    ) -> None:
        self.config, self.split, self.model, self.device = config, split, model, device
        self.optimizer = _make_optimizer(config, model)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda e: lr_factor(config.schedule, e, config.epochs)
        )
        self.loss_fn = _make_loss(config, split.task)
        use_amp = config.amp and device.type == "cuda"
        self.amp_dtype = (
            (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)
            if use_amp
            else None
        )
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.train_tensors = _on_device(split.train, device)
        self.valid_tensors = _on_device(split.valid, device)

    def run(self, callbacks: Sequence[Callback]) -> FitResult:
        """Train epoch by epoch and return the result.

        ``best.pt`` is written with each periodic checkpoint (when the best changed) and at
        the end, not at every improvement (each write costs a ``torch.save``).
        """
        config, sign = self.config, (1.0 if self.config.monitor_mode == "min" else -1.0)
        history: list[dict[str, float]] = []
        best_value, best_epoch, best_state = math.inf, 0, self._state()
        periodic: list[Path] = []
        best_path, best_unsaved, stale, stopped = None, False, 0, False
        stopping = config.early_stopping
        for epoch in range(1, config.epochs + 1):
            metrics = self._epoch(epoch)
            history.append(metrics)
            value = self._monitored(metrics)
            if sign * value < best_value - stopping.min_delta:
                best_value, best_epoch, best_state, stale = sign * value, epoch, self._state(), 0
                best_unsaved = True
            else:
                stale += 1
            every = config.checkpoint.every_n_epochs
            if every and epoch % every == 0:
                path = self._save(f"epoch_{epoch:04d}.pt", epoch, metrics, self._state())
                periodic += [path] if path else []
                if best_unsaved:
                    best_metrics = history[best_epoch - 1]
                    best_path = self._save("best.pt", best_epoch, best_metrics, best_state)
                    best_unsaved = False
            stop_requested = any([bool(cb.on_epoch_end(epoch, dict(metrics))) for cb in callbacks])
            if stop_requested or (stopping.enabled and stale >= stopping.patience):
                stopped = epoch < config.epochs
                break
        if best_epoch == 0:
            raise TrainingDivergedError(
                f"{config.monitor} was never finite; lower optimizer.lr or check the data"
            )
        if best_unsaved or best_path is None:
            best_path = self._save("best.pt", best_epoch, history[best_epoch - 1], best_state)
        self.model.load_state_dict(best_state)
        self.model.eval()
        return FitResult(
            history=history,
            best_epoch=best_epoch,
            best_value=sign * best_value,
            monitor=config.monitor,
            best_state=best_state,
            model=self.model,
            best_checkpoint_path=best_path,
            checkpoint_paths=periodic,
            stopped_early=stopped,
            task=self.split.task,
            device=str(self.device),
            n_parameters=sum(p.numel() for p in self.model.parameters() if p.requires_grad),
        )

    def _monitored(self, metrics: dict[str, float]) -> float:
        if self.config.monitor not in metrics:
            raise InvalidInputError(
                "monitor",
                f"{self.config.monitor!r} is not an epoch metric",
                f"use one of {sorted(metrics)}",
            )
        return metrics[self.config.monitor]

    def _state(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}

    def _save(
        self,
        filename: str,
        epoch: int,
        metrics: dict[str, float],
        state: dict[str, torch.Tensor],
    ) -> Path | None:
        folder = self.config.checkpoint.directory
        if folder is None:
            return None
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / filename
        payload = {
            "state_dict": state,
            "epoch": epoch,
            "metrics": metrics,
            "config": self.config.model_dump(mode="json"),
            "input_shape": self.split.input_shape,
            "output_dim": self.split.output_dim,
            "task": self.split.task,
        }
        torch.save(payload, path)
        return path

    def _epoch(self, epoch: int) -> dict[str, float]:
        start = time.perf_counter()
        lr = self.optimizer.param_groups[0]["lr"]
        train_loss = self._train_one_epoch()
        self.scheduler.step()
        metrics = {"epoch": float(epoch), "train_loss": train_loss, "lr": lr}
        metrics.update(self._evaluate())
        metrics["epoch_seconds"] = time.perf_counter() - start
        return metrics

    def _autocast(self) -> Any:
        if self.amp_dtype is None:
            return torch.autocast(device_type=self.device.type, enabled=False)
        return torch.autocast(device_type="cuda", dtype=self.amp_dtype)

    def _train_one_epoch(self) -> float:
        self.model.train()
        total, count = 0.0, 0
        clip = self.config.optimizer.grad_clip_norm
        for x, y in self._batches(self.split.train, self.train_tensors, shuffle=True):
            self.optimizer.zero_grad(set_to_none=True)
            with self._autocast():
                loss = self.loss_fn(self.model(x), y)
            if not torch.isfinite(loss):
                raise TrainingDivergedError(
                    f"training loss became {loss.item()}; lower optimizer.lr or set "
                    "optimizer.grad_clip_norm"
                )
            self.scaler.scale(loss).backward()
            if clip is not None:
                self.scaler.unscale_(self.optimizer)
                nn.utils.clip_grad_norm_(self.model.parameters(), clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            total += float(loss.detach()) * len(x)
            count += len(x)
        return total / max(count, 1)

    @torch.no_grad()
    def _evaluate(self) -> dict[str, float]:
        self.model.eval()
        outputs, targets = [], []
        for x, y in self._batches(self.split.valid, self.valid_tensors, shuffle=False):
            with self._autocast():
                outputs.append(self.model(x).float())
            targets.append(y)
        out, target = torch.cat(outputs), torch.cat(targets)
        metrics = {"valid_loss": float(self.loss_fn(out, target))}
        if self.split.task == "classification":
            metrics["valid_accuracy"] = float((out.argmax(dim=1) == target).float().mean())
        else:
            error = out - target
            metrics["valid_mae"] = float(error.abs().mean())
            metrics["valid_rmse"] = float(error.pow(2).mean().sqrt())
        return metrics

    def _batches(
        self,
        dataset: Dataset[Any],
        tensors: tuple[torch.Tensor, torch.Tensor] | None,
        shuffle: bool,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        size = self.config.batch_size
        if tensors is None:
            loader = DataLoader(
                dataset, batch_size=size, shuffle=shuffle, generator=self.generator
            )
            for x, y in loader:
                yield x.to(self.device), y.to(self.device)
            return
        x_all, y_all = tensors
        n = len(x_all)
        order = torch.randperm(n, generator=self.generator) if shuffle else torch.arange(n)
        order = order.to(self.device)
        for begin in range(0, n, size):
            index = order[begin : begin + size]
            yield x_all[index], y_all[index]


def _on_device(
    dataset: Dataset[Any], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor] | None:
    if isinstance(dataset, TensorDataset) and len(dataset.tensors) == 2:
        x, y = dataset.tensors
        return x.to(device), y.to(device)
    return None


_CHECKPOINT_KEYS = ("state_dict", "config", "input_shape", "output_dim")
_CHECKPOINT_FIX = "pass a best.pt or epoch_NNNN.pt file written by crucible.training.fit"


def load_checkpoint(
    path: str | Path, map_location: str = "cpu"
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the network stored in a checkpoint written by ``fit``.

    The file is read with ``torch.load(weights_only=True)``: tensors and plain types only.

    Args:
        path: A ``best.pt`` or ``epoch_NNNN.pt`` file.
        map_location: Device to load the tensors onto.

    Returns:
        The model (eval mode, weights loaded) and the checkpoint payload.

    Raises:
        InvalidFileError: The file is missing, unreadable, or not a training checkpoint (keys,
            config or weights that do not fit together).
        UnsafeFileError: The file refers to objects other than tensors and plain types.
    """
    from pydantic import ValidationError

    from crucible.serialization import describe_error, load_torch

    payload = load_torch(path, field="checkpoint", kind="checkpoint", fix=_CHECKPOINT_FIX)
    if not isinstance(payload, dict) or any(k not in payload for k in _CHECKPOINT_KEYS):
        raise InvalidFileError(
            path,
            f"is not a training checkpoint (needs {_CHECKPOINT_KEYS})",
            _CHECKPOINT_FIX,
            field="checkpoint",
        )
    try:
        config = TrainConfig.model_validate(payload["config"])
        shape = [int(n) for n in payload["input_shape"]]
        model = build_model(config.model, shape, int(payload["output_dim"]))
        model.load_state_dict(payload["state_dict"])
    except (ValidationError, InvalidInputError, TypeError, ValueError, RuntimeError) as exc:
        problem = f"does not rebuild a network ({describe_error(exc)})"
        raise InvalidFileError(path, problem, _CHECKPOINT_FIX, field="checkpoint") from exc
    model.to(map_location).eval()
    return model, payload
