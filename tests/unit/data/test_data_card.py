from pathlib import Path

import pandas as pd

from crucible.data.card import build_data_card, top_scaffolds

MOLECULES = pd.DataFrame(
    {
        "molecule_id": ["a", "b", "c", "d", "e"],
        "smiles": ["c1ccccc1CC", "c1ccccc1CCO", "c1ccccc1N", "C1CCNCC1C", "CCO"],
        "pchembl_value": [5.0, 7.0, 9.0, 6.0, 4.0],
        "n_measurements": [1, 2, 1, 1, 3],
    }
)


def test_top_scaffolds_count_and_summarise_activity() -> None:
    rows = top_scaffolds(MOLECULES)
    assert rows[0] == {
        "scaffold": "c1ccccc1",
        "n_molecules": 3,
        "median_pchembl": 7.0,
        "best_pchembl": 9.0,
    }
    assert [r["scaffold"] for r in rows] == ["c1ccccc1", "C1CCNCC1"]  # acyclic "CCO" left out


def test_card_has_counts_figures_and_provenance(tmp_path: Path) -> None:
    splits = {"train": MOLECULES.head(3), "valid": MOLECULES.iloc[3:4], "test": MOLECULES.tail(1)}
    card = build_data_card(
        MOLECULES,
        tmp_path,
        "toy",
        standardisation={
            "n_input": 7,
            "n_rejected": 1,
            "n_merged": 1,
            "rejection_reasons": {"SMILES syntax error": 1},
        },
        splits=splits,
        provenance={"source": "file", "attribution": "ChEMBL (EMBL-EBI), CC BY-SA 3.0"},
    )
    assert card.counts["molecules"] == 5
    assert card.counts["actives (pChEMBL >= 7)"] == 2
    assert card.counts["measurements"] == 8
    assert card.counts["split_sizes"] == {"train": 3, "valid": 1, "test": 1}
    assert card.histogram_png.read_bytes()[:4] == b"\x89PNG"
    assert card.scaffolds_png is not None and card.scaffolds_png.read_bytes()[:4] == b"\x89PNG"
    assert "| SMILES syntax error | 1 |" in card.markdown
    assert "CC BY-SA 3.0" in card.markdown
    assert card.json_path.is_file()
