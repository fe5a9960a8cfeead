from pathlib import Path

from crucible.generator.jobs import TransferLearningSummary
from crucible.generator.transfer_learning import TransferLearningConfig
from crucible.testing.generator import TINY_CORPUS, train_tiny_prior
from flows.transfer_learning_flow import TransferLearningFlowConfig, transfer_learning


def test_tl_flow_on_a_split_folder_reports_best_epoch(tmp_path: Path) -> None:
    prior = train_tiny_prior(tmp_path / "prior", epochs=6)
    split = tmp_path / "split"
    split.mkdir()
    (split / "train.csv").write_text("smiles\n" + "\n".join(TINY_CORPUS[:24]) + "\n")
    (split / "test.csv").write_text("smiles\n" + "\n".join(TINY_CORPUS[24:]) + "\n")
    config = TransferLearningFlowConfig(
        prior_path=str(prior), split_dir=str(split), samples=20, track=False,
        tl=TransferLearningConfig(epochs=2, batch_size=8, sample_size=0, device="cpu"),
        output_dir=str(tmp_path / "out"),
    )  # fmt: skip
    result = transfer_learning(config)
    training = result.training
    assert isinstance(training, TransferLearningSummary)
    assert training.best_epoch in (1, 2) and len(training.history) == 2
    assert Path(training.model_path).is_file()
    assert result.quality is not None and result.quality.num_samples == 20
    assert all(row.valid_nll > 0 for row in training.history)
