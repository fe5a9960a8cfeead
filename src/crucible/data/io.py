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

import gzip
import io
import math
import re
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, TextIO

from pydantic import BaseModel, Field

from crucible.data.columns import ACTIVITY_COLUMN, ID_COLUMN, SMILES_COLUMN, YEAR_COLUMN
from crucible.exceptions import InvalidFileError, InvalidInputError
from crucible.validation import strict_config

if TYPE_CHECKING:
    import pandas as pd

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

    model_config = strict_config()

    smiles: str = "smiles"
    molecule_id: str | None = None
    activity: str | None = None
    activity_units: ActivityUnits = "p"
    year: str | None = None
    keep: list[str] = Field(default_factory=list)


class LigandSource(BaseModel):
    """A canonical ligand table on disk and its provenance record.

    Attributes:
        molecules: ``molecules.csv`` (canonical columns).
        provenance: ``provenance.json``.
        n_molecules: Rows of ``molecules``.
        activities: ``activities.csv`` (the raw ChEMBL records; ChEMBL sources only).
        target_chembl_id: The ChEMBL target (ChEMBL sources only).
        n_records: Activity records fetched (ChEMBL sources only).
    """

    molecules: str
    provenance: str
    n_molecules: int
    activities: str | None = None
    target_chembl_id: str | None = None
    n_records: int | None = None


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

    The file is checked before it is parsed: its size against the ``max_ligand_file_mb``
    setting, and its first bytes for binary content or a ``.gz`` name on a file that is not
    gzip-compressed. Parsing stops once the ``max_ligand_rows`` setting is exceeded, and a
    ``.gz`` file may not decompress to more than ``max_ligand_file_mb`` either.

    Args:
        path: CSV/TSV (header row), SMILES (``SMILES [id]`` per line, optional header) or
            SDF; each may be gzip-compressed (``.gz``).
        mapping: Where the canonical fields are; the defaults expect a ``smiles`` column.
        fmt: File format; ``"auto"`` uses the suffix.

    Returns:
        The canonical table, one row per record, in file order.

    Raises:
        InvalidInputError: If the file is missing or its format cannot be told.
        InvalidFileError: If the file is empty, binary, too large, has too many rows, is
            corrupt (bad or truncated gzip, a malformed line), lacks a mapped column (the
            message lists the file's columns) or holds a non-numeric activity (the message
            names the line and column).
    """
    path = Path(path)
    mapping = mapping or ColumnMapping()
    if not path.is_file():
        raise InvalidInputError("path", f"no file at {str(path)!r}", "give an existing file")
    kind = detect_format(path) if fmt == "auto" else fmt
    limits = ligand_limits()
    check_file(path, limits.max_bytes)
    with file_errors(path):
        if kind == "sdf":
            raw = _read_sdf(path, mapping, limits)
            smiles_column = SMILES_COLUMN
        elif kind == "smi":
            raw, smiles_column = _read_smi(path, mapping, limits)
        else:
            raw = _read_delimited(path, "\t" if kind == "tsv" else ",", limits)
            smiles_column = mapping.smiles
    if raw.empty:
        raise InvalidFileError(path, "the file has no records", _EMPTY_FIX)
    return _to_canonical(raw, mapping, smiles_column, path)


# --------------------------------------------------------------------------- safe opening
_LINE = "__line__"  # source line (or SDF record) of each raw row; dropped from the output
_HEAD_BYTES = 8192
_GZIP_MAGIC = b"\x1f\x8b"
_GZIP_FIX = "re-create or re-download the file, or decompress it and pass the plain file"
_EMPTY_FIX = "give a file with a header line and at least one record"
_BINARY_MAGIC = {
    b"PK\x03\x04": "a ZIP archive (an Excel .xlsx?); export the sheet as CSV",
    b"%PDF": "a PDF document; export the table as CSV",
    b"\x89HDF": "an HDF5 file; export the table as CSV",
    b"SQLite format 3": "a SQLite database; export the table as CSV",
}


@dataclass(frozen=True)
class FileLimits:
    """Caps applied while reading a ligand file (from the Crucible settings)."""

    max_bytes: int
    max_rows: int


def ligand_limits() -> FileLimits:
    """The caps of the ``max_ligand_file_mb`` and ``max_ligand_rows`` settings."""
    from crucible.settings import get_settings

    settings = get_settings()
    return FileLimits(int(settings.max_ligand_file_mb * 1_000_000), settings.max_ligand_rows)


def check_file(path: Path, max_bytes: int) -> None:
    """Refuse a file that is empty, too large, binary or wrongly named ``.gz``.

    Only the first bytes are read (and, for ``.gz``, the first decompressed bytes).

    Raises:
        InvalidFileError: Naming the file, the problem and the fix.
    """
    size = path.stat().st_size
    if size == 0:
        raise InvalidFileError(path, "the file is empty", _EMPTY_FIX)
    if size > max_bytes:
        raise InvalidFileError(
            path,
            f"the file is {size / 1e6:.1f} MB, above the {max_bytes / 1e6:g} MB limit",
            "split it into smaller files, or raise CRUCIBLE_MAX_LIGAND_FILE_MB",
        )
    with path.open("rb") as handle:
        head = handle.read(_HEAD_BYTES)
    if _is_gzip_name(path):
        if not head.startswith(_GZIP_MAGIC):
            raise InvalidFileError(
                path,
                "the name ends in .gz but the content is not gzip-compressed",
                f"rename it without .gz (e.g. {path.stem!r}) or compress it with gzip",
            )
        try:
            with gzip.open(path, "rb") as stream:
                head = stream.read(_HEAD_BYTES)
        except (EOFError, OSError, zlib.error) as exc:
            raise InvalidFileError(
                path, f"the gzip data is truncated or corrupt ({exc})", _GZIP_FIX
            ) from None
        if not head.strip():
            raise InvalidFileError(path, "the file decompresses to nothing", _EMPTY_FIX)
    elif head.startswith(_GZIP_MAGIC):
        raise InvalidFileError(
            path, "the content is gzip-compressed but the name lacks .gz", "name it *.gz"
        )
    _refuse_binary(path, head)
    if not head.strip():
        raise InvalidFileError(path, "the file holds only blank space", _EMPTY_FIX)


@contextmanager
def file_errors(path: Path) -> Iterator[None]:
    """Turn gzip and decoding failures met while reading ``path`` into InvalidFileError."""
    try:
        yield
    except (EOFError, OSError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise InvalidFileError(
            path, f"the gzip data is truncated or corrupt ({exc})", _GZIP_FIX
        ) from None
    except UnicodeDecodeError as exc:
        raise InvalidFileError(
            path, f"the text is not UTF-8 ({exc.reason})", "save the file as UTF-8 text"
        ) from None


def check_rows(path: Path, n_rows: int, max_rows: int) -> None:
    """Refuse a file once it has yielded more than ``max_rows`` records."""
    if n_rows > max_rows:
        raise InvalidFileError(
            path,
            f"the file has more than {max_rows:,} records (the limit)",
            "split it into smaller files, or raise CRUCIBLE_MAX_LIGAND_ROWS",
        )


def _refuse_binary(path: Path, head: bytes) -> None:
    for magic, what in _BINARY_MAGIC.items():
        if head.startswith(magic):
            problem, _, fix = what.partition("; ")
            raise InvalidFileError(path, f"this is {problem}, not a text file", fix)
    nul = head.find(b"\x00")
    if nul >= 0:
        raise InvalidFileError(
            path,
            f"binary content (a NUL byte at offset {nul}), not a text file",
            "give a CSV, TSV, SMILES or SDF text file (optionally .gz)",
        )


def _is_gzip_name(path: Path) -> bool:
    return path.suffix.lower() == ".gz"


class _CappedReader(io.RawIOBase):
    """A read-only byte stream that fails once more than ``limit`` bytes were read."""

    def __init__(self, raw: BinaryIO, limit: int, path: Path) -> None:
        super().__init__()
        self._raw = raw
        self._limit = limit
        self._path = path
        self._count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        self._count += len(data)
        if self._count > self._limit:
            raise InvalidFileError(
                self._path,
                f"the content is larger than the {self._limit / 1e6:g} MB limit",
                "split it into smaller files, or raise CRUCIBLE_MAX_LIGAND_FILE_MB",
            )
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._raw.close()
        super().close()


@contextmanager
def open_binary(path: Path, max_bytes: int) -> Iterator[BinaryIO]:
    """The file's (decompressed) bytes, failing past ``max_bytes``."""
    with _open_raw(path) as raw, io.BufferedReader(_CappedReader(raw, max_bytes, path)) as stream:
        yield stream


def _open_raw(path: Path) -> BinaryIO:
    if _is_gzip_name(path):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


@contextmanager
def open_text(path: Path, max_bytes: int) -> Iterator[TextIO]:
    """The file's (decompressed) text as UTF-8, failing past ``max_bytes``."""
    with open_binary(path, max_bytes) as stream:
        yield io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")  # drops a BOM


# --------------------------------------------------------------------------- formats
def _read_delimited(path: Path, sep: str, limits: FileLimits) -> pd.DataFrame:
    import pandas as pd

    try:
        with open_text(path, limits.max_bytes) as handle:
            frame = pd.read_csv(handle, sep=sep, skip_blank_lines=False, nrows=limits.max_rows + 1)
    except pd.errors.EmptyDataError:
        raise InvalidFileError(path, "the file has no header line", _EMPTY_FIX) from None
    except pd.errors.ParserError as exc:
        raise _parser_error(path, exc, sep) from None
    frame[_LINE] = range(2, len(frame) + 2)  # line 1 is the header
    frame = frame[frame.drop(columns=_LINE).notna().any(axis=1)].reset_index(drop=True)
    check_rows(path, len(frame), limits.max_rows)
    return frame


def _parser_error(path: Path, exc: Exception, sep: str) -> InvalidFileError:
    text = str(exc)
    found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
    name = "tab" if sep == "\t" else repr(sep)
    fix = (
        f"fields are separated by {name}; quote values that contain it, or read the file "
        "with the right format (fmt='csv' for commas, 'tsv' for tabs)"
    )
    if found:
        expected, line, saw = found.groups()
        problem = f"expected {expected} fields (as in the header) but found {saw}"
        return InvalidFileError(path, problem, fix, line=int(line))
    return InvalidFileError(path, f"cannot be parsed ({text.strip()})", fix)


def _read_smi(path: Path, mapping: ColumnMapping, limits: FileLimits) -> tuple[pd.DataFrame, str]:
    """``SMILES [id ...]`` per line, whitespace-separated, with an optional header line."""
    import pandas as pd

    header: list[str] | None = None
    rows: list[list[str | None]] = []
    lines: list[int] = []
    with open_text(path, limits.max_bytes) as handle:
        for number, text in enumerate(handle, start=1):
            fields = text.split()
            if not fields:
                continue
            if header is None and not rows and _is_smi_header(fields[0], mapping):
                header = fields
                continue
            _refuse_delimited_smi(path, fields[0], number)
            width = len(header) if header else 2
            values: list[str | None] = list(text.strip().split(None, width - 1))
            rows.append(values + [None] * (width - len(values)))
            lines.append(number)
            check_rows(path, len(rows), limits.max_rows)
    if header is not None:
        frame = pd.DataFrame(rows, columns=header, dtype=object)
        smiles_column = header[0]
    else:
        id_column = ID_COLUMN if mapping.molecule_id is None else "name"
        frame = pd.DataFrame(rows, columns=[SMILES_COLUMN, id_column], dtype=object)
        smiles_column = SMILES_COLUMN
    frame[_LINE] = lines
    return frame, smiles_column


def _is_smi_header(first: str, mapping: ColumnMapping) -> bool:
    return first.lower() in {mapping.smiles.lower(), "smiles"}


def _refuse_delimited_smi(path: Path, first: str, number: int) -> None:
    for separator in (",", ";"):
        if separator in first:  # never part of a SMILES
            raise InvalidFileError(
                path,
                f"{first[:40]!r} holds {separator!r}: this looks like a delimited table, "
                "not a SMILES file (SMILES, whitespace, optional id)",
                "name the file .csv (or pass fmt='csv') or separate the columns with spaces",
                line=number,
            )


def _read_sdf(path: Path, mapping: ColumnMapping, limits: FileLimits) -> pd.DataFrame:
    import pandas as pd
    from rdkit import Chem

    from crucible.data.standardise import quiet_rdkit

    rows: list[dict[str, object]] = []
    with open_binary(path, limits.max_bytes) as stream:
        content = io.BytesIO(stream.read())  # RDKit would swallow a read error mid-stream
    with quiet_rdkit():
        for number, mol in enumerate(Chem.ForwardSDMolSupplier(content)):
            rows.append(_sdf_row(mol, number))
            check_rows(path, len(rows), limits.max_rows)
    if rows and all(row[SMILES_COLUMN] is None for row in rows):
        raise InvalidFileError(
            path,
            f"none of its {len(rows)} records is a readable SDF molecule",
            "give an SDF (V2000/V3000 molfiles separated by $$$$) or name the file by format",
        )
    frame = pd.DataFrame(rows)
    if mapping.molecule_id is None and "_Name" in frame:
        names = frame["_Name"].where(frame["_Name"].astype(bool), None)
        frame[ID_COLUMN] = names
    frame[_LINE] = range(1, len(frame) + 1)  # SDF: the record number
    return frame


def _sdf_row(mol: object, number: int) -> dict[str, object]:
    from rdkit import Chem

    if mol is None:
        return {SMILES_COLUMN: None, "_Name": f"record-{number}"}
    row: dict[str, object] = dict(mol.GetPropsAsDict())  # type: ignore[attr-defined]
    row["_Name"] = mol.GetProp("_Name") if mol.HasProp("_Name") else ""  # type: ignore[attr-defined]
    row[SMILES_COLUMN] = Chem.MolToSmiles(mol)
    return row


def _require_columns(
    frame: pd.DataFrame, mapping: ColumnMapping, smiles_column: str, path: Path
) -> None:
    wanted = {"smiles": smiles_column, "molecule_id": mapping.molecule_id}
    wanted |= {"activity": mapping.activity, "year": mapping.year}
    wanted |= {f"keep[{i}]": name for i, name in enumerate(mapping.keep)}
    columns = [str(c) for c in frame.columns if c != _LINE]
    for field, column in wanted.items():
        if column is not None and column not in frame.columns:
            hint = _delimiter_hint(columns)
            raise InvalidFileError(
                path,
                f"column {column!r} is not in the file (columns: {columns}){hint}",
                "map the field to one of the file's columns",
                field=f"mapping.{field}",
            )


def _delimiter_hint(columns: list[str]) -> str:
    """A note when a lone header looks split by another delimiter than the one used."""
    if len(columns) != 1:
        return ""
    for separator, name in ((",", "commas"), (";", "semicolons"), ("\t", "tabs"), ("|", "bars")):
        if separator in columns[0]:
            return (
                f"; the header looks separated by {name}: use fmt='csv' for commas, "
                "fmt='tsv' for tabs, or convert the file to one of them"
            )
    return ""


def _numeric(raw: pd.DataFrame, column: str, path: Path, unit: str = "line") -> list[Any]:
    """The column's values; a non-empty value that is not a number is an error."""
    import pandas as pd

    values = raw[column]
    numbers = pd.to_numeric(values, errors="coerce")
    bad = values.notna() & numbers.isna()
    if bad.any():
        position = int(bad.to_numpy().nonzero()[0][0])
        value = values.iloc[position]
        where = int(raw[_LINE].iloc[position])
        problem = f"{value!r} is not a number ({int(bad.sum())} such values in the column)"
        fix = "give plain numbers; leave unknown values empty, put qualifiers (<, >) elsewhere"
        if unit == "record":
            raise InvalidFileError(path, f"record {where}: {problem}", fix, column=column)
        raise InvalidFileError(path, problem, fix, line=where, column=column)
    return values.tolist()


def _check_pchembl_scale(
    raw: pd.DataFrame, values: list[float], mapping: ColumnMapping, path: Path, unit: str
) -> None:
    """Refuse an activity outside [0, 15] on the pChEMBL scale (most often wrong units)."""
    outside = [i for i, v in enumerate(values) if math.isfinite(v) and not 0.0 <= v <= 15.0]
    if not outside:
        return
    first = outside[0]
    where = int(raw[_LINE].iloc[first])
    problem = (
        f"{raw[mapping.activity].iloc[first]!r} ({mapping.activity_units!r} units) is "
        f"{values[first]:.3g} on the pChEMBL scale, outside [0, 15] "
        f"({len(outside)} such values in the column)"
    )
    fix = (
        "set mapping.activity_units to the column's unit ('p' for pIC50/pChEMBL values, "
        "'nM', 'uM', ... for concentrations) or fix the values"
    )
    column = mapping.activity
    if unit == "record":
        raise InvalidFileError(path, f"record {where}: {problem}", fix, column=column)
    raise InvalidFileError(path, problem, fix, line=where, column=column)


def _to_canonical(
    raw: pd.DataFrame, mapping: ColumnMapping, smiles_column: str, path: Path
) -> pd.DataFrame:
    import pandas as pd

    _require_columns(raw, mapping, smiles_column, path)
    raw = raw.reset_index(drop=True)
    unit = "record" if "_Name" in raw.columns else "line"
    out = pd.DataFrame(index=range(len(raw)))
    if mapping.molecule_id is not None:
        ids = raw[mapping.molecule_id].astype("string")
    elif ID_COLUMN in raw:
        ids = raw[ID_COLUMN].astype("string")
    else:
        ids = pd.Series([None] * len(raw), dtype="string")
    fallback = pd.Series([f"row-{i}" for i in range(len(raw))], dtype="string")
    out[ID_COLUMN] = ids.fillna(fallback).astype(str)
    cleaned = [s if isinstance(s, str) and s.strip() else None for s in raw[smiles_column]]
    out[SMILES_COLUMN] = pd.Series(cleaned, dtype=object)
    if mapping.activity is not None:
        values = to_pchembl(_numeric(raw, mapping.activity, path, unit), mapping.activity_units)
        _check_pchembl_scale(raw, values, mapping, path, unit)
        out[ACTIVITY_COLUMN] = values
    if mapping.year is not None:
        out[YEAR_COLUMN] = pd.to_numeric(
            pd.Series(_numeric(raw, mapping.year, path, unit)), errors="coerce"
        ).to_numpy()
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
