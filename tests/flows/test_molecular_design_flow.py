import json
from pathlib import Path

import pandas as pd

from crucible.generator.design_metrics import TARGETS
from crucible.generator.transfer_learning import TransferLearningConfig
from crucible.testing.generator import TINY_CORPUS, train_tiny_prior
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
        samples=40, device="cpu", track=False,
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
