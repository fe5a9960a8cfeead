"""Experiment tracking: one small protocol, an MLflow implementation and a no-op one.

Every stage that records runs (training, HPO studies, the generator's jobs, activity
models) goes through this module:

* :class:`Tracker` opens runs: :meth:`~Tracker.start_run` (in an experiment, optionally
  nested under a parent run), :meth:`~Tracker.find_run` (a run by its tags, e.g. a
  resumed study's parent), :meth:`~Tracker.get_run` (a handle on a run by id) and
  :meth:`~Tracker.register_model` (log a model in a run and register a version).
* :class:`Run` records: parameters (nested mappings are flattened to dotted names),
  metrics (per step; non-finite and non-numeric values are skipped), tags, artifacts,
  nested child runs (:meth:`~Run.start_child`), and :meth:`~Run.end` with a status.

:class:`MlflowTracker` talks to MLflow only through ``MlflowClient`` with explicit run ids
(no fluent global run state, so runs may be written from several threads or processes at
once), except for :meth:`~MlflowTracker.register_model`, which MLflow's model flavours
need. Writes are batched: a run buffers parameters, metrics and tags and sends them in one
``log_batch`` once ``flush_s`` has passed since its last write, and always when it ends
(one call per value is slow on a SQLite store). The default store is the SQLite file and
artifact folder from :func:`crucible.settings.get_settings`; an ``http(s)://`` tracking
server works unchanged. :class:`NullTracker` records nothing (``tracking=False``).

Example (a parent run with nested children, e.g. one design run and its stages):
    >>> tracker = make_tracker(False)  # or MlflowTracker()
    >>> parent = tracker.start_run("design", "run-1", tags={"prefect.flow_run_id": "..."})
    >>> child = parent.start_child("scoring")
    >>> child.log_metrics({"mean_score": 0.7}, step=1)
    >>> child.end()
    >>> parent.end()
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, Protocol

from crucible._imports import require
from crucible.exceptions import InvalidInputError
from crucible.settings import get_settings

__all__ = [
    "PARENT_TAG",
    "MlflowRun",
    "MlflowTracker",
    "NullRun",
    "NullTracker",
    "Run",
    "RunStatus",
    "Tracker",
    "flatten",
    "make_tracker",
    "open_run",
]

RunStatus = Literal["FINISHED", "FAILED", "KILLED"]
#: The tag MLflow reads to nest a run under its parent.
PARENT_TAG = "mlflow.parentRunId"
#: Experiment tag the MLflow 3 UI reads to pick its view: Crucible's experiments are
#: "Machine learning" ones, so they open on the runs table, not the GenAI (traces) view.
EXPERIMENT_KIND_TAGS = {"mlflow.experimentKind": "custom_model_development"}
_MAX_PARAM_LENGTH = 6000
_MAX_TAG_LENGTH = 5000


class Run(Protocol):
    """One tracked run (see the module docstring)."""

    run_id: str | None

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record parameters; nested mappings become dotted names (``model.width``)."""

    def log_metrics(self, metrics: Mapping[str, Any], step: int = 0) -> None:
        """Record the finite numeric values of ``metrics`` at ``step`` (others skipped)."""

    def set_tags(self, tags: Mapping[str, str]) -> None:
        """Set tags (values longer than 5000 characters are cut)."""

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        """Attach a file (under ``artifact_path`` when given)."""

    def log_artifacts(self, folder: str | Path, artifact_path: str | None = None) -> None:
        """Attach a folder's files."""

    def start_child(self, name: str, tags: Mapping[str, str] | None = None) -> Run:
        """Open a run nested under this one, in the same experiment."""

    def flush(self) -> None:
        """Send everything buffered."""

    def end(self, status: RunStatus = "FINISHED") -> None:
        """Flush and close the run with ``status``."""


class Tracker(Protocol):
    """Where runs are opened (see the module docstring)."""

    def start_run(
        self,
        experiment: str,
        name: str,
        tags: Mapping[str, str] | None = None,
        parent_run_id: str | None = None,
    ) -> Run:
        """Open a run in ``experiment`` (created on first use), nested when a parent is given."""

    def find_run(self, experiment: str, tags: Mapping[str, str]) -> str | None:
        """Id of a run of ``experiment`` with all of ``tags``, or None."""

    def get_run(self, run_id: str | None) -> Run:
        """A handle on an existing run whose writes go out at once (no-op for None)."""

    def register_model(
        self,
        run_id: str | None,
        name: str,
        log_model: Callable[[Any], Any],
        version_tags: Mapping[str, str] | None = None,
        model_tags: Mapping[str, str] | None = None,
    ) -> str | None:
        """Log a model in ``run_id`` with ``log_model`` and register a version as ``name``."""


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as one level of dotted names; empty mappings stay values."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def _finite(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The finite real values of ``metrics`` as floats."""
    return {
        k: float(v)
        for k, v in metrics.items()
        if isinstance(v, numbers.Real) and math.isfinite(float(v))
    }


# ---------------------------------------------------------------------------- no-op
class NullRun:
    """A run that records nothing."""

    run_id: str | None = None

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Dropped."""

    def log_metrics(self, metrics: Mapping[str, Any], step: int = 0) -> None:
        """Dropped."""

    def set_tags(self, tags: Mapping[str, str]) -> None:
        """Dropped."""

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        """Dropped."""

    def log_artifacts(self, folder: str | Path, artifact_path: str | None = None) -> None:
        """Dropped."""

    def start_child(self, name: str, tags: Mapping[str, str] | None = None) -> Run:
        """Another run that records nothing."""
        return NullRun()

    def flush(self) -> None:
        """Nothing buffered."""

    def end(self, status: RunStatus = "FINISHED") -> None:
        """Nothing to close."""


class NullTracker:
    """A tracker that records nothing (``tracking=False``)."""

    def start_run(
        self,
        experiment: str,
        name: str,
        tags: Mapping[str, str] | None = None,
        parent_run_id: str | None = None,
    ) -> Run:
        """A run that records nothing."""
        return NullRun()

    def find_run(self, experiment: str, tags: Mapping[str, str]) -> str | None:
        """No runs."""
        return None

    def get_run(self, run_id: str | None) -> Run:
        """A run that records nothing."""
        return NullRun()

    def register_model(
        self,
        run_id: str | None,
        name: str,
        log_model: Callable[[Any], Any],
        version_tags: Mapping[str, str] | None = None,
        model_tags: Mapping[str, str] | None = None,
    ) -> str | None:
        """No registry."""
        return None


# --------------------------------------------------------------------------- MLflow
class MlflowRun:
    """An MLflow run; writes are buffered for at most ``flush_s`` seconds.

    Parameters, metrics and tags are collected and sent in one ``log_batch`` once
    ``flush_s`` has passed since the last write, and always when the run ends (also after
    a failure), so fast epochs cost one call per ``flush_s`` instead of one per epoch and
    slow ones (longer than ``flush_s``) one call each. ``flush_s=0`` sends every call at
    once; ``math.inf`` sends everything when the run ends. A process killed mid-run loses
    at most ``flush_s`` of records.

    Args:
        client: The ``MlflowClient``.
        run_id: The run.
        experiment_id: Its experiment (children open there).
        flush_s: Longest time a write waits in memory.
    """

    def __init__(self, client: Any, run_id: str, experiment_id: str, flush_s: float = 0.0):
        self.client = client
        self.run_id: str | None = run_id
        self.experiment_id = experiment_id
        self.flush_s = flush_s
        self._entities = require("mlflow.entities", extra="hpo")
        self._last_flush = time.monotonic()
        self._params: list[Any] = []
        self._metrics: list[Any] = []
        self._tags: list[Any] = []

    def flush(self) -> None:
        """Send everything buffered (chunks of MLflow's limits: 1000 metrics, 100 params)."""
        params, metrics, tags = self._params, self._metrics, self._tags
        self._params, self._metrics, self._tags = [], [], []
        self._last_flush = time.monotonic()
        while params or metrics or tags:
            self.client.log_batch(
                self.run_id, metrics=metrics[:1000], params=params[:100], tags=tags[:100]
            )
            params, metrics, tags = params[100:], metrics[1000:], tags[100:]

    def _maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= self.flush_s:
            self.flush()

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Buffer parameters (flattened; values cut to 6000 characters)."""
        self._params += [
            self._entities.Param(k, str(v)[:_MAX_PARAM_LENGTH]) for k, v in flatten(params).items()
        ]
        self._maybe_flush()

    def log_metrics(self, metrics: Mapping[str, Any], step: int = 0) -> None:
        """Buffer the finite numeric values of ``metrics`` at ``step``."""
        now = int(time.time() * 1000)
        self._metrics += [
            self._entities.Metric(k, v, now, int(step)) for k, v in _finite(metrics).items()
        ]
        self._maybe_flush()

    def set_tags(self, tags: Mapping[str, str]) -> None:
        """Buffer tags."""
        self._tags += [self._entities.RunTag(k, str(v)[:_MAX_TAG_LENGTH]) for k, v in tags.items()]
        self._maybe_flush()

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        """Upload a file now."""
        self.client.log_artifact(self.run_id, str(path), artifact_path)

    def log_artifacts(self, folder: str | Path, artifact_path: str | None = None) -> None:
        """Upload a folder's files now."""
        self.client.log_artifacts(self.run_id, str(folder), artifact_path=artifact_path)

    def start_child(self, name: str, tags: Mapping[str, str] | None = None) -> Run:
        """Open a nested run (``mlflow.parentRunId`` set) in this run's experiment."""
        assert self.run_id is not None
        run = self.client.create_run(
            self.experiment_id, run_name=name, tags={**dict(tags or {}), PARENT_TAG: self.run_id}
        )
        return MlflowRun(self.client, run.info.run_id, self.experiment_id, self.flush_s)

    def end(self, status: RunStatus = "FINISHED") -> None:
        """Flush and mark the run terminated with ``status``."""
        self.flush()
        self.client.set_terminated(self.run_id, status=status)


class MlflowTracker:
    """Tracking in MLflow (SQLite + local artifacts by default, or a tracking server).

    Args:
        tracking_uri: MLflow tracking URI; ``get_settings().mlflow_tracking_uri`` when None.
        artifact_location: Artifact root for new experiments (settings when None; ignored
            for ``http(s)`` servers, which choose their own).
        registry_uri: Model-registry URI; the settings' or the tracking URI when None.
        flush_s: Longest time a run's writes wait in memory (see :class:`MlflowRun`).
    """

    def __init__(
        self,
        tracking_uri: str | None = None,
        artifact_location: str | None = None,
        registry_uri: str | None = None,
        flush_s: float = 1.0,
    ) -> None:
        self.flush_s = flush_s
        settings = get_settings()
        self.tracking_uri = tracking_uri or settings.mlflow_tracking_uri
        is_server = self.tracking_uri.startswith(("http://", "https://"))
        self.artifact_location = (
            None if is_server else (artifact_location or settings.mlflow_artifact_location)
        )
        self.registry_uri = registry_uri or settings.mlflow_registry_uri or self.tracking_uri
        if self.tracking_uri.startswith("sqlite:///"):
            Path(self.tracking_uri.removeprefix("sqlite:///")).parent.mkdir(
                parents=True, exist_ok=True
            )
        mlflow = require("mlflow", extra="hpo")
        self.client = mlflow.MlflowClient(self.tracking_uri, self.registry_uri)
        self._experiments: dict[str, str] = {}

    def experiment_id(self, experiment: str) -> str:
        """Id of the experiment named ``experiment``, created on first use.

        New experiments carry :data:`EXPERIMENT_KIND_TAGS` (MLflow 3's "Machine learning" kind).
        """
        if experiment not in self._experiments:
            found = self.client.get_experiment_by_name(experiment)
            if found is None:
                try:
                    exp_id = self.client.create_experiment(
                        experiment,
                        artifact_location=self.artifact_location,
                        tags=EXPERIMENT_KIND_TAGS,
                    )
                except Exception:  # another worker created it first
                    found = self.client.get_experiment_by_name(experiment)
                    if found is None:
                        raise
                    exp_id = found.experiment_id
            else:
                exp_id = found.experiment_id
            self._experiments[experiment] = str(exp_id)
        return self._experiments[experiment]

    def start_run(
        self,
        experiment: str,
        name: str,
        tags: Mapping[str, str] | None = None,
        parent_run_id: str | None = None,
    ) -> MlflowRun:
        """Open a run in ``experiment``; nested under ``parent_run_id`` when given."""
        all_tags = dict(tags or {})
        if parent_run_id:
            all_tags[PARENT_TAG] = parent_run_id
        exp_id = self.experiment_id(experiment)
        run = self.client.create_run(exp_id, run_name=name, tags=all_tags)
        return MlflowRun(self.client, run.info.run_id, exp_id, self.flush_s)

    def find_run(self, experiment: str, tags: Mapping[str, str]) -> str | None:
        """Id of the oldest-listed run of ``experiment`` carrying all ``tags``, or None."""
        clauses = [f"tags.`{k}` = '{_quote(v)}'" for k, v in tags.items()]
        found = self.client.search_runs(
            [self.experiment_id(experiment)], filter_string=" and ".join(clauses), max_results=1
        )
        return str(found[0].info.run_id) if found else None

    def get_run(self, run_id: str | None) -> Run:
        """A handle on ``run_id`` (writes go out at once); a :class:`NullRun` for None."""
        if not run_id:
            return NullRun()
        experiment_id = self.client.get_run(run_id).info.experiment_id
        return MlflowRun(self.client, run_id, str(experiment_id), flush_s=0.0)

    def register_model(
        self,
        run_id: str | None,
        name: str,
        log_model: Callable[[Any], Any],
        version_tags: Mapping[str, str] | None = None,
        model_tags: Mapping[str, str] | None = None,
    ) -> str | None:
        """Log a model in ``run_id`` and register a new version under ``name``.

        Args:
            run_id: The run the model belongs to.
            name: Registered model name.
            log_model: ``mlflow -> ModelInfo``, e.g.
                :func:`crucible.training.export.log_network_model`'s result;
                it must pass ``registered_model_name=name``. Runs inside
                ``mlflow.start_run(run_id)`` (MLflow's model flavours need the fluent API).
            version_tags: Tags of the new version.
            model_tags: Tags of the registered model.

        Returns:
            The new version.

        Raises:
            InvalidInputError: If ``run_id`` is None (nothing was tracked).
        """
        if not run_id:
            raise InvalidInputError("run_id", "is empty", "track the run before registering")
        mlflow = require("mlflow", extra="hpo")
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.registry_uri)
        mlflow.set_experiment(experiment_id=self.client.get_run(run_id).info.experiment_id)
        with mlflow.start_run(run_id=run_id, nested=mlflow.active_run() is not None):
            info = log_model(mlflow)
        version = str(info.registered_model_version)
        for key, value in (version_tags or {}).items():
            self.client.set_model_version_tag(name, version, key, value)
        for key, value in (model_tags or {}).items():
            self.client.set_registered_model_tag(name, key, value)
        return version


def _quote(value: str) -> str:
    return str(value).replace("'", "\\'")


def make_tracker(tracking: bool | str | Tracker = True) -> Tracker:
    """Tracker from a flag, a tracking URI or an instance.

    Args:
        tracking: ``True`` → MLflow at the settings' URI; ``False`` → :class:`NullTracker`;
            a string → MLflow at that URI; a tracker → itself.
    """
    if tracking is True:
        return MlflowTracker()
    if tracking is False:
        return NullTracker()
    if isinstance(tracking, str):
        return MlflowTracker(tracking)
    return tracking


def open_run(
    experiment: str,
    name: str,
    tracking: bool | str | Tracker = True,
    tags: Mapping[str, str] | None = None,
    parent_run_id: str | None = None,
) -> Run:
    """Open a run with the tracker :func:`make_tracker` gives for ``tracking``.

    With ``parent_run_id`` the run is nested under that run, in the parent's experiment
    (MLflow shows nesting within one experiment), and ``experiment`` is not used.
    """
    tracker = make_tracker(tracking)
    if parent_run_id:
        return tracker.get_run(parent_run_id).start_child(name, tags)
    return tracker.start_run(experiment, name, tags=tags)
