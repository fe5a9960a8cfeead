"""Plug-ins chosen by name: evaluators, scoring components and training callbacks.

A flow parameter or an event payload may only *name* a plug-in; it never names code to
import. Each family is a :class:`PluginRegistry` holding

* built-ins, registered explicitly by Crucible (e.g. the built-in BO problems ``branin``,
  ``hartmann6`` as evaluators; the ``time_limit`` training callback), and
* plug-ins an administrator installs as Python packages that declare entry points in the
  family's group (looked up with :func:`importlib.metadata.entry_points`, loaded only when
  named)::

      # pyproject.toml of an installed package
      [project.entry-points."crucible.evaluators"]
      assay_robot = "mylab.robot:evaluate"        # params dict -> metrics dict
      [project.entry-points."crucible.scoring_components"]
      docking = "mylab.scoring:DockingComponent"   # a ScoringComponent subclass, or
      logp_model = "mylab.scoring:predict_logp"    # a function f(smiles, **kwargs) -> floats
      [project.entry-points."crucible.callbacks"]
      slack = "mylab.notify:SlackCallback"         # factory(**params) -> Callback

An unknown name is an :class:`~crucible.exceptions.InvalidInputError` that names the field
and lists the registered names. A free ``module:function`` import path is accepted only when
the setting ``CRUCIBLE_ALLOW_IMPORT_PATHS`` is on, which is meant for local, non-deployed
runs (see :mod:`crucible.settings`); otherwise it is refused before anything is imported.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from crucible.exceptions import AlreadyExistsError, InvalidInputError
from crucible.validation import schema_help

if TYPE_CHECKING:
    from crucible.training.callbacks import Callback

__all__ = [
    "CALLBACKS",
    "EVALUATORS",
    "SCORING_COMPONENTS",
    "CallbackSpec",
    "PluginRegistry",
    "build_callbacks",
    "import_paths_allowed",
    "looks_like_import_path",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def import_paths_allowed() -> bool:
    """Whether ``CRUCIBLE_ALLOW_IMPORT_PATHS`` is on (read from the environment each call)."""
    from crucible.settings import get_settings

    return get_settings().allow_import_paths


def looks_like_import_path(value: str) -> bool:
    """True for ``package.module:attribute`` strings."""
    return bool(_IMPORT_PATH.match(value))


class PluginRegistry:
    """Name -> object for one plug-in family.

    Args:
        kind: What the plug-ins are, for messages (e.g. ``"evaluator"``).
        group: Entry-point group administrators install plug-ins into.
        builtins: Called once before the first lookup; registers the built-ins.
    """

    def __init__(self, kind: str, group: str, builtins: Callable[[], None] | None = None) -> None:
        self.kind = kind
        self.group = group
        self._builtins = builtins
        self._loaded_builtins = builtins is None
        self._objects: dict[str, Any] = {}

    def register(self, name: str, obj: Any, *, overwrite: bool = False) -> Any:
        """Register ``obj`` under ``name`` and return it.

        Raises:
            InvalidInputError: ``name`` is not 1-100 letters, digits, ``.``, ``_``, ``-``.
            AlreadyExistsError: The name is taken by another object and not ``overwrite``.
        """
        if not isinstance(name, str) or not _NAME.match(name):
            raise InvalidInputError(
                "name",
                f"{name!r} is not a valid {self.kind} name",
                "use 1-100 letters, digits, '.', '_' or '-'",
            )
        if name in self._objects and self._objects[name] is not obj and not overwrite:
            raise AlreadyExistsError(
                f"a {self.kind} named {name!r} is already registered; pick another name or "
                "pass overwrite=True"
            )
        self._objects[name] = obj
        return obj

    def unregister(self, name: str) -> None:
        """Remove an in-process registration (entry points stay installed)."""
        self._objects.pop(name, None)

    def _ensure_builtins(self) -> None:
        if not self._loaded_builtins and self._builtins is not None:
            self._loaded_builtins = True
            self._builtins()

    def _entry_points(self) -> dict[str, importlib.metadata.EntryPoint]:
        return {ep.name: ep for ep in importlib.metadata.entry_points(group=self.group)}

    def names(self) -> list[str]:
        """Registered names: built-ins, in-process registrations and installed entry points."""
        self._ensure_builtins()
        return sorted(set(self._objects) | set(self._entry_points()))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.names()

    def check(self, name: object, field: str) -> str:
        """Return ``name`` if it names a plug-in of this family, else raise; loads nothing.

        A free ``module:function`` path passes only when ``CRUCIBLE_ALLOW_IMPORT_PATHS`` is on.

        Args:
            name: The registered name (or an import path, see above).
            field: Dotted name of the parameter it came from, used in error messages.

        Raises:
            InvalidInputError: Unknown name, or an import path while import paths are off.
        """
        if not isinstance(name, str) or not name:
            raise InvalidInputError(
                field, f"expected the name of a registered {self.kind}", self._choose()
            )
        if name in self.names():
            return name
        if looks_like_import_path(name):
            if import_paths_allowed():
                return name
            raise InvalidInputError(
                field,
                f"{name[:200]!r} is an import path, and import paths are off "
                "(CRUCIBLE_ALLOW_IMPORT_PATHS is false)",
                f"{self._choose()}; only for local, non-deployed runs, set "
                "CRUCIBLE_ALLOW_IMPORT_PATHS=true",
            )
        raise InvalidInputError(field, f"unknown {self.kind} {name[:200]!r}", self._choose())

    def get(self, name: str, field: str) -> Any:
        """The plug-in registered as ``name`` (checked with :meth:`check` first).

        Raises:
            InvalidInputError: Unknown name, an import path while import paths are off, or
                an installed plug-in that fails to load.
        """
        self.check(name, field)
        if name in self._objects:
            return self._objects[name]
        entry = self._entry_points().get(name)
        if entry is not None:
            return self._load_entry_point(entry, field)
        return _import_path(name, field)

    def _load_entry_point(self, entry: importlib.metadata.EntryPoint, field: str) -> Any:
        try:
            obj = entry.load()
        except Exception as exc:
            raise InvalidInputError(
                field,
                f"the installed {self.kind} {entry.name!r} ({entry.value}) failed to load: "
                f"{type(exc).__name__}: {exc}",
                f"fix or reinstall the package that provides it (entry point group {self.group})",
            ) from exc
        return obj

    def _choose(self) -> str:
        return (
            f"name a registered {self.kind}: {self.names()} (administrators add more as entry "
            f"points in group {self.group!r})"
        )


def _import_path(path: str, field: str) -> Any:
    """Import ``module:attribute`` (attribute may be dotted); only with import paths on."""
    module_name, _, attribute = path.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise InvalidInputError(
            field, f"cannot import {path!r} ({exc})", "give an importable 'package.module:name'"
        ) from None
    return target


def _builtin_evaluators() -> None:
    from crucible.bo.problems import PROBLEMS

    for name, problem in PROBLEMS.items():
        EVALUATORS.register(name, problem.evaluator)


def _builtin_callbacks() -> None:
    from crucible.training.callbacks import TimeLimit

    CALLBACKS.register("time_limit", TimeLimit)


#: BO evaluators: ``f(params: dict) -> dict of metric values``. Built-ins: the BO problems
#: (``branin``, ``hartmann6``, ``ackley5``, ``mixed``, ``chartmann6``, ``branin_currin``,
#: ``hartmann6_30``, ``ackley20``).
EVALUATORS = PluginRegistry("evaluator", "crucible.evaluators", _builtin_evaluators)

#: Scoring plug-ins: :class:`~crucible.chem.scoring.ScoringComponent` subclasses (used as a
#: component ``type``) or functions ``f(smiles, **kwargs) -> floats`` (used by the
#: ``python_callable`` component). Crucible's own components live in
#: :mod:`crucible.chem.scoring`'s registry.
SCORING_COMPONENTS = PluginRegistry("scoring plug-in", "crucible.scoring_components")

#: Training callbacks: factories ``f(**params) -> Callback``. Built-in: ``time_limit``.
CALLBACKS = PluginRegistry("training callback", "crucible.callbacks", _builtin_callbacks)


def build_callbacks(specs: list[dict[str, Any]], field: str = "callbacks") -> list[Callback]:
    """Callbacks named in a parameter, built from :data:`CALLBACKS`.

    Args:
        specs: ``[{"name": "time_limit", "params": {"seconds": 600}}, ...]``; ``name`` must
            be a registered callback (built-in or an installed ``crucible.callbacks`` entry
            point).
        field: Dotted name of the parameter, used in error messages.

    Returns:
        One callback per spec, in order.

    Raises:
        InvalidInputError: Unknown name, bad parameters, or a factory that does not return
            a :class:`Callback`.
    """
    from crucible.training.callbacks import Callback

    callbacks = []
    for i, spec in enumerate(specs):
        where = f"{field}[{i}]"
        if not isinstance(spec, dict) or set(spec) - {"name", "params"}:
            raise InvalidInputError(
                where, f"expected {{'name', 'params'}}, got {spec!r:.200}", "give name and params"
            )
        factory = CALLBACKS.get(spec.get("name"), f"{where}.name")  # type: ignore[arg-type]
        params = spec.get("params") or {}
        if not isinstance(params, dict):
            raise InvalidInputError(f"{where}.params", "expected a mapping", "give a dict")
        try:
            callback = factory(**params)
        except TypeError as exc:
            raise InvalidInputError(
                f"{where}.params", f"{spec['name']!r} does not accept {params}: {exc}", "fix them"
            ) from exc
        if not isinstance(callback, Callback):
            raise InvalidInputError(
                f"{where}.name",
                f"{spec['name']!r} built a {type(callback).__name__}, not a Callback",
                "register a factory that returns a crucible.training.callbacks.Callback",
            )
        callbacks.append(callback)
    return callbacks


class CallbackSpec(BaseModel):
    """A training callback named in a flow parameter (see :func:`build_callbacks`).

    Attributes:
        name: A registered callback: ``time_limit`` or an installed ``crucible.callbacks``
            entry point (checked when the parameter is validated; nothing is imported).
        params: Keyword arguments of its factory, e.g. ``{"seconds": 600}``.
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra=schema_help)

    name: str
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _registered(cls, value: str) -> str:
        return CALLBACKS.check(value, "name")
