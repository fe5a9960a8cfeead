"""The campaign loop without an orchestrator, on a real SQLite campaign store."""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from crucible.bo import Campaign, Strategy
from crucible.bo.loop import (
    Iteration,
    StoredCampaignSteps,
    ThreadWorkers,
    TrialRequest,
    TrialResult,
    evaluate_with,
    run_async_loop,
    run_campaign_loop,
)
from crucible.bo.problems import branin, get_problem
from crucible.bo.stopping import StoppingRules
from crucible.exceptions import InvalidInputError

CHEAP = Strategy(n_init=4, num_restarts=2, raw_samples=64, acq_maxiter=30, fit_maxiter=50)


def _campaign(tmp_path: Path, name: str = "loop") -> Campaign:
    problem = get_problem("branin")
    return Campaign.create(
        name, problem.space, problem.objectives, strategy=CHEAP, store_url=_url(tmp_path)
    )


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'campaigns.db'}"


def test_runs_design_then_model_until_the_budget(tmp_path: Path) -> None:
    campaign = _campaign(tmp_path)
    seen: list[Iteration] = []
    outcome = run_campaign_loop(
        campaign, evaluate_with(branin), StoppingRules(max_trials=6), 2, seen.append
    )
    assert outcome.stop_reason.startswith("budget reached")
    assert [i.number for i in seen] == [1, 2, 3] and outcome.iterations == 3
    assert [i.observed.status.finished for i in seen] == [2, 4, 6]
    sources = [t.source for i in seen for t in i.batch]
    assert sources == ["design"] * 4 + ["model"] * 2
    ys = [t.values["y"] for t in sorted(campaign.completed(), key=lambda t: t.number)]
    assert outcome.best_history == pytest.approx([min(ys[:2]), min(ys[:4]), min(ys)])
    assert outcome.status.best == pytest.approx(min(ys)) and outcome.status.pending == 0
    assert seen[-1].observed.completed == [4, 5]


def test_resume_evaluates_pending_trials_first_and_never_repeats_completed(
    tmp_path: Path,
) -> None:
    campaign = _campaign(tmp_path)
    crashed = StoredCampaignSteps(campaign).start()  # a run that suggested, then died
    campaign.observe(crashed[0].trial, branin(crashed[0].params))
    evaluated: list[int] = []

    def evaluate(batch: list[TrialRequest]) -> list[TrialResult]:
        evaluated.extend(t.trial for t in batch)
        return evaluate_with(branin)(batch)

    reopened = Campaign.load("loop", _url(tmp_path))
    outcome = run_campaign_loop(reopened, evaluate, StoppingRules(max_trials=5), batch_size=2)
    assert evaluated[:3] == [1, 2, 3]  # the three left pending, in one batch
    assert evaluated == [1, 2, 3, 4] and 0 not in evaluated
    assert outcome.status.finished == 5 and outcome.iterations == 2


def test_failed_and_invalid_evaluations_mark_trials_failed_and_count_to_the_budget(
    tmp_path: Path,
) -> None:
    campaign = _campaign(tmp_path)

    def flaky(params: Mapping[str, Any]) -> dict[str, float]:
        if params["x1"] < 0:
            raise RuntimeError("instrument offline")
        return {"y": math.nan} if params["x2"] > 10 else branin(params)

    outcome = run_campaign_loop(campaign, evaluate_with(flaky), StoppingRules(max_trials=4), 4)
    trials = campaign.all_trials()
    expected = {
        t.number: "RuntimeError: instrument offline"
        if t.params["x1"] < 0
        else ("not a finite number" if t.params["x2"] > 10 else None)
        for t in trials
    }
    assert len(trials) == 4 and outcome.status.finished == 4 and outcome.iterations == 1
    for t in trials:
        if expected[t.number] is None:
            assert t.status == "completed"
        else:
            assert t.status == "failed" and expected[t.number] in (t.reason or "")
    assert outcome.status.failed == sum(v is not None for v in expected.values()) >= 1


def test_target_patience_and_wall_clock_rules_stop_the_loop(tmp_path: Path) -> None:
    outcome = run_campaign_loop(
        _campaign(tmp_path, "target"),
        evaluate_with(branin),
        StoppingRules(max_trials=30, target=1e6),
        batch_size=2,
    )
    assert outcome.stop_reason.startswith("target reached") and outcome.iterations == 1

    ticks = iter(range(0, 1000, 10))
    slow = run_campaign_loop(
        _campaign(tmp_path, "clock"),
        evaluate_with(branin),
        StoppingRules(max_trials=30, max_wall_time_s=15),
        batch_size=2,
        clock=lambda: float(next(ticks)),
    )
    # checked before iterations 2 (10 s) and 3 (20 s): the first is the design, no check
    assert slow.stop_reason.startswith("wall-clock limit reached (20 s") and slow.iterations == 2

    constant = run_campaign_loop(
        _campaign(tmp_path, "flat"),
        evaluate_with(lambda params: {"y": 1.0}),
        StoppingRules(max_trials=30, patience=1),
        batch_size=2,
    )
    assert constant.stop_reason == "no improvement for 1 iterations"
    assert constant.best_history == [1.0, 1.0]


def test_bad_batch_size_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="batch_size"):
        run_campaign_loop(_campaign(tmp_path), evaluate_with(branin), StoppingRules(), 0)


class SimulatedWorkers:
    """Deterministic workers: trial ``k`` takes ``DURATIONS[k % 5]`` time units (no threads)."""

    DURATIONS = (3.0, 7.0, 1.0, 5.0, 2.0)

    def __init__(self, function: Any = branin) -> None:
        self.function = function
        self.now = 0.0
        self.running: list[tuple[float, TrialRequest]] = []
        self.most_running = 0

    def submit(self, request: TrialRequest) -> None:
        finish = self.now + self.DURATIONS[request.trial % len(self.DURATIONS)]
        self.running.append((finish, request))
        self.most_running = max(self.most_running, len(self.running))

    def wait_any(self) -> list[TrialResult]:
        self.running.sort(key=lambda item: item[0])
        self.now, request = self.running.pop(0)
        return evaluate_with(self.function)([request])


@dataclass(frozen=True)
class RecordingSteps(StoredCampaignSteps):
    """Stored steps that note how many trials were pending at each suggestion."""

    pending_at_suggest: list[int] = field(default_factory=list)

    def suggest(self, n: int) -> list[TrialRequest]:
        self.pending_at_suggest.append(len(self.campaign.pending()))
        return super().suggest(n)


def test_async_loop_suggests_while_the_other_workers_are_busy(tmp_path: Path) -> None:
    campaign = _campaign(tmp_path)
    steps = RecordingSteps(campaign)
    workers = SimulatedWorkers()
    seen: list[Iteration] = []
    outcome = run_async_loop(steps, workers, 3, StoppingRules(max_trials=10), 1, seen.append)
    assert outcome.stop_reason.startswith("budget reached") and outcome.iterations == 10
    assert workers.most_running == 3 and not workers.running
    # 4 design trials queued at the start, then 6 suggestions, each with 2 trials running
    assert steps.pending_at_suggest == [2] * 6
    trials = campaign.all_trials()
    assert [t.source for t in trials] == ["design"] * 4 + ["model"] * 6
    assert all(t.status == "completed" for t in trials) and outcome.status.pending == 0
    assert [len(i.batch) for i in seen] == [1] * 10
    # results are recorded in completion order, not suggestion order
    assert [i.batch[0].trial for i in seen][:4] == [2, 0, 4, 3]
    ys = {t.number: t.values["y"] for t in trials}
    assert outcome.status.best == pytest.approx(min(ys.values()))


def test_async_loop_runs_evaluations_concurrently_on_threads(tmp_path: Path) -> None:
    barrier = threading.Barrier(3, timeout=30)
    calls: list[int] = []

    def together(params: Mapping[str, Any]) -> dict[str, float]:
        calls.append(1)
        if len(calls) <= 3:
            barrier.wait()  # passes only when three evaluations run at once
        return branin(params)

    campaign = _campaign(tmp_path)
    with ThreadWorkers(together, 3) as workers:
        outcome = run_async_loop(campaign, workers, 3, StoppingRules(max_trials=6))
    assert outcome.status.completed == 6 and outcome.status.failed == 0


def test_async_loop_stops_on_a_rule_and_records_what_is_running(tmp_path: Path) -> None:
    campaign = _campaign(tmp_path, "target")
    workers = SimulatedWorkers()
    outcome = run_async_loop(campaign, workers, 3, StoppingRules(max_trials=30, target=1e6))
    assert outcome.stop_reason.startswith("target reached")
    assert outcome.status.completed == 3 and outcome.status.pending == 1  # one design queued
    assert not workers.running

    failing = SimulatedWorkers(lambda params: {"y": float("nan")})
    flaky = run_async_loop(
        _campaign(tmp_path, "nan"), failing, 2, StoppingRules(max_trials=5), suggest_size=2
    )
    assert flaky.status.failed == 5 and flaky.stop_reason.startswith("budget reached")


def test_async_loop_resumes_pending_trials_first(tmp_path: Path) -> None:
    campaign = _campaign(tmp_path)
    crashed = StoredCampaignSteps(campaign).start()
    campaign.observe(crashed[0].trial, branin(crashed[0].params))
    workers = SimulatedWorkers()
    submitted: list[int] = []
    submit = workers.submit
    workers.submit = lambda request: (submitted.append(request.trial), submit(request))  # type: ignore[method-assign]
    outcome = run_async_loop(
        Campaign.load("loop", _url(tmp_path)), workers, 2, StoppingRules(max_trials=6)
    )
    assert submitted[:3] == [1, 2, 3] and 0 not in submitted
    assert outcome.status.finished == 6 and sorted(submitted) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(("workers", "size", "field"), [(0, 1, "workers"), (2, 0, "suggest_size")])
def test_async_loop_bad_counts_name_the_field(
    tmp_path: Path, workers: int, size: int, field: str
) -> None:
    with pytest.raises(InvalidInputError, match=field):
        run_async_loop(_campaign(tmp_path), SimulatedWorkers(), workers, StoppingRules(), size)
