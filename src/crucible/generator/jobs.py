"""Generator stages as plain functions: files in, model files + CSV/JSON/PNG reports out.

Each function takes typed inputs (paths and the stage's pydantic config) and returns a
pydantic summary (:class:`TrainingSummary`, :class:`TransferLearningSummary`,
:class:`ReinforcementSummary`, :class:`SampleSummary`, or a :class:`ReinventRun` for an
external REINVENT 4): it loads the inputs, runs the stage, draws the plots (NLL per epoch,
score over steps) and records parameters, per-epoch/per-step metrics and artifacts in one run
of :mod:`crucible.tracking` (MLflow at ``get_settings().mlflow_tracking_uri``). The Prefect
tasks (``tasks/generator.py``) make one call each; scripts can call them directly.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator

from crucible.chem.scoring import ComponentConfig, ScoringConfig
from crucible.device import resolve_device
from crucible.exceptions import InvalidInputError
from crucible.generator import DEFAULT_PRIOR_PATH
from crucible.generator.model_io import load_model
from crucible.generator.pretraining import PretrainConfig, pretrain, read_smiles_file
from crucible.generator.reinforcement import (
    STATE_DUPLICATE,
    ReinforcementConfig,
    Scorer,
    Stage,
    StageConfig,
    StepRecord,
    classify,
    reinforce,
)
from crucible.generator.training import EpochRecord, TrainingResult
from crucible.generator.transfer_learning import TransferLearningConfig, transfer_learn
from crucible.tracking import open_run
from crucible.validation import strict_config
from crucible.viz.figures import pyplot, save_figure

logger = logging.getLogger(__name__)

DEFAULT_EXPERIMENT = "crucible-generator"


# --------------------------------------------------------------------------------- plots
def plot_nll_curves(history: Sequence[EpochRecord], path: str | Path, title: str) -> Path:
    """PNG of training/validation NLL per epoch, and sample validity when measured."""
    plt = pyplot()
    epochs = [r.epoch for r in history]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(epochs, [r.train_nll for r in history], "o-", label="training NLL")
    if any(math.isfinite(r.valid_nll) for r in history):
        left.plot(epochs, [r.valid_nll for r in history], "s-", label="validation NLL")
        best = min(history, key=lambda r: r.valid_nll if math.isfinite(r.valid_nll) else 1e30)
        left.axvline(best.epoch, color="grey", linestyle=":", label=f"best epoch {best.epoch}")
    left.set(xlabel="epoch", ylabel="mean NLL per molecule", title=title)
    left.legend()
    for name in ("validity", "uniqueness", "novelty"):
        values = [getattr(r, name) for r in history]
        if any(math.isfinite(v) for v in values):
            right.plot(epochs, values, "o-", label=name)
    right.set(xlabel="epoch", ylabel="fraction of samples", ylim=(0, 1.02), title="samples")
    if right.get_lines():
        right.legend()
    return _save(figure, path)


def plot_scores(history: Sequence[StepRecord], path: str | Path, title: str) -> Path:
    """PNG of mean/max score, validity and agent/prior NLL over RL steps."""
    plt = pyplot()
    steps = list(range(1, len(history) + 1))
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(steps, [r.mean_score for r in history], label="mean score")
    left.plot(steps, [r.max_score for r in history], alpha=0.6, label="max score")
    left.plot(steps, [r.validity for r in history], alpha=0.6, label="validity")
    for boundary in [
        i + 1 for i in range(1, len(history)) if history[i].stage != history[i - 1].stage
    ]:
        left.axvline(boundary - 0.5, color="grey", linestyle=":")
    left.set(xlabel="step", ylabel="score / fraction", ylim=(0, 1.02), title=title)
    left.legend()
    right.plot(steps, [r.agent_nll for r in history], label="agent NLL")
    right.plot(steps, [r.prior_nll for r in history], label="prior NLL (same samples)")
    right.set(xlabel="step", ylabel="mean NLL", title="likelihoods")
    right.legend()
    return _save(figure, path)


def _save(figure: Any, path: str | Path) -> Path:
    return save_figure(figure, path, dpi=110)


# ------------------------------------------------------------------------------- results
class TrainingSummary(BaseModel):
    """Outcome of pre-training or transfer learning.

    Attributes:
        model_path: The final model file (the best epoch's for TL with validation).
        best_epoch: Epoch with the lowest validation NLL (the last without validation).
        best: That epoch's record.
        epochs_run: Epochs trained.
        stopped_early: Whether early stopping or a time limit ended the run.
        history: One record per epoch.
        plot: NLL-per-epoch PNG.
        mlflow_run_id: The MLflow run (None without tracking).
    """

    model_path: str
    best_epoch: int
    best: EpochRecord
    epochs_run: int
    stopped_early: bool
    history: list[EpochRecord]
    plot: str
    mlflow_run_id: str | None = None


class TransferLearningSummary(TrainingSummary):
    """Transfer learning's outcome, with the input SMILES it skipped.

    Attributes:
        skipped_count: Input SMILES the prior cannot encode (also after randomisation).
        skipped_csv: ``SMILES,reason`` of each.
        randomization_skips: Randomised variants skipped, per epoch.
        train_size: Training SMILES used.
        validation_size: Validation SMILES used.
    """

    skipped_count: int
    skipped_csv: str
    randomization_skips: dict[int, int]
    train_size: int
    validation_size: int


class ReinforcementSummary(BaseModel):
    """Outcome of staged RL.

    Attributes:
        agent_path: The final agent model file.
        csv_paths: One REINVENT-style summary CSV per stage.
        plot: Score and NLL over steps (PNG).
        top_scored_csv: The 100 best scored SMILES.
        steps: RL steps run (all stages).
        oracle_calls: Unique SMILES scored.
        final_mean_score: Mean score of the last step's batch.
        top10_mean_score: Mean of the ten best scores.
        history: One record per step.
        mlflow_run_id: The MLflow run (None without tracking).
    """

    agent_path: str
    csv_paths: list[str]
    plot: str
    top_scored_csv: str
    steps: int
    oracle_calls: int
    final_mean_score: float
    top10_mean_score: float
    history: list[StepRecord]
    mlflow_run_id: str | None = None


class SampleSummary(BaseModel):
    """A sampling CSV and the MOSES-style quality of its SMILES.

    Attributes:
        csv: The ``SMILES,SMILES_state,NLL`` file.
        rows: Rows written.
        num_samples: SMILES sampled.
        validity: Valid / sampled.
        uniqueness: Unique valid / valid.
        novelty: NaN (no reference set).
    """

    csv: str
    rows: int
    num_samples: float
    validity: float
    uniqueness: float
    novelty: float


class ReinventRun(BaseModel):
    """A run of an external REINVENT 4.

    Attributes:
        toml: The generated configuration.
        log: REINVENT's log file.
        returncode: Its exit status (0).
    """

    engine: str = "reinvent"
    toml: str
    log: str
    returncode: int


class ReinventTransferLearning(ReinventRun):
    """Transfer learning by REINVENT 4; ``model_path`` is the fine-tuned model."""

    model_path: str


class ReinventReinforcement(ReinventRun):
    """Staged learning by REINVENT 4; the final agent and the per-stage CSVs."""

    agent_path: str
    csv_paths: list[str]


# ---------------------------------------------------------------------------------- jobs
def file_digest(path: str | Path) -> str:
    """sha256 of a file (cache keys)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _summary(result: TrainingResult, plot: Path, run_id: str | None) -> TrainingSummary:
    best = next(r for r in result.history if r.epoch == result.best_epoch)
    return TrainingSummary(
        model_path=result.model_path,
        best_epoch=result.best_epoch,
        best=best,
        epochs_run=len(result.history),
        stopped_early=result.stopped_early,
        history=result.history,
        plot=str(plot),
        mlflow_run_id=run_id,
    )


def run_pretraining(
    corpus_path: str | Path,
    config: PretrainConfig,
    output_dir: str | Path,
    limit: int | None = None,
    track: bool = True,
    experiment: str = DEFAULT_EXPERIMENT,
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> TrainingSummary:
    """Pre-train a prior on a SMILES file."""
    out = Path(output_dir)
    smiles = read_smiles_file(corpus_path, limit)
    run = open_run(experiment, "prior", track)
    run.log_params({"corpus": str(corpus_path), "corpus_size": len(smiles),
                        **config.model_dump()})  # fmt: skip

    def epoch_done(record: EpochRecord) -> None:
        run.log_metrics(record.as_dict(), step=record.epoch)
        if on_epoch:
            on_epoch(record)

    try:
        result = pretrain(smiles, config, out, Path(corpus_path).name, epoch_done)
    except BaseException:
        run.end("FAILED")
        raise
    plot = plot_nll_curves(result.history, out / "nll.png", "pre-training")
    for path in (plot, out / "history.json", Path(result.model_path)):
        run.log_artifact(path)
    run.end()
    return _summary(result, plot, run.run_id)


def run_transfer_learning(
    prior_path: str | Path,
    train_path: str | Path,
    valid_path: str | Path | None,
    config: TransferLearningConfig,
    output_dir: str | Path,
    track: bool = True,
    experiment: str = DEFAULT_EXPERIMENT,
    parent_run_id: str | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> TransferLearningSummary:
    """Fine-tune ``prior_path`` on the SMILES of ``train_path`` (validation: ``valid_path``)."""
    out = Path(output_dir)
    model = load_model(prior_path, resolve_device(config.device))
    train = read_smiles_file(train_path)
    valid = read_smiles_file(valid_path) if valid_path else []
    run = open_run(experiment, "transfer-learning", track, parent_run_id=parent_run_id)
    run.log_params({"prior": str(prior_path), "train": str(train_path),
                        "valid": str(valid_path or ""), **config.model_dump()})  # fmt: skip

    def epoch_done(record: EpochRecord) -> None:
        run.log_metrics(record.as_dict(), step=record.epoch)
        if on_epoch:
            on_epoch(record)

    try:
        result = transfer_learn(model, train, valid, config, out, epoch_done)
    except BaseException:
        run.end("FAILED")
        raise
    plot = plot_nll_curves(result.history, out / "nll.png", "transfer learning")
    skipped = result.extra["skipped_input"]
    assert isinstance(skipped, dict)
    skipped_path = out / "skipped_smiles.csv"
    with skipped_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["SMILES", "reason"])
        writer.writerows(skipped.items())
    best = next(r for r in result.history if r.epoch == result.best_epoch)
    run.log_metrics({"best_epoch": result.best_epoch, "best_valid_nll": best.valid_nll}, step=0)
    for path in (plot, out / "history.json", skipped_path, Path(result.model_path)):
        run.log_artifact(path)
    run.end()
    return TransferLearningSummary.model_validate(
        {
            **dict(_summary(result, plot, run.run_id)),
            "skipped_count": len(skipped),
            "skipped_csv": str(skipped_path),
            "randomization_skips": result.extra["randomization_skips"],
            "train_size": result.extra["train_size"],
            "validation_size": result.extra["validation_size"],
        }
    )


class StageSpec(BaseModel):
    """A stage as data: its limits and its objective.

    The objective is a scoring configuration (``crucible.chem.scoring``) or, when ``oracle``
    names one, a PMO oracle of ``crucible.generator.oracles`` (``scoring`` is then unused).
    """

    model_config = strict_config()

    stage: StageConfig = Field(default_factory=StageConfig)
    scoring: ScoringConfig = Field(
        default_factory=lambda: ScoringConfig(components=[ComponentConfig(type="qed")]),
        description="The stage's scoring function (crucible.chem.scoring).",
    )
    oracle: str = Field(
        "",
        description="A PMO oracle (crucible.generator.oracles, e.g. 'zaleplon_mpo') that "
        "scores the stage instead of 'scoring'; empty: 'scoring' is used.",
    )

    @field_validator("oracle")
    @classmethod
    def _known_oracle(cls, value: str) -> str:
        from crucible.generator.oracles import ORACLE_NAMES

        if value and value not in ORACLE_NAMES:
            raise InvalidInputError(
                "oracle", f"{value!r} is not a PMO oracle", f"use one of {', '.join(ORACLE_NAMES)}"
            )
        return value

    @property
    def objective_count(self) -> int:
        """How many objectives the stage scores (1 for an oracle, else its components)."""
        return 1 if self.oracle else len(self.scoring.components)


def build_scorer(scoring: ScoringConfig) -> Scorer:
    """A scorer from a scoring configuration."""
    from crucible.chem.scoring import build_scoring_function

    return build_scoring_function(scoring)


def stage_scorer(spec: StageSpec) -> Scorer:
    """The scorer of a stage: its PMO oracle, else its scoring configuration."""
    if spec.oracle:
        from crucible.generator.oracles import build_oracle

        return build_oracle(spec.oracle)
    return build_scorer(spec.scoring)


def run_reinforcement(
    prior_path: str | Path | None,
    agent_path: str | Path | None,
    stages: Sequence[StageSpec],
    config: ReinforcementConfig,
    output_dir: str | Path,
    device: str = "auto",
    track: bool = True,
    experiment: str = DEFAULT_EXPERIMENT,
    parent_run_id: str | None = None,
    on_step: Callable[[StepRecord], None] | None = None,
) -> ReinforcementSummary:
    """Staged RL; the prior defaults to the shipped one and the agent to the prior."""
    out = Path(output_dir)
    torch_device = resolve_device(device)
    prior_file = Path(prior_path) if prior_path else DEFAULT_PRIOR_PATH
    prior = load_model(prior_file, torch_device)
    agent = load_model(agent_path or prior_file, torch_device)
    built = [
        Stage(spec.stage.model_copy(update={"chkpt_file": spec.stage.chkpt_file
                                            or f"stage_{i}.chkpt"}), stage_scorer(spec))
        for i, spec in enumerate(stages, start=1)
    ]  # fmt: skip
    run = open_run(experiment, "reinforcement", track, parent_run_id=parent_run_id)
    run.log_params({"prior": str(prior_file), "agent": str(agent_path or prior_file),
                        "stages": json.dumps([s.model_dump(mode="json") for s in stages]),
                        **config.model_dump()})  # fmt: skip
    counter = {"n": 0}

    def step_done(record: StepRecord) -> None:
        counter["n"] += 1
        run.log_metrics(record.as_dict(), step=counter["n"])
        if on_step:
            on_step(record)

    try:
        result = reinforce(prior, agent, built, config, out, step_done)
    except BaseException:
        run.end("FAILED")
        raise
    plot = plot_scores(result.history, out / "scores.png", "reinforcement learning")
    top = sorted(result.scored.items(), key=lambda kv: kv[1], reverse=True)[:100]
    top_path = out / "top_scored.csv"
    with top_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["SMILES", "Score"])
        writer.writerows(top)
    for path in (plot, top_path, Path(result.agent_path), *map(Path, result.csv_paths)):
        run.log_artifact(path)
    run.end()
    last = result.history[-1]
    return ReinforcementSummary(
        agent_path=result.agent_path,
        csv_paths=result.csv_paths,
        plot=str(plot),
        top_scored_csv=str(top_path),
        steps=len(result.history),
        oracle_calls=last.oracle_calls,
        final_mean_score=last.mean_score,
        top10_mean_score=sum(s for _, s in top[:10]) / max(len(top[:10]), 1),
        history=result.history,
        mlflow_run_id=run.run_id,
    )


def run_sampling(
    model_path: str | Path | None,
    num: int,
    output_csv: str | Path,
    temperature: float = 1.0,
    batch_size: int = 256,
    unique: bool = False,
    device: str = "auto",
) -> SampleSummary:
    """Sample ``num`` SMILES into a REINVENT sampling CSV (``SMILES,SMILES_state,NLL``).

    With ``unique`` only the first occurrence of each valid molecule is written.
    """
    from crucible.generator.chemistry import sample_quality

    model = load_model(model_path or DEFAULT_PRIOR_PATH, resolve_device(device))
    batch = model.sample(num, batch_size=batch_size, temperature=temperature)
    canonical, states = classify(batch.smiles)
    path = Path(output_csv)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["SMILES", "SMILES_state", "NLL"])
        for raw, text, state, nll in zip(batch.smiles, canonical, states, batch.nll, strict=True):
            if unique and (state == STATE_DUPLICATE or text is None):
                continue
            writer.writerow([text or raw, int(state), round(float(nll), 4)])
            written += 1
    return SampleSummary(csv=str(path), rows=written, **sample_quality(batch.smiles))


# ------------------------------------------------------------------- external REINVENT 4
def use_reinvent(engine: str) -> bool:
    """Whether ``engine`` (``crucible``, ``reinvent`` or ``auto``) selects external REINVENT."""
    from crucible.generator.reinvent_toml import reinvent_executable

    if engine not in ("crucible", "reinvent", "auto"):
        raise ValueError(f"engine must be 'crucible', 'reinvent' or 'auto', not {engine!r}")
    return engine == "reinvent" or (engine == "auto" and reinvent_executable() is not None)


def _write_smiles(smiles: Sequence[str], path: Path) -> Path:
    path.write_text("".join(f"{s}\n" for s in smiles))
    return path


def run_reinvent_transfer_learning(
    prior_path: str | Path,
    train_path: str | Path,
    valid_path: str | Path | None,
    config: TransferLearningConfig,
    output_dir: str | Path,
) -> ReinventTransferLearning:
    """TL with an external ``reinvent`` (config generated from ``config``)."""
    from crucible.generator.reinvent_toml import run_reinvent, transfer_learning_config

    out = Path(output_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    train = _write_smiles(read_smiles_file(train_path), out / "train.smi")
    valid = _write_smiles(read_smiles_file(valid_path), out / "valid.smi") if valid_path else None
    model = out / "model.prior"
    toml = transfer_learning_config(
        config, str(Path(prior_path).resolve()), str(train), str(model),
        str(valid) if valid else None, tb_logdir=str(out / "tb"),
    )  # fmt: skip
    return ReinventTransferLearning(model_path=str(model), **run_reinvent(toml, out))


def run_reinvent_reinforcement(
    prior_path: str | Path | None,
    agent_path: str | Path | None,
    stages: Sequence[StageSpec],
    config: ReinforcementConfig,
    output_dir: str | Path,
    device: str = "auto",
) -> ReinventReinforcement:
    """Staged learning with an external ``reinvent`` (config generated from ours)."""
    from crucible.generator.reinvent_toml import run_reinvent, staged_learning_config

    out = Path(output_dir).resolve()
    prior = str(Path(prior_path or DEFAULT_PRIOR_PATH).resolve())
    agent = str(Path(agent_path).resolve()) if agent_path else prior
    oracles = [spec.oracle for spec in stages if spec.oracle]
    if oracles:
        raise InvalidInputError(
            "stages.oracle",
            f"PMO oracles ({', '.join(oracles)}) have no REINVENT 4 scoring component",
            "run oracle stages with engine 'crucible'",
        )
    pairs = [(spec.stage, spec.scoring.model_dump()) for spec in stages]
    toml = staged_learning_config(config, pairs, prior, agent, device)
    run = run_reinvent(toml, out)
    csv_paths = sorted(str(p) for p in out.glob(f"{config.summary_csv_prefix}_*.csv"))
    last = toml["stage"][-1]["chkpt_file"]
    return ReinventReinforcement(agent_path=str(out / last), csv_paths=csv_paths, **run)
