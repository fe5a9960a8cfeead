"""Prior flow: pre-train a SMILES RNN prior on a corpus, then measure its sample quality.

The default recipe is the one that produced the shipped prior
(``src/crucible/resources/priors/moses_lstm.prior``: REINVENT 4's 3×LSTM 512 architecture on
540,000 MOSES SMILES; about 7 minutes on one H100). On a CPU, use a smaller network and a
``limit`` (the ``prior-cpu`` deployment does). Outputs land in
``<artifacts_dir>/generator/prior/<name>/``: ``epoch_<n>.prior`` checkpoints, ``prior.prior``,
``history.json``, ``nll.png`` and ``samples.csv``.

Run locally (small CPU example)::

    python -m flows.prior_flow --preset cpu
"""

from pathlib import Path
from typing import Literal

from prefect import flow
from pydantic import BaseModel, Field

from blocks.environment import uses_environment_block
from crucible.generator import DEFAULT_CORPUS_PATH, DEFAULT_PRIOR_PATH
from crucible.generator.jobs import SampleSummary, TrainingSummary
from crucible.generator.pretraining import PretrainConfig
from crucible.naming import InputPath, OutputPath, Slug, check_slug, inside
from crucible.presets import Presets
from crucible.settings import get_settings
from crucible.validation import MAX_SAMPLES, strict_config
from tasks.generator import pretrain_prior, sample

SHIPPED_RECIPE = DEFAULT_PRIOR_PATH.with_name("moses_lstm.recipe.json")


def shipped_recipe() -> PretrainConfig:
    """The recipe of the shipped prior."""
    return PretrainConfig.model_validate_json(SHIPPED_RECIPE.read_text())


class PriorFlowConfig(BaseModel):
    """Parameters of the prior flow.

    Attributes:
        name: Output folder name.
        corpus_path: SMILES file; the bundled MOSES subset when empty.
        limit: Use only the first N SMILES (None = all).
        pretrain: The training recipe (the shipped prior's by default).
        quality_samples: SMILES sampled from the final prior to report validity/uniqueness.
        output_dir: Root folder; ``<artifacts_dir>/generator/prior`` when empty.
        track: Record the run in MLflow.
    """

    model_config = strict_config()

    name: Slug = "moses-prior"
    corpus_path: InputPath = ""
    limit: int | None = Field(default=None, ge=1)
    pretrain: PretrainConfig = Field(default_factory=shipped_recipe)
    quality_samples: int = Field(10_000, ge=0, le=MAX_SAMPLES)
    output_dir: OutputPath = ""
    track: bool = True

    def folder(self) -> Path:
        """Where this run's files go."""
        default = get_settings().artifact_folder("generator")
        root = Path(self.output_dir) if self.output_dir else default
        return inside(root, "prior", check_slug(self.name, "name"), field="name")


class PriorFlowResult(BaseModel):
    """What the prior flow produced.

    Attributes:
        training: The pre-training summary (``model_path``, per-epoch ``history``, ``plot``,
            MLflow run id).
        quality: Validity/uniqueness of ``quality_samples`` SMILES (None when 0).
    """

    training: TrainingSummary
    quality: SampleSummary | None = None


PriorPreset = Literal["default", "cpu"]


def cpu_config() -> PriorFlowConfig:
    """A small prior for the CPU pool: 2x256 LSTM on 20,000 MOSES SMILES, 2 epochs."""
    from crucible.generator.model import NetworkConfig

    small = shipped_recipe().model_copy(
        update={
            "network": NetworkConfig(num_layers=2, layer_size=256, embedding_layer_size=128),
            "epochs": 2,
            "batch_size": 128,
            "sample_size": 500,
            "device": "cpu",
        }
    )
    return PriorFlowConfig(name="cpu-prior", limit=20_000, pretrain=small, quality_samples=1000)


#: Named presets of ``config`` (``crucible run prior --preset NAME``).
PRESETS = Presets(PriorFlowConfig, {"default": PriorFlowConfig, "cpu": cpu_config})


@flow(name="prior", log_prints=True)
@uses_environment_block
def prior(
    config: PriorFlowConfig = PriorFlowConfig(),  # noqa: B008
    preset: PriorPreset = "default",
) -> PriorFlowResult:
    """Pre-train a prior and sample from it.

    Args:
        config: Settings to change; every setting left out keeps the preset's value.
        preset: Named starting point (``default``, ``cpu``).
    """
    config = PRESETS.resolve(preset, config)
    out = config.folder()
    corpus = config.corpus_path or str(DEFAULT_CORPUS_PATH)
    training = pretrain_prior(corpus, config.pretrain, str(out), config.limit, config.track)
    quality = None
    if config.quality_samples:
        quality = sample(training.model_path, config.quality_samples, str(out / "samples.csv"),
                         device=config.pretrain.device)  # fmt: skip
    print(f"prior {training.model_path}: {quality.model_dump_json() if quality else ''}")
    return PriorFlowResult(training=training, quality=quality)


if __name__ == "__main__":
    import sys

    from crucible.cli import main

    raise SystemExit(main(["run", "prior", *sys.argv[1:]]))
