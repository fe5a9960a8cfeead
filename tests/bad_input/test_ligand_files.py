"""Bad ligand files: each is refused with an InvalidFileError naming the file (and the line,
column and field where they exist), before anything is written; a few must simply work."""

from __future__ import annotations

import gzip
import math
from pathlib import Path
from typing import Any

import pytest

from crucible.data.io import ColumnMapping, read_ligands
from crucible.exceptions import InvalidFileError, InvalidInputError

CSV = b"smiles,pIC50\nCCO,5.1\nc1ccccc1,6.2\n"
PLAIN_GZ = gzip.compress(CSV)
_LONG_SDF = b"".join(b"m%d\n  junk\n\nM  END\n$$$$\n" % i for i in range(3000))


def _sdf(records: list[tuple[str, str, str]]) -> bytes:
    """An SDF of ``(name, smiles, pIC50)`` records, written by RDKit."""
    from rdkit import Chem

    blocks = []
    for name, smiles, value in records:
        mol = Chem.MolFromSmiles(smiles)
        mol.SetProp("_Name", name)
        mol.SetProp("pIC50", value)
        block = Chem.MolToMolBlock(mol)
        blocks.append(f"{block}> <pIC50>\n{value}\n\n$$$$\n")
    return "".join(blocks).encode()


# name, content, mapping, field, fragments the message must hold, line, column
REFUSED: list[tuple[str, bytes, dict[str, Any], str, list[str], int | None, str | None]] = [
    ("empty.smi", b"", {}, "path", ["empty"], None, None),
    ("empty.csv", b"", {}, "path", ["empty"], None, None),
    ("empty.sdf", b"", {}, "path", ["empty"], None, None),
    ("blank.csv", b"\n\n   \n\t\n", {}, "path", ["blank"], None, None),
    ("header_only.csv", b"smiles,pIC50\n", {}, "path", ["no records"], None, None),
    ("header_only.smi", b"smiles name\n", {}, "path", ["no records"], None, None),
    ("nul.csv", b"smiles\nCC\x00O\n", {}, "path", ["binary", "NUL"], None, None),
    ("random.smi", bytes(range(256)) * 4, {}, "path", ["binary"], None, None),
    ("sheet.csv", b"PK\x03\x04" + b"\x00" * 64, {}, "path", ["ZIP", "CSV"], None, None),
    ("paper.csv", b"%PDF-1.7\n" + b"x" * 64, {}, "path", ["PDF"], None, None),
    ("db.smi", b"SQLite format 3\x00" + b"\x00" * 64, {}, "path", ["SQLite"], None, None),
    ("fake.csv.gz", CSV, {}, "path", [".gz", "not gzip"], None, None),
    ("fake.smi.gz", b"CCO x\n", {}, "path", [".gz", "not gzip"], None, None),
    ("cut.csv.gz", gzip.compress(CSV * 500)[:-12], {}, "path", ["truncated"], None, None),
    ("cut.sdf.gz", gzip.compress(_LONG_SDF)[:-12], {}, "path", ["truncated"], None, None),
    ("hidden_gzip.csv", PLAIN_GZ, {}, "path", ["gzip-compressed", ".gz"], None, None),
    ("nothing.csv.gz", gzip.compress(b""), {}, "path", ["decompresses to nothing"], None, None),
    ("binary.csv.gz", gzip.compress(b"\x00\x01" * 100), {}, "path", ["binary"], None, None),
    (
        "semicolons.csv",
        b"smiles;pIC50\nCCO;5\n",
        {"activity": "pIC50"},
        "mapping.smiles",
        ["semicolons", "smiles;pIC50", "fmt="],
        None,
        None,
    ),
    (
        "commas.tsv",
        b"smiles,pIC50\nCCO,5\n",
        {},
        "mapping.smiles",
        ["commas", "fmt='csv'"],
        None,
        None,
    ),
    ("commas.smi", b"CCO,ethanol\n", {}, "path", ["','", ".csv"], 1, None),
    ("semicolons.smi", b"CCO e\nCCN;x\n", {}, "path", ["';'"], 2, None),
    ("ragged.csv", b"smiles,pIC50\nCCO,5\nCCN,6,7\n", {}, "path", ["expected 2", "3"], 3, None),
    (
        "no_activity.csv",
        b"smiles,pKi\nCCO,5\n",
        {"activity": "pIC50"},
        "mapping.activity",
        ["'pIC50'", "pKi", "smiles"],
        None,
        None,
    ),
    (
        "no_smiles.csv",
        b"SMILES_str,pIC50\nCCO,5\n",
        {},
        "mapping.smiles",
        ["'smiles'", "SMILES_str"],
        None,
        None,
    ),
    (
        "no_id.csv",
        b"smiles\nCCO\n",
        {"molecule_id": "chembl_id"},
        "mapping.molecule_id",
        ["chembl_id"],
        None,
        None,
    ),
    ("no_year.csv", b"smiles\nCCO\n", {"year": "yr"}, "mapping.year", ["'yr'"], None, None),
    ("no_keep.csv", b"smiles\nCCO\n", {"keep": ["x"]}, "mapping.keep[0]", ["'x'"], None, None),
    (
        "text_activity.csv",
        b"smiles,pIC50\nCCO,5\nCCN,high\n",
        {"activity": "pIC50"},
        "path",
        ["'high'", "not a number"],
        3,
        "pIC50",
    ),
    (
        "blank_then_text.csv",
        b"smiles,pIC50\nCCO,5\n\n\nCCN,>10\n",
        {"activity": "pIC50"},
        "path",
        ["'>10'"],
        5,
        "pIC50",
    ),
    (
        "text_activity.tsv",
        b"smiles\tIC50\nCCO\t12\nCCN\t1e-3nM\n",
        {"activity": "IC50", "activity_units": "nM"},
        "path",
        ["'1e-3nM'"],
        3,
        "IC50",
    ),
    (
        "text_activity.smi",
        b"smiles name pIC50\nCCO a 5\nCCN b n/a?\n",
        {"activity": "pIC50", "molecule_id": "name"},
        "path",
        ["'n/a?'"],
        3,
        "pIC50",
    ),
    (
        "text_year.csv",
        b"smiles,yr\nCCO,2001\nCCN,last year\n",
        {"year": "yr"},
        "path",
        ["'last year'"],
        3,
        "yr",
    ),
    (
        "pchembl_250.csv",
        b"smiles,pIC50\nCCO,6\nCCN,250\n",
        {"activity": "pIC50"},
        "path",
        ["outside [0, 15]", "activity_units"],
        3,
        "pIC50",
    ),
    (
        "pchembl_minus_3.tsv",
        b"smiles\tpchembl\nCCO\t-3\n",
        {"activity": "pchembl"},
        "path",
        ["-3", "outside [0, 15]"],
        2,
        "pchembl",
    ),
    (
        "nanomolar_as_p.csv",
        b"smiles,IC50\nCCO,12.5\nCCN,850\n",
        {"activity": "IC50"},
        "path",
        ["850", "'p' units", "'nM'"],
        3,
        "IC50",
    ),
    (
        "femtomolar.csv",
        b"smiles,Ki\nCCO,1e-12\n",
        {"activity": "Ki", "activity_units": "uM"},
        "path",
        ["18", "outside"],
        2,
        "Ki",
    ),
    ("latin1.csv", "smiles,name\nCCO,café\n".encode("latin-1"), {}, "path", ["UTF-8"], None, None),
    ("not_sdf.sdf", b"hello\nworld\n", {}, "path", ["SDF"], None, None),
]


@pytest.mark.parametrize(
    ("name", "content", "mapping", "field", "fragments", "line", "column"),
    REFUSED,
    ids=[case[0] for case in REFUSED],
)
def test_bad_ligand_file_is_refused_naming_file_line_and_column(
    tmp_path: Path,
    name: str,
    content: bytes,
    mapping: dict[str, Any],
    field: str,
    fragments: list[str],
    line: int | None,
    column: str | None,
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InvalidFileError) as info:
        read_ligands(path, ColumnMapping(**mapping))
    error = info.value
    message = str(error)
    assert error.field == field and message.startswith(f"{field}: ")
    assert name in message and "Fix:" in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert (error.line, error.column) == (line, column)


def test_non_numeric_sdf_property_names_the_record_and_property(tmp_path: Path) -> None:
    path = tmp_path / "ligands.sdf"
    path.write_bytes(_sdf([("a", "CCO", "5.5"), ("b", "CCN", "strong")]))
    with pytest.raises(InvalidFileError) as info:
        read_ligands(path, ColumnMapping(activity="pIC50"))
    assert "record 2" in str(info.value) and info.value.column == "pIC50"
    assert "'strong'" in str(info.value)


# ----------------------------------------------------------------------------- caps
@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("many.csv", b"smiles\n" + b"CCO\n" * 6),
        ("many.tsv", b"smiles\tx\n" + b"CCO\t1\n" * 6),
        ("many.smi", b"CCO\n" * 6),
        ("many.csv.gz", gzip.compress(b"smiles\n" + b"CCO\n" * 6)),
    ],
)
def test_row_cap_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, content: bytes
) -> None:
    monkeypatch.setenv("CRUCIBLE_MAX_LIGAND_ROWS", "5")
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InvalidFileError, match="more than 5 records") as info:
        read_ligands(path)
    assert "CRUCIBLE_MAX_LIGAND_ROWS" in str(info.value) and info.value.field == "path"


def test_row_cap_applies_to_sdf_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRUCIBLE_MAX_LIGAND_ROWS", "2")
    path = tmp_path / "many.sdf"
    path.write_bytes(_sdf([(f"m{i}", "CCO", "5") for i in range(3)]))
    with pytest.raises(InvalidFileError, match="more than 2 records"):
        read_ligands(path)


def test_row_cap_at_the_limit_still_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRUCIBLE_MAX_LIGAND_ROWS", "5")
    path = tmp_path / "five.csv"
    path.write_bytes(b"smiles\n" + b"CCO\n" * 5)
    assert len(read_ligands(path)) == 5


def test_size_cap_is_checked_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRUCIBLE_MAX_LIGAND_FILE_MB", "0.001")  # 1,000 bytes
    path = tmp_path / "big.csv"
    path.write_bytes(b"smiles\n" + b"CCO\n" * 400)
    with pytest.raises(InvalidFileError, match=r"above the 0\.001 MB limit") as info:
        read_ligands(path)
    assert "CRUCIBLE_MAX_LIGAND_FILE_MB" in str(info.value)


def test_gzip_that_inflates_past_the_size_cap_is_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRUCIBLE_MAX_LIGAND_FILE_MB", "0.1")
    path = tmp_path / "bomb.csv.gz"
    path.write_bytes(gzip.compress(b"smiles\n" + b"C" * 5_000_000 + b"\n"))  # ~5 kB on disk
    assert path.stat().st_size < 100_000
    with pytest.raises(InvalidFileError, match=r"larger than the 0\.1 MB limit"):
        read_ligands(path)


# ----------------------------------------------------------------------------- must work
@pytest.mark.parametrize("suffix", [".smi", ".smi.gz"])
def test_smiles_only_file_works_with_generated_ids(tmp_path: Path, suffix: str) -> None:
    text = b"CCO\n\nc1ccccc1\nCC(=O)O\n"
    path = tmp_path / f"plain{suffix}"
    path.write_bytes(gzip.compress(text) if suffix.endswith(".gz") else text)
    frame = read_ligands(path)
    assert frame["smiles"].tolist() == ["CCO", "c1ccccc1", "CC(=O)O"]
    assert frame["molecule_id"].tolist() == ["row-0", "row-1", "row-2"]


def test_smiles_file_mixing_rows_with_and_without_ids(tmp_path: Path) -> None:
    path = tmp_path / "mixed.smi"
    path.write_text("CCO ethanol\nCCN\nc1ccccc1 benzene ring\n")
    frame = read_ligands(path)
    assert frame["molecule_id"].tolist() == ["ethanol", "row-1", "benzene ring"]


def test_activity_at_the_ends_of_the_pchembl_scale_reads(tmp_path: Path) -> None:
    path = tmp_path / "ends.csv"
    path.write_text("smiles,pIC50\nCCO,0\nCCN,15\n")
    assert read_ligands(path, ColumnMapping(activity="pIC50"))["pchembl_value"].tolist() == [
        0.0,
        15.0,
    ]


@pytest.mark.parametrize("suffix", [".csv", ".smi"])
def test_byte_order_mark_and_crlf_read(tmp_path: Path, suffix: str) -> None:
    sep = "," if suffix == ".csv" else " "
    path = tmp_path / f"excel{suffix}"
    text = f"smiles{sep}pIC50\r\nCCO{sep}5.5\r\nCCN{sep}6\r\n"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    frame = read_ligands(path, ColumnMapping(activity="pIC50"))
    assert frame["smiles"].tolist() == ["CCO", "CCN"]
    assert frame["pchembl_value"].tolist() == [5.5, 6.0]


def test_empty_activity_cells_are_missing_not_errors(tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text("smiles,pIC50\nCCO,\nCCN,6.5\nCCC,NA\n")
    values = read_ligands(path, ColumnMapping(activity="pIC50"))["pchembl_value"].tolist()
    assert math.isnan(values[0]) and values[1] == 6.5 and math.isnan(values[2])


def test_leading_zero_ids_and_gzip_csv_read_back(tmp_path: Path) -> None:
    path = tmp_path / "ids.csv.gz"
    path.write_bytes(gzip.compress(b"id,smiles\n007,CCO\n8,CCN\n"))
    frame = read_ligands(path, ColumnMapping(molecule_id="id"))
    assert frame["smiles"].tolist() == ["CCO", "CCN"]


# ----------------------------------------------------------------------------- nothing stored
@pytest.mark.parametrize(
    ("name", "content"),
    [("empty.smi", b""), ("fake.csv.gz", CSV), ("text.csv", b"smiles,pIC50\nCCO,x\n")],
)
def test_refused_file_leaves_the_stored_table_unchanged(
    tmp_path: Path, crucible_home: Path, name: str, content: bytes
) -> None:
    from tasks.ligand_data import load_ligands

    data = crucible_home / "data"
    data.mkdir(parents=True)
    good, bad = data / "good.csv", data / name
    good.write_bytes(CSV)
    bad.write_bytes(content)
    out = crucible_home / "artifacts" / "ligands"
    mapping = ColumnMapping(activity="pIC50")
    load_ligands.fn(source="file", out_dir=str(out), path=str(good), mapping=mapping)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(InvalidFileError):
        load_ligands.fn(source="file", out_dir=str(out), path=str(bad), mapping=mapping)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_missing_file_and_unknown_suffix_name_the_path(tmp_path: Path) -> None:
    (tmp_path / "table.xlsx").write_bytes(b"PK\x03\x04")
    for path, fragment in [
        (tmp_path / "absent.csv", "no file"),
        (tmp_path / "table.xlsx", "suffix"),
    ]:
        with pytest.raises(InvalidInputError, match=fragment) as info:
            read_ligands(path)
        assert info.value.field == "path"


# ----------------------------------------------------------------------------- SMILES corpora
CORPUS_REFUSED: list[tuple[str, bytes, str]] = [
    ("empty.smi", b"", "empty"),
    ("blank.smi", b"\n \n", "blank"),
    ("header_only.csv", b"id,smiles\n", "no SMILES"),
    ("binary.smi", b"\x00\x01\x02" * 50, "binary"),
    ("fake.smi.gz", b"CCO\n", "not gzip"),
    ("cut.smi.gz", gzip.compress(b"CCO\n" * 5000)[:-12], "truncated"),
    ("latin1.smi", "CCO café\n".encode("latin-1"), "UTF-8"),
]


@pytest.mark.parametrize(
    ("name", "content", "fragment"), CORPUS_REFUSED, ids=[c[0] for c in CORPUS_REFUSED]
)
def test_bad_smiles_corpus_is_refused_naming_the_file(
    tmp_path: Path, name: str, content: bytes, fragment: str
) -> None:
    from crucible.generator.pretraining import read_smiles_file

    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InvalidFileError) as info:
        read_smiles_file(path)
    assert info.value.field == "path" and name in str(info.value)
    assert fragment in str(info.value), str(info.value)


def test_smiles_corpus_row_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crucible.generator.pretraining import read_smiles_file

    monkeypatch.setenv("CRUCIBLE_MAX_LIGAND_ROWS", "3")
    path = tmp_path / "corpus.smi"
    path.write_text("CCO\n" * 4)
    with pytest.raises(InvalidFileError, match="more than 3 records"):
        read_smiles_file(path)
    assert read_smiles_file(path, limit=3) == ["CCO"] * 3  # a limit within the cap reads


def test_missing_smiles_corpus_names_the_path(tmp_path: Path) -> None:
    from crucible.generator.pretraining import read_smiles_file

    with pytest.raises(InvalidInputError, match="no file") as info:
        read_smiles_file(tmp_path / "absent.smi")
    assert info.value.field == "path"
