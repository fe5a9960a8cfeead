"""Parameter spaces shared by Bayesian optimisation and hyperparameter optimisation.

One pydantic v2 schema describes what may vary in an experiment. It is used by the BO
engine (:mod:`crucible.bo`), by the Optuna HPO flows (:meth:`Space.to_optuna_distributions`)
and as a flow parameter (it is JSON-friendly and renders as a form in the Prefect UI).

Example:
    >>> space = Space.from_dict(
    ...     {
    ...         "temperature": {"type": "continuous", "low": 20, "high": 80},
    ...         "catalyst_mol_pct": {"type": "continuous", "low": 0.01, "high": 1, "log": True},
    ...         "stir_rpm": {"type": "integer", "low": 100, "high": 1000, "step": 100},
    ...         "solvent": {"type": "categorical", "choices": ["THF", "DMF", "MeCN"]},
    ...         "pressure_bar": {"type": "fixed", "value": 1.0},
    ...     }
    ... )
    >>> X = space.encode([{"temperature": 50, "catalyst_mol_pct": 0.1, "stir_rpm": 500,
    ...                    "solvent": "DMF", "pressure_bar": 1.0}])
    >>> X.shape  # 3 numeric columns + 3 one-hot columns; fixed parameters are not encoded
    (1, 6)
    >>> space.decode(X)[0]["solvent"]
    'DMF'

Encodings (``n`` points, ``d`` encoded columns):

* ``"onehot"`` (default): every column in ``[0, 1]``; continuous parameters min-max scaled
  (in log space when ``log=True``), integers scaled the same way and rounded to the nearest
  allowed level on decode, categoricals one-hot (argmax on decode).
* ``"index"``: as above, but a categorical is one column holding the choice index
  ``0 .. k-1`` (what BoTorch's ``MixedSingleTaskGP`` and mixed optimisers expect).

Linear constraints ``sum_i coefficients[i] * x[i] <= bound`` (or ``>=``) are written in raw
parameter units and translated to the encoded space by :meth:`Space.inequality_constraints`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from crucible.exceptions import InvalidInputError, input_error_from_validation
from crucible.validation import schema_help

__all__ = [
    "MAX_CHOICES",
    "MAX_LEVELS",
    "MAX_PARAMETERS",
    "CategoricalParameter",
    "ContinuousParameter",
    "Encoding",
    "FixedParameter",
    "IntegerParameter",
    "LinearConstraint",
    "Parameter",
    "Space",
]

Encoding = Literal["onehot", "index"]
ChoiceValue = str | int | float | bool
_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.\-]*$"
_INT_TOL = 1e-9

#: Most levels of an integer parameter that are ever listed (:attr:`IntegerParameter.levels`);
#: designs and optimisers index levels arithmetically and never list them.
MAX_LEVELS = 100_000
#: Most choices of a categorical parameter (each is a one-hot column of the model).
MAX_CHOICES = 1_000
#: Most parameters of a space.
MAX_PARAMETERS = 1_000
#: Integer bounds must lie within +-2**53, where every integer is exact as a float.
_INT_LIMIT = 2**53
#: Location parts pydantic adds for union members; left out of error field names.
_UNION_TAGS = frozenset(
    {"continuous", "integer", "categorical", "fixed", "str", "int", "float", "bool"}
)


class _ParameterBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=schema_help)

    name: str = Field(
        pattern=_NAME_PATTERN,
        max_length=100,
        description="Unique parameter name: letters, digits, '_', '.', '-'; not a digit first.",
    )
    description: str = Field(
        default="", max_length=10_000, description="Free text shown in reports."
    )

    @property
    def is_tunable(self) -> bool:
        """Whether the parameter varies (every kind except ``fixed``)."""
        return True


class ContinuousParameter(_ParameterBase):
    """A real-valued parameter in ``[low, high]``, optionally searched on a log scale."""

    type: Literal["continuous"] = "continuous"
    low: float = Field(strict=True, description="Lower bound (inclusive).")
    high: float = Field(
        strict=True, description="Upper bound (inclusive); must be greater than low."
    )
    log: bool = Field(
        default=False, strict=True, description="Search log(x) uniformly; needs low > 0."
    )

    @model_validator(mode="after")
    def _check_bounds(self) -> ContinuousParameter:
        _check_finite(self.name, low=self.low, high=self.high)
        if self.low >= self.high:
            raise ValueError(
                f"parameter '{self.name}': low ({self.low}) must be less than high "
                f"({self.high}). Fix: swap the bounds, or use a 'fixed' parameter for a "
                "single value"
            )
        if self.log and self.low <= 0:
            raise ValueError(
                f"parameter '{self.name}': log scale needs low > 0, got low={self.low}. "
                "Fix: set a positive lower bound (e.g. 1e-6) or log=false"
            )
        return self

    def to_unit(self, value: float) -> float:
        """Map a raw value to ``[0, 1]``."""
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            return (math.log(value) - lo) / (hi - lo)
        return (value - self.low) / (self.high - self.low)

    def from_unit(self, u: float) -> float:
        """Map ``u`` in ``[0, 1]`` (clipped) back to a raw value within the bounds."""
        u = min(max(float(u), 0.0), 1.0)
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            value = math.exp(lo + u * (hi - lo))
        else:
            value = self.low + u * (self.high - self.low)
        return min(max(value, self.low), self.high)

    def validate_value(self, value: Any, field: str) -> float:
        """Return ``value`` as a float, or raise :class:`InvalidInputError`."""
        number = _as_number(value, field)
        if not self.low <= number <= self.high:
            raise InvalidInputError(
                field,
                f"{number} is outside [{self.low}, {self.high}]",
                f"give a value between {self.low} and {self.high}",
            )
        return number


class IntegerParameter(_ParameterBase):
    """An integer parameter ``low, low + step, ..., high``, optionally on a log scale."""

    type: Literal["integer"] = "integer"
    low: int = Field(strict=True, description="Smallest value (inclusive).")
    high: int = Field(
        strict=True, description="Largest value (inclusive); must be greater than low."
    )
    step: int = Field(default=1, ge=1, strict=True, description="Spacing between allowed values.")
    log: bool = Field(
        default=False, strict=True, description="Search log(x) uniformly; needs low >= 1."
    )

    @model_validator(mode="after")
    def _check_bounds(self) -> IntegerParameter:
        for key, value in (("low", self.low), ("high", self.high)):
            if abs(value) > _INT_LIMIT:
                raise ValueError(
                    f"parameter '{self.name}': {key} = {value} is beyond +-2**53. Fix: keep "
                    "integer bounds within +-9007199254740992, or use a continuous parameter"
                )
        if self.low >= self.high:
            raise ValueError(
                f"parameter '{self.name}': low ({self.low}) must be less than high "
                f"({self.high}). Fix: swap the bounds, or use a 'fixed' parameter"
            )
        if (self.high - self.low) % self.step:
            raise ValueError(
                f"parameter '{self.name}': step {self.step} does not divide the range "
                f"{self.high} - {self.low} = {self.high - self.low}. Fix: set high to "
                f"{self.low + (self.high - self.low) // self.step * self.step} or choose a "
                "step that divides the range"
            )
        if self.log and self.low < 1:
            raise ValueError(
                f"parameter '{self.name}': log scale needs low >= 1, got {self.low}. "
                "Fix: raise low to 1 or set log=false"
            )
        if self.log and self.step != 1:
            raise ValueError(
                f"parameter '{self.name}': log scale needs step=1 (got {self.step}). "
                "Fix: set step=1 or log=false"
            )
        return self

    @property
    def n_levels(self) -> int:
        """Number of allowed values (computed, never listed)."""
        return (self.high - self.low) // self.step + 1

    @property
    def levels(self) -> list[int]:
        """Every allowed value, ascending.

        Raises:
            InvalidInputError: More than :data:`MAX_LEVELS` values (use :attr:`n_levels`
                and :meth:`level_at` instead of listing them).
        """
        if self.n_levels > MAX_LEVELS:
            raise InvalidInputError(
                f"space.{self.name}",
                f"integer parameter '{self.name}' has {self.n_levels} levels, more than the "
                f"{MAX_LEVELS} that are ever listed",
                "use a larger step, narrower bounds or a continuous parameter, or a design "
                "that samples levels (sobol, lhs, random) instead of enumerating them",
            )
        return list(range(self.low, self.high + 1, self.step))

    def level_at(self, u: np.ndarray) -> np.ndarray:
        """The level of each ``u`` in ``[0, 1]`` by equal-width bins (int64 array)."""
        index = np.minimum(
            (np.clip(u, 0.0, 1.0) * self.n_levels).astype(np.int64), self.n_levels - 1
        )
        return self.low + index * self.step

    def to_unit(self, value: float) -> float:
        """Map a raw value to ``[0, 1]``."""
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            return (math.log(value) - lo) / (hi - lo)
        return (value - self.low) / (self.high - self.low)

    def from_unit(self, u: float) -> int:
        """Map ``u`` in ``[0, 1]`` (clipped) to the nearest allowed integer."""
        u = min(max(float(u), 0.0), 1.0)
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            raw = math.exp(lo + u * (hi - lo))
        else:
            raw = self.low + u * (self.high - self.low)
        k = round((raw - self.low) / self.step)
        return int(min(max(self.low + k * self.step, self.low), self.high))

    def validate_value(self, value: Any, field: str) -> int:
        """Return ``value`` as an allowed int, or raise :class:`InvalidInputError`."""
        number = _as_number(value, field)
        if abs(number - round(number)) > _INT_TOL:
            raise InvalidInputError(field, f"{value!r} is not an integer", "give a whole number")
        integer = round(number)
        if not self.low <= integer <= self.high:
            raise InvalidInputError(
                field,
                f"{integer} is outside [{self.low}, {self.high}]",
                f"give an integer between {self.low} and {self.high}",
            )
        if (integer - self.low) % self.step:
            raise InvalidInputError(
                field,
                f"{integer} is not on the grid low={self.low}, step={self.step}",
                f"use {self.from_unit(self.to_unit(integer))} (the nearest allowed value)",
            )
        return int(integer)


class CategoricalParameter(_ParameterBase):
    """A parameter taking one of a list of unordered choices."""

    type: Literal["categorical"] = "categorical"
    choices: list[ChoiceValue] = Field(description="Two or more distinct choices.")

    @field_validator("choices")
    @classmethod
    def _check_choices(cls, choices: list[ChoiceValue]) -> list[ChoiceValue]:
        if len(choices) < 2:
            raise ValueError(
                f"needs at least two choices, got {choices!r}. Fix: add choices, or use a "
                "'fixed' parameter for a single value"
            )
        if len(choices) > MAX_CHOICES:
            raise ValueError(
                f"has {len(choices)} choices, more than {MAX_CHOICES}. Fix: group the "
                "choices, or describe them with numeric parameters"
            )
        seen: set[str] = set()
        for choice in choices:
            _check_choice_value(choice)
            key = repr(choice)
            if key in seen:
                raise ValueError(
                    f"duplicate choice {choice!r} in {choices!r}. Fix: list each choice once"
                )
            seen.add(key)
        return choices

    def index(self, value: Any, field: str) -> int:
        """Position of ``value`` in :attr:`choices`, or raise :class:`InvalidInputError`."""
        for i, choice in enumerate(self.choices):
            if _same_choice(choice, value):
                return i
        raise InvalidInputError(
            field, f"{value!r} is not one of the choices", f"use one of {self.choices!r}"
        )

    def validate_value(self, value: Any, field: str) -> ChoiceValue:
        """Return the matching choice (with its declared type)."""
        return self.choices[self.index(value, field)]


class FixedParameter(_ParameterBase):
    """A parameter held at one value (recorded with every trial, never searched)."""

    type: Literal["fixed"] = "fixed"
    value: ChoiceValue = Field(description="The value every trial uses.")

    @field_validator("value")
    @classmethod
    def _check_value(cls, value: ChoiceValue) -> ChoiceValue:
        _check_choice_value(value)
        return value

    @property
    def is_tunable(self) -> bool:
        """Fixed parameters never vary."""
        return False

    def validate_value(self, value: Any, field: str) -> ChoiceValue:
        """Accept only the fixed value."""
        if not _same_choice(self.value, value):
            raise InvalidInputError(
                field, f"{value!r} differs from the fixed value {self.value!r}", "omit it"
            )
        return self.value


Parameter = Annotated[
    ContinuousParameter | IntegerParameter | CategoricalParameter | FixedParameter,
    Field(discriminator="type"),
]


class LinearConstraint(BaseModel):
    """``sum_i coefficients[name_i] * x[name_i] <= bound`` (or ``>=``), in raw units.

    Only continuous and integer parameters on a linear scale may appear.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=schema_help)

    coefficients: dict[str, float] = Field(
        min_length=1, description="Parameter name -> coefficient."
    )
    operator: Literal["<=", ">="] = Field(default="<=", description="Direction.")
    bound: float = Field(strict=True, allow_inf_nan=False, description="Right-hand side.")

    @field_validator("coefficients")
    @classmethod
    def _check_coefficients(cls, coefficients: dict[str, float]) -> dict[str, float]:
        for name, value in coefficients.items():
            if not math.isfinite(value):
                raise ValueError(
                    f"coefficient of '{name}' is {value}. Fix: give a finite coefficient"
                )
        return coefficients

    def lhs(self, point: Mapping[str, Any]) -> float:
        """The left-hand side ``sum_i c_i x_i`` at ``point``."""
        return float(sum(c * float(point[name]) for name, c in self.coefficients.items()))

    def is_satisfied(self, point: Mapping[str, Any], tol: float = 1e-9) -> bool:
        """Whether ``point`` satisfies the constraint (within ``tol``)."""
        value = self.lhs(point)
        if self.operator == "<=":
            return value <= self.bound + tol
        return value >= self.bound - tol

    def __str__(self) -> str:
        terms = " + ".join(f"{c:g}*{name}" for name, c in self.coefficients.items())
        return f"{terms} {self.operator} {self.bound:g}"


class Space(BaseModel):
    """An ordered set of parameters with optional linear inequality constraints.

    Attributes:
        parameters: The parameters, in the column order of the encodings.
        constraints: Linear inequality constraints between parameters (raw units).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=schema_help)

    parameters: list[Parameter] = Field(
        min_length=1, max_length=MAX_PARAMETERS, description="The parameters."
    )
    constraints: list[LinearConstraint] = Field(
        default_factory=list, description="Linear inequality constraints."
    )

    @model_validator(mode="after")
    def _check_space(self) -> Space:
        names = [p.name for p in self.parameters]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(
                f"duplicate parameter names {duplicates}. Fix: give each parameter a unique name"
            )
        if not any(p.is_tunable for p in self.parameters):
            raise ValueError("every parameter is fixed. Fix: add at least one tunable parameter")
        by_name = {p.name: p for p in self.parameters}
        for i, constraint in enumerate(self.constraints):
            for name in constraint.coefficients:
                param = by_name.get(name)
                if param is None:
                    raise ValueError(
                        f"constraints[{i}] uses unknown parameter '{name}'. Fix: use one of "
                        f"{names}"
                    )
                if not isinstance(param, ContinuousParameter | IntegerParameter) or param.log:
                    raise ValueError(
                        f"constraints[{i}] uses '{name}', which is not a linear-scale "
                        "continuous or integer parameter. Fix: constrain only those"
                    )
        return self

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Space:
        """Build a space from its JSON form or from a ``{name: spec}`` mapping.

        Args:
            data: Either ``{"parameters": [...], "constraints": [...]}`` (the model's own
                JSON form) or a mapping ``{name: {"type": ..., ...}}``.

        Returns:
            The validated space.

        Raises:
            InvalidInputError: The space is invalid; the message names the parameter and
                field (``space.temperature.low``) and the fix.
        """
        if not isinstance(data, Mapping):
            raise InvalidInputError(
                "space",
                f"expected a mapping, got {type(data).__name__}",
                "give {name: {type: ..., ...}} or {parameters: [...]}",
            )
        if "parameters" in data:
            payload = dict(data)
        else:
            for name, spec in data.items():
                if not isinstance(spec, Mapping):
                    raise InvalidInputError(
                        f"space.{name}",
                        f"expected a mapping, got {type(spec).__name__}",
                        "describe the parameter as {type: continuous, low: ..., high: ...}",
                    )
            payload = {"parameters": [{"name": n, **dict(spec)} for n, spec in data.items()]}
        try:
            return cls.model_validate(payload)
        except ValidationError as exc:
            raise _space_error(exc, payload) from None

    def to_dict(self) -> dict[str, Any]:
        """The JSON-friendly form accepted by :meth:`from_dict`."""
        return self.model_dump(mode="json")

    # ------------------------------------------------------------------ structure
    @property
    def names(self) -> list[str]:
        """All parameter names, in order."""
        return [p.name for p in self.parameters]

    @property
    def tunable(self) -> list[ContinuousParameter | IntegerParameter | CategoricalParameter]:
        """The parameters that vary (not fixed), in order."""
        return [p for p in self.parameters if not isinstance(p, FixedParameter)]

    @property
    def fixed_values(self) -> dict[str, ChoiceValue]:
        """Name -> value of every fixed parameter."""
        return {p.name: p.value for p in self.parameters if isinstance(p, FixedParameter)}

    @property
    def is_continuous(self) -> bool:
        """Whether every tunable parameter is continuous."""
        return all(isinstance(p, ContinuousParameter) for p in self.tunable)

    @property
    def has_categorical(self) -> bool:
        """Whether any parameter is categorical."""
        return any(isinstance(p, CategoricalParameter) for p in self.tunable)

    def __getitem__(self, name: str) -> Parameter:
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(name)

    def dim(self, encoding: Encoding = "onehot") -> int:
        """Number of encoded columns ``d``."""
        return sum(self._width(p, encoding) for p in self.tunable)

    def columns(self, encoding: Encoding = "onehot") -> list[str]:
        """Names of the encoded columns (``solvent=THF`` for one-hot columns)."""
        out: list[str] = []
        for p in self.tunable:
            if isinstance(p, CategoricalParameter) and encoding == "onehot":
                out.extend(f"{p.name}={c}" for c in p.choices)
            else:
                out.append(p.name)
        return out

    def column_slices(self, encoding: Encoding = "onehot") -> dict[str, slice]:
        """Name -> slice of its encoded columns."""
        out: dict[str, slice] = {}
        start = 0
        for p in self.tunable:
            width = self._width(p, encoding)
            out[p.name] = slice(start, start + width)
            start += width
        return out

    def bounds(self, encoding: Encoding = "onehot") -> np.ndarray:
        """Bounds of the encoded space, shape ``2 x d`` (``[0, k-1]`` for index columns)."""
        lower = np.zeros(self.dim(encoding))
        upper = np.ones(self.dim(encoding))
        if encoding == "index":
            for p, sl in zip(self.tunable, self.column_slices("index").values(), strict=True):
                if isinstance(p, CategoricalParameter):
                    upper[sl] = len(p.choices) - 1
        return np.stack([lower, upper])

    def integer_columns(self, encoding: Encoding = "onehot") -> dict[int, list[float]]:
        """Encoded column -> its allowed (encoded) values, for integer parameters."""
        out: dict[int, list[float]] = {}
        for p, sl in zip(self.tunable, self.column_slices(encoding).values(), strict=True):
            if isinstance(p, IntegerParameter):
                out[sl.start] = [p.to_unit(level) for level in p.levels]
        return out

    def categorical_columns(self, encoding: Encoding = "index") -> dict[int, list[float]]:
        """Index-encoded column -> allowed values ``0 .. k-1``, for categoricals.

        With ``encoding="onehot"`` each categorical's first column maps to its one-hot
        width instead (``{start: [width]}``).
        """
        out: dict[int, list[float]] = {}
        for p, sl in zip(self.tunable, self.column_slices(encoding).values(), strict=True):
            if isinstance(p, CategoricalParameter):
                if encoding == "index":
                    out[sl.start] = [float(i) for i in range(len(p.choices))]
                else:
                    out[sl.start] = [float(len(p.choices))]
        return out

    # ------------------------------------------------------------------ validation
    def validate_point(self, point: Mapping[str, Any], field: str = "point") -> dict[str, Any]:
        """Check a parameter dict and return it with canonical types and fixed values filled.

        Args:
            point: Parameter name -> value. Fixed parameters may be omitted.
            field: Name used in error messages, e.g. ``"design[3]"``.

        Returns:
            A new dict with every parameter, in space order.

        Raises:
            InvalidInputError: Unknown or missing parameter, a value outside its bounds or
                choices, or a violated linear constraint; the message names the field.
        """
        unknown = sorted(set(point) - set(self.names))
        if unknown:
            raise InvalidInputError(
                f"{field}.{unknown[0]}", "is not a parameter of the space", f"use {self.names}"
            )
        out: dict[str, Any] = {}
        for p in self.parameters:
            key = f"{field}.{p.name}"
            if p.name not in point:
                if isinstance(p, FixedParameter):
                    out[p.name] = p.value
                    continue
                raise InvalidInputError(key, "is missing", f"give a value for '{p.name}'")
            out[p.name] = p.validate_value(point[p.name], key)
        for i, constraint in enumerate(self.constraints):
            if not constraint.is_satisfied(out):
                raise InvalidInputError(
                    f"{field} (constraints[{i}])",
                    f"violates {constraint} (lhs = {constraint.lhs(out):g})",
                    "move the point inside the constrained region",
                )
        return out

    def contains(self, point: Mapping[str, Any]) -> bool:
        """Whether ``point`` is a valid point of the space (constraints included)."""
        try:
            self.validate_point(point)
        except InvalidInputError:
            return False
        return True

    def is_feasible(self, point: Mapping[str, Any]) -> bool:
        """Whether a (valid) point satisfies every linear constraint."""
        return all(c.is_satisfied(point) for c in self.constraints)

    # ------------------------------------------------------------------ encodings
    def encode(
        self, points: Iterable[Mapping[str, Any]], encoding: Encoding = "onehot"
    ) -> np.ndarray:
        """Encode parameter dicts as an ``n x d`` float array (see the module docstring).

        Points are validated first (bounds, choices; constraints are not required).
        """
        rows = []
        for i, point in enumerate(points):
            row = np.zeros(self.dim(encoding))
            start = 0
            for p in self.tunable:
                key = f"points[{i}].{p.name}"
                if p.name not in point:
                    raise InvalidInputError(key, "is missing", f"give a value for '{p.name}'")
                value = p.validate_value(point[p.name], key)
                if isinstance(p, CategoricalParameter):
                    j = p.index(value, key)
                    if encoding == "onehot":
                        row[start + j] = 1.0
                    else:
                        row[start] = float(j)
                else:
                    row[start] = p.to_unit(float(value))
                start += self._width(p, encoding)
            rows.append(row)
        return np.asarray(rows, dtype=float).reshape(len(rows), self.dim(encoding))

    def decode(
        self, X: np.ndarray | Sequence[Sequence[float]], encoding: Encoding = "onehot"
    ) -> list[dict[str, Any]]:
        """Decode an ``n x d`` array into parameter dicts (fixed values included).

        Values are clipped to the bounds, integers rounded to the nearest allowed level and
        categoricals taken as the argmax of their one-hot block (or the rounded index).
        """
        X = np.atleast_2d(np.asarray(X, dtype=float))
        if X.shape[-1] != self.dim(encoding):
            raise InvalidInputError(
                "X", f"has {X.shape[-1]} columns", f"pass {self.dim(encoding)} encoded columns"
            )
        slices = self.column_slices(encoding)
        points = []
        for row in X:
            point: dict[str, Any] = {}
            for p in self.parameters:
                if isinstance(p, FixedParameter):
                    point[p.name] = p.value
                    continue
                cols = row[slices[p.name]]
                if isinstance(p, CategoricalParameter):
                    if encoding == "onehot":
                        j = int(np.argmax(cols))
                    else:
                        j = int(min(max(round(float(cols[0])), 0), len(p.choices) - 1))
                    point[p.name] = p.choices[j]
                else:
                    point[p.name] = p.from_unit(float(cols[0]))
            points.append(point)
        return points

    def canonicalize(self, X: np.ndarray, encoding: Encoding = "onehot") -> np.ndarray:
        """Round an encoded array onto the space (``encode(decode(X))``), shape ``n x d``."""
        return self.encode(self.decode(X, encoding), encoding)

    def inequality_constraints(
        self, encoding: Encoding = "onehot"
    ) -> list[tuple[list[int], list[float], float]]:
        """The linear constraints in encoded units, in BoTorch's convention.

        Returns:
            A list of ``(indices, coefficients, rhs)`` meaning
            ``sum_j coefficients[j] * X[..., indices[j]] >= rhs``.
        """
        slices = self.column_slices(encoding)
        out = []
        for constraint in self.constraints:
            sign = -1.0 if constraint.operator == "<=" else 1.0
            indices, coefficients = [], []
            rhs = sign * constraint.bound
            for name, c in constraint.coefficients.items():
                p = self[name]
                assert isinstance(p, ContinuousParameter | IntegerParameter)
                indices.append(slices[name].start)
                coefficients.append(sign * c * (p.high - p.low))
                rhs -= sign * c * p.low
            out.append((indices, coefficients, rhs))
        return out

    def feasible_mask(self, X: np.ndarray, encoding: Encoding = "onehot") -> np.ndarray:
        """Boolean mask (shape ``n``) of encoded rows that satisfy the linear constraints."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        mask = np.ones(len(X), dtype=bool)
        for indices, coefficients, rhs in self.inequality_constraints(encoding):
            mask &= X[:, indices] @ np.asarray(coefficients) >= rhs - 1e-9
        return mask

    # ------------------------------------------------------------------ other tools
    def to_optuna_distributions(self) -> dict[str, Any]:
        """Optuna distributions for the tunable parameters (fixed ones are left out).

        Returns:
            Name -> ``FloatDistribution`` / ``IntDistribution`` / ``CategoricalDistribution``.
        """
        from crucible._imports import require

        dists = require("optuna.distributions")
        out: dict[str, Any] = {}
        for p in self.tunable:
            if isinstance(p, ContinuousParameter):
                out[p.name] = dists.FloatDistribution(p.low, p.high, log=p.log)
            elif isinstance(p, IntegerParameter):
                out[p.name] = dists.IntDistribution(p.low, p.high, log=p.log, step=p.step)
            else:
                out[p.name] = dists.CategoricalDistribution(list(p.choices))
        return out

    @staticmethod
    def _width(p: Any, encoding: Encoding) -> int:
        if isinstance(p, CategoricalParameter) and encoding == "onehot":
            return len(p.choices)
        return 1


def _space_error(exc: ValidationError, payload: Mapping[str, Any]) -> InvalidInputError:
    """The first error of a space, named by parameter: ``space.temperature.low``."""
    rename: dict[tuple[object, ...], str] = {}
    parameters = payload.get("parameters")
    if isinstance(parameters, list):
        for i, spec in enumerate(parameters):
            name = spec.get("name") if isinstance(spec, Mapping) else None
            if isinstance(name, str) and name:
                rename[("parameters", i)] = name if len(name) <= 40 else name[:40] + "..."
    return input_error_from_validation(
        exc, "space", skip=_UNION_TAGS, rename=rename, fix="correct this value of the space"
    )


def _check_choice_value(value: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value} is not a usable value. Fix: give a finite number or a string")
    if isinstance(value, str) and len(value) > 1_000:
        raise ValueError(
            f"a string of {len(value)} characters is too long. Fix: use at most 1000 characters"
        )


def _check_finite(name: str, **values: float) -> None:
    for key, value in values.items():
        if not math.isfinite(value):
            raise ValueError(
                f"parameter '{name}': {key} must be finite, got {value}. Fix: give a finite number"
            )


def _as_number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise InvalidInputError(field, f"{value!r} is not a number", "give a number")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidInputError(field, f"{value!r} is not finite", "give a finite number")
    return number


def _same_choice(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    try:
        return bool(float(a) == float(b))
    except (TypeError, ValueError):
        return False
