"""Prefect tasks of the chemical-space stage: embed labelled sets and draw the best molecules.

One call into :mod:`crucible.viz.chemical_space` (or :mod:`crucible.viz.molecules`); writes
PNG, HTML and CSV files and publishes the PNGs as image artifacts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from prefect import get_run_logger, task

from crucible.viz.chemical_space import (
    MapFiles,
    chemical_space_map,
    plot_map_png,
    write_map_html,
)
from crucible.viz.molecules import PROPERTY_COLUMNS, grid_legend, molecule_grid, top_molecules
from tasks._artifacts import publish_image
from tasks.scoring import read_smiles


@task(name="chemical-space-map", retries=0, timeout_seconds=3600)
def embed_and_plot(
    sets: dict[str, str],
    out_dir: str,
    method: str = "pca",
    smiles_column: str = "smiles",
    score_column: str | None = None,
    max_per_set: int | None = 2000,
    seed: int = 0,
    title: str = "Chemical space",
    mlflow_run_id: str | None = None,
) -> MapFiles:
    """Embed several SMILES files into one map; write PNG, interactive HTML and CSV.

    Args:
        sets: Set name -> CSV path, e.g. ``{"training actives": ..., "generated": ...}``.
        out_dir: Output folder (``map_<method>.png/.html/.csv``).
        method: ``pca``, ``tsne`` or ``umap`` (UMAP compiles for ~1 min in a new process).
        smiles_column: SMILES column of every file.
        score_column: Optional column shown on hover (where a file has it).
        max_per_set: Seeded random subsample per set to bound t-SNE/UMAP time; None = all.
        seed: Seed of the subsample and the embedding.
        title: Figure title.
        mlflow_run_id: Also log the PNG, HTML and CSV to this MLflow run (tracking URI
            from ``crucible.settings``), under ``chemical_space/``.

    Returns:
        ``png``, ``html``, ``csv`` paths and per-set point counts.
    """
    logger = get_run_logger()
    smiles_sets, scores = {}, {}
    rng = np.random.default_rng(seed)
    for name, path in sets.items():
        frame = pd.read_csv(path)
        smiles = read_smiles(path, smiles_column)
        chosen = np.arange(len(smiles))
        if max_per_set is not None and len(smiles) > max_per_set:
            chosen = np.sort(rng.choice(len(smiles), max_per_set, replace=False))
        smiles_sets[name] = [smiles[i] for i in chosen]
        if score_column and score_column in frame.columns:
            scores[name] = frame[score_column].to_numpy(dtype=float)[chosen].tolist()
    space = chemical_space_map(smiles_sets, method=method, scores=scores, seed=seed)  # type: ignore[arg-type]
    out = Path(out_dir)
    png = plot_map_png(space, out / f"map_{method}.png", title=title)
    html = write_map_html(space, out / f"map_{method}.html", title=title)
    csv = out / f"map_{method}.csv"
    space.to_frame().to_csv(csv, index=False)
    publish_image(png, key=f"chemical-space-{method}", description=f"{title}; HTML: `{html}`")
    if mlflow_run_id is not None:
        log_map_to_mlflow(mlflow_run_id, [png, html, csv])
    counts = {name: space.labels.count(name) for name in space.set_names}
    logger.info("%s map of %s (dropped invalid: %s)", method, counts, space.dropped)
    return MapFiles(png=str(png), html=str(html), csv=str(csv), counts=counts)


def log_map_to_mlflow(run_id: str, paths: list[Path]) -> None:
    """Log map files as artifacts of an existing MLflow run (:mod:`crucible.tracking`)."""
    from crucible.tracking import MlflowTracker

    run = MlflowTracker().get_run(run_id)
    for path in paths:
        run.log_artifact(path, artifact_path="chemical_space")


@task(name="top-molecules-grid", retries=0)
def top_molecules_grid(
    csv_path: str,
    out_png: str,
    score_column: str = "total",
    smiles_column: str = "smiles",
    n: int = 12,
) -> str:
    """Grid of the ``n`` best molecules of a scored CSV, labelled with rank and score.

    Where the CSV has them, the labels also give predicted pChEMBL, QED and SA
    (:data:`~crucible.viz.molecules.PROPERTY_COLUMNS`).
    """
    frame = pd.read_csv(csv_path)
    smiles = read_smiles(csv_path, smiles_column)
    best, values = top_molecules(smiles, frame[score_column].to_numpy(dtype=float), n)
    rows = frame.assign(_smiles=smiles).drop_duplicates("_smiles").set_index("_smiles")
    columns = {label: c for label, c in PROPERTY_COLUMNS.items() if c in rows.columns}
    legends = [
        grid_legend(rank, (score_column, value), {k: rows.at[s, c] for k, c in columns.items()})
        for rank, (s, value) in enumerate(zip(best, values, strict=True), start=1)
    ]
    path = molecule_grid(best, out_png, legends=legends)
    publish_image(path, key="top-molecules", description=f"Top {len(best)} by {score_column}")
    return str(path)
