"""What a design run leaves to open: ``results.csv``, ``report.html`` and its MLflow parent run.

:func:`write_results` joins the filtered molecules to their scores (by canonical SMILES) and
adds every score a chemist ranks by (:func:`crucible.chem.results.results_table`), with the
independent activity check of :mod:`crucible.generator.design_metrics` (a random forest on
RDKit descriptors, same training split, same seed, so its numbers match ``summary.json``).
:func:`write_report` draws the figures and writes ``report.html``
(:mod:`crucible.viz.report`); :func:`open_design_run` and :func:`log_report` keep one MLflow
parent run per design run (named after the design, tagged with the Prefect flow run id) that
the stage runs nest under; :func:`closing_text` is what the run prints at the end.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from crucible.tracking import Tracker, make_tracker
from crucible.viz.report import DesignReportInputs, rounded, write_design_report

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from crucible.generator.design_metrics import Predict

__all__ = [
    "DESIGN_EXPERIMENT",
    "FLOW_RUN_TAG",
    "DesignReport",
    "DesignReportConfig",
    "closing_text",
    "fail_design_run",
    "log_report",
    "open_design_run",
    "write_report",
    "write_results",
]

#: The MLflow experiment of design runs (one parent run per design run, stages nested).
DESIGN_EXPERIMENT = "crucible-molecular-design"
#: Tag holding the Prefect flow run id on a design's parent run.
FLOW_RUN_TAG = "prefect.flow_run_id"
#: Tag holding the design's name.
DESIGN_TAG = "crucible.design"


class DesignReportConfig(BaseModel):
    """Everything a design report reads (the stages' outputs, as values and paths).

    Attributes:
        name: The design's name.
        folder: The design folder (``report.html`` and ``results.csv`` go there).
        split_dir: The ligand split (``train.csv``: ``smiles``, ``pchembl_value``).
        activity_model_dir: The RL activity model.
        scored_csv: Scored samples (``smiles``, ``total``).
        kept_csv: Molecules that passed the filters (``canonical_smiles``).
        summary_json: The measured figures (``summary.json``), if written.
        data_card: Data-card counts (nested mappings are flattened).
        histogram: The data card's activity histogram PNG.
        parity_plot: The activity model's test parity PNG.
        tl_history: Transfer learning per epoch.
        rl_history: RL per step.
        filter_stages: Filter stages in order (``name``, ``remaining``).
        n_filtered_in: Molecules that entered the filters.
        map_csv: The chemical-space map's points (``set``, ``smiles``).
        threshold: pChEMBL counted as active (the nearest-neighbour reference).
        independent_model: Add the independent model's pChEMBL to ``results.csv``.
        independent_csv: Those predictions already made by the evaluation
            (:func:`~crucible.generator.design_metrics.write_independent_predictions`); the
            forest is fitted again only when the file is missing or lacks a kept molecule.
        alerts: Alert catalogs listed per molecule.
        parent_run_id: The design's MLflow parent run (None without tracking).
    """

    name: str
    folder: str
    split_dir: str
    activity_model_dir: str
    scored_csv: str
    kept_csv: str
    summary_json: str | None = None
    data_card: dict[str, Any] = Field(default_factory=dict)
    histogram: str | None = None
    parity_plot: str | None = None
    tl_history: list[dict[str, Any]] = Field(default_factory=list)
    rl_history: list[dict[str, Any]] = Field(default_factory=list)
    filter_stages: list[dict[str, Any]] = Field(default_factory=list)
    n_filtered_in: int | None = None
    map_csv: str | None = None
    threshold: float = 7.0
    independent_model: bool = True
    independent_csv: str | None = None
    alerts: list[str] = Field(default_factory=lambda: ["PAINS", "BRENK"])
    parent_run_id: str | None = None


class DesignReport(BaseModel):
    """The files a design run leaves to open.

    Attributes:
        html: ``report.html`` (self-contained).
        results_csv: ``results.csv`` (one row per kept molecule, ranked).
        summary_json: ``summary.json`` (None when the run wrote none).
        images: Figure key -> PNG.
        markdown: The rounded markdown summary (the Prefect artifact).
        n_results: Rows of ``results.csv``.
        summary: The measured figures (``summary.json``'s content).
    """

    html: str
    results_csv: str
    summary_json: str | None
    images: dict[str, str]
    markdown: str
    n_results: int
    summary: dict[str, Any] = Field(default_factory=dict)


def write_results(config: DesignReportConfig) -> Path:
    """Write ``results.csv``: every kept molecule with every score, best first.

    Returns:
        The CSV path.
    """
    import pandas as pd

    from crucible.chem.activity import load_activity_model
    from crucible.chem.results import results_table
    from crucible.data.columns import ACTIVITY_COLUMN, SMILES_COLUMN

    train = pd.read_csv(Path(config.split_dir) / "train.csv")
    actives = train.loc[train[ACTIVITY_COLUMN] >= config.threshold, SMILES_COLUMN].tolist()
    kept = pd.read_csv(config.kept_csv)
    column = "canonical_smiles" if "canonical_smiles" in kept.columns else SMILES_COLUMN
    table = results_table(
        pd.read_csv(config.scored_csv),
        kept[column].dropna().astype(str).tolist(),
        actives,
        load_activity_model(config.activity_model_dir).predict,
        _independent(config, train) if config.independent_model and len(kept) else None,
        alerts=config.alerts,
        id_prefix=config.name,
    )
    path = Path(config.folder) / "results.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False, float_format="%.4g")
    return path


def _independent(config: DesignReportConfig, train: pd.DataFrame) -> Predict:
    """The independent model's ``predict``.

    The evaluation's saved predictions when they cover the SMILES asked for, else a random
    forest fitted on the training split.
    """
    from crucible.data.columns import ACTIVITY_COLUMN, SMILES_COLUMN
    from crucible.generator.design_metrics import DescriptorForest, read_independent_predictions

    saved = config.independent_csv
    lookup = read_independent_predictions(saved) if saved and Path(saved).is_file() else None

    def predict(smiles: Sequence[str]) -> np.ndarray:
        if lookup is not None:
            try:
                return lookup(smiles)
            except KeyError:  # a kept molecule the evaluation did not predict
                pass
        forest = DescriptorForest(seed=0)
        forest.fit(train[SMILES_COLUMN].tolist(), train[ACTIVITY_COLUMN].tolist())
        return forest.predict(smiles)

    return predict


def _flat(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{prefix}{key} "))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _map_sets(map_csv: str | None) -> dict[str, list[str]]:
    if map_csv is None or not Path(map_csv).is_file():
        return {}
    import pandas as pd

    frame = pd.read_csv(map_csv)
    return {str(name): group["smiles"].astype(str).tolist()
            for name, group in frame.groupby("set", sort=False)}  # fmt: skip


def _summary(path: str | None) -> dict[str, Any]:
    if path is None or not Path(path).is_file():
        return {}
    loaded = json.loads(Path(path).read_text())
    return dict(loaded) if isinstance(loaded, dict) else {}


def write_report(config: DesignReportConfig) -> DesignReport:
    """Write ``results.csv`` and ``report.html`` (figures under ``report/``) in the folder."""
    results = write_results(config)
    summary = _summary(config.summary_json)
    links = {"report": str(Path(config.folder) / "report.html"), "results": str(results)}
    if summary:
        links["summary"] = str(config.summary_json)
    inputs = DesignReportInputs(
        name=config.name,
        summary=summary,
        data_card=_flat(config.data_card),
        parity_plot=config.parity_plot,
        histogram=config.histogram,
        tl_history=config.tl_history,
        rl_history=config.rl_history,
        funnel=config.filter_stages,
        n_filtered_in=config.n_filtered_in,
        map_sets=_map_sets(config.map_csv),
        results_csv=str(results),
        links=links,
    )
    files = write_design_report(inputs, config.folder)
    n_results = sum(1 for _ in results.open(encoding="utf-8")) - 1
    return DesignReport(
        html=files.html,
        results_csv=str(results),
        summary_json=config.summary_json if summary else None,
        images=files.images,
        markdown=files.markdown,
        n_results=n_results,
        summary=summary,
    )


def open_design_run(
    name: str, flow_run_id: str | None, tracking: bool | str | Tracker = True
) -> str | None:
    """The MLflow parent run of a design run: found by its tags, or started.

    Args:
        name: The design's name (the run's name).
        flow_run_id: The Prefect flow run (tag ``prefect.flow_run_id``); a retried flow run
            finds its parent again.
        tracking: ``True`` (MLflow at the settings' URI), ``False`` (no run) or a tracker.

    Returns:
        The run id (None without tracking).
    """
    tracker = make_tracker(tracking)
    tags = {DESIGN_TAG: name, FLOW_RUN_TAG: flow_run_id or "local"}
    found = tracker.find_run(DESIGN_EXPERIMENT, tags) if flow_run_id else None
    return found or tracker.start_run(DESIGN_EXPERIMENT, name, tags=tags).run_id


def _store_exists(tracking: bool | str | Tracker) -> bool:
    """Whether there can be runs to find: False for no tracking or a missing SQLite file."""
    if tracking is False:
        return False
    if tracking is True:
        from crucible.settings import get_settings

        uri = get_settings().mlflow_tracking_uri
        return not uri.startswith("sqlite:///") or Path(uri.removeprefix("sqlite:///")).exists()
    return True


def fail_design_run(flow_run_id: str, tracking: bool | str | Tracker = True) -> str | None:
    """Mark the parent run of a failed design run ``FAILED`` (it stays ``RUNNING`` otherwise).

    Looks the run up by its Prefect flow-run tag; does nothing when there is none (tracking
    off, or the flow failed before opening it), and never creates a store or an experiment.

    Returns:
        The run id closed, or None.
    """
    if not _store_exists(tracking):
        return None
    tracker = make_tracker(tracking)
    client = getattr(tracker, "client", None)
    if client is not None and client.get_experiment_by_name(DESIGN_EXPERIMENT) is None:
        return None
    run_id = tracker.find_run(DESIGN_EXPERIMENT, {FLOW_RUN_TAG: flow_run_id})
    if run_id:
        tracker.get_run(run_id).end("FAILED")
    return run_id


def log_report(
    report: DesignReport, parent_run_id: str | None, tracking: bool | str | Tracker = True
) -> None:
    """Record the report in the design's parent run and close the run.

    The figures become metrics; ``report.html``, ``results.csv`` and ``summary.json`` artifacts;
    every figure goes under ``figures/``.
    """
    if not parent_run_id:
        return
    run = make_tracker(tracking).get_run(parent_run_id)
    run.log_metrics({**report.summary, "n_results": report.n_results})
    for path in (report.html, report.results_csv, report.summary_json):
        if path:
            run.log_artifact(path)
    for path in report.images.values():
        run.log_artifact(path, artifact_path="figures")
    run.end()


def closing_text(report: DesignReport, rows: Mapping[str, Any], title: str = "") -> str:
    """The short table and the paths a run prints when it ends (every number rounded)."""
    width = max((len(k) for k in rows), default=10) + 2
    lines = [title] if title else []
    lines += [f"{key:<{width}}{rounded(value):>10}" for key, value in rows.items()]
    lines += ["", "Open:", f"  report   {report.html}", f"  results  {report.results_csv}"]
    if report.summary_json:
        lines.append(f"  summary  {report.summary_json}")
    return "\n".join(lines)
