"""Prefect tasks of the generator stages: pretrain, transfer-learn, reinforce, sample.

Each task makes one call into :mod:`crucible.generator.jobs`, shows progress (one step per
epoch or RL step), and publishes the NLL / score plots and a history table as artifacts.
Transfer learning is cached on the prior file, the data files and the config.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from prefect import get_run_logger, task
from prefect.context import TaskRunContext

from crucible.generator import jobs
from crucible.generator.pretraining import PretrainConfig
from crucible.generator.reinforcement import ReinforcementConfig, StepRecord
from crucible.generator.training import EpochRecord
from crucible.generator.transfer_learning import TransferLearningConfig
from tasks._artifacts import Progress, publish_image, publish_table

_HISTORY_COLUMNS = ("epoch", "train_nll", "valid_nll", "validity", "uniqueness", "novelty",
                    "learning_rate", "skipped", "seconds")  # fmt: skip


def _epoch_rows(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: row[k] for k in _HISTORY_COLUMNS if k in row} for row in history]


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
    config: dict[str, Any],
    output_dir: str,
    limit: int | None = None,
    track: bool = True,
) -> dict[str, Any]:
    """Pre-train a prior on a SMILES file; returns the summary of :func:`jobs.run_pretraining`."""
    recipe = PretrainConfig.model_validate(config)
    progress = Progress("prior-epochs", total=recipe.epochs, description=corpus_path)
    result = jobs.run_pretraining(
        corpus_path, recipe, output_dir, limit, track,
        on_epoch=_epoch_logger(progress, "pre-training"),
    )  # fmt: skip
    publish_image(result["plot"], "prior-nll", "Pre-training: NLL per epoch and sample quality")
    publish_table(_epoch_rows(result["history"]), "prior-history", "Pre-training per epoch")
    return result


def _tl_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    """Cache key: contents of the prior and data files, the config and the output folder."""
    digest = hashlib.sha256()
    for name in ("prior_path", "train_path", "valid_path"):
        path = parameters.get(name)
        digest.update(jobs.file_digest(path).encode() if path else b"-")
    config = TransferLearningConfig.model_validate(parameters.get("config") or {})
    digest.update(config.model_dump_json().encode())
    digest.update(str(parameters.get("output_dir")).encode())
    return "transfer-learn-" + digest.hexdigest()


@task(name="transfer-learn", cache_key_fn=_tl_cache_key, persist_result=True,
      timeout_seconds=12 * 3600)  # fmt: skip
def transfer_learn(
    prior_path: str,
    train_path: str,
    valid_path: str | None,
    config: dict[str, Any],
    output_dir: str,
    track: bool = True,
    engine: str = "crucible",
) -> dict[str, Any]:
    """Fine-tune a prior; reports the best epoch and validation NLL (logs, artifacts, MLflow).

    ``engine="reinvent"`` (or ``"auto"`` with ``reinvent`` on the PATH) runs an external
    REINVENT 4 with a generated TOML instead of the built-in engine.
    """
    recipe = TransferLearningConfig.model_validate(config)
    if jobs.use_reinvent(engine):
        return jobs.run_reinvent_transfer_learning(
            prior_path, train_path, valid_path, recipe, output_dir
        )
    progress = Progress("transfer-learning-epochs", total=recipe.epochs, description=train_path)
    result = jobs.run_transfer_learning(
        prior_path, train_path, valid_path, recipe, output_dir, track,
        on_epoch=_epoch_logger(progress, "TL"),
    )  # fmt: skip
    progress.set(recipe.epochs)
    best = result["best"]
    get_run_logger().info(
        "TL best epoch %d (validation NLL %.3f); %d input SMILES skipped (%s)",
        result["best_epoch"], best["valid_nll"], result["skipped_count"], result["skipped_csv"],
    )  # fmt: skip
    publish_image(result["plot"], "transfer-learning-nll",
                  f"Transfer learning: best epoch {result['best_epoch']}")  # fmt: skip
    publish_table(_epoch_rows(result["history"]), "transfer-learning-history",
                  f"TL per epoch; best epoch {result['best_epoch']}, "
                  f"{result['skipped_count']} input SMILES skipped")  # fmt: skip
    return result


@task(name="reinforce", timeout_seconds=24 * 3600)
def reinforce(
    prior_path: str | None,
    agent_path: str | None,
    stages: list[dict[str, Any]],
    config: dict[str, Any],
    output_dir: str,
    device: str = "auto",
    track: bool = True,
    engine: str = "crucible",
) -> dict[str, Any]:
    """Staged RL with the DAP loss; returns the agent file, CSVs and per-step history.

    ``engine="reinvent"`` (or ``"auto"`` with ``reinvent`` on the PATH) runs an external
    REINVENT 4 with a generated TOML instead of the built-in engine.
    """
    specs = [jobs.StageSpec.model_validate(s) for s in stages]
    settings = ReinforcementConfig.model_validate(config)
    if jobs.use_reinvent(engine):
        return jobs.run_reinvent_reinforcement(
            prior_path, agent_path, specs, settings, output_dir, device
        )
    total = sum(spec.stage.max_steps for spec in specs)
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
        prior_path, agent_path, specs, settings, output_dir, device, track, on_step=on_step
    )
    progress.set(total)
    publish_image(result["plot"], "reinforcement-scores", "RL: score and NLL over steps")
    keys = ("stage", "step", "mean_score", "validity", "agent_nll", "prior_nll", "oracle_calls")
    rows = [{k: row[k] for k in keys} for row in result["history"]]
    publish_table(rows, "reinforcement-history", "RL per step")
    return result


@task(name="sample-smiles")
def sample(
    model_path: str | None,
    num: int,
    output_csv: str,
    temperature: float = 1.0,
    unique: bool = False,
    device: str = "auto",
) -> dict[str, Any]:
    """Sample SMILES into a REINVENT-style CSV; returns validity/uniqueness."""
    result = jobs.run_sampling(
        model_path, num, output_csv, temperature, unique=unique, device=device
    )
    get_run_logger().info("sampled %s", json.dumps(result))
    return result
