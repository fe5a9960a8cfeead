"""A data card for a ligand data set: counts, activity histogram, top scaffolds.

:func:`build_data_card` writes two PNGs (the pChEMBL histogram, per split when a split is
given, and a grid of the most frequent Bemis–Murcko scaffolds), a ``data_card.json`` and a
Markdown summary; the Prefect task publishes them as artifacts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from crucible.data.io import ACTIVITY_COLUMN, SMILES_COLUMN
from crucible.data.splits import SCAFFOLD_COLUMN, murcko_scaffolds

if TYPE_CHECKING:
    import pandas as pd

ACTIVE_THRESHOLD = 7.0  # pChEMBL >= 7 (100 nM) is a common "active" cut-off


@dataclass
class DataCard:
    """The card's content and files.

    Attributes:
        counts: Molecules, actives, measurements, rejections, split sizes.
        top_scaffolds: Rows ``{"scaffold", "n_molecules", "median_pchembl", "best_pchembl"}``.
        histogram_png: Activity histogram.
        scaffolds_png: Grid image of the top scaffolds (None when no molecule has a ring).
        markdown: The human summary.
        json_path: Everything above as JSON.
    """

    counts: dict[str, Any]
    top_scaffolds: list[dict[str, Any]]
    histogram_png: Path
    scaffolds_png: Path | None
    markdown: str
    json_path: Path


class DataCardFiles(BaseModel):
    """The card's files and counts.

    Attributes:
        data_card: ``data_card.json``.
        histogram: Activity histogram PNG.
        scaffolds: Top-scaffold grid PNG (None when no molecule has a ring).
        counts: Molecules, actives, measurements, rejections, split sizes.
    """

    data_card: str
    histogram: str
    scaffolds: str | None = None
    counts: dict[str, Any]


def top_scaffolds(molecules: pd.DataFrame, n: int = 10) -> list[dict[str, Any]]:
    """The ``n`` most frequent Bemis–Murcko scaffolds with their activity statistics."""
    scaffolds = (
        molecules[SCAFFOLD_COLUMN]
        if SCAFFOLD_COLUMN in molecules
        else murcko_scaffolds(molecules[SMILES_COLUMN].tolist())
    )
    table = molecules.assign(**{SCAFFOLD_COLUMN: list(scaffolds)})
    table = table[table[SCAFFOLD_COLUMN] != ""]
    if table.empty:
        return []
    groups = table.groupby(SCAFFOLD_COLUMN)
    rows = groups.size().rename("n_molecules").to_frame()
    if ACTIVITY_COLUMN in table:
        rows["median_pchembl"] = groups[ACTIVITY_COLUMN].median().round(2)
        rows["best_pchembl"] = groups[ACTIVITY_COLUMN].max().round(2)
    rows = rows.sort_values("n_molecules", ascending=False, kind="stable").head(n)
    records = rows.reset_index().to_dict(orient="records")
    return [{str(key): _plain(value) for key, value in record.items()} for record in records]


def _plain(value: Any) -> Any:
    """Convert numpy scalars to Python numbers (JSON and artifact tables need plain types)."""
    return value.item() if hasattr(value, "item") else value


def activity_histogram(
    molecules: pd.DataFrame, path: Path, splits: dict[str, pd.DataFrame] | None, title: str
) -> Path:
    """Histogram of pChEMBL (stacked by split when ``splits`` is given), as PNG."""
    import numpy as np

    from crucible.viz.figures import pyplot, save_figure

    fig, ax = pyplot().subplots(figsize=(6, 3.6), dpi=110)
    values = molecules[ACTIVITY_COLUMN].dropna().to_numpy(dtype=float)
    bins = np.arange(np.floor(values.min()), np.ceil(values.max()) + 0.25, 0.25).tolist()
    if splits:
        parts = [f[ACTIVITY_COLUMN].dropna().to_numpy(dtype=float) for f in splits.values()]
        labels = [f"{name} ({len(p)})" for name, p in zip(splits, parts, strict=True)]
        ax.hist(parts, bins=bins, stacked=True, label=labels)
        ax.legend(fontsize=8)
    else:
        ax.hist(values, bins=bins, color="#4477aa")
    ax.axvline(ACTIVE_THRESHOLD, color="black", linestyle="--", linewidth=0.8)
    ax.set(xlabel="pChEMBL", ylabel="molecules", title=title)
    return save_figure(fig, path)


def scaffold_grid(rows: list[dict[str, Any]], path: Path) -> Path | None:
    """A grid image of scaffolds labelled with their counts, as PNG."""
    from rdkit import Chem
    from rdkit.Chem import Draw

    if not rows:
        return None
    mols = [Chem.MolFromSmiles(r["scaffold"]) for r in rows]
    legends = [
        f"n={r['n_molecules']}"
        + (f"  median {r['median_pchembl']:.1f}" if "median_pchembl" in r else "")
        for r in rows
    ]
    image = Draw.MolsToGridImage(mols, molsPerRow=5, subImgSize=(220, 180), legends=legends)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(str(path))
    return path


def build_data_card(
    molecules: pd.DataFrame,
    out_dir: str | Path,
    title: str,
    standardisation: dict[str, Any] | None = None,
    splits: dict[str, pd.DataFrame] | None = None,
    provenance: dict[str, Any] | None = None,
    n_scaffolds: int = 10,
) -> DataCard:
    """Summarise a standardised ligand table.

    Args:
        molecules: Standardised table (``smiles``, ``pchembl_value``, optional
            ``n_measurements`` and ``scaffold``).
        out_dir: Folder for ``activity_histogram.png``, ``top_scaffolds.png``, ``data_card.json``.
        title: Data set name for the figures and the Markdown.
        standardisation: :meth:`StandardisationResult.summary` (rejection counts and reasons).
        splits: The split tables, to stack the histogram and count split sizes.
        provenance: The data's provenance (source, ChEMBL release, attribution).
        n_scaffolds: How many scaffolds to list.

    Returns:
        The card.
    """
    out = Path(out_dir)
    activity = molecules.get(ACTIVITY_COLUMN)
    counts: dict[str, Any] = {"molecules": len(molecules)}
    if activity is not None:
        counts |= {
            f"actives (pChEMBL >= {ACTIVE_THRESHOLD:g})": int(
                (activity >= ACTIVE_THRESHOLD).sum()
            ),
            "pchembl_median": round(float(activity.median()), 2),
            "pchembl_range": [round(float(activity.min()), 2), round(float(activity.max()), 2)],
        }
    if "n_measurements" in molecules:
        counts["measurements"] = int(molecules["n_measurements"].sum())
    if standardisation:
        counts |= {k: standardisation[k] for k in ("n_input", "n_rejected", "n_merged")}
    if splits:
        counts["split_sizes"] = {name: len(frame) for name, frame in splits.items()}
    scaffolds = top_scaffolds(molecules, n_scaffolds)
    histogram = activity_histogram(molecules, out / "activity_histogram.png", splits, title)
    grid = scaffold_grid(scaffolds, out / "top_scaffolds.png")
    markdown = _markdown(title, counts, scaffolds, standardisation, provenance)
    payload = {"title": title, "counts": counts, "top_scaffolds": scaffolds}
    payload["provenance"] = provenance or {}
    json_path = out / "data_card.json"
    json_path.write_text(json.dumps(payload, indent=2, default=str))
    return DataCard(counts, scaffolds, histogram, grid, markdown, json_path)


def _markdown(
    title: str,
    counts: dict[str, Any],
    scaffolds: list[dict[str, Any]],
    standardisation: dict[str, Any] | None,
    provenance: dict[str, Any] | None,
) -> str:
    lines = [f"# Data card: {title}", "", "| quantity | value |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in counts.items()]
    reasons = (standardisation or {}).get("rejection_reasons") or {}
    if reasons:
        lines += ["", "## Rejected molecules", "", "| reason | count |", "|---|---|"]
        lines += [f"| {reason} | {n} |" for reason, n in reasons.items()]
    if scaffolds:
        lines += ["", "## Top scaffolds", "", "| scaffold | molecules | median pChEMBL |"]
        lines += ["|---|---|---|"]
        lines += [
            f"| `{r['scaffold']}` | {r['n_molecules']} | {r.get('median_pchembl', '')} |"
            for r in scaffolds
        ]
    if provenance:
        lines += ["", "## Provenance", ""]
        for key in ("source", "description", "chembl_release", "base_url", "retrieved_at"):
            if provenance.get(key):
                lines.append(f"- {key}: {provenance[key]}")
        if provenance.get("attribution"):
            lines.append(f"- attribution: {provenance['attribution']}")
    return "\n".join(lines) + "\n"
