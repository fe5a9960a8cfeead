import json
from pathlib import Path

import pandas as pd
import pytest

from crucible.generator.design_metrics import TARGETS
from crucible.generator.design_report import DESIGN_EXPERIMENT, FLOW_RUN_TAG
from crucible.generator.transfer_learning import TransferLearningConfig
from crucible.testing.generator import TINY_CORPUS, train_tiny_prior
from crucible.tracking import PARENT_TAG, MlflowTracker
from flows.ligand_data_flow import LigandDataConfig, SplitConfig
from flows.molecular_design_flow import MolecularDesignConfig, molecular_design


def _ligand_file(path: Path) -> Path:
    """Tiny-corpus molecules with a made-up activity that grows with size."""
    rows = [{"smiles": s, "pIC50": 4.0 + 0.15 * len(s)} for s in TINY_CORPUS]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_design_flow_runs_every_stage_and_publishes_pictures(tmp_path: Path) -> None:
    prior = train_tiny_prior(tmp_path / "prior", epochs=6)
    data = LigandDataConfig(
        source="file", name="tiny", path=str(_ligand_file(tmp_path / "ligands.csv")),
        mapping={"smiles": "smiles", "activity": "pIC50"}, split=SplitConfig(method="random"),
        output_dir=str(tmp_path / "data"),
    )  # fmt: skip
    config = MolecularDesignConfig(
        name="tiny", data=data, prior_path=str(prior), activity_params={"n_estimators": 10},
        tl=TransferLearningConfig(epochs=1, batch_size=8, sample_size=0), rl_steps=2,
        tl_active_min=5.5,
        samples=40, device="cpu", track=True,
    )  # fmt: skip
    result = molecular_design(config)
    summary = result.summary
    assert summary.rl_steps == 2 and 0.0 <= summary.rl_final_mean_score <= 1.0
    assert 0 <= summary.filtered_kept <= summary.generated_unique <= 40
    scored = pd.read_csv(result.scored)
    assert {"smiles", "total", "qed", "activity"} <= set(scored.columns)
    assert scored["total"].between(0, 1).all()
    for key in ("map", "grid"):
        assert Path(getattr(result, key)).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in Path(result.map_html).read_text()
    assert Path(result.agent).is_file() and Path(result.tl_model).is_file()
    figures = json.loads(Path(result.summary_json).read_text())
    assert set(TARGETS) | {"flow_cpu_s"} <= set(figures)
    assert 0.0 <= figures["valid_fraction"] <= 1.0 and figures["flow_cpu_s"] > 0
    _check_report(result.report, result.results, summary.filtered_kept)
    independent = pd.read_csv(Path(result.summary_json).with_name("independent_predictions.csv"))
    results = pd.read_csv(result.results).set_index("smiles")["pchembl_independent"]
    assert len(independent) == len(results)  # the report reused the evaluation's forest
    pairs = zip(independent["smiles"], independent["pchembl_independent"], strict=True)
    for smiles, value in pairs:
        assert results[smiles] == pytest.approx(value, rel=1e-3)
    _check_one_parent_run_with_stages_nested("tiny")


def _check_report(report: str, results: str, n_kept: int) -> None:
    page = Path(report).read_text(encoding="utf-8")
    for section in ("Summary", "Data card", "Transfer learning", "Reinforcement learning",
                    "Filter funnel", "Chemical space", "Top molecules"):  # fmt: skip
        assert f"<h2>{section}</h2>" in page
    assert page.count("data:image/png;base64,") >= 5
    table = pd.read_csv(results)
    assert len(table) == n_kept
    assert {"rank", "score", "pchembl_predicted", "qed", "sa_score", "nn_similarity"} <= set(
        table.columns
    )


def _check_one_parent_run_with_stages_nested(name: str) -> None:
    client = MlflowTracker().client
    experiment = client.get_experiment_by_name(DESIGN_EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if PARENT_TAG not in r.data.tags]
    assert len(parents) == 1 and parents[0].info.run_name == name
    assert parents[0].data.tags[FLOW_RUN_TAG] and parents[0].info.status == "FINISHED"
    children = {r.info.run_name for r in runs if PARENT_TAG in r.data.tags}
    assert children == {"random_forest", "transfer-learning", "reinforcement"}


def test_a_failed_design_run_leaves_its_parent_run_failed(tmp_path: Path) -> None:
    ligands = tmp_path / "ligands.csv"
    pd.DataFrame({"name": ["a", "b"], "pIC50": [5.0, 6.0]}).to_csv(ligands, index=False)
    data = LigandDataConfig(
        source="file", name="broken", path=str(ligands), output_dir=str(tmp_path / "data"),
        mapping={"smiles": "smiles", "activity": "pIC50"}, split=SplitConfig(method="random"),
    )  # fmt: skip
    with pytest.raises(Exception, match="smiles"):
        molecular_design(MolecularDesignConfig(name="broken", data=data, device="cpu"))
    client = MlflowTracker().client
    experiment = client.get_experiment_by_name(DESIGN_EXPERIMENT)
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == "broken" and run.info.status == "FAILED"
