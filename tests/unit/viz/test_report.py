"""The design report: rounded figures, embedded images, escaped user strings, every section."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crucible.chem.results import results_table
from crucible.viz.report import (
    DesignReportInputs,
    markdown_summary,
    rounded,
    write_design_report,
)

SECTIONS = (
    "Summary",
    "Data card",
    "Activity model: test parity",
    "Transfer learning",
    "Reinforcement learning",
    "Filter funnel",
    "Chemical space",
    "Top molecules",
)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.5328508523182761, "0.533"),
        (6.63, "6.63"),
        (300.52, "301"),
        (1234.5, "1234"),
        (0.0, "0"),
        (12, "12"),
        (float("nan"), "–"),
        (None, "–"),
        (0.00012345, "1.23e-04"),
        (np.float64(1.3), "1.3"),
        (np.int64(7), "7"),
        (True, "True"),
        ([4.30001, 7.912345], "[4.3, 7.91]"),
        ("CCO", "CCO"),
    ],
)
def test_rounded_prints_short_numbers(value: object, text: str) -> None:
    assert rounded(value) == text


def _inputs(tmp_path: Path, name: str = "egfr <b>&amp;</b>") -> DesignReportInputs:
    scored = pd.DataFrame(
        {"smiles": ["OCC", "c1ccccc1O", "CCN", "bad"], "total": [0.41234567, 0.9, 0.2, 0.0]}
    )
    table = results_table(
        scored,
        ["CCO", "Oc1ccccc1", "CCN"],
        ["c1ccccc1N", "CCCO"],
        predict=lambda s: np.full(len(s), 6.123456),
    )
    results = tmp_path / "results.csv"
    table.to_csv(results, index=False)
    history = [
        {"epoch": e, "train_nll": 30 - e, "valid_nll": 31 - e, "validity": 0.9} for e in (1, 2, 3)
    ]
    return DesignReportInputs(
        name=name,
        summary={
            "valid_fraction": 0.9612345678,
            "rl_score_gain": 1.5328508523182761,
            "flow_cpu_s": 301.23456,
        },
        data_card={"molecules": 1500, "actives": 499, "target": "<script>x</script>"},
        tl_history=history,
        rl_history=[
            {"step": s, "mean_score": 0.3 + 0.01 * s, "validity": 0.95} for s in range(1, 6)
        ],
        funnel=[{"name": "valid", "remaining": 4}, {"name": "qed", "remaining": 3}],
        n_filtered_in=5,
        map_sets={
            "training set": ["c1ccccc1N", "CCCO", "CCCCN"],
            "generated": ["CCO", "Oc1ccccc1", "CCN", "bad"],
        },
        results_csv=str(results),
        links={"results": str(results)},
    )


def test_report_has_every_section_rounded_and_self_contained(tmp_path: Path) -> None:
    files = write_design_report(_inputs(tmp_path), tmp_path)
    page = Path(files.html).read_text(encoding="utf-8")
    for section in SECTIONS:
        assert f"<h2>{section}</h2>" in page
    assert set(files.images) >= {
        "tl_curve",
        "rl_curve",
        "funnel",
        "chemical_space",
        "top_molecules",
    }
    # numbers rounded: no long float survives anywhere on the page
    assert "0.961" in page and "1.53" in page and "301" in page
    assert not re.search(r"\d\.\d{5,}", page)
    # images embedded as PNG data, nothing fetched from elsewhere
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 5  # parity and histogram were not given
    assert all(base64.b64decode(data).startswith(b"\x89PNG") for data in images)
    assert not re.search(r"(src|href)=\"(?!data:)", page)
    # user strings escaped
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "egfr &lt;b&gt;&amp;amp;&lt;/b&gt;" in page
    assert "parity plot: not available" in page


def test_markdown_summary_is_rounded(tmp_path: Path) -> None:
    inputs = _inputs(tmp_path, name="egfr")
    top = pd.read_csv(inputs.results_csv)  # type: ignore[arg-type]
    text = markdown_summary(inputs, top)
    assert "| RL score gain (final agent / TL model) | 1.53 |" in text
    assert "| molecules | 1500 |" in text and "## Top 3 molecules" in text
    assert "0.5328508523182761" not in text and not re.search(r"\d\.\d{5,}", text)


def test_empty_inputs_still_give_a_page(tmp_path: Path) -> None:
    files = write_design_report(DesignReportInputs(name="empty"), tmp_path / "out")
    page = Path(files.html).read_text(encoding="utf-8")
    assert files.images == {} and "No molecule passed the filters" in page
