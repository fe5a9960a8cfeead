"""crucible.viz.figures: headless pyplot, save (folders created), always close."""

from __future__ import annotations

from pathlib import Path

import pytest

from crucible.viz.figures import pyplot, save_figure


def test_save_figure_writes_the_file_and_closes_the_figure(tmp_path: Path) -> None:
    plt = pyplot()
    assert plt.get_backend().lower() == "agg"
    fig, ax = plt.subplots(figsize=(2, 2), dpi=50)
    ax.plot([0, 1], [1, 0])
    path = save_figure(fig, tmp_path / "new" / "folder" / "line.png", dpi=80)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert fig.number not in plt.get_fignums()
    from PIL import Image

    assert Image.open(path).size == (160, 160)  # 2 in x 80 dpi


def test_the_figure_is_closed_when_saving_fails(tmp_path: Path) -> None:
    plt = pyplot()
    fig, _ = plt.subplots()
    with pytest.raises(ValueError, match="not supported"):
        save_figure(fig, tmp_path / "figure.unknown-format")
    assert fig.number not in plt.get_fignums()
