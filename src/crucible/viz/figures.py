"""The one way Crucible draws a figure to a file: headless pyplot, save, close.

Every PNG Crucible writes (campaign reports, learning curves, study plots, generator
curves, data cards, parity plots, chemical-space maps) goes through :func:`pyplot` and
:func:`save_figure`, so the backend, the folder creation and the closing of the figure
(pyplot keeps every open figure alive otherwise) are done in one place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crucible._imports import require

__all__ = ["pyplot", "save_figure"]


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the headless ``Agg`` backend (no display needed)."""
    require("matplotlib").use("Agg")
    return require("matplotlib.pyplot")


def save_figure(
    figure: Any,
    path: str | Path,
    *,
    dpi: float | None = None,
    tight_layout: bool = True,
    bbox_inches: str | None = None,
) -> Path:
    """Write ``figure`` to ``path`` (parent folders created) and close it.

    Args:
        figure: A matplotlib ``Figure``.
        path: The file to write (the format follows the suffix, e.g. ``.png``).
        dpi: Resolution; the figure's own when None.
        tight_layout: Call ``figure.tight_layout()`` first.
        bbox_inches: Passed to ``savefig`` (``"tight"`` crops to the drawn content).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if tight_layout:
        figure.tight_layout()
    try:
        figure.savefig(path, dpi=dpi, bbox_inches=bbox_inches)
    finally:
        pyplot().close(figure)
    return path
