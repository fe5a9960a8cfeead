"""Presets and overrides that compose (crucible.presets) and per-field schema help."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from crucible.exceptions import InvalidInputError
from crucible.presets import Presets, parse_assignments
from crucible.validation import docstring_attributes, strict_config


class Inner(BaseModel):
    """Training recipe.

    Attributes:
        epochs: Passes over the data.
        lr: Learning rate; a long description that
            continues on the next line.
    """

    model_config = strict_config()

    epochs: int = Field(1, ge=1)
    lr: float = 1e-3
    device: str = "auto"


class Outer(BaseModel):
    """A stage's parameters.

    Attributes:
        name: Output folder.
        inner: The recipe.
        params: Free-form parameters.
    """

    model_config = strict_config()

    name: str = "run"
    inner: Inner = Field(default_factory=lambda: Inner(epochs=2))
    params: dict[str, Any] = Field(default_factory=lambda: {"a": 1})
    kind: Literal["x", "y"] = "x"


def _cpu() -> Outer:
    return Outer(name="cpu-run", inner=Inner(epochs=2, device="cpu"))


PRESETS = Presets(Outer, {"default": Outer, "cpu": _cpu})


def test_parse_assignments_nests_keys_and_reads_json_values() -> None:
    parsed = parse_assignments(["inner.epochs=3", "name=egfr-1", 'params={"b": 2}', "x=null"])
    assert parsed == {"inner": {"epochs": 3}, "name": "egfr-1", "params": {"b": 2}, "x": None}


@pytest.mark.parametrize("item", ["epochs", "=3", "inner..lr=1", "a.b=1"])
def test_parse_assignments_refuses_malformed_items(item: str) -> None:
    items = ["a=1", item] if item == "a.b=1" else [item]
    with pytest.raises(InvalidInputError) as error:
        parse_assignments(items)
    assert error.value.field == "--set"


def test_a_partial_override_keeps_the_presets_other_values() -> None:
    config = PRESETS.resolve("cpu", {"inner": {"lr": 0.01}})
    assert (config.name, config.inner.epochs, config.inner.device) == ("cpu-run", 2, "cpu")
    assert config.inner.lr == 0.01


def test_a_flow_side_config_applies_only_what_the_caller_set() -> None:
    """What Prefect hands a flow: a model validated from the run's (sparse) parameters."""
    given = Outer.model_validate({"inner": {"lr": 0.5}})
    config = PRESETS.resolve("cpu", given)
    assert (config.name, config.inner.device, config.inner.lr) == ("cpu-run", "cpu", 0.5)


def test_a_form_with_every_default_filled_in_changes_only_the_edited_field() -> None:
    """The UI sends the whole form: values equal to the default preset are not changes."""
    form = Outer().model_dump()
    form["inner"]["lr"] = 0.25
    config = PRESETS.resolve("cpu", Outer.model_validate(form))
    assert (config.name, config.inner.device, config.inner.lr) == ("cpu-run", "cpu", 0.25)


def test_free_form_dicts_are_replaced_not_merged() -> None:
    assert PRESETS.resolve("default", {"params": {"b": 2}}).params == {"b": 2}


def test_unknown_keys_are_refused_naming_the_key_and_the_valid_ones() -> None:
    with pytest.raises(InvalidInputError) as error:
        PRESETS.resolve("default", {"inner": {"epochz": 3}})
    assert error.value.field == "config.inner.epochz"
    assert "epochs, lr, device" in str(error.value)


def test_bad_values_and_unknown_presets_are_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInputError) as error:
        PRESETS.resolve("cpu", {"inner": {"epochs": 0}})
    assert error.value.field == "config.inner.epochs"
    with pytest.raises(InvalidInputError) as error:
        PRESETS.resolve("gpu", None)
    assert error.value.field == "preset" and "default, cpu" in str(error.value)


def test_presets_need_a_default() -> None:
    with pytest.raises(ValueError, match="default"):
        Presets(Outer, {"cpu": _cpu})


def test_docstring_attributes_split_prose_and_entries() -> None:
    prose, entries = docstring_attributes(Inner.__doc__)
    assert prose == "Training recipe."
    assert entries["lr"] == "Learning rate; a long description that continues on the next line."


def test_schema_gives_each_field_its_help_and_factory_defaults() -> None:
    schema = Outer.model_json_schema()
    assert schema["description"] == "A stage's parameters."
    assert schema["properties"]["name"]["description"] == "Output folder."
    assert schema["properties"]["inner"]["default"] == {"epochs": 2, "lr": 1e-3, "device": "auto"}
    assert schema["properties"]["params"]["default"] == {"a": 1}
    assert "description" not in schema["properties"]["kind"]  # not documented: no help
    inner = schema["$defs"]["Inner"]
    assert inner["description"] == "Training recipe."
    assert inner["properties"]["epochs"]["description"] == "Passes over the data."


def test_set_values_apply_as_given_but_a_flow_config_changes_only_what_differs() -> None:
    """``--set inner.epochs=2`` on preset cpu is explicit; the same value in a flow's config
    equals the default preset's and so keeps the preset's (documented trade-off)."""
    assert PRESETS.resolve("cpu", {"name": "run"}).name == "run"
    assert PRESETS.resolve("cpu", Outer.model_validate({"name": "run"})).name == "cpu-run"
