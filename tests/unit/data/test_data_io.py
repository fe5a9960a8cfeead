import math
from pathlib import Path

import pandas as pd
import pytest

from crucible.data.io import ColumnMapping, read_ligands, read_table, to_pchembl, write_table
from crucible.exceptions import InvalidInputError


def test_csv_with_column_mapping_converts_nanomolar_to_pchembl(tmp_path: Path) -> None:
    path = tmp_path / "ligands.csv"
    path.write_text("ID,SMILES,IC50_nM,yr\nm1,CCO,100,2001\nm2,c1ccccc1,1,2003\n")
    mapping = ColumnMapping(
        smiles="SMILES", molecule_id="ID", activity="IC50_nM", activity_units="nM", year="yr"
    )
    frame = read_ligands(path, mapping)
    assert list(frame.columns) == ["molecule_id", "smiles", "pchembl_value", "year"]
    assert frame["molecule_id"].tolist() == ["m1", "m2"]
    assert frame["pchembl_value"].tolist() == pytest.approx([7.0, 9.0])
    assert frame["year"].tolist() == [2001, 2003]


def test_missing_mapped_column_names_the_field_and_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "ligands.csv"
    path.write_text("smiles,pIC50\nCCO,5\n")
    with pytest.raises(InvalidInputError) as info:
        read_ligands(path, ColumnMapping(activity="pKi"))
    assert info.value.field == "mapping.activity"
    assert "pIC50" in str(info.value)


def test_rows_without_ids_are_numbered_and_empty_smiles_kept_as_none(tmp_path: Path) -> None:
    path = tmp_path / "ligands.tsv"
    path.write_text("smiles\tother\nCCO\t1\n\t2\n")
    frame = read_ligands(path, ColumnMapping(keep=["other"]))
    assert frame["molecule_id"].tolist() == ["row-0", "row-1"]
    assert frame["smiles"].tolist()[0] == "CCO"
    assert frame["smiles"].tolist()[1] is None
    assert frame["other"].tolist() == [1, 2]


@pytest.mark.parametrize("header", [True, False])
def test_smiles_file_with_or_without_header(tmp_path: Path, header: bool) -> None:
    path = tmp_path / "ligands.smi"
    lines = ["CCO ethanol", "c1ccccc1 benzene"]
    path.write_text("\n".join((["smiles name"] if header else []) + lines) + "\n")
    mapping = ColumnMapping(molecule_id="name") if header else ColumnMapping()
    frame = read_ligands(path, mapping)
    assert frame["smiles"].tolist() == ["CCO", "c1ccccc1"]
    assert frame["molecule_id"].tolist() == ["ethanol", "benzene"]


def test_sdf_reads_properties_and_keeps_unreadable_records(tmp_path: Path) -> None:
    from rdkit import Chem

    path = tmp_path / "ligands.sdf"
    writer = Chem.SDWriter(str(path))
    for name, smiles, value in [
        ("aspirin", "CC(=O)Oc1ccccc1C(=O)O", 6.5),
        ("phenol", "Oc1ccccc1", 4),
    ]:
        mol = Chem.MolFromSmiles(smiles)
        mol.SetProp("_Name", name)
        mol.SetProp("pIC50", str(value))
        writer.write(mol)
    writer.close()
    broken = (
        "broken\n  junk\n\n  1  0  0  0  0  0  0  0  0  0999 V2000\n    0.0 bad\nM  END\n$$$$\n"
    )
    path.write_text(path.read_text() + broken)
    frame = read_ligands(path, ColumnMapping(activity="pIC50"))
    assert frame["molecule_id"].tolist()[:2] == ["aspirin", "phenol"]
    assert frame["pchembl_value"].tolist()[:2] == [6.5, 4.0]
    assert len(frame) == 3 and frame["smiles"].tolist()[2] is None


def test_unknown_suffix_and_missing_file_are_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "x.xlsx").write_text("")
    with pytest.raises(InvalidInputError, match="suffix"):
        read_ligands(tmp_path / "x.xlsx")
    with pytest.raises(InvalidInputError, match="no file"):
        read_ligands(tmp_path / "absent.csv")


def test_to_pchembl_handles_bad_values() -> None:
    values = to_pchembl([1000.0, 0.0, -1.0, None, "x"], "uM")
    assert values[0] == pytest.approx(3.0)
    assert all(math.isnan(v) for v in values[1:])
    assert to_pchembl([7.2], "p") == [7.2]


def test_write_table_round_trips_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    frame = pd.DataFrame({"molecule_id": ["007", "8"], "smiles": ["C", "N"]})
    path = write_table(frame, tmp_path / "out" / "t.csv")
    assert read_table(path)["molecule_id"].tolist() == ["007", "8"]
    assert sorted(p.name for p in path.parent.iterdir()) == ["t.csv"]
