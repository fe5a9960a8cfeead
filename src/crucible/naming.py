"""Names that become paths: slugs, and paths that stay inside their root.

Every user-supplied name that ends up in a file path (a design, a campaign, a study, a
model) is checked with :func:`check_slug`; every path built from such names, or named by a
flow parameter or an event payload, is resolved with :func:`inside` so that ``..``,
absolute paths and symbolic links cannot leave the folder they belong to.
"""

from __future__ import annotations

import re
from pathlib import Path

from crucible.exceptions import InvalidInputError

SLUG_MAX_LENGTH = 100
_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
SLUG_RULE = (
    f"1 to {SLUG_MAX_LENGTH} characters: letters, digits, '.', '_' or '-', starting with a "
    "letter or digit, and no '..'"
)


def check_slug(value: object, field: str) -> str:
    """Return ``value`` if it is a safe name for a file or folder, else raise.

    Args:
        value: The user-supplied name.
        field: Dotted name of the field it came from, used in the error message.

    Returns:
        The unchanged name.

    Raises:
        InvalidInputError: The value is not a string, is empty, longer than
            :data:`SLUG_MAX_LENGTH`, contains characters outside ``[A-Za-z0-9._-]`` or ``..``.
    """
    if not isinstance(value, str):
        raise InvalidInputError(field, f"expected a string, got {type(value).__name__}", SLUG_RULE)
    if not value:
        raise InvalidInputError(field, "the name is empty", f"give a name of {SLUG_RULE}")
    if len(value) > SLUG_MAX_LENGTH:
        raise InvalidInputError(
            field, f"the name is {len(value)} characters long", f"shorten it: {SLUG_RULE}"
        )
    if not _SLUG.match(value) or ".." in value:
        raise InvalidInputError(field, f"{value[:40]!r} is not a safe name", f"use {SLUG_RULE}")
    return value


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
