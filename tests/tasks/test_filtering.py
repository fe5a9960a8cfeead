"""Filter task body (``task.fn``): CSVs, per-stage summary, novelty against a reference file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from crucible.chem.filters import FilterConfig
from tasks.filtering import filter_smiles

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_filter_task_writes_csvs_and_reports_each_stage(tmp_path: Path) -> None:
    smiles = ["CN1CCC[C@H]1c1cccnc1", "CN1CCC[C@H]1c1cccnc1", "bad", "CCO",
              "O=C1C(=Cc2ccccc2)SC(=S)N1", "CC(C)Cc1ccc(cc1)C(C)C(=O)O"]  # fmt: skip
    source = tmp_path / "generated.csv"
    pd.DataFrame({"smiles": smiles}).to_csv(source, index=False)
    reference = tmp_path / "train.csv"
    pd.DataFrame({"smiles": ["OCC"]}).to_csv(reference, index=False)
    out = filter_smiles.fn(
        str(source), str(tmp_path / "out"), FilterConfig(n_jobs=1, alerts=["PAINS"]),
        reference_csv=str(reference),
    )  # fmt: skip
    assert out.n_in == 6 and out.n_kept == 2
    removed = {stage.name: stage.removed for stage in out.stages}
    assert removed == {"invalid": 1, "duplicate": 1, "not_novel": 1, "lipinski": 0,
                       "veber": 0, "alerts": 1}  # fmt: skip
    kept = pd.read_csv(out.kept)
    assert len(kept) == 2
    assert len(pd.read_csv(out.molecules)) == 6
    assert pd.read_csv(out.summary)["removed"].sum() == 4
