import pytest

from crucible.exceptions import CrucibleError, InvalidInputError, NotFoundError


def test_invalid_input_names_field_and_fix() -> None:
    err = InvalidInputError("space.parameters[0].low", "low=5 is not below high=1", "swap them")
    assert str(err) == "space.parameters[0].low: low=5 is not below high=1. Fix: swap them"
    assert isinstance(err, ValueError) and isinstance(err, CrucibleError)
    assert err.field == "space.parameters[0].low"


def test_not_found_reads_plainly() -> None:
    with pytest.raises(KeyError) as info:
        raise NotFoundError("campaign 'x' not found; create it with Campaign.create")
    assert str(info.value) == "campaign 'x' not found; create it with Campaign.create"
