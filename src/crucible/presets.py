"""Named presets of a flow's config and sparse overrides that compose with them.

A flow takes ``preset`` (a name) and ``config`` (its config model): the settings a caller
changes are applied on top of the named preset, everything else keeps the preset's value.
A *change* is a field the caller set (pydantic's ``model_fields_set``, recursively) whose
value differs from the ``default`` preset (the code default the UI's form shows):
``{"tl": {"epochs": 3}}`` changes one number and keeps the preset's other TL settings, its
data source, its device, and a UI form submitted with every default filled in changes only
what the user edited. (So a config cannot set a preset's field back to the code default:
run preset ``default`` for that.) A deployment stores only ``preset``, so a run started from
the CLI (``prefect deployment run --param``), the UI, a trigger or a webhook that passes a
partial ``config`` keeps every other deployment setting. Unknown keys are refused where the
config is validated (``extra="forbid"``; Prefect's parameter schema refuses them at run
creation).

``crucible run <stage> --preset NAME --set key=value`` uses :func:`parse_assignments` and
:meth:`Presets.resolve` to validate overrides before anything starts (``--set`` values apply
as given, even one equal to the code default), then hands the flow the resolved config::

    presets = Presets(DesignConfig, {"default": DesignConfig, "cpu": cpu_config})
    overrides = parse_assignments(["tl.epochs=3", "device=cpu"])
    presets.check_keys(overrides)                 # InvalidInputError naming the key
    config = presets.resolve("cpu", overrides)    # a validated DesignConfig
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from crucible.exceptions import InvalidInputError

__all__ = [
    "Presets",
    "merge_into",
    "overrides_of",
    "parse_assignments",
    "validation_problem",
]

C = TypeVar("C", bound=BaseModel)


def parse_assignments(items: Iterable[str]) -> dict[str, Any]:
    """Turn ``["tl.epochs=3", "data.chembl.target=EGFR"]`` into a nested dict.

    Values are read as JSON when they parse (``3``, ``0.5``, ``true``, ``null``,
    ``["a"]``, ``{"k": 1}``), otherwise kept as text (``EGFR``, ``egfr-demo``).

    Raises:
        InvalidInputError: An item without ``=``, an empty key part, or a key given twice.
    """
    result: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        parts = key.strip().split(".")
        if not sep or not all(part.strip() for part in parts):
            raise InvalidInputError(
                "--set", f"{item!r} is not key=value", "write e.g. --set tl.epochs=3"
            )
        node = result
        for part in parts[:-1]:
            child = node.setdefault(part.strip(), {})
            if not isinstance(child, dict):
                raise InvalidInputError("--set", f"{key!r} sets inside a value", "set it once")
            node = child
        leaf = parts[-1].strip()
        if leaf in node:
            raise InvalidInputError("--set", f"{key!r} is given twice", "give each key once")
        node[leaf] = _read_value(raw)
    return result


def _read_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def overrides_of(config: BaseModel, default: BaseModel) -> dict[str, Any]:
    """The fields a caller set on ``config`` (recursively) that differ from ``default``."""
    return _changes(type(config), config.model_dump(exclude_unset=True), default.model_dump())


def _changes(
    model: type[BaseModel], given: Mapping[str, Any], default: Mapping[str, Any]
) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for key, value in given.items():
        nested = _model_in(model.model_fields[key].annotation)
        base = default.get(key)
        if nested is not None and isinstance(value, Mapping) and isinstance(base, Mapping):
            sub = _changes(nested, value, base)
            if sub:
                changes[key] = sub
        elif value != base:
            changes[key] = value
    return changes


def merge_into(
    model: type[BaseModel], base: Mapping[str, Any], changes: Mapping[str, Any]
) -> dict[str, Any]:
    """``base`` (a dump of ``model``) with ``changes`` applied.

    Nested models merge field by field; any other value (numbers, lists, free-form dicts)
    is replaced.
    """
    merged = dict(base)
    for key, value in changes.items():
        field = model.model_fields.get(key)
        nested = _model_in(field.annotation) if field is not None else None
        current = merged.get(key)
        if nested is not None and isinstance(value, Mapping) and isinstance(current, Mapping):
            merged[key] = merge_into(nested, current, value)
        else:
            merged[key] = value
    return merged


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model a field holds (also through ``X | None``), else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        models = [m for m in map(_model_in, typing.get_args(annotation)) if m is not None]
        return models[0] if len(models) == 1 else None
    return None


def validation_problem(error: ValidationError, prefix: str = "config") -> InvalidInputError:
    """The first problem of a pydantic error as an :class:`InvalidInputError`."""
    first = error.errors()[0]
    field = ".".join([prefix, *(str(part) for part in first["loc"])])
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, InvalidInputError):  # a Crucible check inside a field validator
        return InvalidInputError(field, cause.problem, cause.fix)
    problem = first["msg"].removeprefix("Value error, ")
    return InvalidInputError(field, problem, "fix the value (see --help for the stage)")


class Presets(Generic[C]):
    """The named presets of one config model.

    Args:
        model: The config model (``extra="forbid"``).
        presets: Name → factory returning the preset's config (``default`` is required;
            factories take their values from the domain configs, not copies of numbers).

    Raises:
        ValueError: No ``default`` preset, or a factory that returns another model.
    """

    def __init__(self, model: type[C], presets: Mapping[str, Callable[[], C]]) -> None:
        if "default" not in presets:
            raise ValueError(f"{model.__name__} presets need a 'default' preset")
        self.model = model
        self._factories = dict(presets)

    @property
    def names(self) -> tuple[str, ...]:
        """Preset names, ``default`` first."""
        return ("default", *sorted(n for n in self._factories if n != "default"))

    def get(self, name: str) -> C:
        """A fresh instance of the preset ``name``.

        Raises:
            InvalidInputError: Unknown name (the message lists the valid ones).
        """
        if name not in self._factories:
            raise InvalidInputError(
                "preset", f"unknown preset {name!r}", f"choose one of {', '.join(self.names)}"
            )
        config = self._factories[name]()
        if not isinstance(config, self.model):
            raise TypeError(f"preset {name!r} is not a {self.model.__name__}")
        return config

    def check_keys(self, overrides: Mapping[str, Any], prefix: str = "config") -> None:
        """Refuse keys the model does not have, naming the key and the valid ones.

        Raises:
            InvalidInputError: ``field`` is the dotted key, e.g. ``config.tl.epochz``.
        """
        _check_keys(self.model, overrides, prefix)

    def validate_overrides(self, overrides: Mapping[str, Any]) -> C:
        """``overrides`` as the config a flow would receive (only those fields set).

        Raises:
            InvalidInputError: An unknown key (naming it and the valid ones) or a bad value.
        """
        self.check_keys(overrides)
        try:
            return self.model.model_validate(overrides)
        except ValidationError as error:
            raise validation_problem(error) from error

    def resolve(self, name: str, overrides: C | Mapping[str, Any] | None = None) -> C:
        """The preset ``name`` with ``overrides`` applied, validated.

        Args:
            name: Preset name.
            overrides: A config whose changes apply (what a flow receives: the fields the
                caller set that differ from the ``default`` preset), or a nested dict (what
                ``--set`` gives), checked with :meth:`validate_overrides` and applied as given.

        Raises:
            InvalidInputError: Unknown preset or key, or a value the model refuses.
        """
        default = self.get("default")
        if overrides is None:
            changes: dict[str, Any] = {}
        elif isinstance(overrides, BaseModel):
            changes = overrides_of(overrides, default)
        else:
            self.validate_overrides(overrides)
            changes = dict(overrides)
        base = self.get(name)
        if not changes:
            return base
        try:
            return self.model.model_validate(merge_into(self.model, base.model_dump(), changes))
        except ValidationError as error:
            raise validation_problem(error) from error

    def describe(self, name: str) -> dict[str, Any]:
        """The preset's full values as JSON-ready data (for ``--help`` and the docs)."""
        return self.get(name).model_dump(mode="json")


def _check_keys(model: type[BaseModel], overrides: Mapping[str, Any], prefix: str) -> None:
    fields = model.model_fields
    for key, value in overrides.items():
        if key not in fields:
            raise InvalidInputError(
                f"{prefix}.{key}",
                f"{model.__name__} has no setting {key!r}",
                f"use one of: {', '.join(fields)}",
            )
        nested = _model_in(fields[key].annotation)
        if nested is not None and isinstance(value, Mapping):
            _check_keys(nested, value, f"{prefix}.{key}")
