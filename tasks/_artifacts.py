"""Shared helpers that publish files and progress as Prefect artifacts.

Domain code writes plain files (PNG, CSV, HTML); tasks call these helpers to show them in
the Prefect UI. Images are embedded as ``data:`` URLs so they display without a file server.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect.artifacts import (
    create_image_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

_MAX_INLINE_IMAGE_BYTES = 4_000_000

#: One row of a table artifact: column name -> cell value.
Row = dict[str, Any]


def _artifact_key(key: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    cleaned = "".join(c if c.isalnum() else "-" for c in key.lower()).strip("-")
    return "-".join(part for part in cleaned.split("-") if part)


def publish_image(path: str | Path, key: str, description: str = "") -> UUID | None:
    """Publish a PNG file as an image artifact (inline ``data:`` URL).

    Args:
        path: The PNG file.
        key: Artifact key; sanitised to Prefect's allowed characters.
        description: Markdown shown under the image; the file path is appended.

    Returns:
        The artifact id, or None when the image is too large to inline (a markdown
        artifact with the file path is published instead).
    """
    path = Path(path)
    data = path.read_bytes()
    note = f"{description}\n\nFile: `{path}`".strip()
    if len(data) > _MAX_INLINE_IMAGE_BYTES:
        create_markdown_artifact(markdown=note, key=_artifact_key(key), description=description)
        return None
    url = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return create_image_artifact(image_url=url, key=_artifact_key(key), description=note)


def publish_table(rows: Sequence[Row], key: str, description: str = "") -> UUID:
    """Publish a list of row dicts as a table artifact."""
    return create_table_artifact(
        table=[dict(row) for row in rows], key=_artifact_key(key), description=description
    )


def publish_markdown(markdown: str, key: str, description: str = "") -> UUID:
    """Publish a markdown report."""
    return create_markdown_artifact(
        markdown=markdown, key=_artifact_key(key), description=description
    )


class Progress:
    """A Prefect progress artifact that a loop updates (0-100 %).

    Updates closer together than ``min_interval_s`` are coalesced (each is an API call,
    which fast loops such as many short trials would otherwise pay every time); the
    first and the final (100 %) updates are always sent, and :meth:`flush` sends the
    latest value, e.g. when a loop stops early.

    Example:
        >>> progress = Progress("training", total=10)  # doctest: +SKIP
        >>> progress.advance()  # doctest: +SKIP
    """

    def __init__(
        self, key: str, total: int, description: str = "", min_interval_s: float = 1.0
    ) -> None:
        self.total = max(int(total), 1)
        self.done = 0
        self.min_interval_s = min_interval_s
        self.sent: float = 0.0
        self._last_sent_at = float("-inf")
        self.artifact_id = create_progress_artifact(
            progress=0.0, key=_artifact_key(key), description=description
        )

    def advance(self, steps: int = 1) -> float:
        """Record ``steps`` more units of work; returns the new percentage."""
        self.done = min(self.done + steps, self.total)
        return self.set(self.done)

    def set(self, done: int) -> float:
        """Set the completed units of work; returns the new percentage."""
        self.done = min(max(done, 0), self.total)
        percent = 100.0 * self.done / self.total
        now = time.monotonic()
        if self.done == self.total or now - self._last_sent_at >= self.min_interval_s:
            self._send(percent, now)
        return percent

    def flush(self) -> None:
        """Send the latest percentage if a coalesced update has not been sent yet."""
        percent = 100.0 * self.done / self.total
        if percent != self.sent:
            self._send(percent, time.monotonic())

    def _send(self, percent: float, now: float) -> None:
        if self.artifact_id is not None and percent != self.sent:
            update_progress_artifact(artifact_id=self.artifact_id, progress=percent)
        self.sent = percent
        self._last_sent_at = now
