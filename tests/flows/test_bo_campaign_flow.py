"""The BO campaign flow end to end: artifacts, events, stop rules, crash + resume, human input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from crucible.bo import Campaign, Objective, Strategy
from crucible.bo.problems import branin, get_problem
from crucible.bo.report import CampaignSummary
from crucible.bo.stopping import StoppingRules
from crucible.plugins import EVALUATORS
from flows.bo_campaign_flow import BOCampaignConfig, bo_campaign

CHEAP = Strategy(n_init=4, num_restarts=2, raw_samples=64, acq_maxiter=30, fit_maxiter=50)
LOG = Path.cwd() / ".crucible-test-bo-evaluations.jsonl"
ROOT = Path(__file__).resolve().parents[2]
KILLING_EVALUATOR = """
import fcntl, json, os, signal
from pathlib import Path
from crucible.bo.problems import branin

LOG = Path(__file__).with_name("evaluations.jsonl")
KILL_AT = Path(__file__).with_name("kill-at")


def evaluate(params):
    # A batch evaluates in parallel threads: the lock makes "write, count, maybe die" atomic,
    # so the process dies before its sibling evaluation can log a line.
    with LOG.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.write(json.dumps(params, sort_keys=True) + "\\n")
        f.flush()
        if KILL_AT.exists() and len(LOG.read_text().splitlines()) >= int(KILL_AT.read_text()):
            os.kill(os.getpid(), signal.SIGKILL)  # the worker dies: no cleanup, no final state
        fcntl.flock(f, fcntl.LOCK_UN)
    return branin(params)
"""
RUN_FLOW = """
import sys
from flows.bo_campaign_flow import BOCampaignConfig, bo_campaign
bo_campaign(BOCampaignConfig.model_validate_json(sys.argv[1]))
"""


class _Crash(BaseException):
    """Stands in for a killed worker (not an Exception, so nothing catches it)."""


def logged_branin(params: dict) -> dict:
    """Branin that appends every evaluation to LOG and crashes on request."""
    with LOG.open("a") as f:
        f.write(json.dumps(params) + "\n")
    crash_after = int((LOG.parent / ".crucible-test-bo-crash").read_text() or 0)
    if crash_after and sum(1 for _ in LOG.open()) >= crash_after:
        raise _Crash("worker killed")
    return branin(params)


EVALUATORS.register("test-logged-branin", logged_branin, overwrite=True)


@pytest.fixture
def evaluations() -> list[dict]:
    LOG.unlink(missing_ok=True)
    (LOG.parent / ".crucible-test-bo-crash").write_text("0")
    records: list[dict] = []
    yield records
    LOG.unlink(missing_ok=True)
    (LOG.parent / ".crucible-test-bo-crash").unlink(missing_ok=True)


def _read_log() -> list[dict]:
    return [json.loads(line) for line in LOG.open()] if LOG.exists() else []


def test_campaign_flow_crash_resume_and_report(tmp_path: Path, evaluations: list) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    config = BOCampaignConfig(
        name="flow-branin",
        problem="branin",
        evaluator="test-logged-branin",
        strategy=CHEAP,
        stopping=StoppingRules(max_trials=10),
        batch_size=2,
        output_dir=str(tmp_path / "out"),
    )
    (LOG.parent / ".crucible-test-bo-crash").write_text("7")
    with pytest.raises(BaseException, match="worker killed"):
        bo_campaign(config)
    campaign = Campaign.load("flow-branin")
    done_before = {json.dumps(t.params) for t in campaign.completed()}
    assert len(done_before) >= 4 and campaign.pending()

    (LOG.parent / ".crucible-test-bo-crash").write_text("0")
    summary = bo_campaign(config)
    assert summary.stop_reason.startswith("budget reached")
    assert summary.n_trials == 10
    evaluated = [json.dumps(p) for p in _read_log()]
    for params in done_before:  # completed trials were never evaluated again
        assert evaluated.count(params) == 1
    assert len(evaluated) <= 10 + 2  # at most the crashed batch was evaluated twice
    assert Path(summary.csv).exists() and Path(summary.report).exists()
    assert (tmp_path / "out" / "convergence.png").stat().st_size > 1000
    assert "Best trial" in Path(summary.report).read_text()

    with get_client(sync_client=True) as client:
        keys = {
            a.key
            for a in client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(like_="bo-flow-branin"))
            )
        }
    assert {
        "bo-flow-branin-batch",
        "bo-flow-branin-convergence",
        "bo-flow-branin-report",
        "bo-flow-branin-progress",
    } <= keys


def test_target_stop_and_multi_objective_pareto(tmp_path: Path) -> None:
    summary = bo_campaign(
        BOCampaignConfig(
            name="flow-target",
            problem="branin",
            strategy=CHEAP,
            stopping=StoppingRules(max_trials=30, target=1e6),
            batch_size=4,
            output_dir=str(tmp_path / "t"),
        )
    )
    assert summary.stop_reason.startswith("target reached") and summary.n_trials == 4
    summary = bo_campaign(
        BOCampaignConfig(
            name="flow-mo",
            problem="branin_currin",
            strategy=CHEAP,
            stopping=StoppingRules(max_trials=6),
            batch_size=2,
            output_dir=str(tmp_path / "mo"),
        )
    )
    assert summary.pareto_trials and (tmp_path / "mo" / "pareto.png").exists()


def test_parallel_workers_and_the_noisy_recommendation(tmp_path: Path) -> None:
    summary = bo_campaign(
        BOCampaignConfig(
            name="flow-async",
            problem="branin_noise20",
            strategy=CHEAP,
            stopping=StoppingRules(max_trials=9),
            workers=3,
            output_dir=str(tmp_path / "a"),
        )
    )
    assert summary.stop_reason.startswith("budget reached") and summary.n_trials == 9
    campaign = Campaign.load("flow-async")
    assert not campaign.pending() and len(campaign.completed()) == 9
    recommended = campaign.recommend()
    assert recommended is not None and summary.recommended_trial == recommended.trial.number
    assert summary.recommended_params == recommended.trial.params
    assert summary.recommended_mean is not None and set(summary.recommended_mean) == {"y"}
    assert "Recommended trial" in Path(summary.report).read_text()
    # after the design, each suggestion fills the free workers, at most batch_size (2) at once
    model = [t for t in campaign.all_trials() if t.source == "model"]
    sizes = [sum(t.batch == b for t in model) for b in {t.batch for t in model}]
    assert len(model) == 5 and max(sizes) <= 2


def test_objectives_with_directions_and_thresholds_from_the_parameters(tmp_path: Path) -> None:
    problem = get_problem("branin_currin")
    summary = bo_campaign(
        BOCampaignConfig(
            name="flow-objectives",
            problem="",
            space=problem.space,
            objectives=[
                Objective(name="branin", direction="minimize", threshold=30.0),
                Objective(name="currin", direction="minimize"),
            ],
            evaluator="branin_currin",
            strategy=CHEAP,
            stopping=StoppingRules(max_trials=6),
            workers=2,
            output_dir=str(tmp_path / "o"),
        )
    )
    campaign = Campaign.load("flow-objectives")
    assert [(o.name, o.direction, o.threshold) for o in campaign.objectives] == [
        ("branin", "minimize", 30.0),
        ("currin", "minimize", None),
    ]
    reference = campaign.reference_point()
    assert reference is not None and reference["branin"] == 30.0
    assert summary.n_trials == 6 and summary.pareto_trials
    assert summary.recommended_trial in summary.pareto_trials


def test_human_in_the_loop_pause_and_resume(tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.flow_runs import resume_flow_run

    config = BOCampaignConfig(
        name="flow-human",
        problem="branin",
        evaluation="human",
        strategy=CHEAP,
        stopping=StoppingRules(max_trials=2),
        batch_size=2,
        human_timeout_s=120,
        output_dir=str(tmp_path / "h"),
    )
    result: list[CampaignSummary] = []
    thread = threading.Thread(target=lambda: result.append(bo_campaign(config)))
    thread.start()
    deadline = time.monotonic() + 120
    run_id = None
    while time.monotonic() < deadline and run_id is None:
        with get_client(sync_client=True) as client:
            for run in client.read_flow_runs():
                if run.state and run.state.is_paused():
                    run_id = run.id
        time.sleep(0.5)
    assert run_id is not None, "flow never paused for input"
    pending = Campaign.load("flow-human").pending()
    answer = {f"trial_{t.number}_y": branin(t.params)["y"] for t in pending[:1]}
    answer["failed_trials"] = [t.number for t in pending[1:]]
    resume_flow_run(run_id, run_input=answer)
    thread.join(120)
    assert result[0].stop_reason.startswith("budget reached")
    frame = Campaign.load("flow-human").trials()
    assert frame["status"].tolist()[:2] == ["completed", "failed"]


def test_iteration_and_completed_events_carry_the_best_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flows.bo_campaign_flow as bo_flow

    emitted: list[dict] = []
    real_emit = bo_flow.emit_event

    def spy(**kwargs: object) -> object:
        emitted.append(kwargs)
        return real_emit(**kwargs)

    monkeypatch.setattr(bo_flow, "emit_event", spy)
    summary = bo_campaign(
        BOCampaignConfig(
            name="flow-events",
            problem="branin",
            strategy=CHEAP,
            stopping=StoppingRules(max_trials=4),
            batch_size=2,
            output_dir=str(tmp_path / "e"),
        )
    )
    ys = [
        t.values["y"]
        for t in sorted(Campaign.load("flow-events").completed(), key=lambda t: t.number)
    ]
    iterations = [e for e in emitted if e["event"] == "crucible.campaign.iteration"]
    completed = [e for e in emitted if e["event"] == "crucible.campaign.completed"]
    assert [e["payload"]["iteration"] for e in iterations] == [1, 2]
    assert [e["payload"]["best"] for e in iterations] == pytest.approx([min(ys[:2]), min(ys)])
    assert [e["payload"]["n_finished"] for e in iterations] == [2, 4]
    assert len(completed) == 1
    payload = completed[0]["payload"]
    assert payload["best"] == pytest.approx(min(ys)) and payload["n_trials"] == 4
    assert payload["stop_reason"] == summary.stop_reason
    assert payload["best_params"] == Campaign.load("flow-events").best().params
    assert {e["resource"]["crucible.campaign"] for e in emitted} == {"flow-events"}


def test_sigkilled_flow_run_resumes_without_repeating_evaluations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flow process killed with SIGKILL mid-campaign; re-running the flow finishes the job."""
    from prefect.settings import PREFECT_API_URL, PREFECT_RESULTS_LOCAL_STORAGE_PATH

    (tmp_path / "killing_evaluator.py").write_text(KILLING_EVALUATOR)
    (tmp_path / "kill-at").write_text("7")
    monkeypatch.setenv("CRUCIBLE_ALLOW_IMPORT_PATHS", "true")  # a local run of a test module
    config = BOCampaignConfig(
        name="flow-killed",
        problem="branin",
        evaluator="killing_evaluator:evaluate",
        strategy=CHEAP,
        stopping=StoppingRules(max_trials=10),
        batch_size=2,
        output_dir=str(tmp_path / "out"),
    )
    env = {
        **os.environ,
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(PREFECT_RESULTS_LOCAL_STORAGE_PATH.value()),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT), str(tmp_path)]),
    }
    killed = subprocess.run(
        [sys.executable, "-c", RUN_FLOW, config.model_dump_json()],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    log = tmp_path / "evaluations.jsonl"
    assert len(log.read_text().splitlines()) == 7
    campaign = Campaign.load("flow-killed")
    done_before = {json.dumps(t.params, sort_keys=True) for t in campaign.completed()}
    assert len(done_before) == 6 and len(campaign.pending()) == 2  # 7th died mid-batch

    (tmp_path / "kill-at").unlink()
    monkeypatch.syspath_prepend(str(tmp_path))
    summary = bo_campaign(config)
    assert summary.stop_reason.startswith("budget reached") and summary.n_trials == 10
    evaluated = log.read_text().splitlines()
    for params in done_before:  # completed trials were never evaluated again
        assert evaluated.count(params) == 1
    assert len(evaluated) == 7 + 4  # 6 kept, 1 lost with the killed worker, 4 more
