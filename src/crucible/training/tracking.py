"""Experiment tracking behind a small protocol, with an MLflow implementation.

Layout in MLflow (one experiment per study, named after it):

* a **parent run** per study (tag ``crucible.role=study``) holding the study's settings,
  its final best value and the analysis plots;
* a **nested run** per trial (``mlflow.parentRunId`` set explicitly, so children never land
  in the "Default" experiment) with the sampled parameters, per-epoch metrics, final
  metrics, tags (study, trial number, state, failure reason) and the best checkpoint as an
  artifact. Writes go through ``log_batch`` (per-value calls cost ~25 ms each on SQLite):
  one call per epoch for epochs slower than ``flush_s`` (1 s by default), one call per
  ``flush_s`` for faster ones, and always one when the trial ends;
* the best model logged with ``mlflow.pytorch.log_model`` (``input_example`` given, pip
  requirements explicit, so nothing is inferred: inference costs ~26 s) and registered in
  the Model Registry under the study name, with the best value as a tag.

Every call goes through ``MlflowClient`` with explicit run ids (no fluent global run
state), so several trials may log from threads or processes at once. The default store is
the SQLite file and artifact folder from :func:`crucible.settings.get_settings`; an
``http(s)://`` tracking server works unchanged.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from crucible._imports import require
from crucible.settings import get_settings
from crucible.training.callbacks import Callback

if TYPE_CHECKING:
    import numpy as np

TrialState = Literal["COMPLETE", "PRUNED", "FAIL"]
_MAX_PARAM_LENGTH = 6000


class TrialRecorder(Protocol):
    """Records one trial: parameters, per-epoch metrics, final state."""

    run_id: str | None

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record the trial's parameters (one call)."""

    def log_epoch(self, epoch: int, metrics: Mapping[str, float]) -> None:
        """Record one epoch's metrics in a single call."""

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        """Record final (step-less) metrics in a single call."""

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        """Attach a file."""

    def finish(self, state: TrialState, reason: str | None = None) -> None:
        """Close the run with its Optuna state and, for failures, the reason."""


class Tracker(Protocol):
    """Study-level tracking: parent runs, trial recorders, study artifacts, the registry."""

    def start_study(self, study_name: str, tags: Mapping[str, str]) -> str | None:
        """Create (or find) the study's parent run and return its id."""

    def start_trial(
        self, study_name: str, parent_run_id: str | None, trial_number: int
    ) -> TrialRecorder:
        """Open a nested run for one trial."""

    def log_study_artifact(self, parent_run_id: str | None, path: Path) -> None:
        """Attach a file (plot, table) to the parent run."""

    def finish_study(self, parent_run_id: str | None, metrics: Mapping[str, float]) -> None:
        """Record the study's summary metrics on the parent run."""

    def register_model(
        self,
        study_name: str,
        parent_run_id: str | None,
        model: Any,
        input_example: np.ndarray,
        best_value: float,
        tags: Mapping[str, str],
    ) -> str | None:
        """Log the best model and register a new version under the study name."""


class _NullRecorder:
    run_id: str | None = None

    def log_params(self, params: Mapping[str, Any]) -> None:
        return None

    def log_epoch(self, epoch: int, metrics: Mapping[str, float]) -> None:
        return None

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        return None

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        return None

    def finish(self, state: TrialState, reason: str | None = None) -> None:
        return None


class NullTracker:
    """A tracker that records nothing (``tracking=False``)."""

    def start_study(self, study_name: str, tags: Mapping[str, str]) -> str | None:
        """No parent run."""
        return None

    def start_trial(
        self, study_name: str, parent_run_id: str | None, trial_number: int
    ) -> TrialRecorder:
        """A recorder that drops everything."""
        return _NullRecorder()

    def log_study_artifact(self, parent_run_id: str | None, path: Path) -> None:
        """Nothing to attach to."""

    def finish_study(self, parent_run_id: str | None, metrics: Mapping[str, float]) -> None:
        """Nothing to record."""

    def register_model(
        self,
        study_name: str,
        parent_run_id: str | None,
        model: Any,
        input_example: np.ndarray,
        best_value: float,
        tags: Mapping[str, str],
    ) -> str | None:
        """No registry."""
        return None


def _finite(metrics: Mapping[str, float]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(float(v))}


class _MlflowRecorder:
    """An MLflow run for one trial; writes are buffered for at most ``flush_s`` seconds.

    Parameters, epoch metrics and tags are collected and sent in one ``log_batch`` once
    ``flush_s`` has passed since the last write, and always when the run finishes (also
    after a failed trial), so fast epochs cost one call per ``flush_s`` instead of one per
    epoch, and slow epochs (longer than ``flush_s``) one call each. ``flush_s=0`` sends
    every epoch at once. A process killed mid-trial loses at most ``flush_s`` of metrics.
    """

    def __init__(self, client: Any, run_id: str, flush_s: float = 0.0) -> None:
        self._client = client
        self.run_id: str | None = run_id
        self._entities = require("mlflow.entities")
        self._flush_s = flush_s
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
            self._client.log_batch(
                self.run_id, metrics=metrics[:1000], params=params[:100], tags=tags[:100]
            )
            params, metrics, tags = params[100:], metrics[1000:], tags[100:]

    def _maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= self._flush_s:
            self.flush()

    def log_params(self, params: Mapping[str, Any]) -> None:
        entities = self._entities
        self._params += [entities.Param(k, str(v)[:_MAX_PARAM_LENGTH]) for k, v in params.items()]
        self._maybe_flush()

    def log_epoch(self, epoch: int, metrics: Mapping[str, float]) -> None:
        now = int(time.time() * 1000)
        self._metrics += [
            self._entities.Metric(k, v, now, int(epoch))
            for k, v in _finite(metrics).items()
            if k != "epoch"
        ]
        self._maybe_flush()

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        now = int(time.time() * 1000)
        self._metrics += [self._entities.Metric(k, v, now, 0) for k, v in _finite(metrics).items()]
        self._maybe_flush()

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        self._client.log_artifact(self.run_id, str(path), artifact_path)

    def finish(self, state: TrialState, reason: str | None = None) -> None:
        self._tags.append(self._entities.RunTag("crucible.state", state))
        if reason:
            self._tags.append(self._entities.RunTag("crucible.fail_reason", reason[:5000]))
        self.flush()
        status = "FAILED" if state == "FAIL" else "FINISHED"
        self._client.set_terminated(self.run_id, status=status)


class MlflowTracker:
    """Tracking in MLflow (SQLite + local artifacts by default, or a tracking server).

    Args:
        tracking_uri: MLflow tracking URI; ``get_settings().mlflow_tracking_uri`` when None.
        artifact_location: Artifact root for new experiments (settings when None; ignored
            for ``http(s)`` servers, which choose their own).
        registry_uri: Model-registry URI; the tracking URI when None.
        flush_s: Longest time a trial's metrics wait in memory before one ``log_batch``
            sends them (see ``_MlflowRecorder``); 0 sends each epoch at once.
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
        mlflow = require("mlflow")
        self.client = mlflow.MlflowClient(self.tracking_uri, self.registry_uri)
        self._experiments: dict[str, str] = {}

    def experiment_id(self, study_name: str) -> str:
        """Id of the experiment named after the study (created on first use)."""
        if study_name not in self._experiments:
            found = self.client.get_experiment_by_name(study_name)
            if found is None:
                try:
                    exp_id = self.client.create_experiment(
                        study_name, artifact_location=self.artifact_location
                    )
                except Exception:  # another worker created it first
                    found = self.client.get_experiment_by_name(study_name)
                    if found is None:
                        raise
                    exp_id = found.experiment_id
            else:
                exp_id = found.experiment_id
            self._experiments[study_name] = exp_id
        return self._experiments[study_name]

    def start_study(self, study_name: str, tags: Mapping[str, str]) -> str | None:
        """Create the parent run (or return the existing one for this study)."""
        exp_id = self.experiment_id(study_name)
        existing = self.client.search_runs(
            [exp_id], filter_string="tags.`crucible.role` = 'study'", max_results=1
        )
        if existing:
            return str(existing[0].info.run_id)
        run = self.client.create_run(
            exp_id,
            run_name=study_name,
            tags={"crucible.role": "study", "crucible.study": study_name, **dict(tags)},
        )
        return str(run.info.run_id)

    def start_trial(
        self, study_name: str, parent_run_id: str | None, trial_number: int
    ) -> TrialRecorder:
        """Open a nested run in the study's experiment."""
        tags = {
            "crucible.role": "trial",
            "crucible.study": study_name,
            "crucible.trial_number": str(trial_number),
            "crucible.state": "RUNNING",
        }
        if parent_run_id:
            tags["mlflow.parentRunId"] = parent_run_id
        run = self.client.create_run(
            self.experiment_id(study_name), run_name=f"trial-{trial_number}", tags=tags
        )
        return _MlflowRecorder(self.client, run.info.run_id, self.flush_s)

    def log_study_artifact(self, parent_run_id: str | None, path: Path) -> None:
        """Attach a plot or table to the parent run."""
        if parent_run_id:
            self.client.log_artifact(parent_run_id, str(path))

    def finish_study(self, parent_run_id: str | None, metrics: Mapping[str, float]) -> None:
        """Log summary metrics on the parent run (it stays open for resumed studies)."""
        if parent_run_id:
            _MlflowRecorder(self.client, parent_run_id).log_metrics(metrics)

    def register_model(
        self,
        study_name: str,
        parent_run_id: str | None,
        model: Any,
        input_example: np.ndarray,
        best_value: float,
        tags: Mapping[str, str],
    ) -> str | None:
        """Log ``model`` as an MLflow PyTorch model and register it under ``study_name``.

        Returns:
            The new registered model version.
        """
        mlflow = require("mlflow")
        torch = require("torch")
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.registry_uri)
        mlflow.set_experiment(experiment_id=self.experiment_id(study_name))
        model = model.to("cpu").eval()
        with mlflow.start_run(run_id=parent_run_id, nested=mlflow.active_run() is not None):
            info = mlflow.pytorch.log_model(
                model,
                name="best_model",
                input_example=input_example,
                pip_requirements=[f"torch=={torch.__version__.split('+')[0]}"],
                registered_model_name=study_name,
            )
        version = str(info.registered_model_version)
        all_tags = {"best_value": repr(float(best_value)), **dict(tags)}
        for key, value in all_tags.items():
            self.client.set_model_version_tag(study_name, version, key, value)
        self.client.set_registered_model_tag(study_name, "best_value", repr(float(best_value)))
        return version


class TrackingCallback(Callback):
    """Sends each epoch's metrics to a :class:`TrialRecorder` (one call per epoch)."""

    def __init__(self, recorder: TrialRecorder) -> None:
        self.recorder = recorder

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> bool | None:
        """Log the epoch."""
        self.recorder.log_epoch(epoch, metrics)
        return None


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


def fit_tracked(
    config: Any,
    data: Any = None,
    *,
    experiment: str = "crucible-training",
    tracker: MlflowTracker | None = None,
    params: Mapping[str, Any] | None = None,
    callbacks: Any = (),
    tags: Mapping[str, str] | None = None,
) -> tuple[Any, str | None]:
    """Train one config and record it as a single MLflow run (not part of a study).

    Args:
        config: The :class:`~crucible.training.config.TrainConfig`.
        data: Data for :func:`~crucible.training.engine.fit` (``config.data`` when None).
        experiment: MLflow experiment name.
        tracker: The MLflow tracker (settings' URI when None).
        params: Parameters to record (e.g. a BO campaign's point); the flattened config
            is always recorded.
        callbacks: Extra per-epoch callbacks.
        tags: Extra run tags.

    Returns:
        The :class:`~crucible.training.engine.FitResult` and the MLflow run id.
    """
    from crucible.training.engine import fit

    tracker = tracker or MlflowTracker()
    run = tracker.client.create_run(
        tracker.experiment_id(experiment),
        run_name=(tags or {}).get("run_name", config.model.architecture),
        tags={"crucible.role": "training", **dict(tags or {})},
    )
    recorder = _MlflowRecorder(tracker.client, run.info.run_id, tracker.flush_s)
    recorder.log_params({**_flatten(config.model_dump(mode="json")), **dict(params or {})})
    try:
        result = fit(config, data, callbacks=[TrackingCallback(recorder), *callbacks])
    except Exception as exc:
        recorder.finish("FAIL", f"{type(exc).__name__}: {exc}")
        raise
    recorder.log_metrics({f"best_{k}": v for k, v in result.best_metrics.items()})
    if result.best_checkpoint_path is not None:
        recorder.log_artifact(result.best_checkpoint_path, "checkpoint")
    recorder.finish("COMPLETE")
    return result, recorder.run_id


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = value
    return out
