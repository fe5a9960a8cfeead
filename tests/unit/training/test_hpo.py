"""Optuna studies: lifecycle, samplers, pruners, failures, limits, multi-objective, tracking."""

from __future__ import annotations

import pytest
import torch
from optuna.trial import TrialState
from torch import nn

from crucible.exceptions import AlreadyExistsError, InvalidInputError, NotFoundError, StateError
from crucible.space import Space
from crucible.training.config import TrainConfig
from crucible.training.hpo import (
    HpoStudy,
    PrunerConfig,
    SamplerConfig,
    StudySpec,
    _grid,
    default_space,
    delete_study,
    list_studies,
    make_pruner,
    params_to_config,
)
from crucible.training.nets import register_architecture

FAST = TrainConfig(epochs=2).with_overrides({"model.hidden_sizes": [32]})
SPACE = Space.from_dict(
    {
        "optimizer.lr": {"type": "continuous", "low": 1e-3, "high": 3e-2, "log": True},
        "model.width": {"type": "integer", "low": 16, "high": 64, "step": 16},
        "optimizer.name": {"type": "categorical", "choices": ["adam", "adamw"]},
        "batch_size": {"type": "fixed", "value": 64},
    }
)


def spec(name: str = "s", **kwargs) -> StudySpec:
    kwargs.setdefault("base_config", FAST)
    kwargs.setdefault("sampler", SamplerConfig(seed=0, n_startup_trials=2))
    return StudySpec(name=name, space=kwargs.pop("space", SPACE), **kwargs)


def test_study_lifecycle_create_run_load_list_delete() -> None:
    study = HpoStudy.create(spec("life"), tracking=False)
    outcomes = study.optimize(n_trials=3)
    assert [o.state for o in outcomes] == ["COMPLETE"] * 3
    assert all(o.params["batch_size"] == 64 for o in outcomes)  # fixed value recorded
    again = HpoStudy.load("life", tracking=False)
    assert again.spec == study.spec and again.n_trials() == 3
    best = again.best_params()
    assert set(best) == {"optimizer.lr", "model.width", "optimizer.name", "batch_size"}
    rows = again.top_trials(2)
    assert len(rows) == 2 and rows[0]["valid_loss"] <= rows[1]["valid_loss"]
    assert [s["name"] for s in list_studies()] == ["life"]
    delete_study("life")
    assert list_studies() == []
    with pytest.raises(NotFoundError, match="create it first"):
        HpoStudy.load("life", tracking=False)
    with pytest.raises(NotFoundError):
        delete_study("life")


def test_create_existing_study() -> None:
    HpoStudy.create(spec("dup"), tracking=False)
    assert HpoStudy.create(spec("dup"), tracking=False).n_trials() == 0  # load_if_exists
    with pytest.raises(AlreadyExistsError, match="load_if_exists"):
        HpoStudy.create(spec("dup"), load_if_exists=False, tracking=False)
    with pytest.raises(InvalidInputError, match="different spec"):
        HpoStudy.create(spec("dup", max_trials=5), tracking=False)


@pytest.mark.parametrize("sampler", ["tpe", "random", "grid", "cmaes", "gp", "qmc", "botorch"])
def test_every_sampler_runs_trials(sampler: str) -> None:
    study = HpoStudy.create(
        spec(
            f"sampler-{sampler}", sampler=SamplerConfig(name=sampler, seed=1, n_startup_trials=2)
        ),
        tracking=False,
    )
    outcomes = study.optimize(n_trials=3)
    assert [o.state for o in outcomes] == ["COMPLETE"] * 3
    assert len({tuple(sorted(o.params.items())) for o in outcomes}) >= 2


def test_grid_covers_choices_levels_and_log_points() -> None:
    grid = _grid(SPACE, points=3)
    assert grid["optimizer.name"] == ["adam", "adamw"]
    widths = grid["model.width"]  # 4 levels > 3 points: spread, snapped to the step
    assert len(widths) == 3 and widths[0] == 16 and widths[-1] == 64
    assert all(w % 16 == 0 for w in widths)
    assert grid["optimizer.lr"] == pytest.approx([1e-3, (1e-3 * 3e-2) ** 0.5, 3e-2])


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("none", "NopPruner"),
        ("median", "MedianPruner"),
        ("percentile", "PercentilePruner"),
        ("hyperband", "HyperbandPruner"),
        ("successive_halving", "SuccessiveHalvingPruner"),
    ],
)
def test_every_pruner_builds(name: str, cls: str) -> None:
    assert type(make_pruner(PrunerConfig(name=name), max_epochs=10)).__name__ == cls


def test_median_pruner_prunes_a_hopeless_trial() -> None:
    config = TrainConfig(epochs=4, early_stopping={"enabled": False})
    pruner = PrunerConfig(name="median", n_startup_trials=2, n_warmup_steps=0)
    study = HpoStudy.create(spec("prune", base_config=config, pruner=pruner), tracking=False)
    good = {"optimizer.lr": 0.03, "model.width": 64, "optimizer.name": "adam"}
    for params in (good, good, {**good, "optimizer.lr": 1e-3, "model.width": 16}):
        study.study.enqueue_trial(params)
    study.study.enqueue_trial({**good, "optimizer.name": "adamw", "optimizer.lr": 1e-3})
    outcomes = study.optimize(n_trials=3)
    assert [o.state for o in outcomes] == ["COMPLETE", "COMPLETE", "PRUNED"]
    assert "pruned after epoch 1" in (outcomes[2].reason or "")
    trial = study.study.trials[2]
    assert trial.state == TrialState.PRUNED and trial.intermediate_values


@register_architecture("test_hpo_broken", replace=True)
def _broken(config, input_shape, output_dim) -> nn.Module:
    class Broken(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.zeros(1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise RuntimeError("kaboom in forward")

    return Broken()


def test_failed_trial_is_recorded_and_the_loop_goes_on() -> None:
    space = Space.from_dict(
        {
            "optimizer.lr": {"type": "continuous", "low": 1e-3, "high": 1e-2},
            "model.architecture": {"type": "categorical", "choices": ["mlp", "test_hpo_broken"]},
        }
    )
    study = HpoStudy.create(spec("fail", space=space), tracking=False)
    study.study.enqueue_trial({"optimizer.lr": 5e-3, "model.architecture": "test_hpo_broken"})
    study.study.enqueue_trial({"optimizer.lr": 5e-3, "model.architecture": "mlp"})
    outcomes = study.optimize(n_trials=2)
    assert [o.state for o in outcomes] == ["FAIL", "COMPLETE"]
    assert outcomes[0].reason == "RuntimeError: kaboom in forward"
    assert study.study.trials[0].user_attrs["fail_reason"] == outcomes[0].reason


def test_per_trial_timeout_fails_the_trial() -> None:
    study = HpoStudy.create(spec("timeout", trial_timeout_s=1e-6), tracking=False)
    (outcome,) = study.optimize(n_trials=1)
    assert outcome.state == "FAIL" and "TrainingTimeoutError" in (outcome.reason or "")


def test_max_trials_and_stop_request() -> None:
    study = HpoStudy.create(spec("limits", max_trials=3), tracking=False)
    assert len(study.optimize(n_trials=10)) == 3
    assert study.remaining_trials() == 0 and study.optimize(n_trials=1) == []
    other = HpoStudy.create(spec("stop"), tracking=False)
    HpoStudy.load("stop", tracking=False).request_stop()  # from "another worker"
    assert other.stop_requested() and other.optimize(n_trials=2) == []
    other.clear_stop()
    assert len(other.optimize(n_trials=1)) == 1
    with pytest.raises(StateError, match="needs a bound"):
        HpoStudy.create(spec("unbounded"), tracking=False).optimize()


def test_multi_objective_pareto_front() -> None:
    mo = spec(
        "mo",
        objectives=["valid_loss", "n_parameters"],
        directions=["minimize", "minimize"],
        sampler=SamplerConfig(name="nsga2", seed=0, population_size=4),
        pruner=PrunerConfig(name="none"),
    )
    study = HpoStudy.create(mo, tracking=False)
    outcomes = study.optimize(n_trials=4)
    assert all(o.values is not None and len(o.values) == 2 for o in outcomes)
    front = study.summary()["pareto_front"]
    assert 1 <= len(front) <= 4
    with pytest.raises(ValueError, match="cannot prune multi-objective"):
        spec("mo2", objectives=["valid_loss", "n_parameters"], directions=["minimize"] * 2)


def test_spec_rejects_unknown_training_fields() -> None:
    bad = Space.from_dict(
        {"optimizer.learning_rate": {"type": "continuous", "low": 0.1, "high": 1}}
    )
    with pytest.raises(ValueError, match=r"optimizer\.learning_rate"):
        StudySpec(name="bad", space=bad)


def test_params_to_config_width_and_depth() -> None:
    config = params_to_config(
        TrainConfig(), {"model.width": 48, "model.depth": 3, "optimizer.lr": 0.1}
    )
    assert config.model.hidden_sizes == [48, 48, 48] and config.model.channels == [48, 48, 48]
    assert config.optimizer.lr == 0.1
    assert StudySpec(name="d", space=default_space()).space.names[0] == "optimizer.lr"


def test_stale_running_trial_is_failed_and_retried() -> None:
    study = HpoStudy.create(spec("stale"), tracking=False)
    crashed = study.study.ask(study._distributions)  # a worker died after ask
    assert study.fail_stale_trials(older_than_s=3600) == []
    assert study.fail_stale_trials(older_than_s=0) == [crashed.number]
    (outcome,) = study.optimize(n_trials=1)
    assert outcome.state == "COMPLETE"
    assert {k: outcome.params[k] for k in crashed.params} == crashed.params
    assert study.study.trials[0].user_attrs["fail_reason"] == "stale: worker lost"


def test_tracked_study_logs_runs_plots_and_registers_best(mlflow_uri: str, tmp_path) -> None:
    study = HpoStudy.create(spec("tracked"))
    study.optimize(n_trials=2)
    client = study.tracker.client
    exp = client.get_experiment_by_name("tracked")
    runs = client.search_runs([exp.experiment_id], "tags.`crucible.role` = 'trial'")
    assert len(runs) == 2
    assert {r.data.tags["mlflow.parentRunId"] for r in runs} == {study.parent_run_id}
    assert all(r.data.tags["crucible.state"] == "COMPLETE" for r in runs)
    assert all(len(client.get_metric_history(r.info.run_id, "valid_loss")) == 2 for r in runs)
    plots = study.plot(tmp_path)
    assert set(plots) == {"history", "importance"}
    assert all(p.stat().st_size > 5000 for p in plots.values())
    assert study.register_best() == "1"
    registered = client.get_registered_model("tracked")
    assert float(registered.tags["best_value"]) == pytest.approx(study.summary()["best_value"])
    _assert_registered_model_predicts_like_the_best_checkpoint(study, "models:/tracked/1")


def _assert_registered_model_predicts_like_the_best_checkpoint(study: HpoStudy, uri: str) -> None:
    """The pickle-free pyfunc gives the best trial's network outputs."""
    import mlflow
    import numpy as np

    from crucible.training.engine import load_checkpoint

    best = study.best_trial()
    assert best is not None
    network, payload = load_checkpoint(best.user_attrs["checkpoint"])
    x = study.data_for(TrainConfig.model_validate(payload["config"])).valid.tensors[0][:5]
    mlflow.set_tracking_uri(study.tracker.tracking_uri)
    loaded = mlflow.pyfunc.load_model(uri)
    with torch.no_grad():
        expected = network(x).numpy()
    np.testing.assert_allclose(loaded.predict(x.numpy()), expected, rtol=1e-5, atol=1e-6)


_WORKER = """
import sys
from crucible.training.hpo import HpoStudy
study = HpoStudy.load(sys.argv[1], tracking=sys.argv[3] == "mlflow")
outcomes = study.optimize(n_trials=int(sys.argv[2]))
print("STATES", ",".join(o.state for o in outcomes))
"""


def _run_workers(name: str, n_workers: int, n_trials: int, tracking: str) -> list[str]:
    import os
    import subprocess
    import sys

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, name, str(n_trials), tracking],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(n_workers)
    ]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
        assert "database is locked" not in out + err
        outputs.append(out)
    return outputs


def _forked_worker(name: str, storage_url: str, n_trials: int, queue) -> None:
    try:
        study = HpoStudy.load(name, storage_url, tracking=False)
        outcomes = study.optimize(n_trials=n_trials)
        queue.put([o.state for o in outcomes])
    except BaseException:  # report to the parent instead of dying silently
        import traceback

        queue.put(traceback.format_exc())


def test_two_processes_share_one_sqlite_study() -> None:
    """Two worker processes on one SQLite study; the slow variant below also tracks in MLflow.

    Workers come from a fork server, not from forking this process: the test process runs
    the Prefect harness's server threads, and forking a threaded process is unsafe.
    """
    import multiprocessing

    base = TrainConfig(epochs=1).with_overrides({"model.hidden_sizes": [16]})
    study = HpoStudy.create(spec("shared", base_config=base), tracking=False)
    context = multiprocessing.get_context("forkserver")
    queue = context.Queue()
    args = ("shared", study.storage_url, 6, queue)
    workers = [context.Process(target=_forked_worker, args=args) for _ in "ab"]
    for worker in workers:
        worker.start()
    reports = [queue.get(timeout=300) for _ in workers]
    assert reports == [["COMPLETE"] * 6] * 2, reports  # no "database is locked" surfaced
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    trials = study.study.get_trials()
    assert sorted(t.number for t in trials) == list(range(12))  # none lost, none duplicated
    assert all(t.state == TrialState.COMPLETE for t in trials)


@pytest.mark.slow
def test_two_processes_share_one_sqlite_study_and_mlflow_store(mlflow_uri: str) -> None:
    base = TrainConfig(epochs=1).with_overrides({"model.hidden_sizes": [16]})
    study = HpoStudy.create(spec("shared", base_config=base))
    outputs = _run_workers("shared", n_workers=2, n_trials=6, tracking="mlflow")
    assert all("STATES " + ",".join(["COMPLETE"] * 6) in out for out in outputs)
    trials = study.study.get_trials()
    assert sorted(t.number for t in trials) == list(range(12))
    assert all(t.state == TrialState.COMPLETE for t in trials)
    client = study.tracker.client
    exp = client.get_experiment_by_name("shared")
    runs = client.search_runs([exp.experiment_id], "tags.`crucible.role` = 'trial'")
    assert sorted(int(r.data.tags["crucible.trial_number"]) for r in runs) == list(range(12))
