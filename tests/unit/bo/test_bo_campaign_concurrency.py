"""Campaigns shared by several processes: no duplicate, no lost and no half-written trial.

Real processes (``multiprocessing`` spawn) share one campaign in a real store: a SQLite
file (default selection) and a PostgreSQL server started by the ``postgres_url`` fixture
(marker ``integration``). Each test prints one ``CONCURRENCY`` line with its figures.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing as mp
import os
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from crucible.bo import Campaign, Strategy
from crucible.bo.problems import get_problem

FAST = Strategy(
    n_init=4, num_restarts=2, raw_samples=64, acq_maxiter=30, fit_maxiter=50, mc_samples=16
)
#: Slow enough (a few seconds per suggestion) to be killed in the middle of one.
SLOW = Strategy(n_init=4, num_restarts=40, raw_samples=16_384, acq_maxiter=400, fit_maxiter=400)
N_WORKERS, N_EACH = 4, 10


def _sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'shared.db'}"


def _start_campaign(name: str, url: str, strategy: Strategy) -> Campaign:
    """A Branin campaign with its initial design observed (so workers use the model)."""
    problem = get_problem("branin")
    campaign = Campaign.create(
        name, problem.space, problem.objectives, strategy=strategy, store_url=url
    )
    for trial in campaign.suggest(4):
        campaign.observe(trial.number, problem.evaluator(trial.params))
    return campaign


def _suggest_worker(url: str, name: str, n: int, barrier: Any, out: str) -> None:
    problem = get_problem("branin")
    campaign = Campaign.load(name, url)
    got = []
    barrier.wait(timeout=300)
    for _ in range(n):
        cpu = time.process_time()
        (trial,) = campaign.suggest(1)
        cpu = time.process_time() - cpu
        got.append(
            {"number": trial.number, "params": trial.params, "source": trial.source, "cpu": cpu}
        )
        campaign.observe(trial.number, problem.evaluator(trial.params))
    Path(out).write_text(json.dumps(got))


def _run_shared(url: str, tmp_path: Path, label: str) -> None:
    campaign = _start_campaign("shared", url, FAST)
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(N_WORKERS + 1)
    outs = [tmp_path / f"worker{i}.json" for i in range(N_WORKERS)]
    procs = [
        ctx.Process(target=_suggest_worker, args=(url, "shared", N_EACH, barrier, str(out)))
        for out in outs
    ]
    for p in procs:
        p.start()
    barrier.wait(timeout=300)  # every worker has imported and loaded the campaign
    start = time.perf_counter()
    for p in procs:
        p.join(600)
    elapsed = time.perf_counter() - start
    assert [p.exitcode for p in procs] == [0] * N_WORKERS

    returned = [t for out in outs for t in json.loads(out.read_text())]
    trials = campaign.all_trials()
    new = [t for t in trials if t.number >= 4]
    keys = {tuple(sorted(t.params.items())) for t in trials}
    X = campaign.space.encode([t["params"] for t in returned])
    distances = [float(np.linalg.norm(a - b)) for a, b in itertools.combinations(X, 2)]
    print(
        f"\nCONCURRENCY {label}: {N_WORKERS} processes x {N_EACH} suggest(1) in "
        f"{elapsed:.1f} s; {len(returned)} returned, {len({t['number'] for t in returned})} "
        f"distinct numbers, {len(keys) - 4} distinct new points; min pairwise distance of "
        f"the proposals (unit cube) {min(distances):.2e}; CPU per suggest "
        f"{np.mean([t['cpu'] for t in returned]):.2f} s (machine load {os.getloadavg()[0]:.1f})"
    )
    assert sorted(t["number"] for t in returned) == list(range(4, 4 + N_WORKERS * N_EACH))
    assert [t.number for t in trials] == list(range(4 + N_WORKERS * N_EACH))  # none lost
    assert all(t.status == "completed" for t in trials)
    assert all(t["source"] == "model" for t in returned)
    assert len(keys) == len(trials)  # no point suggested twice
    assert min(distances) > 0
    assert {t.number: t.params for t in new} == {t["number"]: t["params"] for t in returned}


def _slow_worker(url: str, name: str) -> None:
    Campaign.load(name, url).suggest(3)


def _store_rows(url: str) -> list[list[tuple[Any, ...]]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [
                [tuple(row) for row in conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))]
                for table in ("crucible_campaigns", "crucible_trials")
            ]
    finally:
        engine.dispose()


def _lock_is_held(url: str) -> bool:
    """Whether another connection holds the campaign lock (SQLite: the write lock)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        conn = sqlite3.connect(str(parsed.database), timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            conn.close()
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT id FROM crucible_campaigns FOR UPDATE NOWAIT"))
        return False
    except OperationalError:
        return True
    finally:
        engine.dispose()


def _run_killed(url: str, label: str) -> None:
    campaign = _start_campaign("killed", url, SLOW)
    before = _store_rows(url)
    proc = mp.get_context("spawn").Process(target=_slow_worker, args=(url, "killed"))
    proc.start()
    deadline = time.monotonic() + 300
    while not _lock_is_held(url):
        assert proc.is_alive() and time.monotonic() < deadline, "the worker never locked"
        time.sleep(0.02)
    time.sleep(0.1)  # inside the fit and the acquisition search (seconds: 3 q-EI points)
    assert proc.pid is not None
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(60)
    assert proc.exitcode == -signal.SIGKILL
    after = _store_rows(url)
    assert after == before  # no trial, no batch counter, no model state written

    start = time.perf_counter()
    (trial,) = Campaign.load("killed", url).suggest(1)  # the campaign is still usable
    elapsed = time.perf_counter() - start
    assert trial.number == 4 and campaign.space.contains(trial.params)
    print(
        f"\nCONCURRENCY {label}: SIGKILL mid-suggest left the store unchanged "
        f"({len(before[1])} trials); the next suggest took {elapsed:.1f} s and got trial 4"
    )


def test_four_processes_share_one_sqlite_campaign(tmp_path: Path) -> None:
    _run_shared(_sqlite_url(tmp_path), tmp_path, "sqlite")


def test_sigkill_mid_suggest_leaves_sqlite_store_consistent(tmp_path: Path) -> None:
    _run_killed(_sqlite_url(tmp_path), "sqlite")


@pytest.mark.integration
def test_four_processes_share_one_postgresql_campaign(postgres_url: str, tmp_path: Path) -> None:
    pytest.importorskip("psycopg2")
    _run_shared(postgres_url, tmp_path, "postgresql")


@pytest.mark.integration
def test_sigkill_mid_suggest_leaves_postgresql_store_consistent(postgres_url: str) -> None:
    pytest.importorskip("psycopg2")
    _run_killed(postgres_url, "postgresql")
