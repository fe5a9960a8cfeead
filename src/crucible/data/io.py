"""Read ligand files (CSV, TSV, SMILES, SDF) into Crucible's canonical table.

Every reader returns a :class:`pandas.DataFrame` with the canonical columns

* ``molecule_id`` (str): the file's identifier, or ``row-<n>`` when the file has none,
* ``smiles`` (str or None): the structure as written in the file (not yet standardised),
* ``pchembl_value`` (float, optional): activity on the pChEMBL scale (-log10 molar),
* ``year`` (float, optional): e.g. the publication year, for temporal splits,

plus any extra columns the :class:`ColumnMapping` asks to keep. Nothing is dropped here: an
unreadable SDF record becomes a row with ``smiles=None``, so standardisation can report it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal, TextIO

from pydantic import BaseModel, Field

from crucible.exceptions import InvalidInputError

if TYPE_CHECKING:
    import pandas as pd

ID_COLUMN = "molecule_id"
SMILES_COLUMN = "smiles"
ACTIVITY_COLUMN = "pchembl_value"
YEAR_COLUMN = "year"

FileFormat = Literal["auto", "csv", "tsv", "smi", "sdf"]
ActivityUnits = Literal["p", "M", "mM", "uM", "nM", "pM"]

#: Multiply a value in these units by the factor to get mol/L.
_MOLAR_FACTOR: dict[str, float] = {"M": 1.0, "mM": 1e-3, "uM": 1e-6, "nM": 1e-9, "pM": 1e-12}
_SUFFIX_FORMAT: dict[str, str] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".txt": "tsv",
    ".smi": "smi",
    ".smiles": "smi",
    ".sdf": "sdf",
    ".sd": "sdf",
}


class ColumnMapping(BaseModel):
    """Which columns (or SDF properties) of a file hold the canonical fields.

    Attributes:
        smiles: Column with the SMILES (ignored for SDF, whose structures are read directly).
        molecule_id: Column (SDF: property, or ``"_Name"`` for the title line) with the
            identifier; rows are numbered when None.
        activity: Column with the activity; None when the file has none.
        activity_units: ``"p"`` when the column is already -log10 molar (pIC50, pChEMBL);
            otherwise the concentration unit, converted with p = -log10(value x factor).
        year: Column with a year, enabling the temporal split.
        keep: Extra columns to carry through unchanged.
    """

    smiles: str = "smiles"
    molecule_id: str | None = None
    activity: str | None = None
    activity_units: ActivityUnits = "p"
    year: str | None = None
    keep: list[str] = Field(default_factory=list)


def to_pchembl(values: Sequence[float], units: ActivityUnits) -> list[float]:
    """Convert activities to the pChEMBL scale (-log10 mol/L); invalid values become NaN.

    Args:
        values: Activities in ``units``.
        units: ``"p"`` (already on the log scale) or a concentration unit.

    Returns:
        One float per value; NaN where the value is missing or not positive.
    """
    out: list[float] = []
    for raw in values:
        try:
            value = float(raw)
        except (TypeError, ValueError):
            out.append(math.nan)
            continue
        if units == "p":
            out.append(value)
        elif math.isfinite(value) and value > 0:
            out.append(-math.log10(value * _MOLAR_FACTOR[units]))
        else:
            out.append(math.nan)
    return out


def detect_format(path: str | Path) -> str:
    """The file format from the suffix (``.gz`` is looked through)."""
    suffixes = [s.lower() for s in Path(path).suffixes if s.lower() != ".gz"]
    suffix = suffixes[-1] if suffixes else ""
    if suffix not in _SUFFIX_FORMAT:
        raise InvalidInputError(
            "path",
            f"cannot tell the format of {str(path)!r} from its suffix {suffix!r}",
            f"use one of {sorted(_SUFFIX_FORMAT)} or pass fmt='csv'|'tsv'|'smi'|'sdf'",
        )
    return _SUFFIX_FORMAT[suffix]


def read_ligands(
    path: str | Path, mapping: ColumnMapping | None = None, fmt: FileFormat = "auto"
) -> pd.DataFrame:
    """Read a ligand file into the canonical table (see the module docstring).

    Args:
        path: CSV/TSV (header row), SMILES (``SMILES [id]`` per line, optional header) or SDF.
        mapping: Where the canonical fields are; the defaults expect a ``smiles`` column.
        fmt: File format; ``"auto"`` uses the suffix.

    Returns:
        The canonical table, one row per record, in file order.

    Raises:
        InvalidInputError: If the file is missing or a mapped column is not in it.
    """
    path = Path(path)
    mapping = mapping or ColumnMapping()
    if not path.is_file():
        raise InvalidInputError("path", f"no file at {str(path)!r}", "give an existing file")
    kind = detect_format(path) if fmt == "auto" else fmt
    if kind == "sdf":
        raw = _read_sdf(path, mapping)
        smiles_column = SMILES_COLUMN
    elif kind == "smi":
        raw, smiles_column = _read_smi(path, mapping)
    else:
        import pandas as pd

        raw = pd.read_csv(path, sep="\t" if kind == "tsv" else ",")
        smiles_column = mapping.smiles
    return _to_canonical(raw, mapping, smiles_column, path)


def _read_smi(path: Path, mapping: ColumnMapping) -> tuple[pd.DataFrame, str]:
    import pandas as pd

    with _open_text(path) as handle:
        first = handle.readline().split()
    has_header = bool(first) and first[0].lower() in {mapping.smiles.lower(), "smiles"}
    if has_header:
        frame = pd.read_csv(path, sep=r"\s+", engine="python")
        return frame, first[0]
    frame = pd.read_csv(
        path, sep=r"\s+", header=None, engine="python", usecols=[0, 1], names=["smiles", "name"]
    )
    if mapping.molecule_id is None:
        frame = frame.rename(columns={"name": ID_COLUMN})
    return frame, "smiles"


def _open_text(path: Path) -> TextIO:
    if path.suffix.lower() == ".gz":
        import gzip

        return gzip.open(path, "rt")
    return path.open()


def _open_binary(path: Path) -> BinaryIO:
    if path.suffix.lower() == ".gz":
        import gzip

        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def _read_sdf(path: Path, mapping: ColumnMapping) -> pd.DataFrame:
    import pandas as pd
    from rdkit import Chem

    from crucible.data.standardise import quiet_rdkit

    rows: list[dict[str, object]] = []
    with quiet_rdkit(), _open_binary(path) as stream:
        for number, mol in enumerate(Chem.ForwardSDMolSupplier(stream)):
            rows.append(_sdf_row(mol, number))
    frame = pd.DataFrame(rows)
    if mapping.molecule_id is None and "_Name" in frame:
        names = frame["_Name"].where(frame["_Name"].astype(bool), None)
        frame[ID_COLUMN] = names
    return frame


def _sdf_row(mol: object, number: int) -> dict[str, object]:
    from rdkit import Chem

    if mol is None:
        return {SMILES_COLUMN: None, "_Name": f"record-{number}"}
    row: dict[str, object] = dict(mol.GetPropsAsDict())  # type: ignore[attr-defined]
    row["_Name"] = mol.GetProp("_Name") if mol.HasProp("_Name") else ""  # type: ignore[attr-defined]
    row[SMILES_COLUMN] = Chem.MolToSmiles(mol)
    return row


def _require_columns(frame: pd.DataFrame, mapping: ColumnMapping, smiles_column: str) -> None:
    wanted = {"smiles": smiles_column, "molecule_id": mapping.molecule_id}
    wanted |= {"activity": mapping.activity, "year": mapping.year}
    wanted |= {f"keep[{i}]": name for i, name in enumerate(mapping.keep)}
    for field, column in wanted.items():
        if column is not None and column not in frame.columns:
            raise InvalidInputError(
                f"mapping.{field}",
                f"column {column!r} is not in the file (columns: {list(map(str, frame.columns))})",
                "map the field to one of the file's columns",
            )


def _to_canonical(
    raw: pd.DataFrame, mapping: ColumnMapping, smiles_column: str, path: Path
) -> pd.DataFrame:
    import pandas as pd

    _require_columns(raw, mapping, smiles_column)
    out = pd.DataFrame(index=range(len(raw)))
    if mapping.molecule_id is not None:
        ids = raw[mapping.molecule_id].astype("string")
    elif ID_COLUMN in raw:
        ids = raw[ID_COLUMN].astype("string")
    else:
        ids = pd.Series([None] * len(raw), dtype="string")
    fallback = pd.Series([f"row-{i}" for i in range(len(raw))], dtype="string")
    out[ID_COLUMN] = ids.reset_index(drop=True).fillna(fallback).astype(str)
    smiles = raw[smiles_column].reset_index(drop=True)
    cleaned = [s if isinstance(s, str) and s.strip() else None for s in smiles]
    out[SMILES_COLUMN] = pd.Series(cleaned, dtype=object)
    if mapping.activity is not None:
        values = raw[mapping.activity].tolist()
        out[ACTIVITY_COLUMN] = to_pchembl(values, mapping.activity_units)
    if mapping.year is not None:
        out[YEAR_COLUMN] = pd.to_numeric(raw[mapping.year], errors="coerce").to_numpy()
    for column in mapping.keep:
        out[column] = raw[column].to_numpy()
    out.attrs["source_path"] = str(path)
    return out


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a table as CSV atomically (temporary file, then rename); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    frame.to_csv(tmp, index=False)
    tmp.replace(path)
    return path


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a canonical table written by :func:`write_table`."""
    import pandas as pd

    frame = pd.read_csv(path, dtype={ID_COLUMN: str})
    return frame
