"""Chemical-space maps: shared embedding of labelled sets, PNG and standalone HTML."""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import numpy as np
import pytest

from crucible.exceptions import InvalidInputError
from crucible.viz.chemical_space import (
    chemical_space_map,
    embed,
    fingerprint_matrix,
    plot_map_png,
    write_map_html,
)


def _wehi(start: int, stop: int) -> list[str]:
    import rdkit

    path = os.path.join(os.path.dirname(rdkit.__file__), "Data/Pains/test_data/wehi_mols.csv")
    with open(path) as handle:
        rows = [row[0] for _, row in zip(range(stop), csv.reader(handle), strict=False)]
    return rows[start:stop]


SETS = {
    "training actives": _wehi(0, 30),
    "generated": [*_wehi(30, 60), "not a smiles"],
    "filtered": _wehi(30, 40),
}


def test_fingerprints_are_boolean_and_mark_invalid_inputs() -> None:
    matrix, valid = fingerprint_matrix(["CCO", "bad", "c1ccccc1"], n_bits=1024)
    assert matrix.shape == (2, 1024) and matrix.dtype == bool
    assert valid.tolist() == [True, False, True]


def test_pca_map_shares_coordinates_across_sets(tmp_path: Path) -> None:
    space = chemical_space_map(SETS, "pca", scores={"filtered": np.linspace(0, 1, 10)})
    assert space.coords.shape == (70, 2)
    assert space.dropped == {"training actives": 0, "generated": 1, "filtered": 0}
    frame = space.to_frame()
    generated = frame[frame["set"] == "generated"].iloc[:10][["x", "y"]].to_numpy()
    filtered = frame[frame["set"] == "filtered"][["x", "y"]].to_numpy()
    np.testing.assert_allclose(generated, filtered)  # same molecules, same place
    assert frame.loc[frame["set"] == "filtered", "score"].iloc[-1] == 1.0
    png = plot_map_png(space, tmp_path / "map.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_html_is_standalone_with_hover_text_and_set_toggles(tmp_path: Path) -> None:
    space = chemical_space_map(SETS, "pca", scores={"filtered": [0.25] * 10})
    page = write_map_html(space, tmp_path / "map.html", title="EGFR <run 1>").read_text()
    assert page.count("<circle") == 70
    assert "EGFR &lt;run 1&gt;" in page
    assert "score 0.250" in page
    assert 'onclick="toggle(this)"' in page
    assert not re.search(r"(src|href)=\"http", page)  # nothing loaded from the network
    assert SETS["training actives"][0].replace("&", "&amp;") in page


def test_tsne_on_a_small_set_is_seeded() -> None:
    fingerprints, _ = fingerprint_matrix(_wehi(0, 40))
    first = embed(fingerprints, "tsne", seed=3)
    assert first.shape == (40, 2) and np.isfinite(first).all()
    np.testing.assert_allclose(embed(fingerprints, "tsne", seed=3), first)


def test_too_few_molecules_or_unknown_method_fail_clearly() -> None:
    fingerprints, _ = fingerprint_matrix(["CCO", "CCN"])
    with pytest.raises(InvalidInputError, match="at least 3"):
        embed(fingerprints, "pca")
    fingerprints, _ = fingerprint_matrix(["CCO", "CCN", "CCC"])
    with pytest.raises(InvalidInputError, match="unknown embedding"):
        embed(fingerprints, "mds")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="one score per SMILES"):
        chemical_space_map({"a": ["CCO", "CCN", "CCC"]}, scores={"a": [1.0]})


@pytest.mark.slow
def test_umap_jaccard_map(tmp_path: Path) -> None:
    space = chemical_space_map(SETS, "umap", seed=0)
    assert space.coords.shape == (70, 2) and np.isfinite(space.coords).all()
    assert plot_map_png(space, tmp_path / "umap.png").exists()
