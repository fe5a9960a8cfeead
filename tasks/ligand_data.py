"""Prefect tasks of the ligand-data stage: fetch or load, standardise, split, data card.

Each task is one call into :mod:`crucible.data`, writes its files under ``out_dir`` and
returns a small pydantic model of paths and counts. The ChEMBL fetch retries transient failures
(timeouts, connection errors, 5xx, truncated responses) with exponential back-off, and is
cached by its inputs (the query, the base URL, the output folder) and its source code for
one day, so re-running a flow does not hit ChEMBL again.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import INPUTS, TASK_SOURCE
from prefect.client.schemas.objects import TaskRun
from prefect.states import State
from prefect.tasks import Task, exponential_backoff

from crucible.data import chembl, datasets, io, standardise
from crucible.data.card import DataCardFiles, build_data_card
from crucible.data.io import ColumnMapping, LigandSource
from crucible.data.provenance import Provenance
from crucible.data.splits import SplitFiles, SplitFractions, split_frame
from crucible.data.standardise import StandardisedFiles, StandardiseOptions
from crucible.exceptions import InvalidInputError
from crucible.naming import input_path
from crucible.settings import get_settings
from tasks._artifacts import Progress, publish_image, publish_markdown, publish_table

FETCH_CACHE_EXPIRATION = timedelta(days=1)


def _is_transient(task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry only failures that a later attempt may not see (see ``ChemblRequestError``)."""
    try:
        state.result()
    except chembl.ChemblRequestError as exc:
        return exc.transient
    except Exception:
        return False
    return False


@task(
    name="fetch-chembl",
    retries=3,
    retry_delay_seconds=exponential_backoff(backoff_factor=5),
    retry_jitter_factor=0.5,
    retry_condition_fn=_is_transient,
    cache_policy=INPUTS + TASK_SOURCE,
    cache_expiration=FETCH_CACHE_EXPIRATION,
    result_serializer="json",  # cached results are read back without unpickling
    timeout_seconds=3600,
)
def fetch_chembl(query: chembl.ChemblQuery, out_dir: str, base_url: str) -> LigandSource:
    """Fetch a target's activities from ChEMBL into ``out_dir``.

    Args:
        query: The target and the activity filters.
        out_dir: Folder for ``activities.csv``, ``molecules.csv``, ``provenance.json``.
        base_url: ChEMBL base URL (part of the cache key; must match the settings).

    Returns:
        Paths of the three files, the target id and the counts.
    """
    logger = get_run_logger()
    settings = get_settings(chembl_base_url=base_url)
    progress = Progress(f"chembl-fetch-{query.target}", total=100, description=base_url)

    def report(done: int, total: int) -> None:
        progress.set(int(100 * done / max(total, 1)))
        logger.info("ChEMBL %s: %d/%d activity records", query.target, done, total)

    result = chembl.fetch_activities(query, settings=settings, progress=report)
    paths = result.write(out_dir)
    logger.info(
        "%s: %d records, %d molecules, dropped %s",
        result.target.target_chembl_id,
        len(result.activities),
        len(result.molecules),
        result.dropped,
    )
    return LigandSource(
        molecules=str(paths["molecules"]),
        activities=str(paths["activities"]),
        provenance=str(paths["provenance"]),
        target_chembl_id=result.target.target_chembl_id,
        n_records=len(result.activities),
        n_molecules=len(result.molecules),
    )


@task(name="load-ligand-file")
def load_ligands(
    source: str,
    out_dir: str,
    path: str | None = None,
    mapping: ColumnMapping | None = None,
    limit: int | None = None,
) -> LigandSource:
    """Load the bundled EGFR set (``source="egfr"``) or a CSV/SMILES/SDF file (``"file"``).

    ``limit`` takes a seeded sample of the EGFR set (quick demos).

    Returns:
        Paths of ``molecules.csv`` (canonical columns) and ``provenance.json``, and the count.
    """
    out = Path(out_dir)
    if source == "egfr":
        frame = datasets.load_egfr(limit=limit)
        provenance = datasets.egfr_provenance()
        if limit is not None:
            provenance = provenance.with_step("sample", n=len(frame), seed=0)
    else:
        if path is None:
            raise InvalidInputError("path", "no file given", "set path for source='file'")
        column_mapping = mapping or ColumnMapping()
        path = str(input_path(path, "path"))
        frame = io.read_ligands(path, column_mapping)
        provenance = Provenance(
            source="file",
            description=Path(path).name,
            query=column_mapping.model_dump(),
            base_url=str(Path(path).resolve()),
            n_records=len(frame),
        )
    molecules = io.write_table(frame, out / "molecules.csv")
    provenance.save(out / "provenance.json")
    return LigandSource(
        molecules=str(molecules), provenance=str(out / "provenance.json"), n_molecules=len(frame)
    )


@task(name="standardise-ligands")
def standardise_ligands(
    molecules_csv: str, out_dir: str, options: StandardiseOptions | None = None
) -> StandardisedFiles:
    """Standardise a canonical table; write ``standardised.csv``, ``rejected.csv`` and a summary.

    Returns:
        Paths and the summary (counts, rejection reasons, molecules per second).
    """
    out = Path(out_dir)
    result = standardise.standardise_frame(
        io.read_table(molecules_csv), options or StandardiseOptions()
    )
    summary = result.summary()
    get_run_logger().info(
        "standardised %d molecules: %d rejected %s, %d merged (%.0f molecules/s)",
        summary["n_input"],
        summary["n_rejected"],
        summary["rejection_reasons"],
        summary["n_merged"],
        summary["molecules_per_second"] or 0.0,
    )
    standardised = io.write_table(result.molecules, out / "standardised.csv")
    rejected = io.write_table(result.rejected, out / "rejected.csv")
    summary_path = out / "standardisation.json"
    summary_path.write_text(json.dumps(summary, indent=2))
    return StandardisedFiles(
        standardised=str(standardised),
        rejected=str(rejected),
        summary_path=str(summary_path),
        summary=summary,
    )


@task(name="split-ligands")
def split_ligands(
    standardised_csv: str,
    out_dir: str,
    method: str = "scaffold",
    fractions: SplitFractions | None = None,
    seed: int = 0,
    provenance_path: str | None = None,
    standardisation: dict[str, Any] | None = None,
) -> SplitFiles:
    """Split into ``train.csv``, ``valid.csv``, ``test.csv`` plus ``split_summary.json``.

    With ``provenance_path``, the source's provenance is copied next to the split with the
    standardisation and split steps appended (``provenance.json``).
    """
    result = split_frame(
        io.read_table(standardised_csv),
        method,
        fractions or SplitFractions(),
        seed,
    )
    paths = result.write(out_dir)
    if provenance_path is not None:
        record = Provenance.load(provenance_path)
        if standardisation is not None:
            record = record.with_step("standardise", **standardisation)
        record = record.with_step("split", **result.summary)
        paths["provenance"] = record.save(Path(out_dir) / "provenance.json")
    get_run_logger().info("%s split: %s", method, {k: len(v) for k, v in result.frames.items()})
    return SplitFiles(
        train=str(paths["train"]),
        valid=str(paths["valid"]),
        test=str(paths["test"]),
        summary_path=str(paths["summary"]),
        provenance=str(paths["provenance"]) if "provenance" in paths else None,
        summary=result.summary,
    )


@task(name="ligand-data-card")
def data_card(
    standardised_csv: str,
    out_dir: str,
    title: str,
    standardisation: dict[str, Any] | None = None,
    split: SplitFiles | None = None,
    provenance_path: str | None = None,
) -> DataCardFiles:
    """Build the data card and publish it (Markdown, histogram, scaffold grid, table)."""
    import pandas as pd

    splits = {name: pd.read_csv(path) for name, path in split.paths().items()} if split else None
    provenance = (
        Provenance.load(provenance_path).model_dump(mode="json") if provenance_path else None
    )
    card = build_data_card(
        io.read_table(standardised_csv), out_dir, title, standardisation, splits, provenance
    )
    publish_markdown(card.markdown, key="ligand-data-card", description=title)
    publish_image(card.histogram_png, key="ligand-activity-histogram", description=title)
    if card.scaffolds_png is not None:
        publish_image(card.scaffolds_png, key="ligand-top-scaffolds", description=title)
    if card.top_scaffolds:
        publish_table(card.top_scaffolds, key="ligand-top-scaffolds-table", description=title)
    return DataCardFiles(
        data_card=str(card.json_path),
        histogram=str(card.histogram_png),
        scaffolds=str(card.scaffolds_png) if card.scaffolds_png else None,
        counts=card.counts,
    )
