"""Names that become paths: slugs, and paths that stay inside their root.

Every user-supplied name that ends up in a file path (a design, a campaign, a study, a
model) is checked with :func:`check_slug`; every path built from such names, or named by a
flow parameter or an event payload, is resolved with :func:`inside` so that ``..``,
absolute paths and symbolic links cannot leave the folder they belong to.

Paths named in parameters and events: input files must lie under a data root
(:func:`input_path`, ``CRUCIBLE_DATA_ROOT``), output folders under an output root
(:func:`output_path`). The pydantic field types :data:`Slug`, :data:`OptionalSlug`,
:data:`InputPath` and :data:`OutputPath` apply these checks where a config is validated, so a
flow run is refused before it starts.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator, ValidationInfo

from crucible.exceptions import InvalidInputError
from crucible.slugs import SLUG_MAX_LENGTH, SLUG_RULE, check_slug
from crucible.validation import check_database_url, check_tracking_uri

if TYPE_CHECKING:
    from crucible.settings import CrucibleSettings

PATH_MAX_LENGTH = 4096


def inside(root: str | Path, *parts: str | Path, field: str = "path") -> Path:
    """Join ``parts`` under ``root`` and check the resolved result stays inside ``root``.

    Symbolic links are resolved before the check, so a link pointing out of ``root`` is
    refused as well.

    Args:
        root: The folder the path must stay in.
        *parts: Path components (relative, or absolute paths that already lie under root).
        field: Dotted name of the field the path came from, used in the error message.

    Returns:
        The resolved absolute path.

    Raises:
        InvalidInputError: The path resolves outside ``root``.
    """
    base = Path(root).expanduser().resolve()
    target = base.joinpath(*[Path(p) for p in parts]).resolve()
    if target != base and base not in target.parents:
        shown = str(Path(*[Path(p) for p in parts])) if parts else str(root)
        raise InvalidInputError(
            field,
            f"{shown[:200]!r} resolves outside {base}",
            f"name a path under {base} (no '..', no absolute path elsewhere, no link out)",
        )
    return target


def _resolve_user_path(value: object, field: str) -> Path:
    if not isinstance(value, str | Path):
        raise InvalidInputError(
            field, f"expected a path, got {type(value).__name__}", "give a path as a string"
        )
    text = str(value)
    if not text.strip() or "\x00" in text or len(text) > PATH_MAX_LENGTH:
        raise InvalidInputError(
            field,
            f"{text[:80]!r} is not a usable path",
            f"give a non-empty path of at most {PATH_MAX_LENGTH} characters without NUL bytes",
        )
    return Path(text).expanduser().resolve()


def _under_one_of(path: Path, roots: list[Path]) -> bool:
    for root in roots:
        base = root.expanduser().resolve()
        if path == base or base in path.parents:
            return True
    return False


def input_path(value: str | Path, field: str, settings: CrucibleSettings | None = None) -> Path:
    """Resolve an input file or folder named in a parameter or event; it must lie in a data root.

    The roots are :meth:`crucible.settings.CrucibleSettings.data_roots`: ``CRUCIBLE_DATA_ROOT``
    (``<home>/data`` by default), ``CRUCIBLE_HOME``, the artifacts folder and Crucible's
    bundled resources. Relative paths are taken from the working folder; symbolic links are
    resolved before the check.

    Args:
        value: The path as given.
        field: Dotted name of the field it came from, used in the error message.
        settings: The settings to read the roots from; the environment's when None.

    Returns:
        The resolved absolute path (it need not exist).

    Raises:
        InvalidInputError: Not a string, empty, NUL bytes, or outside every data root.
    """
    from crucible.settings import get_settings

    roots = (settings or get_settings()).data_roots()
    return _path_in_roots(
        value,
        field,
        roots,
        "data roots",
        "put the file under CRUCIBLE_DATA_ROOT (or ask the administrator to point "
        "CRUCIBLE_DATA_ROOT at the folder that holds it)",
    )


def output_path(value: str | Path, field: str, settings: CrucibleSettings | None = None) -> Path:
    """Resolve an output folder named in a parameter; it must lie in an output root.

    The roots are :meth:`crucible.settings.CrucibleSettings.output_roots`: ``CRUCIBLE_HOME``,
    the artifacts folder and ``CRUCIBLE_DATA_ROOT``.

    Raises:
        InvalidInputError: Not a string, empty, NUL bytes, or outside every output root.
    """
    from crucible.settings import get_settings

    roots = (settings or get_settings()).output_roots()
    return _path_in_roots(
        value,
        field,
        roots,
        "output roots",
        "leave it empty for the default folder under the artifacts folder, or name a "
        "folder under CRUCIBLE_HOME, CRUCIBLE_ARTIFACTS_DIR or CRUCIBLE_DATA_ROOT",
    )


def _path_in_roots(value: str | Path, field: str, roots: list[Path], kind: str, fix: str) -> Path:
    """``value`` resolved, if it lies under one of ``roots``; else the error naming ``kind``."""
    path = _resolve_user_path(value, field)
    if not _under_one_of(path, roots):
        raise InvalidInputError(
            field,
            f"{str(value)[:200]!r} resolves to {path}, outside the {kind} "
            f"{[str(r) for r in roots]}",
            fix,
        )
    return path


def _slug_field(value: str, info: ValidationInfo) -> str:
    return check_slug(value, info.field_name or "name")


def _slug_or_empty_field(value: str, info: ValidationInfo) -> str:
    return check_slug(value, info.field_name or "name") if value else value


def _input_field(value: str | None, info: ValidationInfo) -> str | None:
    return str(input_path(value, info.field_name or "path")) if value else value


def _output_field(value: str, info: ValidationInfo) -> str:
    return str(output_path(value, info.field_name or "output_dir")) if value else value


#: A pydantic field type: a name that becomes a file or folder name (:func:`check_slug`).
Slug = Annotated[str, AfterValidator(_slug_field)]
#: Like :data:`Slug`, but ``""`` (meaning "derive a default") is accepted.
OptionalSlug = Annotated[str, AfterValidator(_slug_or_empty_field)]
#: A pydantic field type: an input file or folder; resolved, and inside a data root
#: (:func:`input_path`). ``""`` and None pass unchanged (meaning "the default").
InputPath = Annotated[str, AfterValidator(_input_field)]
#: A pydantic field type: an output folder; resolved, and inside an output root
#: (:func:`output_path`). ``""`` passes unchanged (meaning "the default folder").
OutputPath = Annotated[str, AfterValidator(_output_field)]


_SQLITE_URL = re.compile(r"^sqlite(?:\+\w+)?:///(?P<path>[^?]*)")


def local_store_file(url: str) -> Path | None:
    """The local file a store URL writes to (``sqlite:///...``, ``file:...``), else None.

    In-memory SQLite (``sqlite://``, ``sqlite:///:memory:``) and server URLs give None.
    """
    match = _SQLITE_URL.match(url)
    if match:
        path = match.group("path")
        return None if path in ("", ":memory:") else Path(path)
    if url.startswith("file:"):
        from urllib.parse import unquote, urlparse

        return Path(unquote(urlparse(url).path)) if urlparse(url).path else None
    return None


def check_store_url(url: str, field: str, settings: CrucibleSettings | None = None) -> str:
    """Return ``url`` if the local file it names (if any) lies under an output root.

    A store URL in a parameter (a campaign store, an Optuna storage, an MLflow tracking URI)
    that points at a SQLite file or a ``file:`` folder would create files wherever it says;
    the file must lie where :func:`output_path` allows output folders.

    Raises:
        InvalidInputError: The named file lies outside every output root.
    """
    path = local_store_file(url)
    if path is not None:
        output_path(path, field, settings)
    return url


def _store_url_parameter(value: str) -> str:
    """A store URL from a parameter may only name a local file under an output root."""
    return check_store_url(value, "store URL") if value else value


#: Empty (use the setting) or a SQLAlchemy database URL; a SQLite file it names must lie
#: under an output root (:func:`check_store_url`).
DatabaseUrl = Annotated[
    str, AfterValidator(check_database_url), AfterValidator(_store_url_parameter)
]
#: Empty (use the setting) or an MLflow tracking URI; a SQLite file or ``file:`` folder it
#: names must lie under an output root.
TrackingUri = Annotated[
    str, AfterValidator(check_tracking_uri), AfterValidator(_store_url_parameter)
]

__all__ = [
    "PATH_MAX_LENGTH",
    "SLUG_MAX_LENGTH",
    "SLUG_RULE",
    "DatabaseUrl",
    "InputPath",
    "OptionalSlug",
    "OutputPath",
    "Slug",
    "TrackingUri",
    "check_slug",
    "check_store_url",
    "input_path",
    "inside",
    "local_store_file",
    "output_path",
]
