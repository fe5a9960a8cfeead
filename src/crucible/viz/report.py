"""The report of a design run: figures, one self-contained HTML page and a markdown summary.

:func:`write_design_report` draws every figure of a molecular-design run as a PNG (activity
parity is the model's own plot; the transfer-learning curve, the RL curve, the filter
funnel, a PCA chemical-space map with the explained variance on its axes and a top-molecule
grid labelled with rank, predicted pChEMBL, QED and SA are drawn here) and writes
``report.html``: a rounded summary table, the data card and every figure embedded as a
base64 PNG (no external script, style sheet or image), so the file opens anywhere. Every
string from a user or a run (names, SMILES, column values) is HTML-escaped.
:func:`markdown_summary` gives the same figures as markdown (rounded) for a Prefect artifact.
"""

from __future__ import annotations

import base64
import html
import math
import numbers
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from crucible._imports import require
from crucible.viz.figures import pyplot, save_figure
from crucible.viz.numbers import rounded

__all__ = [
    "SUMMARY_LABELS",
    "DesignReportInputs",
    "ReportFiles",
    "funnel_figure",
    "markdown_summary",
    "pca_map_figure",
    "render_html",
    "rl_curve_figure",
    "rounded",
    "tl_curve_figure",
    "top_molecules_figure",
    "write_design_report",
]

#: Summary keys shown first, with their labels (other keys follow under their own name).
SUMMARY_LABELS = {
    "valid_fraction": "valid samples (fraction)",
    "predicted_active_fraction": "predicted active, RL model (pChEMBL ≥ 7)",
    "independent_active_fraction": "predicted active, independent model (pChEMBL ≥ 7)",
    "median_nn_similarity_to_actives": "median Tanimoto to nearest training active",
    "unique_scaffold_fraction": "unique Murcko scaffolds / valid",
    "rl_score_gain": "RL score gain (final agent / TL model)",
    "flow_cpu_s": "flow CPU seconds",
    "n_samples": "samples evaluated",
}
_TOP_COLUMNS = ("rank", "id", "smiles", "score", "pchembl_predicted", "pchembl_independent",
                "qed", "sa_score", "nn_similarity", "alerts")  # fmt: skip


class DesignReportInputs(BaseModel):
    """What a design report shows (every stage's output, as plain values and paths).

    Attributes:
        name: The design's name (the page title).
        summary: Headline figures (``summary.json``); shown rounded, known keys first.
        data_card: Data-card counts (molecules, actives, split sizes, ...).
        parity_plot: The activity model's test parity PNG, if any.
        histogram: The data card's activity histogram PNG, if any.
        tl_history: Transfer learning per epoch (``epoch``, ``train_nll``, ``valid_nll``,
            ``validity``).
        rl_history: RL per step (``step``, ``mean_score``, optionally ``validity``).
        funnel: Filter stages in order, each ``name`` and ``remaining``.
        n_filtered_in: Molecules that entered the filters.
        map_sets: Set name -> SMILES for the chemical-space map (drawn in this order).
        results_csv: The results table (see :func:`crucible.chem.results.results_table`).
        links: Label -> path of other files worth opening (shown as text, not fetched).
    """

    name: str
    summary: dict[str, Any] = Field(default_factory=dict)
    data_card: dict[str, Any] = Field(default_factory=dict)
    parity_plot: str | None = None
    histogram: str | None = None
    tl_history: list[dict[str, Any]] = Field(default_factory=list)
    rl_history: list[dict[str, Any]] = Field(default_factory=list)
    funnel: list[dict[str, Any]] = Field(default_factory=list)
    n_filtered_in: int | None = None
    map_sets: dict[str, list[str]] = Field(default_factory=dict)
    results_csv: str | None = None
    links: dict[str, str] = Field(default_factory=dict)


class ReportFiles(BaseModel):
    """Files of a written report.

    Attributes:
        html: ``report.html``.
        images: Figure key -> PNG (``parity``, ``tl_curve``, ``rl_curve``, ``funnel``,
            ``chemical_space``, ``top_molecules``, ``activity_histogram``; those drawn).
        markdown: The rounded markdown summary (for a Prefect artifact).
    """

    html: str
    images: dict[str, str]
    markdown: str


# ------------------------------------------------------------------------------ figures
def _series(rows: Sequence[Mapping[str, Any]], key: str) -> np.ndarray:
    return np.array([float(r.get(key, math.nan)) for r in rows], dtype=float)


def _integer_ticks(*axes: Any) -> None:
    ticker = require("matplotlib.ticker")
    for ax in axes:
        ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))


def tl_curve_figure(history: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """Transfer learning per epoch: train and validation NLL, and sample validity."""
    fig, (left, right) = pyplot().subplots(1, 2, figsize=(9, 3.4))
    _integer_ticks(left, right)
    epochs = _series(history, "epoch")
    for key, label in (("train_nll", "training NLL"), ("valid_nll", "validation NLL")):
        left.plot(epochs, _series(history, key), marker="o", label=label)
    left.set(xlabel="epoch", ylabel="NLL per SMILES", title="Transfer learning: NLL")
    left.legend(frameon=False)
    validity = _series(history, "validity")
    right.plot(epochs, validity, marker="o", color="tab:green")
    if not np.isfinite(validity).any():
        right.text(0.5, 0.5, "no samples drawn per epoch", ha="center", transform=right.transAxes)
    right.set(xlabel="epoch", ylabel="valid fraction", ylim=(0, 1.02),
              title="Sample validity per epoch")  # fmt: skip
    return save_figure(fig, path, dpi=110)


def rl_curve_figure(history: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """RL per step: mean batch score (and sample validity when recorded)."""
    fig, ax = pyplot().subplots(figsize=(7, 3.4))
    _integer_ticks(ax)
    steps = np.arange(1, len(history) + 1)
    ax.plot(steps, _series(history, "mean_score"), marker=".", label="mean score")
    validity = _series(history, "validity")
    if np.isfinite(validity).any():
        ax.plot(steps, validity, linestyle="--", label="valid fraction")
    ax.set(xlabel="RL step", ylabel="score", ylim=(0, 1.02), title="Reinforcement learning")
    ax.legend(frameon=False)
    return save_figure(fig, path, dpi=110)


def funnel_figure(
    stages: Sequence[Mapping[str, Any]], path: str | Path, n_in: int | None = None
) -> Path:
    """Molecules remaining after each filter stage (horizontal bars, input on top)."""
    names = [str(s["name"]) for s in stages]
    counts = [int(s["remaining"]) for s in stages]
    if n_in is not None:
        names, counts = ["input", *names], [int(n_in), *counts]
    fig, ax = pyplot().subplots(figsize=(7, 0.45 * len(names) + 1.2))
    positions = np.arange(len(names))[::-1]
    ax.barh(positions, counts, color="tab:blue")
    for y, count in zip(positions, counts, strict=True):
        ax.text(count, y, f" {count}", va="center")
    ax.set_yticks(positions, names)
    ax.set(xlabel="molecules remaining", title="Filter funnel")
    ax.set_xlim(0, max(counts, default=1) * 1.15 + 1)
    return save_figure(fig, path, dpi=110)


def pca_map_figure(sets: Mapping[str, Sequence[str]], path: str | Path, title: str) -> Path:
    """PCA of Morgan fingerprints, one colour per set, axes labelled with explained variance."""
    from sklearn.decomposition import PCA

    from crucible.viz.chemical_space import fingerprint_matrix

    blocks, labels = [], []
    for name, smiles in sets.items():
        matrix, _ = fingerprint_matrix(list(smiles))  # rows of the parsable SMILES only
        blocks.append(matrix)
        labels += [name] * len(matrix)
    data = np.vstack(blocks).astype(float) if blocks else np.zeros((0, 2))
    components = min(2, *data.shape) if data.size else 0
    fig, ax = pyplot().subplots(figsize=(7, 5.5))
    if components == 2:
        pca = PCA(n_components=2, random_state=0).fit(data)
        coords, ratio = pca.transform(data), pca.explained_variance_ratio_
        names = np.array(labels)
        for name in sets:
            points = coords[names == name]
            ax.scatter(points[:, 0], points[:, 1], s=8, alpha=0.6, linewidths=0,
                       label=f"{name} ({len(points)})")  # fmt: skip
        ax.set_xlabel(f"PC1 ({100 * ratio[0]:.1f}% of variance)")
        ax.set_ylabel(f"PC2 ({100 * ratio[1]:.1f}% of variance)")
        ax.legend(markerscale=2, frameon=False, loc="best")
    ax.set_title(f"{title} (PCA of Morgan fingerprints)")
    return save_figure(fig, path, dpi=110)


def top_molecules_figure(results: Any, path: str | Path, n: int = 12) -> Path | None:
    """Grid of the ``n`` best-ranked molecules labelled with rank, pChEMBL, QED and SA.

    Args:
        results: The results table (a frame with ``rank, smiles, pchembl_predicted, qed,
            sa_score``), best first.
        path: Output PNG.
        n: Molecules drawn.

    Returns:
        The PNG, or None when the table is empty.
    """
    from crucible.viz.molecules import grid_legend, molecule_grid

    top = results.head(n)
    if top.empty:
        return None
    legends = [
        grid_legend(int(row.rank), None,
                    {"pChEMBL": row.pchembl_predicted, "QED": row.qed, "SA": row.sa_score})
        for row in top.itertuples()
    ]  # fmt: skip
    return molecule_grid(top["smiles"].tolist(), path, legends=legends, size=280)


# --------------------------------------------------------------------------------- HTML
_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.3em .6em}
th{background:#f3f3f3;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%;border:1px solid #eee}code{font-size:.9em}section{margin-bottom:2em}
"""


def _esc(value: Any) -> str:
    return html.escape(rounded(value), quote=True)


def _cell(value: Any) -> str:
    number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    return f'<td class="num">{_esc(value)}</td>' if number else f"<td>{_esc(value)}</td>"


def _table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _image(path: str | Path | None, alt: str) -> str:
    if path is None or not Path(path).is_file():
        return f"<p><em>{html.escape(alt)}: not available for this run.</em></p>"
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt, quote=True)}" src="data:image/png;base64,{data}">'


def summary_rows(summary: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """``(label, value)`` per summary figure: the known keys first, then the others."""
    known = [(label, summary[key]) for key, label in SUMMARY_LABELS.items() if key in summary]
    rest = [(key, value) for key, value in summary.items() if key not in SUMMARY_LABELS]
    return known + rest


def render_html(inputs: DesignReportInputs, images: Mapping[str, str], top: Any = None) -> str:
    """The self-contained page: summary, data card, every figure, top molecules, files."""
    sections = [
        ("Summary", _table(summary_rows(inputs.summary), ("figure", "value"))),
        ("Data card", _table(list(inputs.data_card.items()), ("item", "value"))
         + _image(images.get("activity_histogram"), "activity histogram")),
        ("Activity model: test parity", _image(images.get("parity"), "parity plot")),
        ("Transfer learning", _image(images.get("tl_curve"), "transfer-learning curve")),
        ("Reinforcement learning", _image(images.get("rl_curve"), "RL curve")),
        ("Filter funnel", _image(images.get("funnel"), "filter funnel")),
        ("Chemical space", _image(images.get("chemical_space"), "chemical-space map")),
        ("Top molecules", _image(images.get("top_molecules"), "top molecules")
         + _top_table(top)),
        ("Files", _table(list(inputs.links.items()), ("file", "path"))),
    ]  # fmt: skip
    body = "".join(f"<section><h2>{html.escape(t)}</h2>{content}</section>"
                   for t, content in sections)  # fmt: skip
    title = html.escape(f"Molecular design: {inputs.name}")
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{title}</title><style>{_STYLE}</style></head>"
            f"<body><h1>{title}</h1>{body}</body></html>\n")  # fmt: skip


def _top_table(top: Any, n: int = 20) -> str:
    if top is None or top.empty:
        return "<p><em>No molecule passed the filters.</em></p>"
    columns = [c for c in _TOP_COLUMNS if c in top.columns]
    rows = top.head(n)[columns].itertuples(index=False)
    return _table([list(row) for row in rows], columns)


def markdown_summary(inputs: DesignReportInputs, top: Any = None, n: int = 10) -> str:
    """The summary, data card and top molecules as markdown, every number rounded."""

    def cell(value: Any) -> str:
        return rounded(value).replace("|", "\\|")

    lines = [f"# Molecular design: {cell(inputs.name)}", "", "| figure | value |", "|---|---:|"]
    lines += [f"| {cell(k)} | {cell(v)} |" for k, v in summary_rows(inputs.summary)]
    lines += ["", "## Data card", "", "| item | value |", "|---|---:|"]
    lines += [f"| {cell(k)} | {cell(v)} |" for k, v in inputs.data_card.items()]
    if top is not None and not top.empty:
        columns = [c for c in _TOP_COLUMNS if c in top.columns and c != "alerts"]
        lines += ["", f"## Top {min(n, len(top))} molecules", "",
                  "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]  # fmt: skip
        lines += ["| " + " | ".join(cell(v) for v in row) + " |"
                  for row in top.head(n)[columns].itertuples(index=False)]  # fmt: skip
    if inputs.links:
        lines += ["", "## Files", ""] + [f"- {cell(k)}: `{v}`" for k, v in inputs.links.items()]
    return "\n".join(lines) + "\n"


def write_design_report(inputs: DesignReportInputs, folder: str | Path) -> ReportFiles:
    """Draw every figure under ``folder/report/`` and write ``folder/report.html``.

    Returns:
        The HTML path, the PNG of each figure drawn and the markdown summary.
    """
    import pandas as pd

    folder = Path(folder)
    figures = folder / "report"
    images: dict[str, str] = {}
    for key, source in (("parity", inputs.parity_plot), ("activity_histogram", inputs.histogram)):
        if source is not None and Path(source).is_file():
            images[key] = str(source)
    if inputs.tl_history:
        images["tl_curve"] = str(tl_curve_figure(inputs.tl_history, figures / "tl_curve.png"))
    if inputs.rl_history:
        images["rl_curve"] = str(rl_curve_figure(inputs.rl_history, figures / "rl_curve.png"))
    if inputs.funnel:
        images["funnel"] = str(
            funnel_figure(inputs.funnel, figures / "filter_funnel.png", inputs.n_filtered_in)
        )
    if inputs.map_sets:
        images["chemical_space"] = str(pca_map_figure(
            inputs.map_sets, figures / "chemical_space_pca.png", f"{inputs.name}: chemical space"
        ))  # fmt: skip
    top = None
    if inputs.results_csv is not None and Path(inputs.results_csv).is_file():
        top = pd.read_csv(inputs.results_csv, keep_default_na=True)
        grid = top_molecules_figure(top, figures / "top_molecules.png")
        if grid is not None:
            images["top_molecules"] = str(grid)
    page = folder / "report.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(render_html(inputs, images, top), encoding="utf-8")
    return ReportFiles(html=str(page), images=images, markdown=markdown_summary(inputs, top))
