"""Chemical-space maps: Morgan fingerprints -> PCA, t-SNE or UMAP (Jaccard) -> 2-D.

Several labelled sets (e.g. training actives, generated, filtered) are embedded *together*
so they share one coordinate system, then drawn as a PNG (matplotlib) and as a standalone
interactive HTML page (inline SVG: hover a point to see its set, SMILES and score; click a
legend entry to hide or show a set; no JavaScript library, no network).

Costs on this machine for 5,000 x 2048 bits (``docs/chem.md``, ``benchmarks/chem.py``):
PCA about 1 s, t-SNE (openTSNE on PCA-50) about 40 s, UMAP Jaccard about 10 s plus a
numba compilation of about a minute in every new process.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel

from crucible._imports import require
from crucible.chem.properties import morgan_generator, parse_smiles
from crucible.exceptions import InvalidInputError
from crucible.validation import SEED_MAX
from crucible.viz.figures import pyplot, save_figure

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ChemicalSpaceMap",
    "EmbeddingMethod",
    "MapFiles",
    "chemical_space_map",
    "embed",
    "fingerprint_matrix",
    "plot_map_png",
    "write_map_html",
]

EmbeddingMethod = Literal["pca", "tsne", "umap"]
_MIN_POINTS = 3


class MapFiles(BaseModel):
    """A chemical-space map on disk.

    Attributes:
        png: Static figure.
        html: Interactive page (SMILES on hover).
        csv: Coordinates, set and SMILES of every point.
        counts: Points per set.
    """

    png: str
    html: str
    csv: str
    counts: dict[str, int]


def fingerprint_matrix(
    smiles: Sequence[str], radius: int = 2, n_bits: int = 2048
) -> tuple[np.ndarray, np.ndarray]:
    """Morgan bit fingerprints of the parsable SMILES.

    Args:
        smiles: ``n`` SMILES.
        radius: Morgan radius (2 = ECFP4).
        n_bits: Fingerprint length ``d``.

    Returns:
        ``(fingerprints, valid)``: a boolean ``n_valid x d`` matrix and the ``n`` mask of
        parsable inputs.
    """
    generator = morgan_generator(radius, n_bits)
    mols = [parse_smiles(s) for s in smiles]
    valid = np.array([m is not None for m in mols], dtype=bool)
    rows = [generator.GetFingerprintAsNumPy(m).astype(bool) for m in mols if m is not None]
    matrix = np.stack(rows) if rows else np.zeros((0, n_bits), dtype=bool)
    return matrix, valid


def embed(
    fingerprints: np.ndarray, method: EmbeddingMethod = "pca", seed: int = 0, n_jobs: int = 1
) -> np.ndarray:
    """Embed fingerprints in 2-D.

    * ``pca``: scikit-learn PCA on the 0/1 matrix.
    * ``tsne``: openTSNE on the first 50 principal components (perplexity 30, or
      ``(n - 1) / 3`` for small ``n``), PCA initialisation.
    * ``umap``: umap-learn with the Jaccard metric on the boolean matrix
      (``n_neighbors`` 15, or ``n - 1`` for small ``n``).

    Args:
        fingerprints: ``n x d`` boolean (or 0/1) matrix, ``n >= 3``.
        method: ``pca``, ``tsne`` or ``umap``.
        seed: Random seed (t-SNE, UMAP).
        n_jobs: Threads for openTSNE.

    Returns:
        ``n x 2`` float array.

    Raises:
        InvalidInputError: For fewer than 3 molecules or an unknown method.
    """
    n = fingerprints.shape[0]
    if n < _MIN_POINTS:
        raise InvalidInputError(
            "smiles", f"{n} valid molecules cannot be embedded", "give at least 3 valid SMILES"
        )
    dense = np.asarray(fingerprints, dtype=np.float64)
    if method == "pca":
        return _pca(dense, 2, seed)
    if method == "tsne":
        return _tsne(dense, seed, n_jobs)
    if method == "umap":
        return _umap(np.asarray(fingerprints, dtype=bool), seed)
    raise InvalidInputError("method", f"unknown embedding {method!r}", "use pca, tsne or umap")


def _pca(dense: np.ndarray, components: int, seed: int) -> np.ndarray:
    decomposition = require("sklearn.decomposition")
    components = min(components, dense.shape[0], dense.shape[1])
    coords = decomposition.PCA(n_components=components, random_state=seed).fit_transform(dense)
    if coords.shape[1] < 2:  # degenerate (e.g. identical rows): pad with zeros
        coords = np.hstack([coords, np.zeros((coords.shape[0], 2 - coords.shape[1]))])
    return np.asarray(coords, dtype=np.float64)


def _tsne(dense: np.ndarray, seed: int, n_jobs: int) -> np.ndarray:
    open_tsne = require("openTSNE")
    reduced = _pca(dense, 50, seed)
    perplexity = float(min(30.0, (dense.shape[0] - 1) / 3.0))
    tsne = open_tsne.TSNE(
        n_components=2, perplexity=perplexity, random_state=seed, n_jobs=n_jobs, verbose=False
    )
    return np.asarray(tsne.fit(reduced), dtype=np.float64)


def _umap(bits: np.ndarray, seed: int) -> np.ndarray:
    import warnings

    umap = require("umap")
    reducer = umap.UMAP(
        n_neighbors=min(15, bits.shape[0] - 1),
        metric="jaccard",
        random_state=seed,
        n_components=2,
        n_jobs=1,  # a seed makes UMAP single-threaded anyway; saying so avoids its warning
    )
    with warnings.catch_warnings():  # "no inverse_transform for jaccard": not used here
        warnings.filterwarnings("ignore", message="gradient function is not yet implemented")
        return np.asarray(reducer.fit_transform(bits), dtype=np.float64)


def _check_map_options(method: str, seed: int, radius: int, n_bits: int, n_jobs: int) -> None:
    def within(value: object, low: int, high: int) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high

    checks = [
        ("method", method in ("pca", "tsne", "umap"), method, "use 'pca', 'tsne' or 'umap'"),
        ("seed", within(seed, 0, SEED_MAX), seed, f"use a seed in [0, {SEED_MAX}]"),
        ("radius", within(radius, 0, 6), radius, "use a Morgan radius in [0, 6] (2 is ECFP4)"),
        ("n_bits", within(n_bits, 64, 16384), n_bits, "use 64 to 16384 bits (2048 is usual)"),
        ("n_jobs", within(n_jobs, 1, 256), n_jobs, "use 1 to 256 threads"),
    ]
    for field, ok, value, fix in checks:
        if not ok:
            raise InvalidInputError(field, f"{value!r} is not allowed", fix)


@dataclass
class ChemicalSpaceMap:
    """Embedded molecules of several labelled sets.

    Attributes:
        coords: ``m x 2`` coordinates of the valid molecules.
        labels: Set name of each point (length ``m``).
        smiles: SMILES of each point.
        scores: Optional score of each point (NaN when unknown).
        method: The embedding method.
        dropped: Invalid SMILES dropped per set.
    """

    coords: np.ndarray
    labels: list[str]
    smiles: list[str]
    scores: np.ndarray
    method: str
    dropped: dict[str, int]

    @property
    def set_names(self) -> list[str]:
        """Set names in drawing order (first drawn first, i.e. at the back)."""
        return list(dict.fromkeys(self.labels))

    def to_frame(self) -> pd.DataFrame:
        """One row per point: ``set, smiles, score, x, y``."""
        import pandas as pd

        return pd.DataFrame(
            {
                "set": self.labels,
                "smiles": self.smiles,
                "score": self.scores,
                "x": self.coords[:, 0],
                "y": self.coords[:, 1],
            }
        )


def chemical_space_map(
    sets: Mapping[str, Sequence[str]],
    method: EmbeddingMethod = "pca",
    scores: Mapping[str, Sequence[float] | np.ndarray] | None = None,
    seed: int = 0,
    radius: int = 2,
    n_bits: int = 2048,
    n_jobs: int = 1,
) -> ChemicalSpaceMap:
    """Embed several labelled sets of SMILES into one 2-D map.

    Args:
        sets: Set name -> SMILES, e.g. ``{"training actives": [...], "generated": [...]}``;
            drawn in this order (the last set on top).
        method: ``pca``, ``tsne`` or ``umap``.
        scores: Optional set name -> one score per SMILES of that set (shown on hover).
        seed: Random seed.
        radius: Morgan radius.
        n_bits: Fingerprint length.
        n_jobs: Threads for t-SNE.

    Returns:
        The map; invalid SMILES are dropped and counted per set in ``dropped``.

    Raises:
        InvalidInputError: For an unknown method, a seed outside [0, 2**32 - 1], a radius
            outside [0, 6] or ``n_bits`` outside [64, 16384] (checked before any work).
    """
    _check_map_options(method, seed, radius, n_bits, n_jobs)
    scores = scores or {}
    blocks, labels, kept_smiles, kept_scores, dropped = [], [], [], [], {}
    for name, smiles in sets.items():
        smiles = list(smiles)
        set_scores = np.asarray(scores.get(name, [np.nan] * len(smiles)), dtype=np.float64)
        if set_scores.shape != (len(smiles),):
            raise InvalidInputError(
                f"scores[{name!r}]", f"{set_scores.size} scores for {len(smiles)} SMILES",
                "give one score per SMILES",
            )  # fmt: skip
        matrix, valid = fingerprint_matrix(smiles, radius, n_bits)
        blocks.append(matrix)
        labels += [name] * int(valid.sum())
        kept_smiles += [s for s, ok in zip(smiles, valid, strict=True) if ok]
        kept_scores.append(set_scores[valid])
        dropped[name] = int((~valid).sum())
    fingerprints = np.vstack(blocks) if blocks else np.zeros((0, n_bits), dtype=bool)
    coords = embed(fingerprints, method, seed=seed, n_jobs=n_jobs)
    all_scores = np.concatenate(kept_scores) if kept_scores else np.zeros(0)
    return ChemicalSpaceMap(coords, labels, kept_smiles, all_scores, method, dropped)


_AXIS_NAMES = {"pca": "PC", "tsne": "t-SNE ", "umap": "UMAP "}


def _colours(n: int) -> list[str]:
    colormaps = require("matplotlib").colormaps
    colors = require("matplotlib.colors")
    cmap = colormaps["tab10"]
    return [colors.to_hex(cmap(i % 10)) for i in range(n)]


def plot_map_png(
    space: ChemicalSpaceMap, path: str | Path, title: str = "Chemical space", dpi: int = 120
) -> Path:
    """Draw the map as a scatter plot PNG, one colour per set.

    Returns:
        The PNG path.
    """
    fig, ax = pyplot().subplots(figsize=(7.5, 6))
    labels = np.array(space.labels)
    for name, colour in zip(space.set_names, _colours(len(space.set_names)), strict=True):
        points = space.coords[labels == name]
        ax.scatter(points[:, 0], points[:, 1], s=9, alpha=0.7, color=colour,
                   label=f"{name} ({len(points)})", linewidths=0)  # fmt: skip
    axis = _AXIS_NAMES.get(space.method, "")
    ax.set_xlabel(f"{axis}1")
    ax.set_ylabel(f"{axis}2")
    ax.set_title(f"{title} ({space.method.upper()}, Morgan fingerprints)")
    ax.legend(markerscale=2, frameon=False, loc="best")
    return save_figure(fig, path, dpi=dpi)


def write_map_html(
    space: ChemicalSpaceMap, path: str | Path, title: str = "Chemical space"
) -> Path:
    """Write the map as a standalone HTML page with an inline SVG scatter plot.

    Hovering a point shows its set, SMILES and score (SVG ``<title>``); clicking a legend
    entry hides or shows that set. No external resources are loaded.

    Returns:
        The HTML path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height, pad = 860, 640, 30
    xy = _scale(space.coords, width - 2 * pad, height - 2 * pad) + pad
    colours = dict(zip(space.set_names, _colours(len(space.set_names)), strict=True))
    groups = {name: i for i, name in enumerate(space.set_names)}
    circles = [
        _circle(x, y, colours[label], groups[label], label, smiles, score)
        for (x, y), label, smiles, score in zip(
            xy, space.labels, space.smiles, space.scores, strict=True
        )
    ]
    legend = "".join(
        f'<li data-group="{groups[name]}" onclick="toggle(this)">'
        f'<span style="background:{colours[name]}"></span>{html.escape(name)} '
        f"({space.labels.count(name)})</li>"
        for name in space.set_names
    )
    page = _HTML_TEMPLATE.format(
        title=html.escape(title),
        method=html.escape(space.method.upper()),
        width=width,
        height=height,
        circles="\n".join(circles),
        legend=legend,
        n=len(space.labels),
    )
    path.write_text(page, encoding="utf-8")
    return path


def _scale(coords: np.ndarray, width: float, height: float) -> np.ndarray:
    """Map coordinates into the box, y pointing down as in SVG."""
    low, high = coords.min(axis=0), coords.max(axis=0)
    span = np.where(high - low > 0, high - low, 1.0)
    unit = (coords - low) / span
    return np.column_stack([unit[:, 0] * width, (1.0 - unit[:, 1]) * height])


def _circle(
    x: float, y: float, colour: str, group: int, label: str, smiles: str, score: float
) -> str:
    tip = f"{label}\n{smiles}" + ("" if np.isnan(score) else f"\nscore {score:.3f}")
    return (
        f'<circle class="g{group}" cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}">'
        f"<title>{html.escape(tip)}</title></circle>"
    )


_HTML_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 16px; color: #222; }}
svg {{ border: 1px solid #ccc; background: #fff; }}
circle {{ fill-opacity: 0.7; stroke: none; }}
circle:hover {{ r: 7; fill-opacity: 1; stroke: #000; }}
ul {{ list-style: none; padding: 0; }}
li {{ cursor: pointer; margin: 4px 0; user-select: none; }}
li.off {{ opacity: 0.35; text-decoration: line-through; }}
li span {{ display: inline-block; width: 12px; height: 12px; margin-right: 6px;
           border-radius: 6px; }}
</style></head>
<body>
<h2>{title}</h2>
<p>{method} of Morgan fingerprints, {n} molecules. Hover a point for its SMILES;
click a set to hide or show it.</p>
<div style="display:flex;gap:24px;align-items:flex-start">
<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"
 viewBox="0 0 {width} {height}">
{circles}
</svg>
<ul>{legend}</ul>
</div>
<script>
function toggle(item) {{
  item.classList.toggle('off');
  var hidden = item.classList.contains('off');
  document.querySelectorAll('circle.g' + item.dataset.group).forEach(function (c) {{
    c.style.display = hidden ? 'none' : '';
  }});
}}
</script>
</body></html>
"""
