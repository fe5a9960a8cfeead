import json
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from crucible.data import load_egfr
from crucible.data.splits import (
    SplitFractions,
    Splitter,
    available_splitters,
    get_splitter,
    murcko_scaffolds,
    register_splitter,
    split_frame,
    write_actives,
)
from crucible.exceptions import InvalidInputError

EGFR = load_egfr(limit=400, seed=5)
EGFR["scaffold"] = murcko_scaffolds(EGFR["smiles"].tolist())  # computed once for all tests


def _with_years(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out["year"] = 1995 + np.arange(len(out)) % 25
    return out


@pytest.mark.parametrize("method", ["random", "scaffold", "stratified", "temporal"])
def test_split_is_a_seeded_partition(method: str) -> None:
    frame = _with_years(EGFR)
    result = split_frame(frame, method, SplitFractions(train=0.7, valid=0.15, test=0.15), seed=4)
    ids = [set(result.frames[name]["molecule_id"]) for name in ("train", "valid", "test")]
    assert sum(len(s) for s in ids) == len(frame)
    assert set.union(*ids) == set(frame["molecule_id"])
    again = split_frame(frame, method, SplitFractions(train=0.7, valid=0.15, test=0.15), seed=4)
    for name in ("train", "valid", "test"):
        assert (
            again.frames[name]["molecule_id"].tolist()
            == result.frames[name]["molecule_id"].tolist()
        )
    sizes = result.summary["splits"]
    assert sizes["train"]["n"] > sizes["test"]["n"] > 0


def test_random_split_hits_the_fractions_and_seed_matters() -> None:
    result = split_frame(EGFR, "random", seed=0)
    assert [result.summary["splits"][n]["n"] for n in ("train", "valid", "test")] == [320, 40, 40]
    other = split_frame(EGFR, "random", seed=1)
    assert set(other.frames["test"]["molecule_id"]) != set(result.frames["test"]["molecule_id"])


def test_scaffold_split_puts_no_scaffold_in_two_splits() -> None:
    result = split_frame(EGFR, "scaffold", seed=0)
    scaffolds = [set(result.frames[n]["scaffold"]) for n in ("train", "valid", "test")]
    assert not scaffolds[0] & scaffolds[1]
    assert not scaffolds[0] & scaffolds[2]
    assert not scaffolds[1] & scaffolds[2]
    assert result.summary["test_scaffolds_in_train"] == 0
    assert abs(result.summary["splits"]["train"]["fraction"] - 0.8) < 0.05


def test_stratified_split_covers_the_activity_range_in_every_split() -> None:
    result = split_frame(EGFR, "stratified", seed=0)
    full = EGFR["pchembl_value"]
    for name in ("train", "valid", "test"):
        part = result.frames[name]["pchembl_value"]
        assert part.min() < full.quantile(0.2) and part.max() > full.quantile(0.8)
        assert abs(part.mean() - full.mean()) < 0.35


def test_temporal_split_trains_on_the_past() -> None:
    result = split_frame(_with_years(EGFR), "temporal", seed=0)
    assert result.frames["train"]["year"].max() <= result.frames["valid"]["year"].min()
    assert result.frames["valid"]["year"].max() <= result.frames["test"]["year"].min()


def test_temporal_split_needs_years() -> None:
    with pytest.raises(InvalidInputError, match="year"):
        split_frame(EGFR, "temporal")
    frame = _with_years(EGFR)
    frame.loc[3, "year"] = np.nan
    with pytest.raises(InvalidInputError, match="1 rows have no year"):
        split_frame(frame, "temporal")


@pytest.mark.parametrize(
    ("fractions", "field"),
    [
        ({"train": 0.8, "valid": 0.1, "test": 0.2}, "fractions"),
        ({"train": 1.2, "valid": -0.1, "test": -0.1}, "fractions.train"),
        ({"train": 0.0, "valid": 0.5, "test": 0.5}, "fractions.train"),
    ],
)
def test_fractions_are_validated(fractions: dict[str, float], field: str) -> None:
    with pytest.raises(ValueError, match=rf"{field}: "):
        SplitFractions(**fractions)


def test_unknown_split_lists_the_registered_ones() -> None:
    with pytest.raises(InvalidInputError, match="scaffold"):
        get_splitter("butina")


def test_users_can_register_a_splitter() -> None:
    @register_splitter
    class _EveryTenth(Splitter):
        name: ClassVar[str] = "every-tenth-test"

        def assign(self, frame, fractions, seed):  # type: ignore[no-untyped-def]
            labels = np.array(["train"] * len(frame), dtype=object)
            labels[::10] = "test"
            return labels

    assert "every-tenth-test" in available_splitters()
    result = split_frame(EGFR, "every-tenth-test")
    assert len(result.frames["test"]) == 40 and len(result.frames["valid"]) == 0


def test_write_creates_three_tables_and_a_summary(tmp_path: Path) -> None:
    paths = split_frame(EGFR, "scaffold", seed=2).write(tmp_path / "split")
    assert sorted(p.name for p in (tmp_path / "split").iterdir()) == [
        "split_summary.json",
        "test.csv",
        "train.csv",
        "valid.csv",
    ]
    summary = json.loads(paths["summary"].read_text())
    assert summary["method"] == "scaffold" and summary["n_molecules"] == 400
    assert len(pd.read_csv(paths["train"])) == summary["splits"]["train"]["n"]


def test_write_actives_keeps_rows_at_or_above_the_threshold(tmp_path: Path) -> None:
    for name, values in {"train": [5.0, 7.0, 8.1], "valid": [6.9, 7.2]}.items():
        frame = pd.DataFrame({"smiles": ["C" * (i + 1) for i in range(len(values))],
                              "pchembl_value": values})  # fmt: skip
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    paths = write_actives(tmp_path, tmp_path / "actives", threshold=7.0)
    assert pd.read_csv(paths["train"])["pchembl_value"].tolist() == [7.0, 8.1]
    assert pd.read_csv(paths["valid"])["smiles"].tolist() == ["CC"]
    assert set(write_actives(tmp_path, tmp_path / "high", threshold=8.0)) == {"train"}
    with pytest.raises(InvalidInputError, match=r"highest pChEMBL 8\.10"):
        write_actives(tmp_path, tmp_path / "none", threshold=9.0)
