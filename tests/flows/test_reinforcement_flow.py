import csv
from pathlib import Path

from crucible.generator.jobs import ReinforcementSummary, StageSpec
from crucible.generator.reinforcement import ReinforcementConfig, StageConfig
from crucible.testing.generator import train_tiny_prior
from flows.reinforcement_flow import ReinforcementFlowConfig, reinforcement


def test_reinforcement_flow_two_stages_with_chem_scoring(tmp_path: Path) -> None:
    prior = train_tiny_prior(tmp_path / "prior", epochs=6)
    stages = [
        StageSpec(stage=StageConfig(max_steps=2, min_steps=2),
                  scoring={"components": [{"type": "qed"}]}),
        StageSpec(stage=StageConfig(max_steps=2, min_steps=0, max_score=1.0),
                  scoring={"components": [{"type": "qed"}, {"type": "num_rings",
                           "transform": {"type": "step", "low": 1, "high": 3}}]}),
    ]  # fmt: skip
    config = ReinforcementFlowConfig(
        prior_path=str(prior), stages=stages, rl=ReinforcementConfig(batch_size=16),
        device="cpu", output_dir=str(tmp_path / "out"), track=False,
    )  # fmt: skip
    result = reinforcement(config)
    assert isinstance(result, ReinforcementSummary)
    assert result.steps == 4 and len(result.csv_paths) == 2
    with open(result.csv_paths[1]) as handle:
        header = next(csv.reader(handle))
    assert {"num_rings", "num_rings (raw)", "qed", "qed (raw)"} <= set(header)
    assert Path(result.agent_path).is_file()
