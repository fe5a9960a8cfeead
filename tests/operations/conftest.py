"""The operations suite (marker ``operations``; ``make test-operations``, run by ``.ci/run``).

Tests record durations in :data:`tests.operations.timings.TIMINGS`; they are printed at the
end of the session.
"""

from __future__ import annotations

import pytest

from tests.operations.timings import TIMINGS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMINGS:
        terminalreporter.section("operations timings")
        for name, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{name}: {seconds:.1f} s")
