"""Chemical-space task bodies (``task.fn``): map files and the top-molecule grid."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pandas as pd
import pytest

from tasks.chemical_space import embed_and_plot, top_molecules_grid

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _wehi(n: int) -> list[str]:
    import rdkit

    path = os.path.join(os.path.dirname(rdkit.__file__), "Data/Pains/test_data/wehi_mols.csv")
    with open(path) as handle:
        return [row[0] for _, row in zip(range(n), csv.reader(handle), strict=False)]


def test_map_task_writes_png_html_csv_with_subsampling(tmp_path: Path) -> None:
    smiles = _wehi(60)
    train, generated = tmp_path / "train.csv", tmp_path / "gen.csv"
    pd.DataFrame({"smiles": smiles[:40]}).to_csv(train, index=False)
    pd.DataFrame({"smiles": smiles[40:], "total": range(20)}).to_csv(generated, index=False)
    out = embed_and_plot.fn({"training actives": str(train), "generated": str(generated)},
                            str(tmp_path / "maps"), method="pca", score_column="total",
                            max_per_set=25)  # fmt: skip
    assert out.counts == {"training actives": 25, "generated": 20}
    assert Path(out.png).read_bytes()[:4] == b"\x89PNG"
    assert "score 19.000" in Path(out.html).read_text()
    assert len(pd.read_csv(out.csv)) == 45


def test_top_molecules_grid_task(tmp_path: Path) -> None:
    scored = tmp_path / "scored.csv"
    values = [i / 10 for i in range(10)]
    pd.DataFrame({"smiles": _wehi(10), "total": values, "qed (raw)": values}).to_csv(scored)
    path = top_molecules_grid.fn(str(scored), str(tmp_path / "top.png"), n=4)
    assert Path(path).exists()


def test_map_task_logs_files_to_an_mlflow_run(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    from crucible.settings import get_settings

    client = MlflowClient(tracking_uri=get_settings().mlflow_tracking_uri)
    experiment = client.create_experiment(
        "maps", artifact_location=str(tmp_path / "mlflow-artifacts")
    )
    run_id = client.create_run(experiment).info.run_id
    source = tmp_path / "set.csv"
    pd.DataFrame({"smiles": _wehi(12)}).to_csv(source, index=False)
    embed_and_plot.fn({"all": str(source)}, str(tmp_path / "maps"), mlflow_run_id=run_id)
    logged = {Path(f.path).name for f in client.list_artifacts(run_id, "chemical_space")}
    assert logged == {"map_pca.png", "map_pca.html", "map_pca.csv"}
