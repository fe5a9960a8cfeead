"""Initial designs: random, Latin hypercube, scrambled Sobol, grid; user-design checks.

Every design is a :class:`Design` (a small ABC) registered by name in :data:`DESIGNS`;
:func:`make_design` is the entry point::

    points = make_design("sobol", space, n=8, seed=0)   # list of parameter dicts

Space-filling designs work in a per-parameter unit cube (one column per tunable
parameter): continuous parameters map linearly (or in log space), integers and
categoricals take equal-width bins, so every level or choice is covered evenly. Linear
constraints are honoured by oversampling and keeping the feasible points (in sequence
order, so a seeded design is reproducible).
"""

from __future__ import annotations

import abc
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from crucible.exceptions import InvalidInputError
from crucible.space import (
    MAX_LEVELS,
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    Space,
)

__all__ = [
    "DESIGNS",
    "MAX_DESIGN_POINTS",
    "MAX_GRID_POINTS",
    "Design",
    "GridDesign",
    "LatinHypercubeDesign",
    "RandomDesign",
    "SobolDesign",
    "from_unit_per_parameter",
    "make_design",
    "point_key",
    "validate_design",
]

_MAX_OVERSAMPLING_ROUNDS = 8
#: Most points one design may have.
MAX_DESIGN_POINTS = 100_000
#: Most points a full-factorial grid may enumerate (before the constraint filter).
MAX_GRID_POINTS = 1_000_000
#: Seeds are non-negative integers below 2**63 (what NumPy's generators accept).
_MAX_SEED = 2**63 - 1


def check_count(value: Any, field: str, limit: int, what: str = "points") -> int:
    """Return ``value`` as an int in ``1 .. limit``, else raise :class:`InvalidInputError`."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidInputError(
            field,
            f"{value!r} ({type(value).__name__}) is not a whole number",
            f"give the number of {what} as an int, e.g. 4",
        )
    if not 1 <= value <= limit:
        raise InvalidInputError(
            field, f"must be between 1 and {limit}, got {value}", f"ask for 1 to {limit} {what}"
        )
    return int(value)


def check_seed(value: Any, field: str = "seed") -> int | None:
    """Return ``value`` if it is None or an int in ``0 .. 2**63 - 1``, else raise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidInputError(
            field, f"{value!r} ({type(value).__name__}) is not an integer", "give an int >= 0"
        )
    if not 0 <= value <= _MAX_SEED:
        raise InvalidInputError(
            field, f"must be between 0 and 2**63 - 1, got {value}", "give an int >= 0"
        )
    return int(value)


def from_unit_per_parameter(space: Space, U: np.ndarray) -> list[dict[str, Any]]:
    """Map ``U`` (shape ``n x p``, one column per tunable parameter) to parameter dicts.

    Continuous parameters scale linearly (log-linearly when ``log=True``); integer levels
    and categorical choices take equal-width bins of ``[0, 1]``.
    """
    U = np.clip(np.atleast_2d(np.asarray(U, dtype=float)), 0.0, 1.0)
    points = []
    for row in U:
        point: dict[str, Any] = dict(space.fixed_values)
        for p, u in zip(space.tunable, row, strict=True):
            if isinstance(p, ContinuousParameter):
                point[p.name] = p.from_unit(u)
            elif isinstance(p, IntegerParameter):
                point[p.name] = int(p.level_at(np.asarray(u)))
            else:
                point[p.name] = p.choices[min(int(u * len(p.choices)), len(p.choices) - 1)]
        points.append({name: point[name] for name in space.names})
    return points


class Design(abc.ABC):
    """A rule that proposes ``n`` points of a space before any model exists."""

    name: ClassVar[str]

    @abc.abstractmethod
    def _unit_samples(self, n: int, n_columns: int, rng: np.random.Generator) -> np.ndarray:
        """``n x n_columns`` samples in ``[0, 1]``."""

    def generate(self, space: Space, n: int, seed: int | None = None) -> list[dict[str, Any]]:
        """Propose ``n`` feasible points (fewer only if the constraints are very tight).

        Args:
            space: The parameter space.
            n: Number of points (>= 1).
            seed: Seed; the same seed gives the same design.

        Returns:
            ``n`` parameter dicts in space order.

        Raises:
            InvalidInputError: ``n`` is not an int in ``1 ..`` :data:`MAX_DESIGN_POINTS`,
                ``seed`` is negative, or no feasible point found under the constraints.
        """
        n = check_count(n, "n", MAX_DESIGN_POINTS)
        rng = np.random.default_rng(check_seed(seed))
        points: list[dict[str, Any]] = []
        factor = 1
        for _ in range(_MAX_OVERSAMPLING_ROUNDS):
            candidates = from_unit_per_parameter(
                space, self._unit_samples(n * factor, len(space.tunable), rng)
            )
            points = [p for p in candidates if space.is_feasible(p)]
            if len(points) >= n or not space.constraints:
                return points[:n]
            factor *= 4
        if not points:
            raise InvalidInputError(
                "space.constraints",
                f"no feasible point among {n * factor // 4} {self.name} samples",
                "check that the linear constraints leave a non-empty region",
            )
        return points[:n]


class RandomDesign(Design):
    """Independent uniform samples."""

    name = "random"

    def _unit_samples(self, n: int, n_columns: int, rng: np.random.Generator) -> np.ndarray:
        return rng.random((n, n_columns))


class LatinHypercubeDesign(Design):
    """Latin hypercube (scipy ``qmc.LatinHypercube``, optimised for discrepancy)."""

    name = "lhs"

    def _unit_samples(self, n: int, n_columns: int, rng: np.random.Generator) -> np.ndarray:
        from scipy.stats import qmc

        return qmc.LatinHypercube(d=n_columns, seed=rng).random(n)


class SobolDesign(Design):
    """Scrambled Sobol sequence (scipy ``qmc.Sobol``); any ``n``, not only powers of 2."""

    name = "sobol"

    def _unit_samples(self, n: int, n_columns: int, rng: np.random.Generator) -> np.ndarray:
        import warnings

        from scipy.stats import qmc

        sampler = qmc.Sobol(d=n_columns, scramble=True, seed=rng)
        with warnings.catch_warnings():  # balance warning when n is not a power of 2
            warnings.simplefilter("ignore", UserWarning)
            return sampler.random(n)


class GridDesign(Design):
    """Full factorial grid over evenly spaced levels and every categorical choice.

    Numeric parameters get ``levels`` evenly spaced values (integers rounded to allowed
    levels, duplicates dropped); categoricals get every choice.

    ``generate(space, n)`` returns the whole grid when ``n`` is at least its size, else
    ``n`` grid points chosen at random (seeded) without replacement.

    Args:
        levels: Levels per numeric parameter, an int for all or a ``{name: levels}`` dict.
    """

    name = "grid"

    def __init__(self, levels: int | Mapping[str, int] = 3) -> None:
        if isinstance(levels, Mapping):
            self.levels: int | dict[str, int] = {
                str(k): check_count(v, f"levels.{k}", MAX_LEVELS, "levels")
                for k, v in levels.items()
            }
        else:
            self.levels = check_count(levels, "levels", MAX_LEVELS, "levels")

    def _levels_for(self, name: str) -> int:
        return self.levels.get(name, 3) if isinstance(self.levels, dict) else self.levels

    def values(self, space: Space) -> dict[str, list[Any]]:
        """Name -> the grid values of each tunable parameter.

        Raises:
            InvalidInputError: ``levels`` names a parameter that is not a numeric tunable
                parameter of ``space``.
        """
        if isinstance(self.levels, dict):
            numeric = [p.name for p in space.tunable if not isinstance(p, CategoricalParameter)]
            unknown = sorted(set(self.levels) - set(numeric))
            if unknown:
                raise InvalidInputError(
                    f"levels.{unknown[0]}",
                    "is not a numeric tunable parameter of the space",
                    f"give levels for {numeric}",
                )
        out: dict[str, list[Any]] = {}
        for p in space.tunable:
            if isinstance(p, CategoricalParameter):
                out[p.name] = list(p.choices)
                continue
            k = self._levels_for(p.name)
            units = [0.5] if k == 1 else list(np.linspace(0.0, 1.0, k))
            vals = [p.from_unit(u) for u in units]
            out[p.name] = list(dict.fromkeys(vals))  # integers may collide: keep unique
        return out

    def generate(
        self, space: Space, n: int | None = None, seed: int | None = None
    ) -> list[dict[str, Any]]:
        """The feasible grid points (all of them, or ``n`` drawn without replacement).

        Raises:
            InvalidInputError: Invalid ``n`` or ``seed``, or the grid has more than
                :data:`MAX_GRID_POINTS` points (the message names each parameter's count).
        """
        if n is not None:
            n = check_count(n, "n", MAX_DESIGN_POINTS)
        seed = check_seed(seed)
        values = self.values(space)
        size = math.prod(len(v) for v in values.values())
        if size > MAX_GRID_POINTS:
            counts = ", ".join(f"{name}: {len(v)}" for name, v in values.items())
            raise InvalidInputError(
                "levels",
                f"the grid would have {size} points ({counts}), more than {MAX_GRID_POINTS}",
                "use fewer levels per parameter, or a sampling design (sobol, lhs, random)",
            )
        points = []
        for combo in itertools.product(*values.values()):
            point = dict(space.fixed_values) | dict(zip(values, combo, strict=True))
            point = {name: point[name] for name in space.names}
            if space.is_feasible(point):
                points.append(point)
        if n is not None and n < len(points):
            idx = np.random.default_rng(seed).choice(len(points), size=n, replace=False)
            points = [points[i] for i in sorted(idx)]
        return points

    def _unit_samples(self, n: int, n_columns: int, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError("GridDesign.generate does not sample the unit cube")


#: Registry: design name -> class.
DESIGNS: dict[str, type[Design]] = {
    cls.name: cls for cls in (RandomDesign, LatinHypercubeDesign, SobolDesign, GridDesign)
}


def make_design(
    name: str, space: Space, n: int | None = None, seed: int | None = None, **options: Any
) -> list[dict[str, Any]]:
    """Generate a design by registry name (``random``, ``lhs``, ``sobol``, ``grid``).

    Args:
        name: Design name.
        space: Parameter space.
        n: Number of points (for ``grid``: at most ``n`` points, all when None).
        seed: Seed for reproducibility.
        **options: Constructor options (``levels`` for ``grid``).

    Returns:
        Parameter dicts, in space order.

    Raises:
        InvalidInputError: Unknown design or option, ``n`` not an int in ``1 ..``
            :data:`MAX_DESIGN_POINTS`, a negative seed, or a grid too large.
    """
    if not isinstance(name, str) or name not in DESIGNS:
        raise InvalidInputError(
            "design", f"unknown design {name!r}", f"use one of {list(DESIGNS)}"
        )
    if not isinstance(space, Space):
        raise InvalidInputError(
            "space", f"expected a Space, got {type(space).__name__}", "pass Space.from_dict(...)"
        )
    allowed = {"levels"} if name == "grid" else set()
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise InvalidInputError(
            unknown[0],
            f"is not an option of the {name!r} design",
            f"use only {sorted(allowed)}" if allowed else "pass no options",
        )
    design = DESIGNS[name](**options)
    if isinstance(design, GridDesign):
        return design.generate(space, n, seed)
    if n is None:
        raise InvalidInputError("n", "is required for this design", "give the number of points")
    return design.generate(space, n, seed)


def validate_design(
    space: Space,
    points: Iterable[Mapping[str, Any]],
    existing: Sequence[Mapping[str, Any]] = (),
    field: str = "design",
) -> list[dict[str, Any]]:
    """Validate a user-supplied design and drop duplicates.

    Args:
        space: The parameter space.
        points: Parameter dicts (fixed parameters may be omitted).
        existing: Points already in the campaign; copies of them are dropped too.
        field: Name used in error messages (``design[3].temperature``).

    Returns:
        The valid, unique points with canonical types, in input order.

    Raises:
        InvalidInputError: The first invalid point, naming its index and field.
    """
    seen = {point_key(space, space.validate_point(p, "existing")) for p in existing}
    out = []
    for i, point in enumerate(points):
        valid = space.validate_point(point, f"{field}[{i}]")
        key = point_key(space, valid)
        if key not in seen:
            seen.add(key)
            out.append(valid)
    return out


def point_key(space: Space, point: Mapping[str, Any]) -> tuple[Any, ...]:
    """A hashable key of a valid point; equal keys mean the same point (floats to 12 digits)."""
    out = []
    for name in space.names:
        value = point[name]
        if isinstance(value, float):
            value = float(f"{value:.12g}") if math.isfinite(value) else value
        out.append((type(value).__name__ if isinstance(value, str | bool) else "num", value))
    return tuple(out)
