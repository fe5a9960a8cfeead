"""The files a design run leaves to open and its MLflow parent run with nested stages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crucible.chem.activity import train_activity_model
from crucible.generator.design_report import (
    DESIGN_EXPERIMENT,
    FLOW_RUN_TAG,
    DesignReportConfig,
    closing_text,
    fail_design_run,
    log_report,
    open_design_run,
    write_report,
)
from crucible.tracking import PARENT_TAG, MlflowTracker, open_run

mlflow = pytest.importorskip("mlflow")

LIGANDS = [
    "c1ccc2ncncc2c1N",
    "c1ccc2ncncc2c1O",
    "c1ccc2ncncc2c1C",
    "c1ccc2ncncc2c1Cl",
    "c1ccc2ncncc2c1F",
    "CCO",
    "CCCO",
    "CCCCO",
    "CCN",
    "CCCN",
    "c1ccccc1",
    "c1ccccc1C",
]
ACTIVITY = [8.1, 7.9, 7.6, 8.3, 7.2, 4.5, 4.8, 5.0, 4.2, 4.9, 5.1, 5.3]


@pytest.fixture
def design(tmp_path: Path) -> DesignReportConfig:
    split = tmp_path / "split"
    split.mkdir()
    frame = pd.DataFrame({"smiles": LIGANDS, "pchembl_value": ACTIVITY})
    frame.to_csv(split / "train.csv", index=False)
    model = train_activity_model(
        "random_forest", frame, frame, tmp_path / "model", params={"n_estimators": 10}, track=False
    )
    scored = tmp_path / "scored.csv"
    pd.DataFrame(
        {
            "smiles": ["Nc1cccc2ncncc12", "CCOC", "bad", "c1ccc2ncncc2c1Br"],
            "total": [0.81234, 0.3, 0.0, 0.7],
        }
    ).to_csv(scored, index=False)
    kept = tmp_path / "kept.csv"
    pd.DataFrame({"canonical_smiles": ["Nc1cccc2ncncc12", "Brc1cccc2ncncc12"]}).to_csv(kept)
    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps({"valid_fraction": 0.75, "rl_score_gain": 1.4567891}))
    points = tmp_path / "map.csv"
    pd.DataFrame(
        {
            "set": ["training set"] * 3 + ["generated"] * 2,
            "smiles": [*LIGANDS[:3], "CCOC", "Nc1cccc2ncncc12"],
        }
    ).to_csv(points)
    return DesignReportConfig(
        name="tiny",
        folder=str(tmp_path / "design"),
        split_dir=str(split),
        activity_model_dir=str(model.model_dir),
        scored_csv=str(scored),
        kept_csv=str(kept),
        summary_json=str(summary),
        data_card={"molecules": 12, "split_sizes": {"train": 12}},
        parity_plot=str(model.parity_plot),
        tl_history=[{"epoch": 1, "train_nll": 30.0, "valid_nll": 31.0, "validity": 0.9}],
        rl_history=[{"step": 1, "mean_score": 0.3}, {"step": 2, "mean_score": 0.4}],
        filter_stages=[{"name": "valid", "remaining": 3}, {"name": "activity", "remaining": 2}],
        n_filtered_in=4,
        map_csv=str(points),
        parent_run_id=None,
    )


def test_results_and_report_in_the_design_folder(design: DesignReportConfig) -> None:
    report = write_report(design)
    results = pd.read_csv(report.results_csv)
    assert Path(report.results_csv) == Path(design.folder) / "results.csv"
    assert results["smiles"].tolist() == ["Nc1cccc2ncncc12", "Brc1cccc2ncncc12"]
    assert results["score"].tolist() == [0.8123, 0.7] and results["id"][0] == "tiny-0001"
    assert results["pchembl_independent"].notna().all()
    assert (results["nn_similarity"] > 0.3).all()
    page = Path(report.html).read_text(encoding="utf-8")
    assert Path(report.html) == Path(design.folder) / "report.html"
    assert "1.46" in page and "split_sizes train" in page
    assert page.count("data:image/png;base64,") == 6  # parity, TL, RL, funnel, map, grid
    assert report.n_results == 2 and report.summary["valid_fraction"] == 0.75
    text = closing_text(report, {"filtered_kept": 2, "activity_test_r2": 0.6123456})
    assert "0.612" in text and "0.6123456" not in text and report.html in text


def test_results_reuse_the_evaluations_independent_predictions(
    design: DesignReportConfig, tmp_path: Path
) -> None:
    from crucible.generator.design_metrics import (
        DescriptorForest,
        read_independent_predictions,
        write_independent_predictions,
    )

    forest = DescriptorForest(n_estimators=10).fit(LIGANDS, ACTIVITY)
    saved = write_independent_predictions(forest, design.kept_csv, tmp_path / "independent.csv")
    lookup = read_independent_predictions(saved)
    assert lookup(["Brc1cccc2ncncc12"]) == pytest.approx(forest.predict(["Brc1cccc2ncncc12"]))
    with pytest.raises(KeyError):
        lookup(["CCCCCCCC"])
    frame = pd.read_csv(saved)
    frame["pchembl_independent"] = [11.0, 12.0]  # marks values that were read, not refitted
    frame.to_csv(saved, index=False)
    reused = write_report(design.model_copy(update={"independent_csv": str(saved)}))
    assert sorted(pd.read_csv(reused.results_csv)["pchembl_independent"]) == [11.0, 12.0]
    frame.iloc[:1].to_csv(saved, index=False)  # a kept molecule missing: the forest is fitted
    refitted = write_report(design.model_copy(update={"independent_csv": str(saved)}))
    assert pd.read_csv(refitted.results_csv)["pchembl_independent"].max() < 11.0


@pytest.fixture
def tracker(tmp_path: Path) -> MlflowTracker:
    return MlflowTracker(
        f"sqlite:///{tmp_path / 'mlflow.db'}",
        artifact_location=(tmp_path / "artifacts").as_uri(),
        flush_s=0.0,
    )


def test_one_parent_run_with_the_stages_nested(
    design: DesignReportConfig, tracker: MlflowTracker
) -> None:
    parent = open_design_run("tiny", "flow-run-1", tracker)
    assert parent is not None and open_design_run("tiny", "flow-run-1", tracker) == parent
    child = open_run("crucible-generator", "transfer-learning", tracker, parent_run_id=parent)
    child.end()
    report = write_report(design)
    log_report(report, parent, tracker)
    client = tracker.client
    run = client.get_run(parent)
    assert run.info.run_name == "tiny" and run.data.tags[FLOW_RUN_TAG] == "flow-run-1"
    assert run.info.status == "FINISHED"
    assert run.data.metrics["rl_score_gain"] == pytest.approx(1.4567891)
    experiment = client.get_experiment_by_name(DESIGN_EXPERIMENT)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    nested = client.get_run(str(child.run_id))
    assert nested.data.tags[PARENT_TAG] == parent
    assert nested.info.experiment_id == experiment.experiment_id
    names = {a.path for a in client.list_artifacts(parent)}
    assert {"report.html", "results.csv", "summary.json", "figures"} <= names
    assert len(client.list_artifacts(parent, "figures")) == len(report.images)
    assert np.isfinite(run.data.metrics["n_results"])


def test_activity_model_run_nests_under_the_design_run(tmp_path: Path) -> None:
    parent = open_design_run("tiny", "flow-run-2")  # the settings' MLflow store (temp home)
    frame = pd.DataFrame({"smiles": LIGANDS, "pchembl_value": ACTIVITY})
    result = train_activity_model(
        "random_forest", frame, frame, tmp_path / "model", params={"n_estimators": 5},
        parent_run_id=parent,
    )  # fmt: skip
    client = MlflowTracker().client
    run = client.get_run(str(result.run_id))
    assert run.data.tags[PARENT_TAG] == parent
    assert run.info.experiment_id == client.get_run(str(parent)).info.experiment_id


def test_a_failed_design_run_is_marked_failed(tracker: MlflowTracker) -> None:
    from crucible.settings import get_settings

    store = Path(get_settings().mlflow_tracking_uri.removeprefix("sqlite:///"))
    assert fail_design_run("flow-run-3") is None and not store.exists()  # nothing created
    assert fail_design_run("flow-run-3", tracker) is None  # no design experiment yet
    parent = open_design_run("tiny", "flow-run-3", tracker)
    assert fail_design_run("another-flow-run", tracker) is None
    assert fail_design_run("flow-run-3", tracker) == parent
    assert tracker.client.get_run(str(parent)).info.status == "FAILED"
    assert fail_design_run("flow-run-3", False) is None
