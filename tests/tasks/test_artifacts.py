"""Progress artifacts: coalesced updates, first and final values always sent."""

from __future__ import annotations

import time

import pytest

from tasks._artifacts import Progress

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _stored_progress(artifact_id: object) -> float:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterId

    with get_client(sync_client=True) as client:
        (artifact,) = client.read_artifacts(
            artifact_filter=ArtifactFilter(id=ArtifactFilterId(any_=[artifact_id]))
        )
    return float(artifact.data)  # type: ignore[arg-type]


def test_fast_updates_are_coalesced_and_the_final_one_is_sent() -> None:
    progress = Progress("coalesced", total=100, min_interval_s=60.0)
    assert progress.advance() == 1.0  # the first update goes out
    for _ in range(48):
        progress.advance()
    assert progress.sent == 1.0 and _stored_progress(progress.artifact_id) == 1.0
    progress.flush()  # a loop that stops early reports where it stopped
    assert _stored_progress(progress.artifact_id) == 49.0
    progress.set(100)
    assert progress.sent == 100.0 and _stored_progress(progress.artifact_id) == 100.0


def test_updates_further_apart_than_the_interval_are_all_sent() -> None:
    progress = Progress("spaced", total=3, min_interval_s=0.05)
    for step in (1, 2):
        progress.set(step)
        assert _stored_progress(progress.artifact_id) == pytest.approx(100 * step / 3)
        time.sleep(0.06)
