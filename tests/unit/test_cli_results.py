"""``crucible results`` and the local Prefect environment of ``crucible run`` / ``crucible ui``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crucible.cli import main
from crucible.local import apply_local_env


def _design(home: Path, name: str) -> Path:
    folder = home / "artifacts" / "molecular-design" / name
    (folder / "filtered").mkdir(parents=True)
    (folder / "filtered" / "filtered_kept.csv").write_text("SMILES\nCCO\n")
    return folder


def test_results_prints_the_rounded_summary_and_the_files_to_open(
    crucible_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _design(crucible_home, "egfr-demo")
    summary = {"valid_fraction": 0.9612345, "rl_score_gain": 1.5328508523182761, "n": 500}
    (folder / "summary.json").write_text(json.dumps(summary))
    (folder / "report.html").write_text("<html></html>")
    assert main(["results", "egfr-demo"]) == 0
    out = capsys.readouterr().out
    assert f"design egfr-demo: {folder}" in out
    assert "valid_fraction  0.961" in out and "rl_score_gain   1.53" in out
    assert str(folder / "report.html") in out and str(folder / "filtered") in out
    assert main(["results", "egfr-demo", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"] == summary


def test_results_without_a_summary_lists_what_the_folder_holds(
    crucible_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _design(crucible_home, "old-run")
    assert main(["results", "old-run"]) == 0
    out = capsys.readouterr().out
    assert "no summary.json" in out and "filtered  folder, 1 files, 11 B" in out
    assert main(["results"]) == 0
    assert capsys.readouterr().out.strip() == "old-run"


@pytest.mark.parametrize("name", ["missing", "../escape"])
def test_results_refuses_unknown_or_bad_names(
    name: str, crucible_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _design(crucible_home, "there")
    assert main(["results", name]) == 2
    err = capsys.readouterr().err
    assert ("runs: there" in err) if name == "missing" else ("design" in err)


def test_local_env_matches_make_demo_and_keeps_what_the_caller_set(crucible_home: Path) -> None:
    env: dict[str, str] = {"OMP_NUM_THREADS": "2"}
    applied = apply_local_env(env)
    assert env["PREFECT_HOME"] == str(crucible_home / "prefect")
    assert (crucible_home / "prefect").is_dir()
    assert env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] == "180"
    assert env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    assert env["OMP_NUM_THREADS"] == "2" and "OMP_NUM_THREADS" not in applied
    assert "PREFECT_API_URL" not in env  # no `crucible ui` answering


def test_run_prints_the_results_figures_and_paths_not_a_dict() -> None:
    from pydantic import BaseModel

    from crucible.cli.run import _as_text

    class Summary(BaseModel):
        valid_fraction: float = 0.96

    class Result(BaseModel):
        summary: Summary = Summary()
        scored: str = "/designs/egfr/scored.csv"

    text = _as_text(Result(), everything=False)
    assert "scored  /designs/egfr/scored.csv" in text and "{" not in text
    assert "1 nested fields left out" in text
    assert '"valid_fraction": 0.96' in _as_text(Result(), everything=True)
