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
from crucible.space import CategoricalParameter, ContinuousParameter, IntegerParameter, Space

__all__ = [
    "DESIGNS",
    "Design",
    "GridDesign",
    "LatinHypercubeDesign",
    "RandomDesign",
    "SobolDesign",
    "from_unit_per_parameter",
    "make_design",
    "validate_design",
]

_MAX_OVERSAMPLING_ROUNDS = 8


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
                levels = p.levels
                point[p.name] = levels[min(int(u * len(levels)), len(levels) - 1)]
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
            InvalidInputError: ``n`` < 1, or no feasible point found under the constraints.
        """
        if n < 1:
            raise InvalidInputError("n", f"must be >= 1, got {n}", "ask for at least one point")
        rng = np.random.default_rng(seed)
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
        self.levels = levels

    def _levels_for(self, name: str) -> int:
        levels = self.levels.get(name, 3) if isinstance(self.levels, Mapping) else self.levels
        if levels < 1:
            raise InvalidInputError(f"levels.{name}", f"must be >= 1, got {levels}", "use >= 1")
        return int(levels)

    def values(self, space: Space) -> dict[str, list[Any]]:
        """Name -> the grid values of each tunable parameter."""
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
        """The feasible grid points (all of them, or ``n`` drawn without replacement)."""
        values = self.values(space)
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
    """
    if name not in DESIGNS:
        raise InvalidInputError(
            "design", f"unknown design {name!r}", f"use one of {list(DESIGNS)}"
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
    seen = {_key(space, space.validate_point(p, "existing")) for p in existing}
    out = []
    for i, point in enumerate(points):
        valid = space.validate_point(point, f"{field}[{i}]")
        key = _key(space, valid)
        if key not in seen:
            seen.add(key)
            out.append(valid)
    return out


def _key(space: Space, point: Mapping[str, Any]) -> tuple[Any, ...]:
    out = []
    for name in space.names:
        value = point[name]
        if isinstance(value, float):
            value = float(f"{value:.12g}") if math.isfinite(value) else value
        out.append((type(value).__name__ if isinstance(value, str | bool) else "num", value))
    return tuple(out)
