"""Transfer-learning flow: fine-tune a prior on the training split of a ligand data set.

Takes a split folder written by the ligand-data flow (or runs that flow first, as a subflow,
when none is given): trains on ``train.csv`` and reports the validation NLL on ``test.csv``
each epoch, with early stopping and the best epoch in logs, artifacts and MLflow. SMILES the
prior cannot encode (also after randomisation) are skipped and listed in
``skipped_smiles.csv``. The result (``model_path``) is what the reinforcement flow starts from.
The TL task is cached on the prior file, the data files and the config.

Run locally (bundled EGFR data, shipped prior)::

    python -m flows.transfer_learning_flow
"""

from pathlib import Path
from typing import Literal

from prefect import flow
from pydantic import BaseModel, Field

from blocks.environment import uses_environment_block
from crucible.generator import DEFAULT_PRIOR_PATH
from crucible.generator.jobs import (
    ReinventTransferLearning,
    SampleSummary,
    TransferLearningSummary,
    use_reinvent,
)
from crucible.generator.transfer_learning import TransferLearningConfig
from crucible.naming import InputPath, OptionalSlug, OutputPath, Slug, check_slug, inside
from crucible.presets import Presets
from crucible.settings import get_settings
from crucible.validation import MAX_SAMPLES, strict_config
from flows.ligand_data_flow import LigandDataConfig, ligand_data
from tasks.generator import sample, transfer_learn_reinvent
from tasks.generator import transfer_learn as transfer_learn_task


class TransferLearningFlowConfig(BaseModel):
    """Parameters of the transfer-learning flow.

    Attributes:
        name: Output folder name.
        prior_path: Model to fine-tune; the shipped prior when empty.
        split_dir: Folder with ``train.csv``/``test.csv``; the ligand-data flow runs first
            with ``data`` when empty.
        data: Ligand-data parameters used when ``split_dir`` is empty.
        train_file: Training split file name inside ``split_dir``.
        validation_file: Validation file name inside ``split_dir`` ("" for none).
        tl: The fine-tuning recipe.
        samples: SMILES sampled from the fine-tuned model afterwards (0 = none).
        output_dir: Root folder; ``<artifacts_dir>/generator/transfer-learning`` when empty.
        track: Record the run in MLflow.
        engine: ``crucible`` (built-in), ``reinvent`` (external REINVENT 4 with a generated
            TOML) or ``auto`` (REINVENT when a ``reinvent`` executable is on the PATH).
    """

    model_config = strict_config()

    name: Slug = "egfr"
    prior_path: InputPath = ""
    split_dir: InputPath = ""
    data: LigandDataConfig = Field(default_factory=LigandDataConfig)
    train_file: Slug = "train.csv"
    validation_file: OptionalSlug = "test.csv"
    tl: TransferLearningConfig = Field(default_factory=TransferLearningConfig)
    samples: int = Field(1000, ge=0, le=MAX_SAMPLES)
    output_dir: OutputPath = ""
    track: bool = True
    engine: Literal["crucible", "reinvent", "auto"] = "crucible"

    def folder(self) -> Path:
        """Where this run's files go."""
        default = get_settings().artifact_folder("generator")
        root = Path(self.output_dir) if self.output_dir else default
        return inside(root, "transfer-learning", check_slug(self.name, "name"), field="name")


class TransferLearningFlowResult(BaseModel):
    """What the transfer-learning flow produced.

    Attributes:
        training: The fine-tuning summary (``model_path`` of the best epoch, per-epoch
            ``history``, skipped SMILES), or the external REINVENT run.
        quality: Validity/uniqueness of samples from the fine-tuned model (None: none).
        split_dir: The split trained on.
    """

    training: TransferLearningSummary | ReinventTransferLearning
    quality: SampleSummary | None = None
    split_dir: str


TransferLearningPreset = Literal["default", "cpu"]


def cpu_config() -> TransferLearningFlowConfig:
    """The CPU pool's preset: 10 epochs of the default recipe on the CPU."""
    default = TransferLearningFlowConfig()
    return TransferLearningFlowConfig(
        tl=default.tl.model_copy(update={"epochs": 10, "device": "cpu"})
    )


#: Named presets of ``config`` (``crucible run transfer-learning --preset NAME``).
PRESETS = Presets(
    TransferLearningFlowConfig, {"default": TransferLearningFlowConfig, "cpu": cpu_config}
)


@flow(name="transfer-learning", log_prints=True)
@uses_environment_block
def transfer_learning(
    config: TransferLearningFlowConfig = TransferLearningFlowConfig(),  # noqa: B008
    preset: TransferLearningPreset = "default",
) -> TransferLearningFlowResult:
    """Fine-tune a prior on a ligand training split, then sample from it.

    Args:
        config: Settings to change; every setting left out keeps the preset's value.
        preset: Named starting point (``default``, ``cpu``).
    """
    config = PRESETS.resolve(preset, config)
    split_dir = config.split_dir or ligand_data(config.data).split_dir
    out = config.folder()
    train = str(Path(split_dir) / config.train_file)
    valid = str(Path(split_dir) / config.validation_file) if config.validation_file else None
    prior = config.prior_path or str(DEFAULT_PRIOR_PATH)
    training: TransferLearningSummary | ReinventTransferLearning
    if use_reinvent(config.engine):
        training = transfer_learn_reinvent(prior, train, valid, config.tl, str(out))
    else:
        training = transfer_learn_task(prior, train, valid, config.tl, str(out), config.track)
    quality = None
    if config.samples:
        quality = sample(training.model_path, config.samples, str(out / "samples.csv"),
                         device=config.tl.device)  # fmt: skip
    if isinstance(training, TransferLearningSummary):
        print(
            f"TL best epoch {training.best_epoch} (validation NLL "
            f"{training.best.valid_nll:.2f}); {training.skipped_count} SMILES skipped; "
            f"samples {quality}"
        )
    return TransferLearningFlowResult(training=training, quality=quality, split_dir=split_dir)


if __name__ == "__main__":
    import sys

    from crucible.cli import main

    raise SystemExit(main(["run", "transfer-learning", *sys.argv[1:]]))
