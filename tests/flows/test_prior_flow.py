from pathlib import Path

import torch

from crucible.generator.model import NetworkConfig
from crucible.generator.pretraining import PretrainConfig
from crucible.testing.generator import write_tiny_corpus
from flows.prior_flow import PriorFlowConfig, prior, shipped_recipe


def test_prior_flow_trains_checkpoints_and_reports_quality(tmp_path: Path) -> None:
    corpus = write_tiny_corpus(tmp_path / "corpus.smi", repeats=2)
    recipe = PretrainConfig(
        network=NetworkConfig(num_layers=1, layer_size=16, embedding_layer_size=8), epochs=2,
        batch_size=16, sample_size=10, max_sequence_length=40, device="cpu",
    )  # fmt: skip
    config = PriorFlowConfig(corpus_path=str(corpus), pretrain=recipe, quality_samples=30,
                             output_dir=str(tmp_path / "out"), track=False)  # fmt: skip
    result = prior(config)
    folder = tmp_path / "out" / "prior" / "moses-prior"
    assert Path(result.training.model_path) == folder / "prior.prior"
    assert (folder / "epoch_1.prior").is_file() and (folder / "nll.png").is_file()
    assert result.quality is not None and result.quality.num_samples == 30
    model = torch.load(result.training.model_path, weights_only=True)
    assert set(model) >= {"network", "vocabulary"}


def test_default_recipe_is_the_shipped_priors() -> None:
    recipe = PriorFlowConfig().pretrain
    assert recipe == shipped_recipe()
    assert (recipe.network.num_layers, recipe.network.layer_size) == (3, 512)
