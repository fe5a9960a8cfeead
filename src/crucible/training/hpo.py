"""Hyperparameter optimisation with Optuna: studies in shared storage, ask/tell trial loop.

A study is described once by a :class:`StudySpec`: the search space (a
:class:`crucible.space.Space` whose parameter names are dotted
:class:`~crucible.training.config.TrainConfig` fields such as ``optimizer.lr``), the
objectives, the sampler, the pruner, limits and the base training config. The spec is
stored in the Optuna study's user attributes, so any worker that can reach the storage
(SQLite file by default, any SQLAlchemy URL such as PostgreSQL) can load the study and
run trials for it; a crashed worker loses at most its running trial.

Each trial: ``ask`` → config from the sampled parameters → ``fit`` with per-epoch
``report``/``should_prune`` and MLflow logging → ``tell`` as COMPLETE, PRUNED or FAIL
(the reason is kept in the trial's ``fail_reason`` user attribute and the MLflow run).

Two synthetic parameter names help MLP/CNN searches: ``model.width`` and ``model.depth``
set ``model.hidden_sizes`` and ``model.channels`` to ``[width] * depth``.

Example:
    >>> spec = StudySpec(name="digits-mlp", space=default_space())  # doctest: +SKIP
    >>> study = HpoStudy.create(spec)  # doctest: +SKIP
    >>> study.optimize(n_trials=20)  # doctest: +SKIP
    >>> study.best_params()  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import optuna
from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial, Trial, TrialState
from pydantic import BaseModel, Field, model_validator

from crucible.exceptions import AlreadyExistsError, InvalidInputError, NotFoundError, StateError
from crucible.naming import Slug, inside
from crucible.settings import get_settings
from crucible.space import CategoricalParameter, ContinuousParameter, IntegerParameter, Space
from crucible.tracking import Tracker, make_tracker
from crucible.training.callbacks import Callback, TimeLimit, TrackingCallback
from crucible.training.config import DataConfig, TrainConfig
from crucible.training.datasets import DatasetSplit, load_dataset
from crucible.validation import Seed, strict_config

SamplerName = Literal["tpe", "random", "grid", "cmaes", "gp", "nsga2", "qmc", "botorch"]
PrunerName = Literal["none", "median", "percentile", "hyperband", "successive_halving"]
Direction = Literal["minimize", "maximize"]

SPEC_ATTR = "crucible.spec"
PARENT_RUN_ATTR = "crucible.mlflow_parent_run_id"
STOP_ATTR = "crucible.stop_requested"
_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


class SamplerConfig(BaseModel):
    """Which Optuna sampler proposes trials.

    ``botorch`` runs Crucible's BO engine (:mod:`crucible.training.botorch_sampler`);
    ``grid`` uses every categorical choice, every integer level (up to
    ``grid_points`` evenly spread ones) and ``grid_points`` values per continuous parameter.
    """

    model_config = strict_config()

    name: SamplerName = "tpe"
    seed: Seed | None = Field(default=None, description="Sampler seed (None: random).")
    n_startup_trials: int = Field(default=10, ge=0, description="Random trials before modelling.")
    grid_points: int = Field(default=5, ge=2, description="Grid: values per numeric parameter.")
    population_size: int = Field(default=20, ge=2, description="NSGA-II population size.")


class PrunerConfig(BaseModel):
    """Which Optuna pruner stops unpromising trials (single-objective studies only)."""

    model_config = strict_config()

    name: PrunerName = "median"
    n_startup_trials: int = Field(default=5, ge=0, description="Median/percentile: trials first.")
    n_warmup_steps: int = Field(default=3, ge=0, description="Median/percentile: epochs first.")
    percentile: float = Field(default=25.0, gt=0, lt=100, description="Percentile pruner.")
    min_resource: int = Field(default=1, ge=1, description="Hyperband/SHA: min epochs.")
    reduction_factor: int = Field(default=3, ge=2, description="Hyperband/SHA: eta.")


class StudySpec(BaseModel):
    """Everything that defines a study; stored with the study so workers can load it."""

    model_config = strict_config()

    name: Slug = Field(description="Study name (becomes a folder name: a slug).")
    space: Space = Field(description="Search space; names are dotted TrainConfig fields.")
    objectives: list[str] = Field(
        default_factory=lambda: ["valid_loss"],
        min_length=1,
        description="Best-epoch metrics to optimise (or n_parameters, train_seconds).",
    )
    directions: list[Direction] = Field(
        default_factory=lambda: list[Direction](["minimize"]), min_length=1
    )
    sampler: SamplerConfig = Field(default_factory=SamplerConfig)
    pruner: PrunerConfig = Field(default_factory=PrunerConfig)
    base_config: TrainConfig = Field(
        default_factory=TrainConfig, description="Training settings the space overrides."
    )
    max_trials: int | None = Field(
        default=None, ge=1, description="Study-wide cap on trials (all states)."
    )
    trial_timeout_s: float | None = Field(
        default=None, gt=0, description="Per-trial limit, checked after every epoch."
    )

    @model_validator(mode="after")
    def _check(self) -> StudySpec:
        if len(self.objectives) != len(self.directions):
            raise ValueError(
                f"{len(self.objectives)} objectives but {len(self.directions)} directions; "
                "give one direction per objective"
            )
        if len(self.objectives) > 1 and self.pruner.name != "none":
            raise ValueError("Optuna cannot prune multi-objective studies; set pruner.name='none'")
        for name in self.space.names:
            if name not in ("model.width", "model.depth"):
                TrainConfig().with_overrides({name: _probe_value(self.space, name)})
        return self

    @property
    def is_multi_objective(self) -> bool:
        """Whether the study has more than one objective."""
        return len(self.objectives) > 1


def _probe_value(space: Space, name: str) -> Any:
    """A valid value of ``name`` (to check that the name is a TrainConfig field)."""
    param = space[name]
    if isinstance(param, CategoricalParameter):
        return param.choices[0]
    if isinstance(param, ContinuousParameter | IntegerParameter):
        return param.low
    return param.value


def default_space() -> Space:
    """The default MLP search space (learning rate, width, depth, dropout, decay, batch)."""
    return Space.from_dict(
        {
            "optimizer.lr": {"type": "continuous", "low": 1e-4, "high": 3e-2, "log": True},
            "optimizer.weight_decay": {
                "type": "continuous",
                "low": 1e-6,
                "high": 1e-2,
                "log": True,
            },
            "model.width": {"type": "integer", "low": 32, "high": 512, "log": True},
            "model.depth": {"type": "integer", "low": 1, "high": 3},
            "model.dropout": {"type": "continuous", "low": 0.0, "high": 0.5},
            "batch_size": {"type": "categorical", "choices": [32, 64, 128]},
        }
    )


def params_to_config(base: TrainConfig, params: Mapping[str, Any]) -> TrainConfig:
    """Apply sampled parameters (dotted names) to a base training config.

    Args:
        base: The study's base config.
        params: ``{"optimizer.lr": 0.003, "model.width": 128, "model.depth": 2, ...}``.

    Returns:
        The validated training config.
    """
    overrides = {k: v for k, v in params.items() if k not in ("model.width", "model.depth")}
    if "model.width" in params or "model.depth" in params:
        width = int(params.get("model.width", base.model.hidden_sizes[0]))
        depth = int(params.get("model.depth", len(base.model.hidden_sizes)))
        overrides["model.hidden_sizes"] = [width] * depth
        overrides["model.channels"] = [width] * depth
    return base.with_overrides(overrides)


# ---------------------------------------------------------------------------- storage
def storage_for(url: str | None = None) -> RDBStorage:
    """Optuna RDB storage for ``url`` (the settings' URL when None).

    SQLite gets a 60 s busy timeout, so concurrent workers wait for the write lock
    instead of failing with "database is locked".
    """
    url = url or get_settings().optuna_storage_url
    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine_kwargs = {"connect_args": {"timeout": 60}}
    else:
        engine_kwargs = {"pool_pre_ping": True}
    return RDBStorage(url, engine_kwargs=engine_kwargs)


def list_studies(storage_url: str | None = None) -> list[dict[str, Any]]:
    """Summaries of every study in the storage: name, directions, trial counts, best value."""
    rows = []
    for summary in optuna.get_all_study_summaries(
        storage_for(storage_url), include_best_trial=True
    ):
        best = summary.best_trial
        rows.append(
            {
                "name": summary.study_name,
                "directions": [d.name.lower() for d in summary.directions],
                "n_trials": summary.n_trials,
                "best_value": best.value if best is not None else None,
                "created": summary.datetime_start,
                "crucible": SPEC_ATTR in summary.user_attrs,
            }
        )
    return rows


def delete_study(name: str, storage_url: str | None = None) -> None:
    """Delete a study and its trials from the storage (MLflow runs are kept).

    Raises:
        NotFoundError: If no study has that name.
    """
    try:
        optuna.delete_study(study_name=name, storage=storage_for(storage_url))
    except KeyError as exc:
        raise NotFoundError(f"no study named {name!r}; see list_studies()") from exc


# ---------------------------------------------------------------------------- samplers
def make_sampler(config: SamplerConfig, space: Space, multi_objective: bool) -> Any:
    """Build the Optuna sampler named by ``config``."""
    samplers = optuna.samplers
    seed, startup = config.seed, config.n_startup_trials
    builders: dict[str, Callable[[], Any]] = {
        "tpe": lambda: samplers.TPESampler(seed=seed, n_startup_trials=startup, multivariate=True),
        "random": lambda: samplers.RandomSampler(seed=seed),
        "grid": lambda: samplers.GridSampler(_grid(space, config.grid_points), seed=seed),
        "cmaes": lambda: _cmaes_sampler(seed, startup),
        "gp": lambda: samplers.GPSampler(seed=seed, n_startup_trials=startup),
        "nsga2": lambda: samplers.NSGAIISampler(seed=seed, population_size=config.population_size),
        "qmc": lambda: samplers.QMCSampler(seed=seed, scramble=True),
        "botorch": lambda: _botorch_sampler(space, seed, startup),
    }
    return builders[config.name]()


def _cmaes_sampler(seed: int | None, startup: int) -> Any:
    from crucible._imports import require

    require("cmaes", extra="hpo")  # Optuna's CMA-ES needs the separate 'cmaes' package
    return optuna.samplers.CmaEsSampler(seed=seed, n_startup_trials=startup)


def _botorch_sampler(space: Space, seed: int | None, startup: int) -> Any:
    from crucible.training.botorch_sampler import CrucibleBoTorchSampler

    return CrucibleBoTorchSampler(space, seed=seed, n_startup_trials=startup)


def _grid(space: Space, points: int) -> dict[str, list[Any]]:
    import numpy as np

    grid: dict[str, list[Any]] = {}
    for p in space.tunable:
        if isinstance(p, CategoricalParameter):
            grid[p.name] = list(p.choices)
        elif isinstance(p, IntegerParameter) and p.n_levels <= points:
            grid[p.name] = p.levels
        else:
            values = sorted({p.from_unit(u) for u in np.linspace(0.0, 1.0, points)})
            grid[p.name] = [int(v) if isinstance(p, IntegerParameter) else v for v in values]
    return grid


def make_pruner(config: PrunerConfig, max_epochs: int) -> Any:
    """Build the Optuna pruner named by ``config`` (``max_epochs`` bounds Hyperband)."""
    pruners = optuna.pruners
    builders: dict[str, Callable[[], Any]] = {
        "none": pruners.NopPruner,
        "median": lambda: pruners.MedianPruner(config.n_startup_trials, config.n_warmup_steps),
        "percentile": lambda: pruners.PercentilePruner(
            config.percentile, config.n_startup_trials, config.n_warmup_steps
        ),
        "hyperband": lambda: pruners.HyperbandPruner(
            config.min_resource, max_epochs, config.reduction_factor
        ),
        "successive_halving": lambda: pruners.SuccessiveHalvingPruner(
            config.min_resource, config.reduction_factor
        ),
    }
    return builders[config.name]()


class PruningCallback(Callback):
    """Reports the objective after every epoch and raises ``TrialPruned`` when told to."""

    def __init__(self, trial: Trial, metric: str) -> None:
        self.trial = trial
        self.metric = metric

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> bool | None:
        """Report and maybe prune."""
        value = metrics.get(self.metric)
        if value is None or not math.isfinite(value):
            return None
        self.trial.report(value, step=epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned after epoch {epoch} ({self.metric}={value:.4g})")
        return None


# ---------------------------------------------------------------------------- the study
class TrialOutcome(BaseModel):
    """What one trial produced.

    Attributes:
        number: Optuna trial number (None when no trial started: ``SKIPPED``, ``CRASHED``).
        state: ``COMPLETE``, ``PRUNED`` or ``FAIL``; ``SKIPPED`` (study stopped or full) or
            ``CRASHED`` (the task running it failed) from the orchestration.
        values: Objective values (None unless complete).
        params: Sampled (and fixed) parameters.
        metrics: Best-epoch metrics.
        reason: Why the trial was pruned or failed.
        seconds: Wall time of the trial.
        run_id: The trial's MLflow run, when tracking.
    """

    number: int | None
    state: str
    values: list[float] | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)
    reason: str | None = None
    seconds: float = 0.0
    run_id: str | None = None


class StudySummary(BaseModel):
    """Counts per state and the best trial of a study.

    Attributes:
        study: Study name.
        n_trials: Trials in any state.
        n_complete: Complete trials.
        n_pruned: Pruned trials.
        n_fail: Failed trials.
        n_running: Running trials.
        best_trial: Number of the best trial (first objective).
        best_value: Its first objective value.
        best_params: Its parameters.
        best_metrics: Its best-epoch metrics.
        pareto_front: Trial numbers on the Pareto front (several objectives only).
    """

    study: str
    n_trials: int
    n_complete: int = 0
    n_pruned: int = 0
    n_fail: int = 0
    n_running: int = 0
    best_trial: int | None = None
    best_value: float | None = None
    best_params: dict[str, Any] | None = None
    best_metrics: dict[str, float] | None = None
    pareto_front: list[int] | None = None


class StudyInfo(BaseModel):
    """A created or resumed study.

    Attributes:
        study: Study name.
        storage_url: Its Optuna storage.
        n_trials: Trials so far.
        remaining: Trials left within ``max_trials`` (None: unlimited).
        recovered: Stale RUNNING trials failed and re-queued.
        parent_run_id: The study's MLflow parent run.
    """

    study: str
    storage_url: str
    n_trials: int
    remaining: int | None = None
    recovered: list[int] = Field(default_factory=list)
    parent_run_id: str | None = None


class StudyReport(StudySummary):
    """A study summary with its plots and best trials.

    Attributes:
        plots: Plot name -> PNG path.
        top_trials: The best complete trials as flat rows.
    """

    plots: dict[str, str] = Field(default_factory=dict)
    top_trials: list[dict[str, Any]] = Field(default_factory=list)


@lru_cache(maxsize=8)
def _cached_dataset(data_json: str) -> DatasetSplit:
    return load_dataset(DataConfig.model_validate_json(data_json))


class HpoStudy:
    """An Optuna study plus its :class:`StudySpec` and tracker.

    Build one with :meth:`create` or :meth:`load`; both are safe to call from several
    workers at once.
    """

    def __init__(
        self,
        study: optuna.Study,
        spec: StudySpec,
        storage_url: str,
        tracker: Tracker,
        data: DatasetSplit | None = None,
    ) -> None:
        self.study = study
        self.spec = spec
        self.storage_url = storage_url
        self._ask_lock = threading.Lock()
        self.tracker = tracker
        self._data = data
        self._distributions = spec.space.to_optuna_distributions()

    # ---------------------------------------------------------------- create / load
    @classmethod
    def create(
        cls,
        spec: StudySpec,
        storage_url: str | None = None,
        *,
        load_if_exists: bool = True,
        tracking: bool | str | Tracker = True,
        data: DatasetSplit | None = None,
    ) -> HpoStudy:
        """Create the study in the storage (or load it when it exists and allowed).

        Args:
            spec: The study definition.
            storage_url: Optuna storage URL; the settings' URL when None.
            load_if_exists: Load an existing study of the same name instead of failing.
            tracking: ``True`` (MLflow at the settings' URI), ``False``, a URI or a tracker.
            data: Training data for every trial; ``base_config.data`` is loaded when None.

        Raises:
            AlreadyExistsError: If the study exists and ``load_if_exists`` is false.
            InvalidInputError: If an existing study of that name has a different spec.
        """
        url = storage_url or get_settings().optuna_storage_url
        storage = storage_for(url)
        try:
            study = optuna.create_study(
                study_name=spec.name,
                storage=storage,
                directions=list(spec.directions),
                load_if_exists=load_if_exists,
            )
        except optuna.exceptions.DuplicatedStudyError as exc:
            raise AlreadyExistsError(
                f"study {spec.name!r} already exists; load it with HpoStudy.load, pick another "
                "name or pass load_if_exists=True"
            ) from exc
        stored = study.user_attrs.get(SPEC_ATTR)
        spec_json = spec.model_dump(mode="json")
        if stored is not None and stored != spec_json:
            raise InvalidInputError(
                "spec",
                f"study {spec.name!r} exists with a different spec",
                "resume it with HpoStudy.load(name) or choose a new study name",
            )
        tracker = make_tracker(tracking)
        if stored is None:
            study.set_user_attr(SPEC_ATTR, spec_json)
            parent = _start_study_run(tracker, spec)
            if parent:
                study.set_user_attr(PARENT_RUN_ATTR, parent)
        return cls._attach(study, spec, url, tracker, data)

    @classmethod
    def load(
        cls,
        name: str,
        storage_url: str | None = None,
        *,
        tracking: bool | str | Tracker = True,
        data: DatasetSplit | None = None,
    ) -> HpoStudy:
        """Load a study created by :meth:`create` (in any process).

        Raises:
            NotFoundError: If there is no such study, or it was not created by Crucible.
        """
        url = storage_url or get_settings().optuna_storage_url
        try:
            study = optuna.load_study(study_name=name, storage=storage_for(url))
        except KeyError as exc:
            raise NotFoundError(
                f"no study named {name!r} in {url}; create it first or check list_studies()"
            ) from exc
        if SPEC_ATTR not in study.user_attrs:
            raise NotFoundError(
                f"study {name!r} was not created by Crucible (no spec stored); "
                "create it with HpoStudy.create"
            )
        spec = StudySpec.model_validate(study.user_attrs[SPEC_ATTR])
        return cls._attach(study, spec, url, make_tracker(tracking), data)

    @classmethod
    def _attach(
        cls,
        study: optuna.Study,
        spec: StudySpec,
        url: str,
        tracker: Tracker,
        data: DatasetSplit | None,
    ) -> HpoStudy:
        study.sampler = make_sampler(spec.sampler, spec.space, spec.is_multi_objective)
        study.pruner = make_pruner(spec.pruner, spec.base_config.epochs)
        return cls(study, spec, url, tracker, data)

    @property
    def parent_run_id(self) -> str | None:
        """The study's MLflow parent run (read from the storage once)."""
        if not hasattr(self, "_parent_run_id"):
            value = self.study.user_attrs.get(PARENT_RUN_ATTR)
            self._parent_run_id = str(value) if value else None
        return self._parent_run_id

    # ---------------------------------------------------------------- limits / stop
    def request_stop(self) -> None:
        """Ask every worker to stop before its next trial (running trials finish)."""
        self.study.set_user_attr(STOP_ATTR, True)

    def clear_stop(self) -> None:
        """Allow trials again after :meth:`request_stop`."""
        self.study.set_user_attr(STOP_ATTR, False)

    def stop_requested(self) -> bool:
        """Whether a stop was requested (read from the storage)."""
        attrs = self.study._storage.get_study_user_attrs(self.study._study_id)
        return bool(attrs.get(STOP_ATTR, False))

    def n_trials(self, states: tuple[TrialState, ...] | None = None) -> int:
        """Number of trials in the given states (all states when None)."""
        return len(self.study.get_trials(deepcopy=False, states=states))

    def remaining_trials(self) -> int | None:
        """Trials left to start before ``max_trials`` (None when unlimited).

        Every started trial counts (complete, pruned, failed, running); trials queued with
        ``enqueue_trial`` count once they start.
        """
        if self.spec.max_trials is None:
            return None
        started = self.n_trials((*_FINISHED, TrialState.RUNNING))  # queued ones not yet
        return max(self.spec.max_trials - started, 0)

    def fail_stale_trials(self, older_than_s: float, retry: bool = True) -> list[int]:
        """Mark RUNNING trials started more than ``older_than_s`` ago as failed.

        Use this when resuming after a crash: the crashed worker's trial stays RUNNING
        forever otherwise. With ``retry`` its parameters are enqueued to be tried again.

        Returns:
            Numbers of the trials that were failed.
        """
        now = dt.datetime.now()
        failed = []
        storage = self.study._storage
        for trial in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            started = trial.datetime_start or now
            if (now - started).total_seconds() < older_than_s:
                continue
            storage.set_trial_user_attr(trial._trial_id, "fail_reason", "stale: worker lost")
            if storage.set_trial_state_values(trial._trial_id, TrialState.FAIL):
                failed.append(trial.number)
                if retry:
                    self.study.enqueue_trial(trial.params, skip_if_exists=False)
        return failed

    # ---------------------------------------------------------------- trials
    def data_for(self, config: TrainConfig) -> DatasetSplit:
        """The training data for a trial (given at construction, else cached by config)."""
        if self._data is not None:
            return self._data
        return _cached_dataset(config.data.model_dump_json())

    def run_trial(self, extra_callbacks: tuple[Callback, ...] = ()) -> TrialOutcome:
        """Ask one trial, train it, tell the result. Never raises for a failed trial.

        Returns:
            The outcome (state COMPLETE, PRUNED or FAIL with the reason).
        """
        start = time.perf_counter()
        with self._ask_lock:  # trial threads sharing this object must not pop one queued trial
            trial = self.study.ask(self._distributions)
        params = {**self.spec.space.fixed_values, **trial.params}
        run = self.tracker.start_run(
            self.spec.name,
            f"trial-{trial.number}",
            tags=_trial_tags(self.spec, trial.number),
            parent_run_id=self.parent_run_id,
        )
        outcome = TrialOutcome(number=trial.number, state="FAIL", params=params, run_id=run.run_id)
        try:
            run.log_params(params)
            config = self._trial_config(params, trial.number)
            callbacks: list[Callback] = [TrackingCallback(run), *extra_callbacks]
            if not self.spec.is_multi_objective and self.spec.pruner.name != "none":
                callbacks.append(PruningCallback(trial, self.spec.objectives[0]))
            if self.spec.trial_timeout_s:
                callbacks.append(TimeLimit(self.spec.trial_timeout_s))
            from crucible.training.engine import fit

            result = fit(config, self.data_for(config), callbacks=callbacks)
            metrics = {**result.best_metrics, "n_parameters": float(result.n_parameters)}
            metrics["train_seconds"] = result.seconds
            values = [self._objective(metrics, name) for name in self.spec.objectives]
            outcome.metrics, outcome.values = metrics, values
            trial.set_user_attr("metrics", metrics)
            if result.best_checkpoint_path is not None:
                trial.set_user_attr("checkpoint", str(result.best_checkpoint_path))
                run.log_artifact(result.best_checkpoint_path, "checkpoint")
            run.log_metrics({f"best_{k}": v for k, v in metrics.items() if k != "epoch"})
            self.study.tell(trial, values)
            outcome.state = "COMPLETE"
        except optuna.TrialPruned as exc:
            outcome.state, outcome.reason = "PRUNED", str(exc)
            self.study.tell(trial, state=TrialState.PRUNED)
        except Exception as exc:  # a failed trial is recorded, never propagated
            outcome.reason = f"{type(exc).__name__}: {exc}"
            trial.set_user_attr("fail_reason", outcome.reason)
            trial.set_user_attr("traceback", traceback.format_exc()[-4000:])
            self.study.tell(trial, state=TrialState.FAIL)
        run.set_tags(
            {"crucible.state": outcome.state}
            | ({"crucible.fail_reason": outcome.reason} if outcome.reason else {})
        )
        run.end("FAILED" if outcome.state == "FAIL" else "FINISHED")
        outcome.seconds = time.perf_counter() - start
        return outcome

    def checkpoint_root(self) -> Path:
        """The folder every trial checkpoint of this study must lie in.

        ``base_config.checkpoint.directory`` when the spec sets one, else
        ``<artifacts_dir>/hpo/<study name>`` (where :meth:`run_trial` puts them).
        """
        directory = self.spec.base_config.checkpoint.directory
        if directory is not None:
            return Path(directory)
        settings = get_settings()
        assert settings.artifacts_dir is not None
        return settings.artifacts_dir / "hpo" / self.spec.name

    def _stored_checkpoint(self, trial: FrozenTrial) -> Path:
        """The trial's stored checkpoint path, checked to lie under :meth:`checkpoint_root`."""
        stored = trial.user_attrs["checkpoint"]
        if not isinstance(stored, str) or not stored:
            raise InvalidInputError(
                "trial.user_attrs.checkpoint",
                f"trial {trial.number} stores {stored!r}, not a path",
                "re-run the trial so that it records its checkpoint",
            )
        return inside(self.checkpoint_root(), stored, field="trial.user_attrs.checkpoint")

    def _trial_config(self, params: Mapping[str, Any], number: int) -> TrainConfig:
        config = params_to_config(self.spec.base_config, params)
        objective = self.spec.objectives[0]
        updates: dict[str, Any] = {"seed": config.seed + number}
        if objective.startswith(("valid_", "train_")) and objective != "train_seconds":
            updates["monitor"] = objective
            updates["monitor_mode"] = "min" if self.spec.directions[0] == "minimize" else "max"
        if config.checkpoint.directory is None:
            settings = get_settings()
            assert settings.artifacts_dir is not None
            folder = settings.artifacts_dir / "hpo" / self.spec.name / f"trial-{number:05d}"
            updates["checkpoint.directory"] = str(folder)
        return config.with_overrides(updates)

    @staticmethod
    def _objective(metrics: Mapping[str, float], name: str) -> float:
        if name not in metrics:
            raise InvalidInputError(
                "objectives", f"{name!r} is not a trial metric", f"use one of {sorted(metrics)}"
            )
        return float(metrics[name])

    def optimize(
        self,
        n_trials: int | None = None,
        timeout_s: float | None = None,
        on_trial: Callable[[TrialOutcome], None] | None = None,
    ) -> list[TrialOutcome]:
        """Run trials in this process until a limit is hit.

        Args:
            n_trials: Trials for this call (None: until ``max_trials`` or the timeout).
            timeout_s: Wall-time budget for this call (checked between trials).
            on_trial: Called with each outcome (progress reporting).

        Returns:
            The outcomes of this call's trials.

        Raises:
            StateError: If neither ``n_trials``, ``timeout_s`` nor ``spec.max_trials`` bounds
                the loop.
        """
        if n_trials is None and timeout_s is None and self.spec.max_trials is None:
            raise StateError(
                "optimize() needs a bound: pass n_trials or timeout_s, or set spec.max_trials"
            )
        deadline = time.monotonic() + timeout_s if timeout_s else math.inf
        outcomes: list[TrialOutcome] = []
        while n_trials is None or len(outcomes) < n_trials:
            if time.monotonic() > deadline or self.stop_requested():
                break
            remaining = self.remaining_trials()
            if remaining is not None and remaining <= 0:
                break
            outcome = self.run_trial()
            outcomes.append(outcome)
            if on_trial is not None:
                on_trial(outcome)
        return outcomes

    # ---------------------------------------------------------------- analysis
    def best_trial(self) -> FrozenTrial | None:
        """The best complete trial (first objective for multi-objective studies)."""
        complete = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if not complete:
            return None
        sign = 1.0 if self.spec.directions[0] == "minimize" else -1.0
        return min(complete, key=lambda t: sign * t.values[0])

    def best_params(self) -> dict[str, Any]:
        """Parameters of :meth:`best_trial` (fixed parameters included).

        Raises:
            StateError: If no trial has completed yet.
        """
        best = self.best_trial()
        if best is None:
            raise StateError(f"study {self.spec.name!r} has no complete trial yet; run trials")
        return {**self.spec.space.fixed_values, **best.params}

    def summary(self) -> dict[str, Any]:
        """Counts per state, the best value and parameters, the Pareto front size."""
        counts = {
            state.name: self.n_trials((state,)) for state in (*_FINISHED, TrialState.RUNNING)
        }
        best = self.best_trial()
        out: dict[str, Any] = {
            "study": self.spec.name,
            "n_trials": self.n_trials(),
            **{f"n_{k.lower()}": v for k, v in counts.items()},
            "best_trial": best.number if best else None,
            "best_value": best.values[0] if best else None,
            "best_params": best.params if best else None,
            "best_metrics": best.user_attrs.get("metrics") if best else None,
        }
        if self.spec.is_multi_objective:
            out["pareto_front"] = [t.number for t in self.study.best_trials]
        return out

    def top_trials(self, k: int = 10) -> list[dict[str, Any]]:
        """The ``k`` best complete trials as flat rows (number, values, params, metrics)."""
        complete = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        sign = 1.0 if self.spec.directions[0] == "minimize" else -1.0
        rows = []
        for trial in sorted(complete, key=lambda t: sign * t.values[0])[:k]:
            row: dict[str, Any] = {"trial": trial.number}
            row.update(
                {name: v for name, v in zip(self.spec.objectives, trial.values, strict=True)}
            )
            row.update(trial.params)
            metrics = trial.user_attrs.get("metrics", {})
            for key in ("valid_accuracy", "epoch", "train_seconds"):
                if key in metrics and key not in row:
                    row[key] = metrics[key]
            rows.append(row)
        return rows

    def importances(self) -> dict[str, float]:
        """Parameter importances for the first objective (PedANOVA, Optuna's default).

        Returns an empty dict with fewer than two complete trials.
        """
        if self.n_trials((TrialState.COMPLETE,)) < 2:
            return {}
        target = None if not self.spec.is_multi_objective else (lambda t: t.values[0])
        return dict(optuna.importance.get_param_importances(self.study, target=target))

    def plot(self, folder: Path) -> dict[str, Path]:
        """Write the optimisation history and parameter-importance PNGs.

        Args:
            folder: Output folder (created).

        Returns:
            ``{"history": path, "importance": path}`` (importance only with >= 2 trials).
        """
        from crucible.training._plots import plot_history, plot_importances

        folder.mkdir(parents=True, exist_ok=True)
        target = (lambda t: t.values[0]) if self.spec.is_multi_objective else None
        name = self.spec.objectives[0]
        paths = {
            "history": plot_history(
                self.study, folder / f"{self.spec.name}-history.png", target, name
            )
        }
        if self.n_trials((TrialState.COMPLETE,)) >= 2:
            paths["importance"] = plot_importances(
                self.study, folder / f"{self.spec.name}-importance.png", target, name
            )
        return paths

    def register_best(self) -> str | None:
        """Rebuild the best trial's model from its checkpoint and register it in MLflow.

        The model is logged without pickles: weights as a plain state dict, the config as
        JSON and a "models from code" pyfunc (:func:`crucible.training.export.log_network_model`),
        so ``mlflow.pyfunc.load_model("models:/<study>/<version>").predict(x)`` gives the
        network's outputs.

        Returns:
            The registered model version (None when tracking is off).

        Raises:
            StateError: If no complete trial has a checkpoint.
            InvalidInputError: If the stored checkpoint path lies outside the study's
                checkpoint folder (see :meth:`checkpoint_root`).
            InvalidFileError: If the checkpoint is unreadable or not a training checkpoint.
        """
        from crucible.training.engine import load_checkpoint
        from crucible.training.export import log_network_model

        best = self.best_trial()
        if best is None or "checkpoint" not in best.user_attrs:
            raise StateError(
                f"study {self.spec.name!r} has no complete trial with a checkpoint; run trials"
            )
        model, payload = load_checkpoint(self._stored_checkpoint(best))
        config = TrainConfig.model_validate(payload["config"])
        example = self.data_for(config).example_input()
        tags = {"trial_number": str(best.number), "objective": self.spec.objectives[0]}
        best_value = repr(float(best.values[0]))
        version = self.tracker.register_model(
            self.parent_run_id,
            self.spec.name,
            log_network_model(
                model,
                config.model,
                payload["input_shape"],
                int(payload["output_dim"]),
                example,
                self.spec.name,
            ),
            version_tags={"best_value": best_value, **tags},
            model_tags={"best_value": best_value},
        )
        self.tracker.get_run(self.parent_run_id).log_metrics({"best_value": best.values[0]})
        if version is not None:
            self.study.set_user_attr("crucible.registered_version", version)
        return version


def _study_tags(spec: StudySpec) -> dict[str, str]:
    return {
        "objectives": ",".join(spec.objectives),
        "directions": ",".join(spec.directions),
        "sampler": spec.sampler.name,
        "pruner": spec.pruner.name,
    }


def _start_study_run(tracker: Tracker, spec: StudySpec) -> str | None:
    """The study's parent run id, found again when the study is re-created.

    One experiment per study, named after it; the parent run is tagged
    ``crucible.role=study`` and stays open for resumed studies.
    """
    role = {"crucible.role": "study"}
    found = tracker.find_run(spec.name, role)
    if found is not None:
        return found
    tags = {**role, "crucible.study": spec.name, **_study_tags(spec)}
    return tracker.start_run(spec.name, spec.name, tags=tags).run_id


def _trial_tags(spec: StudySpec, number: int) -> dict[str, str]:
    return {
        "crucible.role": "trial",
        "crucible.study": spec.name,
        "crucible.trial_number": str(number),
        "crucible.state": "RUNNING",
    }
