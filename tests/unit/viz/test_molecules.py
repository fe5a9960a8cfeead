"""Molecule grids with score legends; top-n selection."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from crucible.exceptions import InvalidInputError
from crucible.viz.molecules import grid_legend, molecule_grid, top_molecules


def test_top_molecules_are_distinct_valid_and_sorted() -> None:
    smiles = ["CCO", "bad", "CCN", "CCO", "c1ccccc1", "CCC"]
    scores = [0.9, 1.0, 0.2, 0.9, np.nan, 0.5]
    best, values = top_molecules(smiles, scores, n=3)
    assert best == ["CCO", "CCC", "CCN"]
    np.testing.assert_allclose(values, [0.9, 0.5, 0.2])
    with pytest.raises(InvalidInputError):
        top_molecules(smiles, [1.0], n=2)


def test_grid_png_has_one_cell_per_molecule(tmp_path: Path) -> None:
    path = molecule_grid(["CCO", "bad", "c1ccccc1O", "CCN"], tmp_path / "g.png",
                         scores=[0.5, 0.0, 0.7, 0.1], mols_per_row=2, size=100)  # fmt: skip
    with Image.open(path) as image:
        assert image.size == (200, 200)  # 3 valid molecules -> 2 x 2 cells of 100 px
    with pytest.raises(InvalidInputError, match="no parsable"):
        molecule_grid(["bad"], tmp_path / "none.png")


def test_grid_legend_is_rounded_on_two_lines() -> None:
    text = grid_legend(3, ("total", 0.5328508523182761),
                       {"pChEMBL": 7.2345, "QED": 0.61234, "SA": float("nan")})  # fmt: skip
    assert text == "#3 total 0.533  pChEMBL 7.23 QED 0.61 SA –"
    assert grid_legend(1, None, {}) == "#1"
