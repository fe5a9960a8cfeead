"""Pre-training a SMILES prior on a corpus (maximum likelihood, teacher forcing).

Each epoch records the training NLL, the validation NLL, and the validity, uniqueness and
novelty of freshly sampled SMILES, and writes a checkpoint (a REINVENT 4 model file).
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from pydantic import BaseModel, Field

from crucible.chem.limits import MAX_SMILES_LENGTH, smiles_too_long
from crucible.data.io import check_file, check_rows, file_errors, ligand_limits, open_text
from crucible.device import resolve_device
from crucible.exceptions import InvalidFileError, InvalidInputError
from crucible.generator.chemistry import sample_quality
from crucible.generator.model import GenerativeModel, NetworkConfig
from crucible.generator.model_io import new_metadata, save_model
from crucible.generator.tokenizer import Vocabulary
from crucible.generator.training import (
    EpochCallback,
    EpochRecord,
    TrainingResult,
    encode_all,
    mean_nll,
    seed_everything,
    train_one_epoch,
)
from crucible.validation import MAX_SAMPLES, DeviceName, Seed, strict_config

logger = logging.getLogger(__name__)

#: Tokens common in ChEMBL but absent from MOSES: added to the default prior's vocabulary so
#: transfer learning on ChEMBL ligands can learn them instead of dropping those molecules.
CHEMBL_EXTRA_TOKENS = (
    "I", "P", "B", "[N+]", "[O-]", "[n+]", "[S+]", "[N-]", "[nH+]", "[NH+]", "[NH2+]",
    "[NH3+]", "[Si]", "[Se]", "[P+]", "[Br-]", "[Cl-]", "[Na+]", "[K+]", "7", "8", "9",
    "%10", "%11", "%12", "6", "[O]", "[o+]", "[N]", "-", "#",
)  # fmt: skip


class PretrainConfig(BaseModel):
    """Recipe for pre-training a prior."""

    model_config = strict_config()

    network: NetworkConfig = Field(
        default_factory=NetworkConfig, description="RNN cell, layers and sizes."
    )
    epochs: int = Field(10, ge=1, description="Passes over the training SMILES.")
    batch_size: int = Field(128, ge=1, description="SMILES per optimisation step.")
    learning_rate: float = Field(1e-3, gt=0, description="Adam learning rate of epoch 1.")
    lr_gamma: float = Field(0.9, gt=0, le=1, description="Learning-rate factor per epoch.")
    clip_gradient_norm: float = Field(1.0, ge=0, description="Gradient-norm clip (0 = off).")
    validation_fraction: float = Field(0.02, ge=0, lt=0.5, description="Held-out share.")
    max_validation: int = Field(10_000, ge=0, description="Cap on validation SMILES.")
    sample_size: int = Field(
        1_000, ge=0, le=MAX_SAMPLES, description="SMILES sampled per epoch for quality."
    )
    max_sequence_length: int = Field(256, ge=16, description="Sampling cap stored in the file.")
    extra_tokens: list[str] = Field(
        default_factory=list, description="Tokens added to the vocabulary beyond the corpus."
    )
    time_limit_s: float | None = Field(
        None, gt=0, description="Stop after the epoch that would overrun this wall time."
    )
    seed: Seed = Field(0, description="Seed of initialisation, batching and sampling.")
    device: DeviceName = Field("auto", description="'auto', 'cpu' or 'cuda[:N]'.")
    log_every: int = Field(0, ge=0, description="Log the running NLL every N steps (0 = off).")


def read_smiles_file(path: str | Path, limit: int | None = None) -> list[str]:
    """Read SMILES from ``.smi``/``.csv`` (optionally ``.gz``).

    With a header line naming a ``smiles`` column (any case), that column is read (comma
    separated); otherwise the first whitespace/comma-separated field of each line. The file
    is checked and capped like a ligand file (:func:`crucible.data.io.check_file`).

    Raises:
        InvalidInputError: If there is no file at ``path``.
        InvalidFileError: If the file is empty, binary, corrupt, too large, has too many
            lines or holds no SMILES.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError("path", f"no file at {str(path)!r}", "give an existing file")
    limits = ligand_limits()
    check_file(path, limits.max_bytes)
    with file_errors(path), open_text(path, limits.max_bytes) as handle:
        out = _smiles_lines(path, handle, limit, limits.max_rows)
    if not out:
        raise InvalidFileError(path, "the file holds no SMILES", "give one SMILES per line")
    return out


def _smiles_lines(path: Path, lines: Iterable[str], limit: int | None, max_rows: int) -> list[str]:
    out: list[str] = []
    column = 0
    for number, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        if number == 0:
            header = [h.strip().lower() for h in stripped.split(",")]
            if "smiles" in header:
                column = header.index("smiles")
                continue
        fields = stripped.split(",") if column else stripped.split(",")[0].split()
        value = fields[column].strip() if len(fields) > column else ""
        if smiles_too_long(value):
            raise InvalidFileError(
                path,
                f"the SMILES is {len(value):,} characters long, over the cap of "
                f"{MAX_SMILES_LENGTH}",
                "remove or fix that line (a corpus holds one SMILES per line)",
                line=number + 1,
            )
        if value:
            out.append(value)
            check_rows(path, len(out), max_rows)
        if limit is not None and len(out) >= limit:
            break
    return out


def split_corpus(smiles: Sequence[str], config: PretrainConfig) -> tuple[list[str], list[str]]:
    """Shuffle (seeded) and split into training and validation SMILES."""
    order = list(smiles)
    random.Random(config.seed).shuffle(order)
    n_valid = min(int(len(order) * config.validation_fraction), config.max_validation)
    return order[n_valid:], order[:n_valid]


def pretrain(
    smiles: Sequence[str],
    config: PretrainConfig,
    output_dir: str | Path,
    data_source: str = "",
    on_epoch: EpochCallback | None = None,
) -> TrainingResult:
    """Train a new prior on ``smiles`` (canonical SMILES expected, e.g. MOSES).

    Args:
        smiles: Training corpus.
        config: The recipe.
        output_dir: Receives ``epoch_<n>.prior`` checkpoints, ``prior.prior`` (last epoch)
            and ``history.json``.
        data_source: Provenance written into the model metadata.
        on_epoch: Called with each epoch's record (progress, MLflow, ...).

    Returns:
        The training result; ``model_path`` is the final prior.
    """
    if len(smiles) < 2:
        raise InvalidInputError("smiles", "needs at least 2 SMILES", "pass a larger corpus")
    seed_everything(config.seed)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(config.device)
    train, valid = split_corpus(smiles, config)
    vocabulary = Vocabulary.from_smiles(train + valid, extra_tokens=config.extra_tokens)
    recipe = {"crucible_recipe": config.model_dump(), "train_size": len(train)}
    metadata = new_metadata(data_source, comments=[json.dumps(recipe, sort_keys=True)])
    model = GenerativeModel.create(
        vocabulary, config.network, config.max_sequence_length, device, metadata
    )
    logger.info(
        "pre-training %d-parameter %s on %d SMILES (%d validation, vocabulary %d) on %s",
        model.num_parameters(), config.network.cell_type, len(train), len(valid),
        len(vocabulary), device,
    )  # fmt: skip
    train_encoded, valid_encoded = encode_all(model, train), encode_all(model, valid)
    reference = set(train)
    optimizer = torch.optim.Adam(model.network.parameters(), lr=config.learning_rate)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=config.lr_gamma)
    rng = random.Random(config.seed)
    history: list[EpochRecord] = []
    started = time.perf_counter()
    stopped_early = False
    for epoch in range(1, config.epochs + 1):
        epoch_start = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        train_nll = train_one_epoch(
            model, train_encoded, optimizer, config.batch_size, config.clip_gradient_norm, rng,
            config.log_every,
        )  # fmt: skip
        scheduler.step()
        record = EpochRecord(epoch, train_nll, mean_nll(model, valid_encoded), lr)
        if config.sample_size:
            quality = sample_quality(model.sample(config.sample_size).smiles, reference)
            record.validity, record.uniqueness = quality["validity"], quality["uniqueness"]
            record.novelty = quality["novelty"]
        model.metadata["updates"] = [*model.metadata.get("updates", []), epoch]
        record.checkpoint = str(save_model(model, out / f"epoch_{epoch}.prior"))
        record.seconds = time.perf_counter() - epoch_start
        history.append(record)
        logger.info("epoch %d: %s", epoch, json.dumps(record.as_dict()))
        if on_epoch is not None:
            on_epoch(record)
        elapsed = time.perf_counter() - started
        if config.time_limit_s and elapsed + record.seconds > config.time_limit_s:
            stopped_early = epoch < config.epochs
            break
    final = save_model(model, out / "prior.prior")
    (out / "history.json").write_text(json.dumps([r.as_dict() for r in history], indent=2))
    return TrainingResult(str(final), history, history[-1].epoch, stopped_early)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python -m crucible.generator.pretraining CORPUS OUT_DIR [CONFIG.json]``.

    The same :func:`pretrain` the prior flow runs, for a GPU box without Prefect.
    """
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("corpus", help="SMILES file (.smi/.csv, optionally .gz)")
    parser.add_argument("output_dir")
    parser.add_argument("config", nargs="?", help="JSON file with PretrainConfig fields")
    parser.add_argument("--limit", type=int, default=None, help="use the first N SMILES")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    config = PretrainConfig()
    if args.config:
        config = PretrainConfig.model_validate_json(Path(args.config).read_text())
    smiles = read_smiles_file(args.corpus, args.limit)
    result = pretrain(smiles, config, args.output_dir, data_source=Path(args.corpus).name)
    print(json.dumps({"model_path": result.model_path, "best_epoch": result.best_epoch}))


if __name__ == "__main__":
    main()
