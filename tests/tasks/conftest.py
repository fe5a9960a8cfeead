"""Task bodies are tested through ``task.fn(...)`` with the run logger disabled."""

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _no_run_logger() -> Iterator[None]:
    from prefect.logging import disable_run_logger

    with disable_run_logger():
        yield
