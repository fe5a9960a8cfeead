import pytest

from crucible.exceptions import InvalidInputError
from crucible.generator.tokenizer import Vocabulary, token_counts, tokenize, untokenize


def test_tokenize_handles_brackets_two_digit_rings_and_halogens() -> None:
    tokens = tokenize("Cl[C@@H](Br)c1cc%12[nH]C%12")
    assert tokens == [
        "^", "Cl", "[C@@H]", "(", "Br", ")", "c", "1", "c", "c", "%12", "[nH]", "C", "%12", "$",
    ]  # fmt: skip
    assert untokenize(tokens) == "Cl[C@@H](Br)c1cc%12[nH]C%12"


def test_untokenize_stops_at_end_token() -> None:
    assert untokenize(["^", "C", "O", "$", "C", "C"]) == "CO"


def test_vocabulary_has_reinvent_layout() -> None:
    vocabulary = Vocabulary.from_smiles(["CCO", "c1ccccc1Cl"])
    assert vocabulary.token(0) == "$" and vocabulary.token(1) == "^"
    rest = [vocabulary.token(i) for i in range(2, len(vocabulary))]
    assert rest == sorted(rest) == ["1", "C", "Cl", "O", "c"]
    assert vocabulary.to_reinvent()["tokens"] == vocabulary.tokens


def test_encode_decode_round_trip() -> None:
    vocabulary = Vocabulary.from_smiles(["CC(=O)Nc1ccc(O)cc1"])
    encoded = vocabulary.encode("CC(=O)Nc1ccc(O)cc1")
    assert encoded[0] == 1 and encoded[-1] == 0
    assert vocabulary.decode(encoded) == "CC(=O)Nc1ccc(O)cc1"


def test_unknown_tokens_are_reported_not_silently_dropped() -> None:
    vocabulary = Vocabulary.from_smiles(["CCO"], extra_tokens=["N"])
    assert vocabulary.unknown_tokens("CCBr[nH]") == {"Br", "[nH]"}
    known, unknown = vocabulary.split_known(["CCN", "CCBr", "OCC"])
    assert known == ["CCN", "OCC"]
    assert unknown == {"CCBr": {"Br"}}
    with pytest.raises(InvalidInputError, match="Br"):
        vocabulary.encode("CCBr")


def test_invalid_layout_is_rejected() -> None:
    with pytest.raises(InvalidInputError):
        Vocabulary({"^": 0, "$": 1})
    with pytest.raises(InvalidInputError):
        Vocabulary({"$": 0, "^": 1, "C": 3})


def test_token_counts() -> None:
    assert token_counts(["CCl", "Cl"])["Cl"] == 2
