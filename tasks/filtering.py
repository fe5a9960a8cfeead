"""Prefect task of the filter stage: run the filter chain on a SMILES file.

One call into :func:`crucible.chem.filters.filter_molecules`; writes the per-molecule,
kept and summary CSVs and publishes the per-stage report (removed count and reason).
"""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from crucible.chem.filters import FilterConfig, FilteredFiles, FilterStage, filter_molecules
from tasks._artifacts import publish_markdown, publish_table
from tasks.scoring import read_smiles


@task(name="filter-molecules", retries=0)
def filter_smiles(
    smiles_csv: str,
    out_dir: str,
    config: FilterConfig | None = None,
    smiles_column: str = "smiles",
    reference_csv: str | None = None,
    reference_column: str = "smiles",
    activity_model_dir: str | None = None,
) -> FilteredFiles:
    """Filter the SMILES of ``smiles_csv`` and write the results under ``out_dir``.

    Args:
        smiles_csv: Input CSV (e.g. generated molecules).
        out_dir: Folder for ``filtered_molecules.csv``, ``filtered_kept.csv`` and
            ``filtered_summary.csv``.
        config: The filter chain (defaults when None).
        smiles_column: SMILES column of the input.
        reference_csv: Training set for the novelty filter.
        reference_column: SMILES column of the reference file.
        activity_model_dir: Saved activity model for ``activity_min``.

    Returns:
        The CSV paths (``molecules``, ``kept``, ``summary``), ``n_in``, ``n_kept`` and
        ``stages`` (the summary rows).
    """
    logger = get_run_logger()
    filter_config = config or FilterConfig()
    smiles = read_smiles(smiles_csv, smiles_column)
    reference = read_smiles(reference_csv, reference_column) if reference_csv else None
    activity = None
    if activity_model_dir is not None:
        from crucible.chem.activity import load_activity_model

        activity = load_activity_model(activity_model_dir)
    result = filter_molecules(smiles, filter_config, reference, activity)
    paths = result.to_csv(Path(out_dir))
    publish_table(
        result.summary_rows(),
        key="filter-summary",
        description="Molecules removed per filter stage",
    )
    publish_markdown(_report(result.summary, len(smiles)), key="filter-report")
    for stage in result.summary:
        logger.info("%-16s removed %6d, %6d remain", stage.name, stage.removed, stage.remaining)
    return FilteredFiles(
        molecules=str(paths["molecules"]),
        kept=str(paths["kept"]),
        summary=str(paths["summary"]),
        n_in=len(smiles),
        n_kept=len(result.kept_smiles),
        stages=result.summary,
    )


def _report(stages: list[FilterStage], n_in: int) -> str:
    lines = [f"# Filter report\n\n{n_in} molecules in.\n", "| stage | removed | remaining | why |",
             "|---|---:|---:|---|"]  # fmt: skip
    lines += [f"| {s.name} | {s.removed} | {s.remaining} | {s.description} |" for s in stages]
    return "\n".join(lines)
