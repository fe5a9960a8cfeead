"""Reinforcement learning of a SMILES agent with REINVENT's DAP loss ("staged learning").

Per step: sample ``batch_size`` sequences from the agent; canonicalise; mark each SMILES
invalid (state 0), valid (1) or an in-batch duplicate (2); score the valid ones (invalid and
duplicates score 0); apply the diversity filter; then minimise

    loss = mean_i (log P_prior(x_i) + σ·S(x_i) − log P_agent(x_i))²

over the batch plus, with experience replay, a sample of remembered high scorers; optionally
plus the original REINVENT's (Olivecrona et al. 2017, kept by PMO) likelihood regulariser
``c·mean_i 1/NLL_agent(x_i)``, which keeps the agent from collapsing onto a few very likely
sequences (``LearningStrategyConfig.likelihood_penalty``, 0 as in REINVENT 4). A run is a
list of stages, each with its own scorer, ``max_steps``/``min_steps`` and a target mean score
(``max_score``) that ends the stage early. One CSV row is written per sampled SMILES per step
with REINVENT 4's columns.
"""

from __future__ import annotations

import csv
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import torch
from pydantic import BaseModel, Field, model_validator

from crucible.exceptions import InvalidInputError
from crucible.generator.chemistry import canonicalize
from crucible.generator.diversity_filters import (
    DiversityFilter,
    DiversityFilterConfig,
    build_diversity_filter,
)
from crucible.generator.model import GenerativeModel
from crucible.generator.model_io import save_model
from crucible.generator.replay import InceptionConfig, ReplayMemory
from crucible.generator.training import seed_everything
from crucible.validation import Seed, check_order, strict_config

logger = logging.getLogger(__name__)

STATE_INVALID, STATE_VALID, STATE_DUPLICATE = 0, 1, 2


class ScoreResultLike(Protocol):
    """What a scorer returns (``crucible.chem.scoring.ScoreResult`` satisfies it)."""

    @property
    def total(self) -> np.ndarray: ...  # noqa: D102

    @property
    def raw(self) -> Mapping[str, np.ndarray]: ...  # noqa: D102

    @property
    def transformed(self) -> Mapping[str, np.ndarray]: ...  # noqa: D102


@runtime_checkable
class Scorer(Protocol):
    """Anything with ``score(smiles) -> ScoreResultLike`` (total in [0, 1], invalid → 0)."""

    def score(self, smiles: Sequence[str]) -> ScoreResultLike: ...  # noqa: D102


class LearningStrategyConfig(BaseModel):
    """REINVENT 4 ``[learning_strategy]``: DAP with σ and the Adam learning rate."""

    model_config = strict_config()

    type: Literal["dap"] = Field("dap", description="Loss: DAP (REINVENT 4's default).")
    sigma: float = Field(128.0, gt=0, description="Score multiplier in the augmented LL.")
    rate: float = Field(1e-4, gt=0, description="Adam learning rate of the agent.")
    likelihood_penalty: float = Field(
        0.0,
        ge=0,
        description=(
            "Weight c of the original REINVENT's (2017) regulariser c·mean(1/NLL_agent), which "
            "penalises sequences the agent finds too likely; PMO's REINVENT uses 5000. "
            "REINVENT 4 has no such term (0)."
        ),
    )
    invalid_score: float = Field(
        0.0,
        ge=-1,
        le=0,
        description=(
            "Score an invalid SMILES gets in the loss (reported scores keep 0): below 0 the "
            "augmented likelihood of an invalid SMILES is σ·invalid_score under the prior's, "
            "pushing the agent off it instead of leaving it at the prior's likelihood. "
            "REINVENT 4: 0."
        ),
    )


class StageConfig(BaseModel):
    """One ``[[stage]]``: step limits, the target score and the checkpoint file."""

    model_config = strict_config()

    max_steps: int = Field(100, ge=1, description="Hard limit of steps in this stage.")
    min_steps: int = Field(50, ge=0, description="Steps before the target can end the stage.")
    max_score: float = Field(1.0, ge=0, le=1, description="Mean score that ends the stage.")
    termination: Literal["simple"] = "simple"
    chkpt_file: str = Field("", description="Agent checkpoint written at stage end.")

    @model_validator(mode="after")
    def _steps_in_order(self) -> StageConfig:
        if "min_steps" not in self.model_fields_set:  # the default follows a short stage
            self.min_steps = min(self.min_steps, self.max_steps)
        check_order("min_steps", self.min_steps, "max_steps", self.max_steps)
        return self


class ReinforcementConfig(BaseModel):
    """Run-wide RL settings (REINVENT 4 ``[parameters]`` and global sections)."""

    model_config = strict_config()

    batch_size: int = Field(64, ge=2, description="SMILES sampled per step.")
    temperature: float = Field(1.0, gt=0, description="Sampling temperature of the agent.")
    summary_csv_prefix: str = Field("summary", description="CSV name: <prefix>_<stage>.csv.")
    learning_strategy: LearningStrategyConfig = Field(
        default_factory=LearningStrategyConfig, description="Loss, σ and learning rate."
    )
    diversity_filter: DiversityFilterConfig | None = Field(
        default_factory=DiversityFilterConfig, description="None disables the filter."
    )
    inception: InceptionConfig | None = Field(None, description="Experience replay memory.")
    in_batch_duplicates: Literal["score_zero", "drop"] = Field(
        "score_zero",
        description=(
            "In-batch duplicate SMILES: 'score_zero' keeps them in the loss with score 0 "
            "(REINVENT 4); 'drop' leaves them out of the loss (PMO's REINVENT)."
        ),
    )
    max_oracle_calls: int | None = Field(
        None, ge=1, description="Stop once this many unique SMILES were scored (PMO budget)."
    )
    seed: Seed = Field(0, description="Seed of the agent's sampling.")


@dataclass
class StepRecord:
    """Summary of one RL step (the figures REINVENT logs per step)."""

    stage: int
    step: int
    mean_score: float
    max_score: float
    validity: float
    duplicates: float
    agent_nll: float
    prior_nll: float
    loss: float
    oracle_calls: int
    seconds: float

    def as_dict(self) -> dict[str, float | int]:
        """Plain dict."""
        return asdict(self)


@dataclass
class ReinforcementResult:
    """Outcome of a staged run.

    Attributes:
        agent_path: Final agent model file.
        csv_paths: One summary CSV per stage.
        history: One record per step.
        scored: Every unique scored SMILES with its first score (order of scoring).
    """

    agent_path: str
    csv_paths: list[str]
    history: list[StepRecord]
    scored: dict[str, float] = field(default_factory=dict)


StepCallback = Callable[[StepRecord], None]


@dataclass
class Stage:
    """A stage config with the scorer it uses."""

    config: StageConfig
    scorer: Scorer


def dap_loss(
    agent_nll: torch.Tensor, prior_nll: torch.Tensor, scores: torch.Tensor, sigma: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """REINVENT's DAP loss per molecule.

    Args:
        agent_nll: ``n`` agent NLL (with gradient).
        prior_nll: ``n`` prior NLL (no gradient).
        scores: ``n`` scores in [0, 1].
        sigma: Score multiplier σ.

    Returns:
        ``(loss, augmented)``: ``n`` squared differences and ``n`` augmented log-likelihoods
        ``−prior_nll + σ·score``.
    """
    augmented = -prior_nll + sigma * scores
    return (augmented - (-agent_nll)) ** 2, augmented


def likelihood_penalty(agent_nll: torch.Tensor, weight: float) -> torch.Tensor:
    """The original REINVENT's regulariser ``weight · mean(1 / NLL)``.

    Minimising it raises the agent's NLL, so sequences the agent already finds very likely
    (small NLL) are pushed down hardest; PMO's REINVENT adds it with ``weight = 5000``.

    Args:
        agent_nll: ``n`` agent NLL (with gradient), all positive.
        weight: The weight ``c``.

    Returns:
        A scalar tensor.
    """
    return weight * (1.0 / agent_nll.clamp_min(1e-6)).mean()


def classify(smiles: Sequence[str]) -> tuple[list[str | None], np.ndarray]:
    """Canonical SMILES (None if invalid) and the REINVENT state of each sampled SMILES."""
    canonical = [canonicalize(text) for text in smiles]
    states = np.zeros(len(smiles), dtype=int)
    seen: set[str] = set()
    for i, text in enumerate(canonical):
        if text is None:
            continue
        states[i] = STATE_DUPLICATE if text in seen else STATE_VALID
        seen.add(text)
    return canonical, states


class _ScoreCache:
    """Scores each unique SMILES once (REINVENT caches component results per run)."""

    def __init__(self) -> None:
        self.total: dict[str, float] = {}
        self.components: dict[str, dict[str, tuple[float, float]]] = {}

    def score(self, scorer: Scorer, smiles: list[str]) -> None:
        new = [s for s in dict.fromkeys(smiles) if s not in self.total]
        if not new:
            return
        result = scorer.score(new)
        totals = np.nan_to_num(np.asarray(result.total, dtype=float), nan=0.0)
        for i, text in enumerate(new):
            self.total[text] = float(np.clip(totals[i], 0.0, 1.0))
            self.components[text] = {
                name: (float(result.transformed[name][i]), float(result.raw.get(name, values)[i]))
                for name, values in result.transformed.items()
            }


class StagedLearning:
    """Runs the stages of one RL job; see the module docstring for the algorithm."""

    def __init__(
        self,
        prior: GenerativeModel,
        agent: GenerativeModel,
        config: ReinforcementConfig,
        output_dir: str | Path,
    ) -> None:
        if prior.vocabulary.tokens != agent.vocabulary.tokens:
            raise InvalidInputError(
                "agent_file",
                "has a different vocabulary from the prior",
                "start the agent from the prior or from a transfer-learned copy of it",
            )
        self.prior, self.agent, self.config = prior, agent, config
        self.output_dir = Path(output_dir)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        for parameter in self.prior.network.parameters():
            parameter.requires_grad_(False)
        self.prior.network.eval()
        self.optimizer = torch.optim.Adam(
            self.agent.network.parameters(), lr=config.learning_strategy.rate
        )
        self.diversity_filter: DiversityFilter | None = build_diversity_filter(
            config.diversity_filter
        )
        self.memory = ReplayMemory(config.inception, config.seed) if config.inception else None
        self.cache = _ScoreCache()
        self.history: list[StepRecord] = []

    @property
    def oracle_calls(self) -> int:
        """Unique SMILES scored so far."""
        return len(self.cache.total)

    def _budget_left(self) -> bool:
        limit = self.config.max_oracle_calls
        return limit is None or self.oracle_calls < limit

    def run(
        self, stages: Sequence[Stage], on_step: StepCallback | None = None
    ) -> ReinforcementResult:
        """Run every stage in order; returns the final agent file, CSVs and history."""
        seed_everything(self.config.seed)
        csv_paths: list[str] = []
        for index, stage in enumerate(stages, start=1):
            self._seed_memory(stage.scorer)
            csv_paths.append(str(self._run_stage(index, stage, on_step)))
            if stage.config.chkpt_file:
                self._save(Path(stage.config.chkpt_file), index)
            if not self._budget_left():
                break
        final = self._save(self.output_dir / "agent.prior", len(stages))
        return ReinforcementResult(str(final), csv_paths, self.history, dict(self.cache.total))

    def _save(self, path: Path, stage: int) -> Path:
        if not path.is_absolute():
            path = self.output_dir / path
        steps = sum(1 for r in self.history if r.stage == stage)
        return save_model(
            self.agent, path, staged_learning={"name": "crucible", "stage": stage, "steps": steps}
        )

    def _seed_memory(self, scorer: Scorer) -> None:
        inception = self.config.inception
        if self.memory is None or inception is None:
            return
        seeds = list(inception.smiles)
        if inception.smiles_file:
            from crucible.generator.pretraining import read_smiles_file

            seeds += read_smiles_file(inception.smiles_file)
        if not seeds:
            return
        canonical = [c for c in map(canonicalize, seeds) if c]
        known, _ = self.prior.vocabulary.split_known(canonical)
        if not known:
            return
        self.cache.score(scorer, known)
        prior_nll = self.prior.likelihood_smiles(known)
        self.memory.add(known, [self.cache.total[s] for s in known], list(prior_nll))

    def _run_stage(self, index: int, stage: Stage, on_step: StepCallback | None) -> Path:
        path = self.output_dir / f"{self.config.summary_csv_prefix}_{index}.csv"
        header_written = False
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            for step in range(1, stage.config.max_steps + 1):
                rows, record = self._step(index, step, stage.scorer)
                if not header_written:
                    writer.writerow(rows[0].keys())
                    header_written = True
                writer.writerows(row.values() for row in rows)
                handle.flush()
                self.history.append(record)
                logger.info(
                    "stage %d step %d: score %.3f valid %.0f%% agent NLL %.2f",
                    index, step, record.mean_score, 100 * record.validity, record.agent_nll,
                )  # fmt: skip
                if on_step is not None:
                    on_step(record)
                done = step >= stage.config.min_steps and (
                    record.mean_score >= stage.config.max_score
                )
                if done or not self._budget_left():
                    break
        return path

    def _scores(
        self, scorer: Scorer, canonical: list[str | None], states: np.ndarray
    ) -> tuple[np.ndarray, list[str]]:
        valid = [c for c, s in zip(canonical, states, strict=True) if s == STATE_VALID and c]
        self.cache.score(scorer, valid)
        scores = np.array(
            [
                self.cache.total[c] if (state == STATE_VALID and c) else 0.0
                for c, state in zip(canonical, states, strict=True)
            ]
        )
        if self.diversity_filter is None:
            return scores, [""] * len(canonical)
        unique_only = [
            c if s == STATE_VALID else None for c, s in zip(canonical, states, strict=True)
        ]
        return self.diversity_filter.apply(unique_only, scores)

    def _step(
        self, stage: int, step: int, scorer: Scorer
    ) -> tuple[list[dict[str, Any]], StepRecord]:
        started = time.perf_counter()
        sequences, _ = self.agent.sample_sequences(self.config.batch_size, self.config.temperature)
        smiles = self.agent.decode(sequences)
        canonical, states = classify(smiles)
        scores, scaffolds = self._scores(scorer, canonical, states)
        self.agent.network.train()
        agent_nll = self.agent.likelihood(sequences, buckets=2)
        with torch.no_grad():
            prior_nll = self.prior.likelihood(sequences)
        strategy = self.config.learning_strategy
        loss_scores = np.where(states == STATE_INVALID, strategy.invalid_score, scores)
        score_t = torch.as_tensor(loss_scores, dtype=torch.float32, device=self.agent.device)
        loss_terms, augmented = dap_loss(agent_nll, prior_nll, score_t, strategy.sigma)
        in_loss = self._in_loss(states)
        replay_terms, replay_nll = self._replay_loss(strategy.sigma)
        loss = torch.cat([loss_terms[in_loss], replay_terms]).mean()
        if strategy.likelihood_penalty:
            all_nll = torch.cat([agent_nll[in_loss], replay_nll])
            loss = loss + likelihood_penalty(all_nll, strategy.likelihood_penalty)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.agent.network.eval()
        self._remember(canonical, states, scores, prior_nll)
        rows = self._rows(step, smiles, canonical, states, scores, scaffolds,
                          agent_nll.detach(), prior_nll, augmented.detach())  # fmt: skip
        record = StepRecord(
            stage=stage, step=step, mean_score=float(scores.mean()),
            max_score=float(scores.max()), validity=float((states != STATE_INVALID).mean()),
            duplicates=float((states == STATE_DUPLICATE).mean()),
            agent_nll=float(agent_nll.detach().mean()), prior_nll=float(prior_nll.mean()),
            loss=float(loss.detach()), oracle_calls=self.oracle_calls,
            seconds=time.perf_counter() - started,
        )  # fmt: skip
        return rows, record

    def _in_loss(self, states: np.ndarray) -> torch.Tensor:
        """Mask of the sampled sequences that enter the loss (all, or all but duplicates)."""
        keep = np.ones(len(states), dtype=bool)
        if self.config.in_batch_duplicates == "drop":
            keep = states != STATE_DUPLICATE
        return torch.as_tensor(keep, device=self.agent.device)

    def _replay_loss(self, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
        """DAP terms and agent NLL (with gradient) of a replayed sample (empty without one)."""
        empty = torch.zeros(0, device=self.agent.device)
        if self.memory is None or not len(self.memory):
            return empty, empty
        entries = self.memory.sample()
        sequences = self.agent.encode([e.smiles for e in entries])
        agent_nll = self.agent.likelihood(sequences)
        device = self.agent.device
        prior_nll = torch.tensor([e.prior_nll for e in entries], device=device)
        scores = torch.tensor([e.score for e in entries], device=device)
        return dap_loss(agent_nll, prior_nll, scores, sigma)[0], agent_nll

    def _remember(
        self,
        canonical: list[str | None],
        states: np.ndarray,
        scores: np.ndarray,
        prior_nll: torch.Tensor,
    ) -> None:
        if self.memory is None:
            return
        keep = [
            i for i, (c, s) in enumerate(zip(canonical, states, strict=True))
            if s == STATE_VALID and c and not self.prior.vocabulary.unknown_tokens(c)
        ]  # fmt: skip
        nll = prior_nll.cpu().numpy()
        self.memory.add(
            [canonical[i] or "" for i in keep],
            [float(scores[i]) for i in keep],
            [float(nll[i]) for i in keep],
        )

    def _rows(
        self,
        step: int,
        smiles: list[str],
        canonical: list[str | None],
        states: np.ndarray,
        scores: np.ndarray,
        scaffolds: list[str],
        agent_nll: torch.Tensor,
        prior_nll: torch.Tensor,
        augmented: torch.Tensor,
    ) -> list[dict[str, Any]]:
        names = sorted({n for c in canonical if c for n in self.cache.components.get(c, {})})
        agent, prior, target = (t.cpu().numpy() for t in (agent_nll, prior_nll, augmented))
        rows = []
        for i, raw_smiles in enumerate(smiles):
            text = canonical[i]
            row: dict[str, Any] = {
                "Agent": round(float(agent[i]), 4),
                "Prior": round(float(prior[i]), 4),
                "Target": round(float(target[i]), 4),
                "Score": round(float(scores[i]), 6),
                "SMILES": text or raw_smiles,
                "SMILES_state": int(states[i]),
                "Scaffold": scaffolds[i],
            }
            components = self.cache.components.get(text or "", {})
            for name in names:
                transformed, raw = components.get(name, (0.0, float("nan")))
                valid = states[i] == STATE_VALID
                row[name] = transformed if valid else 0.0
                row[f"{name} (raw)"] = raw if valid else float("nan")
            row["step"] = step
            rows.append(row)
        return rows


def reinforce(
    prior: GenerativeModel,
    agent: GenerativeModel,
    stages: Sequence[Stage],
    config: ReinforcementConfig,
    output_dir: str | Path,
    on_step: StepCallback | None = None,
) -> ReinforcementResult:
    """Run staged RL of ``agent`` against ``prior``; see :class:`StagedLearning`."""
    if not stages:
        raise InvalidInputError("stages", "is empty", "give at least one stage")
    return StagedLearning(prior, agent, config, output_dir).run(stages, on_step)
