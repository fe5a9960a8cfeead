"""Every flow test runs against the session's temporary Prefect server."""

import pytest


@pytest.fixture(autouse=True)
def _use_prefect_harness(prefect_harness: None) -> None:
    return None
