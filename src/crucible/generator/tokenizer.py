"""SMILES tokenizer and vocabulary in REINVENT 4's layout.

Tokens: bracket atoms (``[nH]``, ``[C@@H]``), two-digit ring closures (``%10``), ``Br``/``Cl``,
then single characters. Index 0 is ``$`` (end of sequence, also padding), index 1 is ``^``
(start), then the remaining tokens sorted, exactly as REINVENT 4 stores them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from crucible.exceptions import InvalidInputError

START_TOKEN = "^"
END_TOKEN = "$"

_BRACKET = re.compile(r"(\[[^\]]*\])")
_RING_TWO_DIGITS = re.compile(r"(%\d{2})")
_HALOGEN = re.compile(r"(Br|Cl)")


def tokenize(smiles: str, with_begin_and_end: bool = True) -> list[str]:
    """Split a SMILES string into tokens.

    Args:
        smiles: A SMILES string.
        with_begin_and_end: Wrap the tokens in ``^`` ... ``$``.

    Returns:
        The tokens, e.g. ``["^", "C", "Cl", "[nH]", "%10", "$"]``.
    """
    tokens: list[str] = []
    for bracket_split in _BRACKET.split(smiles):
        if bracket_split.startswith("["):
            tokens.append(bracket_split)
            continue
        for ring_split in _RING_TWO_DIGITS.split(bracket_split):
            if ring_split.startswith("%"):
                tokens.append(ring_split)
                continue
            for halogen_split in _HALOGEN.split(ring_split):
                if halogen_split in ("Br", "Cl"):
                    tokens.append(halogen_split)
                else:
                    tokens.extend(halogen_split)
    if with_begin_and_end:
        return [START_TOKEN, *tokens, END_TOKEN]
    return tokens


def untokenize(tokens: Iterable[str]) -> str:
    """Join tokens back into SMILES, dropping everything from ``$`` on and a leading ``^``."""
    out: list[str] = []
    for position, token in enumerate(tokens):
        if token == END_TOKEN:
            break
        if position == 0 and token == START_TOKEN:
            continue
        out.append(token)
    return "".join(out)


@dataclass
class Vocabulary:
    """Bidirectional token ↔ index map (REINVENT 4 layout: ``$`` = 0, ``^`` = 1).

    Attributes:
        tokens: Token → index.
    """

    tokens: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.tokens.get(END_TOKEN) != 0 or self.tokens.get(START_TOKEN) != 1:
            raise InvalidInputError(
                "vocabulary",
                "index 0 must be '$' and index 1 must be '^'",
                "build it with Vocabulary.from_tokens or Vocabulary.from_smiles",
            )
        if sorted(self.tokens.values()) != list(range(len(self.tokens))):
            raise InvalidInputError(
                "vocabulary", "indices are not 0..n-1", "build it with Vocabulary.from_tokens"
            )
        self._index_to_token = {index: token for token, index in self.tokens.items()}

    @classmethod
    def from_tokens(cls, tokens: Iterable[str]) -> Vocabulary:
        """Vocabulary of ``$``, ``^`` and the given tokens sorted."""
        rest = sorted(set(tokens) - {START_TOKEN, END_TOKEN})
        ordered = [END_TOKEN, START_TOKEN, *rest]
        return cls({token: index for index, token in enumerate(ordered)})

    @classmethod
    def from_smiles(cls, smiles: Iterable[str], extra_tokens: Iterable[str] = ()) -> Vocabulary:
        """Vocabulary of every token in ``smiles`` plus ``extra_tokens``."""
        found: set[str] = set(extra_tokens)
        for text in smiles:
            found.update(tokenize(text, with_begin_and_end=False))
        return cls.from_tokens(found)

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: object) -> bool:
        return token in self.tokens

    def token(self, index: int) -> str:
        """The token at ``index``."""
        return self._index_to_token[index]

    def unknown_tokens(self, smiles: str) -> set[str]:
        """Tokens of ``smiles`` that this vocabulary lacks (empty when all are known)."""
        return {tok for tok in tokenize(smiles, with_begin_and_end=False) if tok not in self}

    def encode(self, smiles: str) -> list[int]:
        """Indices of ``^ tokens $``.

        Raises:
            InvalidInputError: If a token is not in the vocabulary.
        """
        try:
            return [self.tokens[tok] for tok in tokenize(smiles)]
        except KeyError as exc:
            raise InvalidInputError(
                "smiles",
                f"{smiles!r} has token {exc.args[0]!r} missing from the vocabulary",
                "filter the input with Vocabulary.split_known() or extend the vocabulary",
            ) from None

    def decode(self, indices: Sequence[int]) -> str:
        """SMILES from indices; stops at the first ``$`` and drops a leading ``^``."""
        return untokenize(self._index_to_token[int(i)] for i in indices)

    def split_known(self, smiles: Iterable[str]) -> tuple[list[str], dict[str, set[str]]]:
        """Separate SMILES the vocabulary can encode from those it cannot.

        Returns:
            ``(known, unknown)`` where ``unknown`` maps each rejected SMILES to its missing
            tokens.
        """
        known: list[str] = []
        unknown: dict[str, set[str]] = {}
        for text in smiles:
            missing = self.unknown_tokens(text)
            if missing:
                unknown[text] = missing
            else:
                known.append(text)
        return known, unknown

    def to_reinvent(self) -> dict[str, object]:
        """The plain dict REINVENT 4 stores under ``vocabulary``."""
        return {
            "tokens": dict(self.tokens),
            "pad_token": 0,
            "bos_token": 1,
            "eos_token": 2,
            "unk_token": None,
        }

    @classmethod
    def from_reinvent(cls, data: Mapping[str, object]) -> Vocabulary:
        """Build from REINVENT 4's ``vocabulary`` dict (or a bare token → index dict)."""
        tokens = data.get("tokens", data)
        if not isinstance(tokens, Mapping):
            raise InvalidInputError(
                "vocabulary", "has no 'tokens' mapping", "pass a REINVENT 4 model file"
            )
        return cls({str(tok): int(idx) for tok, idx in tokens.items()})


def token_counts(smiles: Iterable[str]) -> Counter[str]:
    """How often each token occurs over ``smiles`` (without ``^``/``$``)."""
    counts: Counter[str] = Counter()
    for text in smiles:
        counts.update(tokenize(text, with_begin_and_end=False))
    return counts
