"""Shared pieces that validate user-supplied configs where they enter.

Every pydantic config a user or a flow parameter supplies uses :func:`strict_config` (unknown
keys and ``inf``/``nan`` floats are refused), :data:`DeviceName` for torch devices,
:data:`PChembl` for activity thresholds, :data:`Seed` for random seeds and
:func:`check_order` for ``low <= high`` pairs. Pydantic's ``ValidationError`` names the field;
the messages here add the fix.
"""

from __future__ import annotations

import inspect
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticUndefined, to_jsonable_python

#: The pChEMBL scale (-log10 molar): 15 is femtomolar, far beyond any real measurement.
PCHEMBL_MIN = 0.0
PCHEMBL_MAX = 15.0
#: Seeds feed NumPy and scikit-learn, which take 0 .. 2**32 - 1.
SEED_MAX = 2**32 - 1
#: Most SMILES a config may ask to sample in one go (a list of this many fits in memory).
MAX_SAMPLES = 1_000_000

_DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
#: ``dialect[+driver]://...`` (SQLAlchemy), e.g. ``sqlite:///x.db``, ``postgresql+psycopg2://``.
_DATABASE_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
#: Any URI with a scheme (``http:``, ``sqlite:``, ``file:``, ``s3:``...).
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
DATABASE_URL_FIX = (
    "give a SQLAlchemy URL such as 'sqlite:////data/crucible.db' or "
    "'postgresql+psycopg2://user@host/db', or leave it empty for the embedded SQLite file"
)
TRACKING_URI_FIX = (
    "give e.g. 'sqlite:////data/mlflow.db' or 'http://mlflow:5000', "
    "or leave it empty for the embedded SQLite file"
)
DEVICE_FIX = "use 'auto' (CUDA when present, else CPU), 'cpu', 'cuda' or 'cuda:N'"


def strict_config(
    *, frozen: bool = False, validate_assignment: bool = False, str_strip_whitespace: bool = False
) -> ConfigDict:
    """A model config refusing unknown keys and non-finite floats (``inf``, ``nan``).

    Its JSON schema (the Prefect UI's run form) gives every field its own help text, taken
    from the class docstring's ``Attributes:`` entry when the field has no ``description``,
    and the real default of fields with a ``default_factory`` (see :func:`schema_help`).

    Args:
        frozen: Instances are immutable.
        validate_assignment: Re-validate on attribute assignment.
        str_strip_whitespace: Strip blanks around strings.
    """
    return ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        frozen=frozen,
        validate_assignment=validate_assignment,
        str_strip_whitespace=str_strip_whitespace,
        json_schema_extra=schema_help,
    )


_ATTRIBUTE = re.compile(r"^(\w+)(?: \([^)]*\))?:\s*(.*)$")


def docstring_attributes(doc: str | None) -> tuple[str, dict[str, str]]:
    """Split a Google-style class docstring into its prose and its ``Attributes:`` entries.

    Returns:
        The docstring without the ``Attributes:`` section, and name → one-line help text.
    """
    lines = inspect.cleandoc(doc or "").splitlines()
    prose: list[str] = []
    entries: dict[str, str] = {}
    in_section, name = False, ""
    for line in lines:
        if line.strip() == "Attributes:":
            in_section = True
            continue
        if in_section and line and not line.startswith(" "):
            in_section = False  # the next section (or prose) starts at column 0
        if not in_section:
            prose.append(line)
            continue
        match = _ATTRIBUTE.match(line.strip()) if line.startswith("    ") else None
        if match and not line.startswith("     "):
            name = match.group(1)
            entries[name] = match.group(2).strip()
        elif name and line.strip():
            entries[name] = f"{entries[name]} {line.strip()}"
    return "\n".join(prose).strip(), entries


def schema_help(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """Per-field help text and factory defaults in a strict config's JSON schema.

    Pydantic puts the whole class docstring above the fields and leaves fields with a
    ``default_factory`` without a default, which the Prefect UI shows as an empty box.
    """
    prose, entries = docstring_attributes(model.__doc__)
    if prose:
        schema["description"] = prose
    else:
        schema.pop("description", None)
    properties = schema.get("properties", {})
    for name, field in model.model_fields.items():
        prop = properties.get(field.alias or name)
        if prop is None:
            continue
        if "description" not in prop and name in entries:
            prop["description"] = entries[name]
        if "default" not in prop and field.default_factory is not None:
            default = _factory_default(field.default_factory)
            if default is not PydanticUndefined:
                prop["default"] = default


def _factory_default(factory: Any) -> Any:
    """A factory's value as JSON data, or ``PydanticUndefined`` when it needs arguments."""
    try:
        value = factory()
    except TypeError:
        return PydanticUndefined
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return to_jsonable_python(value)


def check_device(value: str) -> str:
    """Return ``value`` if it names a torch device Crucible supports.

    Raises:
        ValueError: Naming the value and the accepted forms (pydantic adds the field).
    """
    if not isinstance(value, str) or not _DEVICE_PATTERN.match(value):
        raise ValueError(f"{value!r} is not a device; {DEVICE_FIX}")
    return value


def check_database_url(value: str) -> str:
    """Return ``value`` if it is empty or of the form ``dialect[+driver]://...``.

    Raises:
        ValueError: Naming the value and the fix (pydantic adds the field).
    """
    if value and not _DATABASE_URL.match(value):
        raise ValueError(f"{value[:200]!r} is not a database URL; {DATABASE_URL_FIX}")
    return value


def check_tracking_uri(value: str) -> str:
    """Return ``value`` if it is empty, ``databricks`` or a URI with a scheme.

    Raises:
        ValueError: Naming the value and the fix (pydantic adds the field).
    """
    if value and not (_URI.match(value) or value == "databricks"):
        raise ValueError(f"{value[:200]!r} is not a URI; {TRACKING_URI_FIX}")
    return value


def _check_pchembl(value: float) -> float:
    if not PCHEMBL_MIN <= value <= PCHEMBL_MAX:
        raise ValueError(
            f"{value:g} is outside the pChEMBL scale [{PCHEMBL_MIN:g}, {PCHEMBL_MAX:g}] "
            "(-log10 molar; 6 is 1 uM, 9 is 1 nM); give a pChEMBL value such as 6.5"
        )
    return value


#: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
DeviceName = Annotated[str, AfterValidator(check_device)]
#: An activity threshold on the pChEMBL scale, in [0, 15].
PChembl = Annotated[float, AfterValidator(_check_pchembl)]


#: A random seed in [0, 2**32 - 1].
Seed = Annotated[int, Field(ge=0, le=SEED_MAX)]


def check_order(
    low_name: str, low: float | None, high_name: str, high: float | None, *, strict: bool = False
) -> None:
    """Refuse ``low > high`` (or ``low >= high`` when ``strict``); None skips the check.

    Raises:
        ValueError: Naming both fields, their values and the fix.
    """
    if low is None or high is None:
        return
    if low > high or (strict and low == high):
        relation = "<" if strict else "<="
        raise ValueError(
            f"{low_name}={low:g} must be {relation} {high_name}={high:g}; "
            f"lower {low_name} or raise {high_name}"
        )
