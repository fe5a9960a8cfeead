"""Over-long SMILES are refused (or rejected with their reason) quickly, before RDKit sees them.

RDKit needs about 500 bytes and 10 µs per SMILES character (1 MB: 9.5 s, 0.5 GB), so each
entry point is checked with a 10 MB one-line SMILES for time and memory growth too.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from crucible.chem.limits import (
    MAX_SMILES_LENGTH,
    check_smiles_length,
    check_smiles_list,
    smiles_too_long,
)
from crucible.exceptions import InvalidInputError

HUGE = "C" * 10_000_000  # a 10 MB one-line "SMILES"
JUST_OVER = "C" * (MAX_SMILES_LENGTH + 1)


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.fixture
def quick() -> Iterator[Callable[[], None]]:
    """Asserts, when called, that the code since the fixture ran fast and grew little."""
    started, rss = time.perf_counter(), _max_rss_mb()

    def check() -> None:
        assert time.perf_counter() - started < 10.0
        assert _max_rss_mb() - rss < 400  # parsing HUGE would take several GB

    yield check


def test_the_cap_is_inclusive() -> None:
    assert check_smiles_length("C" * MAX_SMILES_LENGTH, "smiles") == "C" * MAX_SMILES_LENGTH
    assert not smiles_too_long("C" * MAX_SMILES_LENGTH) and smiles_too_long(JUST_OVER)


@pytest.mark.parametrize("value", [JUST_OVER, HUGE, None, 3.5, b"CCO"])
def test_check_smiles_length_names_the_field(value: object) -> None:
    with pytest.raises(InvalidInputError, match=r"^query\.smiles: "):
        check_smiles_length(value, "query.smiles")


def test_check_smiles_list_names_the_position() -> None:
    with pytest.raises(InvalidInputError, match=r"^refs\[2\]: .*10,000,000 characters"):
        check_smiles_list(["CCO", "c1ccccc1", HUGE], "refs")


@pytest.mark.parametrize("values", ["CCO", 5, {"a": "CCO"}])
def test_check_smiles_list_wants_a_list(values: object) -> None:
    with pytest.raises(InvalidInputError, match=r"^refs: expected a list"):
        check_smiles_list(values, "refs")


def test_check_smiles_list_caps_the_count() -> None:
    with pytest.raises(InvalidInputError, match=r"^refs: 11 SMILES given, over the cap of 10"):
        check_smiles_list(["C"] * 11, "refs", max_items=10)


def test_parse_smiles_never_hands_a_huge_string_to_rdkit(quick: Callable[[], None]) -> None:
    from crucible.chem.properties import parse_smiles
    from crucible.generator.chemistry import to_mol

    assert parse_smiles(HUGE) is None and to_mol(HUGE) is None
    assert parse_smiles("C" * MAX_SMILES_LENGTH) is not None
    quick()


def test_scoring_marks_a_huge_smiles_invalid(quick: Callable[[], None]) -> None:
    from crucible.chem.scoring import build_scoring_function

    result = build_scoring_function({"components": [{"type": "qed"}]}).score(["CCO", HUGE])
    assert list(result.valid) == [True, False] and result.total[1] == 0.0
    quick()


def test_tanimoto_reference_over_the_cap_names_its_position(quick: Callable[[], None]) -> None:
    from crucible.chem.scoring import build_scoring_function

    config = {"components": [{"type": "tanimoto_similarity", "params": {"smiles": ["CCO", HUGE]}}]}
    with pytest.raises(InvalidInputError, match=r"params\.smiles\[1\]"):
        build_scoring_function(config)
    quick()


@pytest.mark.parametrize("component", ["substructure_match", "custom_alerts"])
def test_smarts_over_the_cap_names_its_position(component: str, quick: Callable[[], None]) -> None:
    from crucible.chem.scoring import build_scoring_function

    config = {"components": [{"type": component, "params": {"smarts": ["c1ccccc1", HUGE]}}]}
    with pytest.raises(InvalidInputError, match=r"params\.smarts\[1\]"):
        build_scoring_function(config)
    quick()


def test_standardisation_rejects_with_the_reason(quick: Callable[[], None]) -> None:
    import pandas as pd

    from crucible.data.standardise import standardise_frame, standardise_smiles

    assert standardise_smiles(HUGE) == (None, f"SMILES longer than {MAX_SMILES_LENGTH} characters")
    result = standardise_frame(pd.DataFrame({"smiles": ["CCO", HUGE], "pchembl_value": [6, 7]}))
    assert len(result.molecules) == 1
    assert list(result.rejected["reason"]) == [
        f"SMILES longer than {MAX_SMILES_LENGTH} characters"
    ]
    quick()


def test_filters_report_the_reason(quick: Callable[[], None]) -> None:
    from crucible.chem.filters import FilterConfig, filter_molecules

    result = filter_molecules(["CCO", HUGE], FilterConfig(novelty=False))
    row = result.frame.iloc[1]
    assert not row["kept"] and row["reason"] == "invalid"
    assert str(MAX_SMILES_LENGTH) in row["detail"]
    quick()


@pytest.mark.parametrize("task", ["score", "filter"])
def test_task_reading_a_smiles_file_names_the_row(
    task: str, tmp_path: Path, quick: Callable[[], None]
) -> None:
    from prefect.logging import disable_run_logger

    from tasks.filtering import filter_smiles
    from tasks.scoring import score_molecules

    path = tmp_path / "generated.csv"
    path.write_text(f"smiles\nCCO\n{HUGE}\n")
    with (
        disable_run_logger(),
        pytest.raises(InvalidInputError, match=r"^smiles_csv \(generated\.csv, row 3"),
    ):
        if task == "score":
            score_molecules.fn(str(path), {"components": [{"type": "qed"}]}, str(tmp_path / "o"))
        else:
            filter_smiles.fn(str(path), str(tmp_path / "f"))
    assert not (tmp_path / "o").exists() and not (tmp_path / "f").exists()
    quick()


def test_one_line_ligand_file_is_rejected_by_standardisation(
    tmp_path: Path, quick: Callable[[], None]
) -> None:
    from crucible.data.io import ColumnMapping, read_ligands
    from crucible.data.standardise import standardise_frame

    path = tmp_path / "huge.smi"
    path.write_text(f"{HUGE} m1\nCCO m2\n")
    frame = read_ligands(path, ColumnMapping())
    result = standardise_frame(frame)
    assert list(result.molecules["smiles"]) == ["CCO"]
    assert "longer than" in result.rejected["reason"].iloc[0]
    quick()


def test_inception_seeds_are_capped() -> None:
    from crucible.generator.replay import InceptionConfig

    with pytest.raises(ValidationError, match=r"inception\.smiles\[0\]"):
        InceptionConfig(smiles=[JUST_OVER])
    with pytest.raises(ValidationError, match=r"inception\.smiles: 10,001 SMILES"):
        InceptionConfig(smiles=["C"] * 10_001)


def test_corpus_with_a_huge_line_names_the_file_and_line(
    tmp_path: Path, quick: Callable[[], None]
) -> None:
    from crucible.exceptions import InvalidFileError
    from crucible.generator.pretraining import read_smiles_file

    path = tmp_path / "corpus.smi"
    path.write_text(f"CCO\n{HUGE}\nCCN\n")
    with pytest.raises(InvalidFileError, match=r"corpus\.smi.*line 2.*over the cap of 500"):
        read_smiles_file(path)
    quick()
