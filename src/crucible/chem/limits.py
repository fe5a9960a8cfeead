"""Size limits on SMILES (and SMARTS) wherever they enter Crucible.

RDKit's parser needs about 500 bytes of memory and 10 µs per character of SMILES: a 1 MB
SMILES took 9.5 s and 0.5 GB (RDKit 2026.03, ``Chem.MolFromSmiles("C" * 10**6)``), so a
10 MB one-line "SMILES" grows the process by several GB. The cap of
:data:`MAX_SMILES_LENGTH` characters is well above the longest SMILES of the bundled data
(386 characters in the 5,568 ChEMBL EGFR molecules, 99th percentile 92; 56 in the MOSES
corpus) and refuses anything that could exhaust memory, *before* RDKit sees it.

Every entry point uses the functions here:

* parameters and files (scoring and filtering inputs, reference SMILES, inception seeds,
  ligand files) call :func:`check_smiles_length` / :func:`check_smiles_list`, which raise
  :class:`~crucible.exceptions.InvalidInputError` naming the field and the position;
* parsers that treat bad SMILES as invalid rather than as errors
  (:func:`crucible.chem.properties.parse_smiles`, standardisation) use
  :func:`smiles_too_long` and report the molecule invalid / rejected with its reason.
"""

from __future__ import annotations

from collections.abc import Sequence

from crucible.exceptions import InvalidInputError

#: Longest SMILES (or SMARTS) accepted anywhere, in characters.
MAX_SMILES_LENGTH = 500
#: Most SMILES one parameter (a list of references, seeds or molecules to score) may carry.
MAX_SMILES_PER_LIST = 100_000

_FIX = (
    f"give SMILES of at most {MAX_SMILES_LENGTH} characters (drug-like molecules are far "
    "shorter); split or remove the entry"
)


def smiles_too_long(smiles: object) -> bool:
    """True when ``smiles`` is a string over :data:`MAX_SMILES_LENGTH` characters."""
    return isinstance(smiles, str) and len(smiles) > MAX_SMILES_LENGTH


def check_smiles_length(smiles: object, field: str) -> str:
    """Return ``smiles`` if it is a string of at most :data:`MAX_SMILES_LENGTH` characters.

    Args:
        smiles: The SMILES (or SMARTS) as given.
        field: Dotted name of the field it came from, e.g. ``"params.smiles[3]"``.

    Raises:
        InvalidInputError: Not a string, or longer than the cap (checked in O(1), before any
            parsing).
    """
    if not isinstance(smiles, str):
        raise InvalidInputError(
            field, f"expected a SMILES string, got {type(smiles).__name__}", _FIX
        )
    if len(smiles) > MAX_SMILES_LENGTH:
        raise InvalidInputError(
            field,
            f"the SMILES is {len(smiles):,} characters long, over the cap of "
            f"{MAX_SMILES_LENGTH} (starts {smiles[:30]!r})",
            _FIX,
        )
    return smiles


def check_smiles_list(
    values: object, field: str, max_items: int = MAX_SMILES_PER_LIST
) -> list[str]:
    """Return ``values`` as a list if it is a list of acceptable SMILES, else raise.

    Args:
        values: A list (or tuple) of SMILES strings.
        field: Dotted name of the parameter; positions are appended as ``field[i]``.
        max_items: Most entries accepted.

    Raises:
        InvalidInputError: Not a list, more than ``max_items`` entries, or an entry that is
            not a string or is over :data:`MAX_SMILES_LENGTH` characters.
    """
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise InvalidInputError(
            field, f"expected a list of SMILES, got {type(values).__name__}", "give a list"
        )
    if len(values) > max_items:
        raise InvalidInputError(
            field,
            f"{len(values):,} SMILES given, over the cap of {max_items:,} per parameter",
            "pass a file of molecules instead, or split the work into several runs",
        )
    return [check_smiles_length(value, f"{field}[{i}]") for i, value in enumerate(values)]
