"""Prefect tasks of the design report: the MLflow parent run and the files to open.

``design-parent-run`` opens (or, for a retried flow run, finds) the design's MLflow parent run
that the stage runs nest under; ``design-report`` writes ``results.csv`` and ``report.html``
(:mod:`crucible.generator.design_report`), publishes the rounded summary and the figures as
Prefect artifacts, records them in the parent run and closes it.
"""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from typing import Any

from prefect import get_run_logger, task
from prefect.logging import get_logger
from prefect.runtime import flow_run

from crucible.chem.activity import ActivityModelSummary
from crucible.chem.filters import FilteredFiles
from crucible.data.card import DataCardFiles
from crucible.generator.design_report import (
    DesignReport,
    DesignReportConfig,
    fail_design_run,
    log_report,
    open_design_run,
    write_report,
)
from crucible.generator.jobs import ReinforcementSummary, TransferLearningSummary
from crucible.viz.chemical_space import MapFiles
from tasks._artifacts import publish_image, publish_markdown

_IMAGE_TITLES = {
    "tl_curve": "Transfer learning: NLL and sample validity per epoch",
    "rl_curve": "Reinforcement learning: mean score per step",
    "funnel": "Filter funnel: molecules remaining per filter",
    "chemical_space": "Chemical space (PCA, explained variance on the axes)",
    "top_molecules": "Top molecules: rank, predicted pChEMBL, QED, SA",
}


@task(name="design-parent-run")
def design_parent_run(name: str, track: bool = True) -> str | None:
    """The design's MLflow parent run id (named ``name``, tagged with this flow run's id)."""
    if not track:
        return None
    run_id = open_design_run(name, flow_run.get_id())
    get_run_logger().info("MLflow parent run %s for design %s", run_id, name)
    return run_id


def close_failed_design_run(flow: Any, flow_run: Any, state: Any) -> None:
    """Flow hook (``on_failure``, ``on_crashed``): mark the design's MLflow parent run FAILED."""
    run_id = fail_design_run(str(flow_run.id))
    if run_id:
        get_logger("crucible.design").warning("MLflow parent run %s marked FAILED", run_id)


def _plain(record: Any) -> dict[str, Any]:
    if is_dataclass(record) and not isinstance(record, type):
        return asdict(record)
    return dict(record)


def report_config(
    name: str,
    folder: str,
    split_dir: str,
    card: DataCardFiles | None,
    model: ActivityModelSummary,
    tl: TransferLearningSummary,
    rl: ReinforcementSummary,
    scored_csv: str,
    filtered: FilteredFiles,
    space: MapFiles | None,
    summary_json: str | None,
    threshold: float = 7.0,
    parent_run_id: str | None = None,
    independent_csv: str | None = None,
) -> DesignReportConfig:
    """The report's inputs from the stages' typed results."""
    return DesignReportConfig(
        name=name,
        folder=folder,
        split_dir=split_dir,
        activity_model_dir=model.model_dir,
        scored_csv=scored_csv,
        kept_csv=filtered.kept,
        summary_json=summary_json,
        data_card=dict(card.counts) if card else {},
        histogram=card.histogram if card else None,
        parity_plot=model.parity_plot,
        tl_history=[_plain(r) for r in tl.history],
        rl_history=[_plain(r) for r in rl.history],
        filter_stages=[_plain(s) for s in filtered.stages],
        n_filtered_in=filtered.n_in,
        map_csv=space.csv if space else None,
        threshold=threshold,
        parent_run_id=parent_run_id,
        independent_csv=independent_csv,
    )


@task(name="design-report", retries=0)
def design_report(config: DesignReportConfig, track: bool = True) -> DesignReport:
    """Write ``results.csv`` and ``report.html``; publish them; close the MLflow parent run."""
    report = write_report(config)
    publish_markdown(report.markdown, key="molecular-design-report",
                     description=f"Design {config.name}: {report.html}")  # fmt: skip
    for key, path in report.images.items():
        if key in _IMAGE_TITLES:
            publish_image(path, key=f"design-{key}", description=_IMAGE_TITLES[key])
    if track:
        log_report(report, config.parent_run_id)
    get_run_logger().info(
        "report %s, %d molecules in %s", report.html, report.n_results, report.results_csv
    )
    return report
