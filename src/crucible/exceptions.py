"""Crucible's exception hierarchy.

Every message says what went wrong *and what to do instead*: the field or object at
fault, the offending value, and the fix. Catch :class:`CrucibleError` to handle any of
them; the subclasses also derive from the matching built-in (``ValueError``,
``KeyError``, ``ImportError``) so generic handlers keep working.
"""

from __future__ import annotations


class CrucibleError(Exception):
    """Base class of every error Crucible raises on purpose."""


class InvalidInputError(CrucibleError, ValueError):
    """A user-supplied value is invalid.

    Args:
        field: Dotted name of the offending field, e.g. ``"space.parameters[2].low"``.
        problem: What is wrong with the value.
        fix: What the user should do instead.
    """

    def __init__(self, field: str, problem: str, fix: str) -> None:
        self.field = field
        self.problem = problem
        self.fix = fix
        super().__init__(f"{field}: {problem}. Fix: {fix}")


class InvalidFileError(InvalidInputError):
    """A user-supplied file cannot be read as what it claims to be.

    The message starts with the file, then the line (or record) and column where known.

    Args:
        path: The file.
        problem: What is wrong with it.
        fix: What the user should do instead.
        line: 1-based line (or SDF record) number, when the fault has one.
        column: Column (or SDF property) name, when the fault has one.
        field: The input that named the file or the column at fault.
    """

    def __init__(
        self,
        path: object,
        problem: str,
        fix: str,
        *,
        line: int | None = None,
        column: str | None = None,
        field: str = "path",
    ) -> None:
        self.path = str(path)
        self.line = line
        self.column = column
        where = [repr(self.path)]
        if line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(field, f"{', '.join(where)}: {problem}", fix)


class ConfigurationError(CrucibleError, ValueError):
    """A setting or a combination of settings cannot work (see the message for the fix)."""


class MissingDependencyError(CrucibleError, ImportError):
    """An optional dependency is not installed.

    Args:
        module: The module that failed to import.
        extra: The ``crucible`` extra that provides it.
    """

    def __init__(self, module: str, extra: str) -> None:
        self.module = module
        self.extra = extra
        super().__init__(
            f"'{module}' is not installed; this feature needs the '{extra}' extra. "
            f"Install it with: pip install 'crucible[{extra}]'"
        )


class DependencyVersionError(ConfigurationError):
    """An installed dependency changed in a way Crucible was not checked against.

    Raised, for example, when a BoTorch/GPyTorch internal that :mod:`crucible.bo.fast`
    relies on has a new signature; the message names what changed and the fix.
    """


class NotFoundError(CrucibleError, KeyError):
    """A named object (campaign, study, trial, model) does not exist in the store."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else ""


class AlreadyExistsError(CrucibleError, ValueError):
    """Creating an object whose name is already taken in the store."""


class StorageError(CrucibleError):
    """The backing store (SQLite, PostgreSQL, file system) failed; nothing was written."""


class DataSourceError(CrucibleError):
    """An external data source (ChEMBL, a file) returned unusable data; nothing was written."""


class StateError(CrucibleError):
    """An operation is not allowed in the object's current state (e.g. observing twice)."""


#: The fix for pydantic's common error types (``ValidationError.errors()[i]["type"]``).
_FIXES = {
    "float_type": "give a number (not a string or a bool)",
    "float_parsing": "give a number (not a string or a bool)",
    "int_type": "give a whole number (an int, not a string, float or bool)",
    "int_parsing": "give a whole number (an int, not a string, float or bool)",
    "int_from_float": "give a whole number (an int, not a string, float or bool)",
    "bool_type": "give true or false",
    "bool_parsing": "give true or false",
    "string_type": "give a string",
    "finite_number": "give a finite number",
    "extra_forbidden": "remove it, or check its spelling against the documented fields",
    "missing": "add it",
    "literal_error": "use one of the values listed",
    "union_tag_invalid": "set 'type' to one of the listed tags",
    "union_tag_not_found": "add a 'type' key with one of the documented tags",
    "greater_than": "give a larger value",
    "greater_than_equal": "give a larger value",
    "less_than": "give a smaller value",
    "less_than_equal": "give a smaller value",
    "string_too_short": "give a non-empty value",
    "string_too_long": "shorten it",
    "too_short": "add items",
    "too_long": "remove items",
    "string_pattern_mismatch": "use only the characters the pattern allows",
}


def input_error_from_validation(
    exc: Exception,
    prefix: str,
    skip: frozenset[str] = frozenset(),
    rename: dict[tuple[object, ...], str] | None = None,
    fix: str = "correct this value",
) -> InvalidInputError:
    """Turn a pydantic ``ValidationError`` into an :class:`InvalidInputError`.

    The first error's location becomes the field (``prefix.parameters[2].low``); a
    ``". Fix: ..."`` in the validator's message becomes the fix.

    Args:
        exc: The ``pydantic.ValidationError``.
        prefix: Name of the whole input, e.g. ``"space"``.
        skip: Location parts to leave out (tags of discriminated unions, union member types).
        rename: Location prefix -> display name, e.g. ``{("parameters", 0): "x"}``.
        fix: The fix when neither the message nor the error type gives one.
    """
    first = exc.errors()[0]  # type: ignore[attr-defined]
    loc = tuple(first["loc"])
    field = prefix
    start = 0
    for key, name in (rename or {}).items():
        if loc[: len(key)] == key:
            field, start = f"{prefix}.{name}", len(key)
            break
    for part in loc[start:]:
        if isinstance(part, int):
            field += f"[{part}]"
        elif part not in skip:
            field = f"{field}.{part}" if field else str(part)
    message = str(first["msg"]).removeprefix("Value error, ")
    problem, _, given_fix = message.partition(". Fix: ")
    if "input" in first and first["type"] not in ("value_error", "assertion_error"):
        problem += f" (got {first['input']!r:.80})"
    return InvalidInputError(field, problem, given_fix or _FIXES.get(first["type"], fix))


class UnsafeFileError(InvalidFileError):
    """A file holds objects outside the safe format's allow-list, so it was not loaded.

    Loading such a file could run code (pickle). Nothing from it was executed: the loader
    stopped at the first object it does not admit.
    """


class StackError(CrucibleError):
    """A service of the local stack failed to start, stop or pass its health check.

    The message names the service and ends with the tail of its log.
    """
