"""Ask/tell BO campaigns whose state lives in a database.

Example:
    >>> from crucible.bo import Campaign, Objective
    >>> from crucible.testing.functions import get_problem
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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from crucible.bo.objectives import Objective, OutcomeConstraint, check_values, metric_names
from crucible.bo.store import campaigns_table, transaction, trials_table
from crucible.bo.strategy import Strategy, propose
from crucible.design import make_design, validate_design
from crucible.exceptions import (
    AlreadyExistsError,
    InvalidInputError,
    NotFoundError,
    StateError,
)
from crucible.space import Space

__all__ = ["Campaign", "CampaignConfig", "Trial", "TrialStatus"]

TrialStatus = Literal["pending", "completed", "failed"]


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


@dataclass(frozen=True)
class Trial:
    """One suggested or attached experiment.

    Attributes:
        number: Trial number within the campaign (0, 1, ...); the id used by
            :meth:`Campaign.observe`.
        params: Parameter name -> value.
        status: ``pending``, ``completed`` or ``failed``.
        values: Metric name -> value once completed.
        source: ``design``, ``model`` or ``manual``.
        batch: Which ``suggest`` call produced it (-1 for attached trials).
        reason: Why it failed.
        created_at: When it was suggested.
        completed_at: When it was observed or marked failed.
    """

    number: int
    params: dict[str, Any]
    status: TrialStatus
    values: dict[str, float] = field(default_factory=dict)
    source: str = "model"
    batch: int = 0
    reason: str | None = None
    created_at: datetime | None = None
    completed_at: datetime | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def _coerce_objectives(
    objectives: Sequence[Objective | str | Mapping[str, Any]],
) -> list[Objective]:
    out = []
    for o in objectives:
        if isinstance(o, Objective):
            out.append(o)
        elif isinstance(o, str):
            out.append(Objective(name=o))
        else:
            out.append(Objective.model_validate(dict(o)))
    return out


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
            InvalidInputError: Metric names clash with parameter names.
        """
        config = CampaignConfig(
            space=space if isinstance(space, Space) else Space.from_dict(space),
            objectives=_coerce_objectives(objectives),
            constraints=[
                c if isinstance(c, OutcomeConstraint) else OutcomeConstraint.model_validate(c)
                for c in constraints
            ],
            strategy=strategy
            if isinstance(strategy, Strategy)
            else Strategy.model_validate(dict(strategy or {})),
        )
        clash = sorted(set(config.metrics) & set(config.space.names))
        if clash:
            raise InvalidInputError(
                "objectives", f"metric names {clash} are also parameter names", "rename one"
            )
        url = store_url or _default_url()
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
            NotFoundError: No campaign of that name in the store.
        """
        url = store_url or _default_url()
        with transaction(url) as conn:
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
        with transaction(store_url or _default_url()) as conn:
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
        model, which sees completed trials and treats pending ones as already taken.

        Raises:
            InvalidInputError: ``n`` < 1.
        """
        if n < 1:
            raise InvalidInputError("n", f"must be >= 1, got {n}", "ask for at least one trial")
        trials, model_state, n_batches = self._snapshot()
        completed = [t for t in trials if t.status == "completed"]
        n_design_issued = sum(t.source == "design" for t in trials)
        n_manual = sum(t.source == "manual" for t in trials)  # attached data counts too
        n_design_left = max(self.strategy.initial_size(self.space) - n_design_issued - n_manual, 0)
        if len(completed) < 2:
            n_design_left = max(n_design_left, n)
        n_design = min(n, n_design_left)
        model_points: list[dict[str, Any]] = []
        hyperparameters = model_state
        if n > n_design:
            provisional = self._design_points(n_design_issued, n_design)
            pending = [t.params for t in trials if t.status == "pending"] + provisional
            proposal = propose(
                self.space,
                self.objectives,
                self.config.constraints,
                self.strategy,
                [t.params for t in completed],
                [t.values for t in completed],
                n - n_design,
                pending=pending,
                warm_start=model_state,
                seed=self.strategy.seed * 100_003 + n_batches,
            )
            model_points = proposal.points
            hyperparameters = proposal.hyperparameters
        return self._insert(n_design, model_points, hyperparameters)

    def _lock_campaign(self, conn: Any) -> tuple[int, int]:
        """Lock the campaign row for this transaction.

        Returns:
            ``(n_batches, next_trial_number)``: the batch index new trials get and the
            first free trial number.
        """
        n_batches = conn.execute(
            select(campaigns_table.c.n_batches)
            .where(campaigns_table.c.id == self._id)
            .with_for_update()
        ).scalar_one()
        last = conn.execute(
            select(func.coalesce(func.max(trials_table.c.number), -1)).where(
                trials_table.c.campaign_id == self._id
            )
        ).scalar_one()
        return int(n_batches), int(last) + 1

    def _design_points(self, start: int, count: int) -> list[dict[str, Any]]:
        """Points ``start .. start + count - 1`` of the campaign's seeded initial design."""
        if count <= 0:
            return []
        total = max(self.strategy.initial_size(self.space), start + count)
        design = make_design(self.strategy.init_design, self.space, total, seed=self.strategy.seed)
        return design[start : start + count]

    def _insert(
        self, n_design: int, model_points: Sequence[dict[str, Any]], model_state: bytes | None
    ) -> list[Trial]:
        """Insert new pending trials under the campaign lock.

        Design points are chosen inside the transaction (from the number of design trials
        already issued), so two processes never receive the same design point.
        """
        now = _now()
        out = []
        with transaction(self.store_url) as conn:
            batch, first = self._lock_campaign(conn)
            issued = conn.execute(
                select(func.count()).where(
                    trials_table.c.campaign_id == self._id, trials_table.c.source == "design"
                )
            ).scalar_one()
            new = [(p, "design") for p in self._design_points(int(issued), n_design)]
            new += [(p, "model") for p in model_points]
            for number, (params, source) in enumerate(new, start=first):
                conn.execute(
                    trials_table.insert().values(
                        campaign_id=self._id,
                        number=number,
                        status="pending",
                        source=source,
                        batch=batch,
                        params=json.dumps(params),
                        created_at=now,
                    )
                )
                out.append(Trial(number, dict(params), "pending", {}, source, batch, None, now))
            conn.execute(
                campaigns_table.update()
                .where(campaigns_table.c.id == self._id)
                .values(n_batches=batch + 1, model_state=model_state)
            )
        return out

    def enqueue(self, points: Sequence[Mapping[str, Any]], source: str = "design") -> list[Trial]:
        """Add given points as pending trials (e.g. a user or cached initial design).

        Points are validated (errors name ``points[i].field``); copies of existing trials
        and of each other are dropped. Points enqueued with ``source="design"`` count
        towards the strategy's ``n_init``.

        Returns:
            The new pending trials (possibly fewer than ``points``).
        """
        if source not in ("design", "manual"):
            raise InvalidInputError("source", f"{source!r} is not allowed", "use design or manual")
        existing = [t.params for t in self.all_trials()]
        unique = validate_design(self.space, points, existing=existing, field="points")
        now = _now()
        out = []
        with transaction(self.store_url) as conn:
            batch, first = self._lock_campaign(conn)
            for number, params in enumerate(unique, start=first):
                conn.execute(
                    trials_table.insert().values(
                        campaign_id=self._id,
                        number=number,
                        status="pending",
                        source=source,
                        batch=batch,
                        params=json.dumps(params),
                        created_at=now,
                    )
                )
                out.append(Trial(number, params, "pending", {}, source, batch, None, now))
            conn.execute(
                campaigns_table.update()
                .where(campaigns_table.c.id == self._id)
                .values(n_batches=batch + 1)
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
        metrics = check_values(values, self.config.metrics, field=f"trial {trial_id} values")
        return self._finish(trial_id, "completed", metrics=metrics)

    def mark_failed(self, trial_id: int, reason: str = "") -> Trial:
        """Mark a pending trial as failed (it is excluded from the model, never retried)."""
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
            _, first = self._lock_campaign(conn)
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
    def _snapshot(self) -> tuple[list[Trial], bytes | None, int]:
        with transaction(self.store_url) as conn:
            camp = conn.execute(
                select(campaigns_table.c.model_state, campaigns_table.c.n_batches).where(
                    campaigns_table.c.id == self._id
                )
            ).one()
            rows = conn.execute(
                select(trials_table)
                .where(trials_table.c.campaign_id == self._id)
                .order_by(trials_table.c.number)
            ).all()
        return [_row_to_trial(r) for r in rows], camp.model_state, int(camp.n_batches)

    def all_trials(self) -> list[Trial]:
        """Every trial, by number."""
        return self._snapshot()[0]

    def get_trial(self, trial_id: int) -> Trial:
        """One trial by number."""
        for trial in self.all_trials():
            if trial.number == trial_id:
                return trial
        raise NotFoundError(f"campaign {self.name!r} has no trial {trial_id}")

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

        Multi-objective campaigns rank by the first objective; see :meth:`pareto_front`.
        """
        objective = self.objectives[0]
        best: Trial | None = None
        for trial in self.completed():
            if not self.is_feasible(trial.values):
                continue
            if best is None or objective.better(
                trial.values[objective.name], best.values[objective.name]
            ):
                best = trial
        return best

    def pareto_front(self) -> list[Trial]:
        """Feasible completed trials that no other feasible trial dominates."""
        from crucible.bo.analysis import pareto_mask

        feasible = [t for t in self.completed() if self.is_feasible(t.values)]
        if not feasible:
            return []
        Y = np.array([[o.sign * t.values[o.name] for o in self.objectives] for t in feasible])
        return [t for t, keep in zip(feasible, pareto_mask(Y), strict=True) if keep]

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
