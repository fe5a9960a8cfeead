"""BO loop iteration → training, end to end through a real deployment.

A second process serves the ``train`` flow (``Flow.serve``: a deployment plus its own runner)
against the session's Prefect server; the BO campaign flow evaluates every trial with
``run_deployment`` and records the metrics the training runs return.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from crucible.bo import Campaign
from crucible.bo.objectives import Objective
from crucible.bo.stopping import StoppingRules
from crucible.bo.strategy import Strategy
from crucible.space import Space
from flows.bo_campaign_flow import BOCampaignConfig, bo_campaign

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENT = "train/bo-trial"
SERVE = """
from flows.training_flow import train
train.serve(name="bo-trial", parameters={"config": {
    "tracking": False, "objective": "valid_accuracy",
    "train": {"epochs": 2, "batch_size": 128, "data": {"name": "digits"}}}})
"""


def _deployment_exists() -> bool:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        try:
            client.read_deployment_by_name(DEPLOYMENT)
        except Exception:
            return False
    return True


@pytest.fixture
def served_training(tmp_path: Path) -> Iterator[None]:
    from prefect.settings import PREFECT_API_URL, PREFECT_RESULTS_LOCAL_STORAGE_PATH

    env = {
        **os.environ,
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(PREFECT_RESULTS_LOCAL_STORAGE_PATH.value()),
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
        "PYTHONPATH": str(ROOT),
    }
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-c", SERVE], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 120
        while not _deployment_exists():
            assert server.poll() is None, (tmp_path / "serve.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "train deployment was not served in 120 s"
            time.sleep(1)
        yield
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.mark.integration
def test_bo_campaign_evaluates_trials_by_running_the_training_deployment(
    served_training: None,
) -> None:
    space = Space.from_dict(
        {"optimizer.lr": {"type": "continuous", "low": 1e-3, "high": 1e-1, "log": True}}
    )
    config = BOCampaignConfig(
        name="lr-search", problem="", space=space,
        objectives=[Objective(name="valid_accuracy", direction="maximize")],
        strategy=Strategy(n_init=2), stopping=StoppingRules(max_trials=3), batch_size=1,
        evaluation="deployment", deployment=DEPLOYMENT,
    )  # fmt: skip
    bo_campaign(config)
    trials = Campaign.load("lr-search").trials()
    completed = trials[trials["status"] == "completed"]
    assert len(completed) == 3, trials[["trial", "status", "reason"]].to_string()
    assert completed["valid_accuracy"].between(0.05, 1.0).all()
