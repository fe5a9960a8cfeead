"""Safe names for files and folders: the one leaf rule every layer shares.

Kept apart from :mod:`crucible.naming` (which reads the settings to resolve paths) so that
:mod:`crucible.settings` can check names without an import cycle.
"""

from __future__ import annotations

import re

from crucible.exceptions import InvalidInputError

SLUG_MAX_LENGTH = 100
#: Longest path accepted from a parameter (Linux's PATH_MAX).
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
