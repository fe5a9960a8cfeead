"""Prefect tasks of the design run's own steps: the TL actives and the measured figures."""

from __future__ import annotations

from prefect import get_run_logger, task
from pydantic import BaseModel

from crucible.chem.scoring import ScoringConfig
from crucible.data.splits import write_actives as write_split_actives
from crucible.generator.design_metrics import (
    TARGETS,
    DesignMetrics,
    evaluate_design,
    missed_targets,
)


class ActiveSets(BaseModel):
    """The actives of a split, for focused-set transfer learning.

    Attributes:
        train: Training actives (CSV).
        valid: Validation actives (CSV; None when the validation split has none).
    """

    train: str
    valid: str | None


@task(name="tl-actives")
def write_actives(split_dir: str, output_dir: str, threshold: float) -> ActiveSets:
    """Write the split's actives (``pchembl_value >= threshold``) for transfer learning."""
    paths = write_split_actives(split_dir, output_dir, threshold)
    valid = paths.get("valid")
    return ActiveSets(train=str(paths["train"]), valid=str(valid) if valid else None)


@task(name="design-metrics")
def design_metrics(
    agent_path: str,
    tl_model_path: str,
    scoring: ScoringConfig,
    activity_model_dir: str,
    split_dir: str,
    output_json: str,
    n_samples: int = 500,
    threshold: float = 7.0,
    cpu_started: float | None = None,
    kept_csv: str | None = None,
) -> DesignMetrics:
    """Judge the final agent on fresh samples; writes ``summary.json`` and logs each target.

    With ``kept_csv`` the independent model's predictions of the filtered molecules are
    written next to ``summary.json`` for the report.
    """
    metrics = evaluate_design(
        agent_path, tl_model_path, scoring, activity_model_dir, split_dir, output_json,
        n_samples=n_samples, threshold=threshold, cpu_started=cpu_started, kept_csv=kept_csv,
    )  # fmt: skip
    figures = metrics.as_dict()
    missed = missed_targets(figures)
    logger = get_run_logger()
    for key, (comparison, goal) in TARGETS.items():
        verdict = "MISSED" if key in missed else "met"
        logger.info("%s = %s (target %s %s: %s)", key, figures[key], comparison, goal, verdict)
    return metrics
