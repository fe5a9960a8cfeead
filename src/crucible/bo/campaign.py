"""Ask/tell BO campaigns whose state lives in a database.

Example:
    >>> from crucible.bo import Campaign, Objective
    >>> from crucible.bo.problems import get_problem
    >>> problem = get_problem("branin")
    >>> campaign = Campaign.create(  # doctest: +SKIP
    ...     "branin-demo", problem.space, [Objective(name="y", direction="minimize")]
    ... )
    >>> for trial in campaign.suggest(2):  # doctest: +SKIP
    ...     campaign.observe(trial.number, problem.evaluator(trial.params))
    >>> campaign.best().values  # doctest: +SKIP

A campaign is identified by its name in a store (``store_url``; by default
``get_settings().campaign_store_url``, a SQLite file under ``CRUCIBLE_HOME``). Nothing is
kept in memory between calls: every method reads the current state, and every write
(``suggest``, ``observe``, ``mark_failed``, ``add``) is committed before it returns, so a
crashed process loses nothing and several processes can share a campaign.

Suggestions come from the campaign's :class:`~crucible.bo.strategy.Strategy`: the first
``n_init`` points from a seeded space-filling design, then model-based proposals that
account for pending (suggested, not yet observed) trials.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, select

from crucible.bo.objectives import Objective, OutcomeConstraint, check_values, metric_names
from crucible.bo.store import (
    campaigns_table,
    check_store_url,
    reference_points_table,
    transaction,
    trials_table,
)
from crucible.bo.strategy import (
    Strategy,
    front_reference_point,
    import_model_stack,
    propose,
    reference_point,
)
from crucible.bo.trials import Trial, TrialStatus
from crucible.design import check_count, make_design, point_key, validate_design
from crucible.exceptions import (
    AlreadyExistsError,
    InvalidInputError,
    NotFoundError,
    StateError,
    input_error_from_validation,
)
from crucible.naming import check_slug
from crucible.space import Space

if TYPE_CHECKING:
    from crucible.bo.analysis import Recommendation

__all__ = [
    "MAX_ENQUEUE",
    "MAX_REASON",
    "MAX_SUGGEST",
    "Campaign",
    "CampaignConfig",
    "Trial",
    "TrialStatus",
    "build_config",
    "check_trial_id",
]

ModelT = TypeVar("ModelT", bound=BaseModel)

#: Most trials one :meth:`Campaign.suggest` call may ask for.
MAX_SUGGEST = 1_000
#: Most points one :meth:`Campaign.enqueue` call may add.
MAX_ENQUEUE = 100_000
#: Longest failure reason kept by :meth:`Campaign.mark_failed`.
MAX_REASON = 10_000
_NAME_COLUMN = 200
#: Copies of tried points are replaced from up to this many rounds of random points.
_SPARE_ROUNDS = 4
_SPARE_POINTS = 256


class CampaignConfig(BaseModel):
    """Everything that defines a campaign (stored as JSON with it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    space: Space
    objectives: list[Objective] = Field(min_length=1)
    constraints: list[OutcomeConstraint] = Field(default_factory=list)
    strategy: Strategy = Field(default_factory=Strategy)

    @property
    def metrics(self) -> list[str]:
        """Metrics every observation must report."""
        return metric_names(self.objectives, self.constraints)


def _now() -> datetime:
    return datetime.now(UTC)


def _as_list(value: object, field: str, example: str) -> list[Any]:
    """``value`` as a list, refusing a bare string or mapping (a common slip)."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
        raise InvalidInputError(
            field, f"expected a list, got {type(value).__name__} {value!r:.60}", f"pass {example}"
        )
    return list(value)


def _validated(model: type[ModelT], value: object, field: str) -> ModelT:
    """``value`` as ``model`` (kept when it already is one); errors name ``field``."""
    if isinstance(value, model):
        return value
    if not isinstance(value, Mapping):
        raise InvalidInputError(
            field, f"expected a mapping, got {type(value).__name__}", "pass a dict of settings"
        )
    try:
        return model.model_validate(dict(value))
    except ValidationError as exc:
        raise input_error_from_validation(exc, field) from None


def _coerce_objectives(objectives: object) -> list[Objective]:
    out = []
    for i, o in enumerate(_as_list(objectives, "objectives", "['y'] or [{'name': 'y'}]")):
        field = f"objectives[{i}]"
        out.append(_validated(Objective, {"name": o} if isinstance(o, str) else o, field))
    return out


def build_config(
    space: object, objectives: object, constraints: object = (), strategy: object = None
) -> CampaignConfig:
    """Validate a campaign's definition; every error names its field and the fix.

    Raises:
        InvalidInputError: Any invalid part (``space.x.low``, ``objectives[0].direction``,
            ``constraints[1].bound``, ``strategy.n_init``), duplicate objective names, or
            metric names that are also parameter names.
    """
    if isinstance(space, Space):
        valid_space = space
    elif isinstance(space, Mapping):
        valid_space = Space.from_dict(space)
    else:
        raise InvalidInputError(
            "space",
            f"expected a Space or a mapping, got {type(space).__name__}",
            "pass Space.from_dict({...}) or its dict form",
        )
    items = _as_list(constraints, "constraints", "[{'metric': 'cost', 'bound': 10}]")
    objective_list = _coerce_objectives(objectives)
    if not objective_list:
        raise InvalidInputError("objectives", "is empty", "name at least one objective")
    config = CampaignConfig(
        space=valid_space,
        objectives=objective_list,
        constraints=[
            _validated(OutcomeConstraint, c, f"constraints[{i}]") for i, c in enumerate(items)
        ],
        strategy=_validated(Strategy, {} if strategy is None else strategy, "strategy"),
    )
    names = [o.name for o in config.objectives]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidInputError(
            "objectives", f"{duplicates} appear more than once", "list each objective once"
        )
    clash = sorted(set(config.metrics) & set(valid_space.names))
    if clash:
        raise InvalidInputError(
            "objectives", f"metric names {clash} are also parameter names", "rename one"
        )
    return config


class Campaign:
    """A named BO campaign in a store. Build it with :meth:`create` or :meth:`load`."""

    def __init__(self, name: str, store_url: str, config: CampaignConfig, campaign_id: int):
        self.name = name
        self.store_url = store_url
        self.config = config
        self._id = campaign_id

    # ---------------------------------------------------------------- create / load
    @classmethod
    def create(
        cls,
        name: str,
        space: Space | Mapping[str, Any],
        objectives: Sequence[Objective | str | Mapping[str, Any]],
        constraints: Sequence[OutcomeConstraint | Mapping[str, Any]] = (),
        strategy: Strategy | Mapping[str, Any] | None = None,
        store_url: str | None = None,
        exist_ok: bool = False,
    ) -> Campaign:
        """Create a campaign (or, with ``exist_ok``, resume one with the same definition).

        Args:
            name: Unique campaign name in the store.
            space: Parameter space (or its dict form).
            objectives: Objectives (or metric names to minimise, or dicts).
            constraints: Outcome constraints.
            strategy: Strategy settings; defaults to :class:`Strategy`'s.
            store_url: SQLAlchemy URL; ``get_settings().campaign_store_url`` when None.
            exist_ok: Return the existing campaign when its definition is identical.

        Raises:
            AlreadyExistsError: The name is taken (and ``exist_ok`` is false, or the stored
                definition differs).
            InvalidInputError: The name is not a slug (:func:`crucible.naming.check_slug`),
                the store URL is not a database URL, or the definition is invalid (see
                :func:`build_config`); nothing is written.
        """
        check_slug(name, "name")
        config = build_config(space, objectives, constraints, strategy)
        url = _store_url(store_url)
        with transaction(url) as conn:
            row = conn.execute(
                select(campaigns_table).where(campaigns_table.c.name == name)
            ).first()
            if row is not None:
                stored = CampaignConfig.model_validate_json(row.config)
                if exist_ok and stored == config:
                    return cls(name, url, stored, row.id)
                raise AlreadyExistsError(
                    f"campaign {name!r} already exists in {url}"
                    + (" with a different definition" if exist_ok else "")
                    + ". Fix: use Campaign.load(name) to continue it, or choose another name"
                )
            result = conn.execute(
                campaigns_table.insert().values(
                    name=name, config=config.model_dump_json(), n_batches=0, created_at=_now()
                )
            )
            campaign_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        return cls(name, url, config, campaign_id)

    @classmethod
    def load(cls, name: str, store_url: str | None = None) -> Campaign:
        """Open an existing campaign.

        Raises:
            InvalidInputError: ``name`` is not a non-empty string, or the store URL is not
                a database URL.
            NotFoundError: No campaign of that name in the store.
        """
        if not isinstance(name, str) or not name or len(name) > _NAME_COLUMN:
            shown = f"{len(name)} characters" if isinstance(name, str) else repr(name)
            raise InvalidInputError(
                "name", f"{shown} is not a campaign name", "give the name used in create()"
            )
        url = _store_url(store_url)
        with transaction(url, write=False) as conn:
            row = conn.execute(
                select(campaigns_table).where(campaigns_table.c.name == name)
            ).first()
            names = [] if row else list(conn.execute(select(campaigns_table.c.name)).scalars())
        if row is None:
            raise NotFoundError(
                f"no campaign {name!r} in {url}. Fix: create it with Campaign.create, or use "
                f"one of {names}"
            )
        return cls(name, url, CampaignConfig.model_validate_json(row.config), row.id)

    @classmethod
    def list_names(cls, store_url: str | None = None) -> list[str]:
        """Names of every campaign in the store."""
        with transaction(_store_url(store_url), write=False) as conn:
            return list(conn.execute(select(campaigns_table.c.name)).scalars())

    # ---------------------------------------------------------------- properties
    @property
    def space(self) -> Space:
        """The parameter space."""
        return self.config.space

    @property
    def objectives(self) -> list[Objective]:
        """The objectives."""
        return self.config.objectives

    @property
    def strategy(self) -> Strategy:
        """The strategy settings."""
        return self.config.strategy

    # ---------------------------------------------------------------- ask
    def suggest(self, n: int = 1) -> list[Trial]:
        """Suggest ``n`` new trials (committed as ``pending`` before returning).

        The first ``n_init`` trials come from the initial design; later ones from the
        model, which sees completed trials and treats pending ones (including those other
        processes are running) as already taken.

        The whole step (read the trials, fit, propose, insert) runs in one transaction
        that holds the campaign lock, so concurrent callers, in this process or others,
        queue and each sees every trial suggested before it: no two suggestions are the
        same point. A process killed mid-step writes nothing. The step's seed is derived
        from the number of its first trial, so every suggestion has its own.

        Raises:
            InvalidInputError: ``n`` is not an int in ``1 ..`` :data:`MAX_SUGGEST`.
            StateError: The space has no untried point left.
        """
        n = check_count(n, "n", MAX_SUGGEST, "trials")
        if self._count_completed() >= 2:  # a model step is likely: import before locking
            import_model_stack(self.strategy)
        with transaction(self.store_url) as conn:
            locked = self._lock_campaign(conn)
            trials = self._read_trials(conn)
            seed = self.step_seed(locked.next_number)
            ref = self._settle_reference(conn, trials)
            new, hyperparameters = self._plan(trials, n, locked.model_state, seed, ref)
            out = self._insert_pending(conn, locked, new)
            conn.execute(
                campaigns_table.update()
                .where(campaigns_table.c.id == self._id)
                .values(n_batches=locked.n_batches + 1, model_state=hyperparameters)
            )
        return out

    def _count_completed(self) -> int:
        with transaction(self.store_url, write=False) as conn:
            return int(
                conn.execute(
                    select(func.count()).where(
                        trials_table.c.campaign_id == self._id,
                        trials_table.c.status == "completed",
                    )
                ).scalar_one()
            )

    def step_seed(self, first_trial: int) -> int:
        """Seed of the suggestion whose first trial is ``first_trial``."""
        return (self.strategy.seed * 100_003 + first_trial) % 2**63

    def _plan(
        self,
        trials: Sequence[Trial],
        n: int,
        model_state: bytes | None,
        seed: int,
        ref_point: np.ndarray | None = None,
    ) -> tuple[list[tuple[dict[str, Any], str]], bytes | None]:
        """The ``n`` new ``(params, source)`` pairs and the model state to store."""
        completed = [t for t in trials if t.status == "completed"]
        n_design_issued = sum(t.source == "design" for t in trials)
        n_manual = sum(t.source == "manual" for t in trials)  # attached data counts too
        n_design_left = max(self.strategy.initial_size(self.space) - n_design_issued - n_manual, 0)
        if len(completed) < 2:
            n_design_left = max(n_design_left, n)
        n_design = min(n, n_design_left)
        design_points = self._design_points(n_design_issued, n_design)
        model_points: list[dict[str, Any]] = []
        hyperparameters = model_state
        if n > n_design:
            proposal = propose(
                self.space,
                self.objectives,
                self.config.constraints,
                self.strategy,
                [t.params for t in completed],
                [t.values for t in completed],
                n - n_design,
                pending=[t.params for t in trials if t.status == "pending"] + design_points,
                warm_start=model_state,
                seed=seed,
                ref_point=ref_point,
            )
            model_points = proposal.points
            hyperparameters = proposal.hyperparameters
        new = [(p, "design") for p in design_points] + [(p, "model") for p in model_points]
        return self._without_copies(trials, new, seed), hyperparameters

    def _without_copies(
        self,
        trials: Sequence[Trial],
        new: list[tuple[dict[str, Any], str]],
        seed: int,
    ) -> list[tuple[dict[str, Any], str]]:
        """Replace any new point equal to an existing trial or to an earlier new point.

        Model proposals already avoid observed and pending points; copies can still come
        from a discrete space's initial design or an exhausted neighbourhood. A copy is
        replaced by an untried random point of the space (seeded).

        Raises:
            StateError: No untried point is left.
        """
        taken = {point_key(self.space, t.params) for t in trials}
        out: list[tuple[dict[str, Any], str]] = []
        spare: list[dict[str, Any]] = []
        rounds = 0
        for params, source in new:
            key = point_key(self.space, params)
            while key in taken:
                if not spare:
                    if rounds == _SPARE_ROUNDS:
                        raise StateError(
                            f"campaign {self.name!r} has tried {len(taken)} distinct points "
                            "and no untried point of the space was found. Fix: widen the "
                            "space, or record a repeat measurement with add(params, values)"
                        )
                    rounds += 1
                    spare = make_design(
                        "random", self.space, _SPARE_POINTS, seed=(seed + rounds) % 2**63
                    )
                params = spare.pop()
                key = point_key(self.space, params)
            taken.add(key)
            out.append((params, source))
        return out

    def _settle_reference(self, conn: Any, trials: Sequence[Trial]) -> np.ndarray | None:
        """The reference point for this step (maximisation convention); None for one objective.

        Thresholds are used where given. Otherwise, when none is stored yet and the initial
        design is complete (at least ``n_init`` completed trials), the point is inferred
        from the completed trials and stored (the campaign's reported reference), inside
        the caller's locked transaction; before that, None (the step infers a provisional
        one). Once stored, the step uses it with ``Strategy.acquisition_reference=
        "stored"``, and with ``"current"`` (default) a point inferred from the completed
        trials of this step, which follows the front as it improves.
        """
        if len(self.objectives) < 2:
            return None
        completed = [t for t in trials if t.status == "completed"]
        stored = self._stored_reference(conn)
        if stored is not None:
            if self.strategy.acquisition_reference == "current":
                return self._maximised(self._infer_reference(completed))
            return self._maximised(stored)
        if all(o.threshold is not None for o in self.objectives):
            return self._maximised({o.name: float(o.threshold or 0.0) for o in self.objectives})
        if len(completed) < self.strategy.initial_size(self.space):
            return None
        point = self._infer_reference(completed)
        conn.execute(
            reference_points_table.insert().values(
                campaign_id=self._id,
                point=json.dumps(point),
                n_completed=len(completed),
                created_at=_now(),
            )
        )
        return self._maximised(point)

    def _stored_reference(self, conn: Any) -> dict[str, float] | None:
        row = conn.execute(
            select(reference_points_table.c.point).where(
                reference_points_table.c.campaign_id == self._id
            )
        ).first()
        return None if row is None else {k: float(v) for k, v in json.loads(row.point).items()}

    def _infer_reference(self, completed: Sequence[Trial]) -> dict[str, float]:
        """Thresholds where given, else inferred from ``completed`` (see ``reference_point``)."""
        from crucible.bo.strategy import modelled_outcomes

        Y, slack = modelled_outcomes(
            [t.values for t in completed], self.objectives, self.config.constraints
        )
        ref = reference_point(Y, self.objectives, slack)
        return {o.name: float(o.sign * r) for o, r in zip(self.objectives, ref, strict=True)}

    def _maximised(self, point: Mapping[str, float]) -> np.ndarray:
        return np.array([o.sign * point[o.name] for o in self.objectives])

    class _Locked(NamedTuple):
        n_batches: int
        next_number: int
        model_state: bytes | None

    def _lock_campaign(self, conn: Any) -> Campaign._Locked:
        """Lock the campaign row for the rest of this transaction.

        On PostgreSQL the row lock (``SELECT ... FOR UPDATE``) makes other writers of this
        campaign wait; on SQLite the transaction already holds the database write lock.

        Returns:
            The batch index new trials get, the first free trial number and the stored
            model state, all as of the lock.
        """
        camp = conn.execute(
            select(campaigns_table.c.n_batches, campaigns_table.c.model_state)
            .where(campaigns_table.c.id == self._id)
            .with_for_update()
        ).one()
        last = conn.execute(
            select(func.coalesce(func.max(trials_table.c.number), -1)).where(
                trials_table.c.campaign_id == self._id
            )
        ).scalar_one()
        return Campaign._Locked(int(camp.n_batches), int(last) + 1, camp.model_state)

    def _design_points(self, start: int, count: int) -> list[dict[str, Any]]:
        """Points ``start .. start + count - 1`` of the campaign's seeded initial design."""
        if count <= 0:
            return []
        total = max(self.strategy.initial_size(self.space), start + count)
        design = make_design(self.strategy.init_design, self.space, total, seed=self.strategy.seed)
        return design[start : start + count]

    def _insert_pending(
        self, conn: Any, locked: Campaign._Locked, new: Sequence[tuple[dict[str, Any], str]]
    ) -> list[Trial]:
        """Insert ``(params, source)`` pairs as pending trials of batch ``locked.n_batches``."""
        now = _now()
        out = []
        for number, (params, source) in enumerate(new, start=locked.next_number):
            conn.execute(
                trials_table.insert().values(
                    campaign_id=self._id,
                    number=number,
                    status="pending",
                    source=source,
                    batch=locked.n_batches,
                    params=json.dumps(params),
                    created_at=now,
                )
            )
            out.append(
                Trial(number, dict(params), "pending", {}, source, locked.n_batches, None, now)
            )
        return out

    def enqueue(self, points: Sequence[Mapping[str, Any]], source: str = "design") -> list[Trial]:
        """Add given points as pending trials (e.g. a user or cached initial design).

        Points are validated (errors name ``points[i].field``); copies of existing trials
        and of each other are dropped (checked under the campaign lock). Points enqueued
        with ``source="design"`` count towards the strategy's ``n_init``.

        Returns:
            The new pending trials (possibly fewer than ``points``).
        """
        if source not in ("design", "manual"):
            raise InvalidInputError("source", f"{source!r} is not allowed", "use design or manual")
        if isinstance(points, str | bytes | Mapping) or not isinstance(points, Sequence):
            raise InvalidInputError(
                "points",
                f"expected a list of parameter dicts, got {type(points).__name__}",
                "pass [{name: value, ...}, ...]",
            )
        check_count(len(points), "len(points)", MAX_ENQUEUE, "points")
        valid = validate_design(self.space, points, field="points")
        with transaction(self.store_url) as conn:
            locked = self._lock_campaign(conn)
            existing = [t.params for t in self._read_trials(conn)]
            unique = validate_design(self.space, valid, existing=existing, field="points")
            out = self._insert_pending(conn, locked, [(p, source) for p in unique])
            conn.execute(
                campaigns_table.update()
                .where(campaigns_table.c.id == self._id)
                .values(n_batches=locked.n_batches + 1)
            )
        return out

    # ---------------------------------------------------------------- tell
    def observe(self, trial_id: int, values: Mapping[str, Any]) -> Trial:
        """Record the measured metrics of a pending trial (committed before returning).

        Args:
            trial_id: The trial number.
            values: Metric name -> value; every objective and constrained metric is
                required; extra metrics are stored too.

        Raises:
            InvalidInputError: A missing, NaN, infinite or non-numeric value (nothing is
                written).
            NotFoundError: No such trial.
            StateError: The trial is already completed or failed.
        """
        trial_id = check_trial_id(trial_id)
        if not isinstance(values, Mapping):
            raise InvalidInputError(
                "values",
                f"expected a mapping of metric name -> value, got {type(values).__name__}",
                f"pass e.g. {{{self.config.metrics[0]!r}: 1.0}}",
            )
        metrics = check_values(values, self.config.metrics, field=f"trial {trial_id} values")
        return self._finish(trial_id, "completed", metrics=metrics)

    def mark_failed(self, trial_id: int, reason: str = "") -> Trial:
        """Mark a pending trial as failed (it is excluded from the model, never retried).

        Raises:
            InvalidInputError: ``trial_id`` is not a trial number, or ``reason`` is not a
                string of at most :data:`MAX_REASON` characters.
            NotFoundError: No such trial.
            StateError: The trial is already completed or failed.
        """
        trial_id = check_trial_id(trial_id)
        if not isinstance(reason, str) or len(reason) > MAX_REASON:
            shown = f"{len(reason)} characters" if isinstance(reason, str) else repr(reason)
            raise InvalidInputError(
                "reason", f"{shown} is not a short text", f"give at most {MAX_REASON} characters"
            )
        return self._finish(trial_id, "failed", reason=reason or "failed")

    def _finish(
        self,
        trial_id: int,
        status: TrialStatus,
        metrics: dict[str, float] | None = None,
        reason: str | None = None,
    ) -> Trial:
        now = _now()
        with transaction(self.store_url) as conn:
            row = conn.execute(
                select(trials_table).where(
                    trials_table.c.campaign_id == self._id, trials_table.c.number == trial_id
                )
            ).first()
            if row is None:
                raise NotFoundError(
                    f"campaign {self.name!r} has no trial {trial_id}. Fix: use a number from "
                    "suggest() or trials()"
                )
            if row.status != "pending":
                raise StateError(
                    f"trial {trial_id} of campaign {self.name!r} is already {row.status}; "
                    "nothing was changed. Fix: suggest a new trial, or attach a repeat "
                    "measurement with add(params, values)"
                )
            conn.execute(
                trials_table.update()
                .where(trials_table.c.id == row.id)
                .values(
                    status=status,
                    metrics=json.dumps(metrics) if metrics is not None else None,
                    reason=reason,
                    completed_at=now,
                )
            )
        return dataclasses.replace(
            _row_to_trial(row),
            status=status,
            values=metrics or {},
            reason=reason,
            completed_at=now,
        )

    def add(self, params: Mapping[str, Any], values: Mapping[str, Any]) -> Trial:
        """Attach an experiment run outside the campaign (completed on arrival).

        Raises:
            InvalidInputError: Invalid parameters (named per field) or values.
        """
        for arg, given in (("params", params), ("values", values)):
            if not isinstance(given, Mapping):
                raise InvalidInputError(
                    arg, f"expected a mapping, got {type(given).__name__}", "pass a dict"
                )
        point = self.space.validate_point(params, field="params")
        metrics = check_values(values, self.config.metrics, field="values")
        (trial,) = self._insert_completed([(point, metrics)])
        return trial

    def _insert_completed(
        self, rows: Sequence[tuple[dict[str, Any], dict[str, float]]]
    ) -> list[Trial]:
        now = _now()
        out = []
        with transaction(self.store_url) as conn:
            first = self._lock_campaign(conn).next_number
            for number, (params, metrics) in enumerate(rows, start=first):
                conn.execute(
                    trials_table.insert().values(
                        campaign_id=self._id,
                        number=number,
                        status="completed",
                        source="manual",
                        batch=-1,
                        params=json.dumps(params),
                        metrics=json.dumps(metrics),
                        created_at=now,
                        completed_at=now,
                    )
                )
                out.append(
                    Trial(number, params, "completed", metrics, "manual", -1, None, now, now)
                )
        return out

    # ---------------------------------------------------------------- read
    def _read_trials(self, conn: Any) -> list[Trial]:
        rows = conn.execute(
            select(trials_table)
            .where(trials_table.c.campaign_id == self._id)
            .order_by(trials_table.c.number)
        ).all()
        return [_row_to_trial(r) for r in rows]

    def all_trials(self) -> list[Trial]:
        """Every trial, by number (one consistent read; never waits for a writer on SQLite)."""
        with transaction(self.store_url, write=False) as conn:
            return self._read_trials(conn)

    def get_trial(self, trial_id: int) -> Trial:
        """One trial by number.

        Raises:
            InvalidInputError: ``trial_id`` is not a trial number.
            NotFoundError: No such trial.
        """
        trial_id = check_trial_id(trial_id)
        for trial in self.all_trials():
            if trial.number == trial_id:
                return trial
        raise NotFoundError(
            f"campaign {self.name!r} has no trial {trial_id}. Fix: use a number from "
            "suggest() or trials()"
        )

    def pending(self) -> list[Trial]:
        """Trials suggested but not yet observed or failed."""
        return [t for t in self.all_trials() if t.status == "pending"]

    def completed(self) -> list[Trial]:
        """Observed trials."""
        return [t for t in self.all_trials() if t.status == "completed"]

    def is_feasible(self, values: Mapping[str, float]) -> bool:
        """Whether observed ``values`` satisfy every outcome constraint."""
        return all(c.slack(values[c.metric]) <= 0 for c in self.config.constraints)

    def best(self) -> Trial | None:
        """The best feasible completed trial; None when there is none.

        One objective: the trial with the best value (the earliest on ties).

        Several objectives: no single trial is best in every objective, so this returns
        one Pareto-optimal trial by a fixed rule: the one that alone dominates the largest
        hypervolume, i.e. the largest box between its values and the reference point
        (:meth:`reference_point`), a balanced compromise that favours no objective's
        scale. When no Pareto trial beats the reference point in every objective, the box
        is measured from the front's own nadir moved back by 10% of the front's range
        (:func:`~crucible.bo.strategy.front_reference_point` of the front). For the whole
        trade-off, use :meth:`pareto_front`.
        """
        feasible = [t for t in self.completed() if self.is_feasible(t.values)]
        if not feasible:
            return None
        if len(self.objectives) == 1:
            objective = self.objectives[0]
            best = feasible[0]
            for trial in feasible[1:]:
                if objective.better(trial.values[objective.name], best.values[objective.name]):
                    best = trial
            return best
        return feasible[self.balanced_index(self._objective_matrix(feasible))]

    def balanced_index(self, Y: np.ndarray) -> int:
        """The row of ``Y`` that :meth:`best` picks among several objectives.

        Args:
            Y: Objective values in the maximisation convention (``n x m``, ``n >= 1``;
                observed values, or posterior means for :meth:`recommend`).

        Returns:
            The index of the Pareto-optimal row that alone dominates the largest box
            towards the reference point (or, when none beats it, towards the front's own
            nadir moved back by 10 % of the front's range).
        """
        from crucible.bo.analysis import pareto_mask

        rows = np.flatnonzero(pareto_mask(Y))
        front = Y[rows]
        ref = self.reference_point()
        ref_max = self._maximised(ref) if ref is not None else None
        volume = (
            np.prod(np.clip(front - ref_max, 0, None), axis=1) if ref_max is not None else None
        )
        if volume is None or not np.any(volume > 0):
            own = front_reference_point(front)
            volume = np.prod(np.clip(front - own, 0, None), axis=1)
        return int(rows[int(np.argmax(volume))])

    def recommend(self) -> Recommendation | None:
        """The completed trial to use: the best by the surrogate's posterior mean.

        With noisy measurements the best observed value (:meth:`best`) is often a lucky
        draw; the recommendation is the feasible completed trial whose posterior mean
        (the campaign's surrogate refitted on every completed trial, fitted prior mean)
        is best, the rule Ax and BoTorch use to report a noisy optimum. With several
        objectives the Pareto rule of :meth:`best` is applied to the posterior means.
        Feasibility is judged on the observed constraint values. See
        :func:`crucible.bo.analysis.recommend`.

        Returns:
            The trial with the posterior mean and standard deviation of each objective
            there; None when no feasible trial is completed.
        """
        from crucible.bo.analysis import recommend

        return recommend(self)

    def pareto_front(self) -> list[Trial]:
        """Feasible completed trials that no other feasible trial dominates."""
        return self._front([t for t in self.completed() if self.is_feasible(t.values)])

    def _objective_matrix(self, trials: Sequence[Trial]) -> np.ndarray:
        """Maximised objective values of ``trials``, ``n x m``."""
        return np.array([[o.sign * t.values[o.name] for o in self.objectives] for t in trials])

    def _front(self, feasible: Sequence[Trial]) -> list[Trial]:
        from crucible.bo.analysis import pareto_mask

        if not feasible:
            return []
        mask = pareto_mask(self._objective_matrix(feasible))
        return [t for t, keep in zip(feasible, mask, strict=True) if keep]

    def reference_point(self) -> dict[str, float] | None:
        """The hypervolume reference point, objective name -> value in its own units.

        Each objective's ``threshold`` where given. Otherwise the value inferred once, by
        the first :meth:`suggest` after the initial design is complete (``n_init``
        completed trials), from the feasible completed trials: the nadir of their Pareto
        front moved back by 10% of their range
        (:func:`~crucible.bo.strategy.front_reference_point`), and stored with the
        campaign, so it stays put while the campaign runs. Until it is stored the
        inferred part is provisional: computed from the current data on each call. None
        when it cannot be known yet (no threshold and no completed trial).
        """
        with transaction(self.store_url, write=False) as conn:
            stored = self._stored_reference(conn)
            completed = [t for t in self._read_trials(conn) if t.status == "completed"]
        if stored is not None:
            return stored
        if all(o.threshold is not None for o in self.objectives):
            return {o.name: float(o.threshold or 0.0) for o in self.objectives}
        if not completed:
            return None
        return self._infer_reference(completed)

    def hypervolume(self, ref_point: Mapping[str, float] | None = None) -> float:
        """Hypervolume of the feasible completed trials, in the objectives' directions.

        The volume of the objective region that the feasible trials dominate and that is
        better than the reference point in every objective (0.0 when none is).

        Args:
            ref_point: Objective name -> reference value in the objective's own units;
                :meth:`reference_point` when None.

        Raises:
            InvalidInputError: ``ref_point`` lacks an objective or has a non-finite value.
        """
        from crucible.bo.analysis import hypervolume

        ref = self.reference_point() if ref_point is None else ref_point
        if ref is None:
            return 0.0
        names = [o.name for o in self.objectives]
        if not isinstance(ref, Mapping) or set(ref) != set(names):
            raise InvalidInputError(
                "ref_point",
                f"{ref!r:.80} does not map each objective to a value",
                f"pass {{name: value}} for exactly {names}",
            )
        values = []
        for name in names:
            value = ref[name]
            if isinstance(value, bool) or not isinstance(value, int | float | np.number):
                raise InvalidInputError(
                    f"ref_point.{name}", f"{value!r:.60} is not a number", "give a number"
                )
            if not math.isfinite(float(value)):
                raise InvalidInputError(
                    f"ref_point.{name}", f"{value!r} is not finite", "give a finite number"
                )
            values.append(float(value))
        front = self.pareto_front()
        Y = np.array([[t.values[n] for n in names] for t in front]).reshape(len(front), len(names))
        return hypervolume(Y, values, [o.direction for o in self.objectives])

    def trials(self) -> Any:
        """Every trial as a pandas DataFrame (one column per parameter and metric)."""
        import pandas as pd

        rows = []
        for t in self.all_trials():
            row: dict[str, Any] = {
                "trial": t.number,
                "status": t.status,
                "source": t.source,
                "batch": t.batch,
            }
            row.update(t.params)
            for name in self.config.metrics:
                row[name] = t.values.get(name, math.nan)
            row.update({k: v for k, v in t.values.items() if k not in row})
            row["feasible"] = t.status == "completed" and self.is_feasible(t.values)
            row.update(reason=t.reason, created_at=t.created_at, completed_at=t.completed_at)
            rows.append(row)
        columns = ["trial", "status", "source", "batch", *self.space.names, *self.config.metrics]
        frame = pd.DataFrame(rows)
        return frame if rows else pd.DataFrame(columns=columns)

    def to_csv(self, path: str | Path) -> Path:
        """Write :meth:`trials` to a CSV file; returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.trials().to_csv(path, index=False)
        return path

    def fit_surrogate(self) -> Any:
        """Fit the strategy's surrogate on the completed trials (objectives, then slacks).

        Returns:
            A fitted :class:`~crucible.bo.surrogates.Surrogate`; outputs are maximised
            objectives followed by constraint slacks.
        """
        from crucible.bo.strategy import encoding_for, fit_surrogate, modelled_outcomes

        done = self.completed()
        X = self.space.encode([t.params for t in done], encoding_for(self.space, self.strategy))
        Y, slack = modelled_outcomes(
            [t.values for t in done], self.objectives, self.config.constraints
        )
        return fit_surrogate(self.space, self.strategy, X, np.hstack([Y, slack]))

    def predict(self, points: Sequence[Mapping[str, Any]]) -> Any:
        """Predicted mean and standard deviation of every modelled metric at ``points``.

        Returns:
            DataFrame with ``<metric>_mean`` and ``<metric>_std`` columns (original units
            and signs).
        """
        import pandas as pd

        from crucible.bo.strategy import encoding_for

        surrogate = self.fit_surrogate()
        encoding = encoding_for(self.space, self.strategy)
        mean, std = surrogate.predict(self.space.encode(points, encoding))
        out: dict[str, Any] = {}
        for j, o in enumerate(self.objectives):
            out[f"{o.name}_mean"] = o.sign * mean[:, j]
            out[f"{o.name}_std"] = std[:, j]
        m = len(self.objectives)
        for j, c in enumerate(self.config.constraints):
            sign = 1.0 if c.operator == "<=" else -1.0
            out[f"{c.metric}_mean"] = c.bound + sign * mean[:, m + j]
            out[f"{c.metric}_std"] = std[:, m + j]
        return pd.DataFrame(out)


def _default_url() -> str:
    from crucible.settings import get_settings

    return get_settings().campaign_store_url


def _store_url(store_url: object) -> str:
    """``store_url``, or the settings' URL when None or empty; refused when not a URL."""
    return check_store_url(_default_url() if store_url in (None, "") else store_url)


def check_trial_id(trial_id: object) -> int:
    """Return ``trial_id`` if it is a trial number (an int >= 0), else raise.

    Raises:
        InvalidInputError: A string, float, bool or negative number.
    """
    if isinstance(trial_id, bool) or not isinstance(trial_id, int | np.integer):
        raise InvalidInputError(
            "trial_id",
            f"{trial_id!r} ({type(trial_id).__name__}) is not a trial number",
            "pass the trial's number as an int, e.g. trial.number from suggest()",
        )
    if trial_id < 0:
        raise InvalidInputError("trial_id", f"{trial_id} is negative", "trial numbers are >= 0")
    return int(trial_id)


def _row_to_trial(row: Any) -> Trial:
    return Trial(
        number=int(row.number),
        params=json.loads(row.params),
        status=row.status,
        values=json.loads(row.metrics) if row.metrics else {},
        source=row.source,
        batch=int(row.batch),
        reason=row.reason,
        created_at=row.created_at,
        completed_at=row.completed_at,
    )
