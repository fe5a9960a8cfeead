"""Prefect tasks of the generator stages: pretrain, transfer-learn, reinforce, sample.

Each task makes one call into :mod:`crucible.generator.jobs` with the stage's pydantic
config, shows progress (one step per epoch or RL step), publishes the NLL / score plots and
a history table as artifacts and returns the job's pydantic summary. Transfer learning is
cached on the prior file, the data files and the config. The ``*_reinvent`` tasks hand the
stage to an external REINVENT 4 with a generated TOML.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from prefect import get_run_logger, task
from prefect.context import TaskRunContext

from crucible.generator import jobs
from crucible.generator.jobs import (
    ReinforcementSummary,
    ReinventReinforcement,
    ReinventTransferLearning,
    SampleSummary,
    StageSpec,
    TrainingSummary,
    TransferLearningSummary,
)
from crucible.generator.pretraining import PretrainConfig
from crucible.generator.reinforcement import ReinforcementConfig, StepRecord
from crucible.generator.training import EpochRecord
from crucible.generator.transfer_learning import TransferLearningConfig
from tasks._artifacts import Progress, Row, publish_image, publish_table

_HISTORY_COLUMNS = ("epoch", "train_nll", "valid_nll", "validity", "uniqueness", "novelty",
                    "learning_rate", "skipped", "seconds")  # fmt: skip
_STEP_COLUMNS = ("stage", "step", "mean_score", "validity", "agent_nll", "prior_nll",
                 "oracle_calls")  # fmt: skip


def _rows(history: Sequence[EpochRecord | StepRecord], columns: Sequence[str]) -> list[Row]:
    return [{k: getattr(row, k) for k in columns} for row in history]


def _epoch_logger(progress: Progress, stage: str) -> Any:
    logger = get_run_logger()

    def on_epoch(record: EpochRecord) -> None:
        progress.set(record.epoch)
        logger.info(
            "%s epoch %d: train NLL %.3f, validation NLL %.3f, validity %.3f, skipped %d",
            stage, record.epoch, record.train_nll, record.valid_nll, record.validity,
            record.skipped,
        )  # fmt: skip

    return on_epoch


@task(name="pretrain-prior", timeout_seconds=24 * 3600)
def pretrain_prior(
    corpus_path: str,
    config: PretrainConfig,
    output_dir: str,
    limit: int | None = None,
    track: bool = True,
) -> TrainingSummary:
    """Pre-train a prior on a SMILES file (see :func:`jobs.run_pretraining`)."""
    progress = Progress("prior-epochs", total=config.epochs, description=corpus_path)
    result = jobs.run_pretraining(
        corpus_path, config, output_dir, limit, track,
        on_epoch=_epoch_logger(progress, "pre-training"),
    )  # fmt: skip
    publish_image(result.plot, "prior-nll", "Pre-training: NLL per epoch and sample quality")
    publish_table(_rows(result.history, _HISTORY_COLUMNS), "prior-history",
                  "Pre-training per epoch")  # fmt: skip
    return result


def _tl_cache_key(context: TaskRunContext | None, parameters: dict[str, Any]) -> str:
    """Cache key: contents of the prior and data files, the config and the output folder."""
    digest = hashlib.sha256()
    for name in ("prior_path", "train_path", "valid_path"):
        path = parameters.get(name)
        digest.update(jobs.file_digest(path).encode() if path else b"-")
    config = TransferLearningConfig.model_validate(parameters.get("config") or {})
    digest.update(config.model_dump_json().encode())
    digest.update(str(parameters.get("output_dir")).encode())
    return "transfer-learn-" + digest.hexdigest()


def _reinvent_tl_cache_key(context: TaskRunContext | None, parameters: dict[str, Any]) -> str:
    return "reinvent-" + _tl_cache_key(context, parameters)


@task(name="transfer-learn", cache_key_fn=_tl_cache_key, persist_result=True,
      result_serializer="json", timeout_seconds=12 * 3600)  # fmt: skip
def transfer_learn(
    prior_path: str,
    train_path: str,
    valid_path: str | None,
    config: TransferLearningConfig,
    output_dir: str,
    track: bool = True,
    parent_run_id: str | None = None,
) -> TransferLearningSummary:
    """Fine-tune a prior; reports the best epoch and validation NLL (logs, artifacts, MLflow).

    With ``parent_run_id`` the MLflow run is nested under that run (e.g. a design run's).
    """
    progress = Progress("transfer-learning-epochs", total=config.epochs, description=train_path)
    result = jobs.run_transfer_learning(
        prior_path, train_path, valid_path, config, output_dir, track,
        parent_run_id=parent_run_id, on_epoch=_epoch_logger(progress, "TL"),
    )  # fmt: skip
    progress.set(config.epochs)
    get_run_logger().info(
        "TL best epoch %d (validation NLL %.3f); %d input SMILES skipped (%s)",
        result.best_epoch, result.best.valid_nll, result.skipped_count, result.skipped_csv,
    )  # fmt: skip
    publish_image(result.plot, "transfer-learning-nll",
                  f"Transfer learning: best epoch {result.best_epoch}")  # fmt: skip
    publish_table(_rows(result.history, _HISTORY_COLUMNS), "transfer-learning-history",
                  f"TL per epoch; best epoch {result.best_epoch}, "
                  f"{result.skipped_count} input SMILES skipped")  # fmt: skip
    return result


@task(name="transfer-learn-reinvent", cache_key_fn=_reinvent_tl_cache_key, persist_result=True,
      result_serializer="json", timeout_seconds=12 * 3600)  # fmt: skip
def transfer_learn_reinvent(
    prior_path: str,
    train_path: str,
    valid_path: str | None,
    config: TransferLearningConfig,
    output_dir: str,
) -> ReinventTransferLearning:
    """Fine-tune a prior with an external REINVENT 4 (TOML generated from ``config``)."""
    return jobs.run_reinvent_transfer_learning(
        prior_path, train_path, valid_path, config, output_dir
    )


@task(name="reinforce", timeout_seconds=24 * 3600)
def reinforce(
    prior_path: str | None,
    agent_path: str | None,
    stages: list[StageSpec],
    config: ReinforcementConfig,
    output_dir: str,
    device: str = "auto",
    track: bool = True,
    parent_run_id: str | None = None,
) -> ReinforcementSummary:
    """Staged RL with the DAP loss; returns the agent file, CSVs and per-step history.

    With ``parent_run_id`` the MLflow run is nested under that run (e.g. a design run's).
    """
    total = sum(spec.stage.max_steps for spec in stages)
    progress = Progress("reinforcement-steps", total=total, description=output_dir)
    logger = get_run_logger()

    def on_step(record: StepRecord) -> None:
        progress.advance()
        logger.info(
            "stage %d step %d: score %.3f, valid %.0f%%, agent NLL %.2f, %d scored",
            record.stage, record.step, record.mean_score, 100 * record.validity,
            record.agent_nll, record.oracle_calls,
        )  # fmt: skip

    result = jobs.run_reinforcement(
        prior_path, agent_path, stages, config, output_dir, device, track,
        parent_run_id=parent_run_id, on_step=on_step,
    )  # fmt: skip
    progress.set(total)
    publish_image(result.plot, "reinforcement-scores", "RL: score and NLL over steps")
    publish_table(_rows(result.history, _STEP_COLUMNS), "reinforcement-history", "RL per step")
    return result


@task(name="reinforce-reinvent", timeout_seconds=24 * 3600)
def reinforce_reinvent(
    prior_path: str | None,
    agent_path: str | None,
    stages: list[StageSpec],
    config: ReinforcementConfig,
    output_dir: str,
    device: str = "auto",
) -> ReinventReinforcement:
    """Staged learning with an external REINVENT 4 (TOML generated from ours)."""
    return jobs.run_reinvent_reinforcement(
        prior_path, agent_path, stages, config, output_dir, device
    )


@task(name="sample-smiles")
def sample(
    model_path: str | None,
    num: int,
    output_csv: str,
    temperature: float = 1.0,
    unique: bool = False,
    device: str = "auto",
) -> SampleSummary:
    """Sample SMILES into a REINVENT-style CSV; returns validity/uniqueness."""
    result = jobs.run_sampling(
        model_path, num, output_csv, temperature, unique=unique, device=device
    )
    get_run_logger().info("sampled %s", result.model_dump_json())
    return result
