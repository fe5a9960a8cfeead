"""Durations the operations tests measure; ``conftest.py`` prints them after the session."""

from __future__ import annotations

TIMINGS: dict[str, float] = {}
