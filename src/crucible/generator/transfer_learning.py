"""Transfer learning: fine-tune a prior on a focused set of molecules.

Like REINVENT 4's TL run mode (Adam, StepLR schedule that stops below a minimum rate,
gradient clipping, SMILES randomisation each epoch, a checkpoint per epoch), with two
differences users asked for:

* a SMILES whose (canonical or randomised) form has a token the prior's vocabulary lacks is
  **skipped and reported**, not a reason to abort the run;
* the validation NLL of every epoch and the best epoch are **returned, logged and written to
  ``history.json``** (REINVENT sends them only to TensorBoard); early stopping on it is
  optional, and the final model is the best epoch's.
"""

from __future__ import annotations

import json
import logging
import math
import random
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from pydantic import BaseModel, Field, model_validator
from rdkit import Chem

from crucible.exceptions import InvalidInputError
from crucible.generator.chemistry import (
    canonicalize,
    randomize,
    randomize_mol,
    sample_quality,
    to_mol,
)
from crucible.generator.model import GenerativeModel
from crucible.generator.model_io import save_model
from crucible.generator.training import (
    EpochCallback,
    EpochRecord,
    TrainingResult,
    mean_nll,
    seed_everything,
    train_one_epoch,
)
from crucible.validation import MAX_SAMPLES, DeviceName, Seed, check_order, strict_config

logger = logging.getLogger(__name__)


class TransferLearningConfig(BaseModel):
    """Fine-tuning recipe (REINVENT 4 TL ``[parameters]`` + ``[scheduler]``)."""

    model_config = strict_config()

    epochs: int = Field(20, ge=1, description="Maximum number of epochs.")
    batch_size: int = Field(64, ge=1, description="SMILES per optimisation step.")
    learning_rate: float = Field(1e-4, gt=0, description="Initial Adam learning rate.")
    lr_step: int = Field(10, ge=1, description="Epochs between learning-rate decays.")
    lr_gamma: float = Field(0.95, gt=0, le=1, description="Learning-rate decay factor.")
    min_learning_rate: float = Field(1e-7, ge=0, description="Stop once the rate drops below.")
    clip_gradient_norm: float = Field(1.0, ge=0, description="Gradient-norm clip (0 = off).")
    randomize_smiles: bool = Field(True, description="New random SMILES every epoch.")
    isomeric_smiles: bool = Field(False, description="Keep stereochemistry.")
    early_stopping_patience: int | None = Field(
        5, ge=1, description="Epochs without a better validation NLL before stopping."
    )
    sample_size: int = Field(
        200, ge=0, le=MAX_SAMPLES, description="SMILES sampled per epoch for quality."
    )
    min_validity: float = Field(
        0.0,
        ge=0,
        le=1,
        description=(
            "Sample validity an epoch needs to be kept as the best one (lowest validation NLL "
            "among such epochs; the most valid epoch when none reaches it). Needs sample_size."
        ),
    )
    freeze_embedding: bool = Field(
        False, description="Keep the token embedding at the prior's weights."
    )
    frozen_rnn_layers: int = Field(
        0, ge=0, description="Keep the first this many recurrent layers at the prior's weights."
    )
    prior_anchor: float = Field(
        0.0,
        ge=0,
        description=(
            "L2-SP weight: adds prior_anchor × the squared distance of the trainable weights "
            "from the prior's to each step's loss (mean NLL per molecule)."
        ),
    )
    warmup_steps: int = Field(
        0, ge=0, description="Optimisation steps over which the learning rate rises from 0."
    )
    prior_sample_fraction: float = Field(
        0.0,
        ge=0,
        lt=1,
        description=(
            "Share of each epoch's training SMILES that are the prior's own samples (drawn "
            "once before training; rehearsal of the prior's SMILES grammar)."
        ),
    )
    save_every_n_epochs: int = Field(1, ge=1, description="Checkpoint frequency.")
    seed: Seed = Field(0, description="Seed of batching, SMILES randomisation and sampling.")
    device: DeviceName = Field("auto", description="'auto', 'cpu' or 'cuda[:N]'.")

    @model_validator(mode="after")
    def _floor_below_rate(self) -> TransferLearningConfig:
        check_order(
            "min_learning_rate", self.min_learning_rate, "learning_rate", self.learning_rate
        )
        return self


def prepare_smiles(
    smiles: Sequence[str], model: GenerativeModel, isomeric: bool = False
) -> tuple[list[str], dict[str, str]]:
    """Canonicalise and keep the SMILES the model can encode.

    Returns:
        ``(kept, skipped)`` with ``skipped`` mapping each rejected input to the reason.
    """
    kept: list[str] = []
    skipped: dict[str, str] = {}
    for text in smiles:
        canonical = canonicalize(text, isomeric)
        if canonical is None:
            skipped[text] = "invalid SMILES"
            continue
        missing = model.vocabulary.unknown_tokens(canonical)
        if missing:
            skipped[text] = "tokens not in the prior's vocabulary: " + " ".join(sorted(missing))
            continue
        kept.append(canonical)
    return list(dict.fromkeys(kept)), skipped


def randomized_epoch(
    smiles: Sequence[str],
    model: GenerativeModel,
    rng: random.Random,
    isomeric: bool = False,
    mols: Sequence[Chem.Mol | None] | None = None,
) -> tuple[list[list[int]], list[str]]:
    """Encode one random SMILES per molecule; skip those with out-of-vocabulary tokens.

    Args:
        smiles: Canonical SMILES.
        model: Supplies the vocabulary.
        rng: Random source (one shuffle per molecule).
        isomeric: Keep stereochemistry.
        mols: ``smiles`` already parsed (same order), to skip re-parsing every epoch; the
            random SMILES are the same as without them.

    Returns:
        ``(encoded, skipped)``: index lists and the canonical SMILES skipped this epoch.
    """
    encoded: list[list[int]] = []
    skipped: list[str] = []
    for index, text in enumerate(smiles):
        if mols is None:
            random_form = randomize(text, rng, isomeric) or text
        else:
            mol = mols[index]
            random_form = text if mol is None else randomize_mol(mol, rng, isomeric)
        if model.vocabulary.unknown_tokens(random_form):
            skipped.append(text)
            continue
        encoded.append(model.vocabulary.encode(random_form))
    return encoded, skipped


def transfer_learn(
    model: GenerativeModel,
    train_smiles: Sequence[str],
    valid_smiles: Sequence[str],
    config: TransferLearningConfig,
    output_dir: str | Path,
    on_epoch: EpochCallback | None = None,
) -> TrainingResult:
    """Fine-tune ``model`` (in place) on ``train_smiles``.

    Args:
        model: The prior to start from (moved to ``config.device`` by the caller).
        train_smiles: Training molecules (any valid SMILES; canonicalised here).
        valid_smiles: Validation molecules (e.g. the test split); may be empty.
        config: The recipe.
        output_dir: Receives ``epoch_<n>.chkpt`` checkpoints, ``model.prior`` (best epoch)
            and ``history.json``.
        on_epoch: Called with each epoch's record.

    Returns:
        The result; ``best_epoch`` has the lowest validation NLL among the epochs whose
        sample validity reaches ``config.min_validity`` (see :func:`_better`); ``extra``
        holds the skipped SMILES (``skipped_input``) and per-epoch randomisation skips.
    """
    seed_everything(config.seed)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    train, skipped_train = prepare_smiles(train_smiles, model, config.isomeric_smiles)
    valid, skipped_valid = prepare_smiles(valid_smiles, model, config.isomeric_smiles)
    if not train:
        raise InvalidInputError(
            "train_smiles", "no SMILES usable with this prior's vocabulary",
            f"check the input ({len(skipped_train)} skipped, e.g. "
            f"{next(iter(skipped_train.items()), ('', ''))})",
        )  # fmt: skip
    for text, reason in list(skipped_train.items())[:20]:
        logger.warning("skipped training SMILES %s: %s", text, reason)
    logger.info(
        "TL on %d SMILES (%d skipped), validation %d (%d skipped)",
        len(train), len(skipped_train), len(valid), len(skipped_valid),
    )  # fmt: skip
    reference = set(train)
    rehearsal = prior_samples(model, len(train), config.prior_sample_fraction, reference)
    train = [*train, *rehearsal]
    valid_encoded = [model.vocabulary.encode(s) for s in valid]
    canonical_train = [model.vocabulary.encode(s) for s in train]
    # Parsed once: each epoch only renumbers atoms and writes a new random SMILES.
    train_mols = [to_mol(s) for s in train] if config.randomize_smiles else None
    optimizer = torch.optim.Adam(trainable_parameters(model, config), lr=config.learning_rate)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, config.lr_step, config.lr_gamma)
    regulariser = prior_anchor(model, config.prior_anchor)
    warmup = _Warmup(config.warmup_steps)
    rng = random.Random(config.seed)
    history: list[EpochRecord] = []
    randomization_skips: dict[int, list[str]] = {}
    best_epoch, best_nll, stale, lowest_nll = 0, float("inf"), 0, float("inf")
    best: tuple[float, float] | None = None
    stopped_early = False
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        if config.randomize_smiles:
            encoded, skipped = randomized_epoch(
                train, model, rng, config.isomeric_smiles, train_mols
            )
        else:
            encoded, skipped = canonical_train, []
        randomization_skips[epoch] = skipped
        train_nll = train_one_epoch(
            model, encoded, optimizer, config.batch_size, config.clip_gradient_norm, rng,
            regulariser=regulariser, before_step=warmup if config.warmup_steps else None,
        )  # fmt: skip
        scheduler.step()
        record = EpochRecord(epoch, train_nll, mean_nll(model, valid_encoded), lr,
                             skipped=len(skipped))  # fmt: skip
        if config.sample_size:
            quality = sample_quality(model.sample(config.sample_size).smiles, reference)
            record.validity, record.uniqueness = quality["validity"], quality["uniqueness"]
            record.novelty = quality["novelty"]
        model.metadata["updates"] = [*model.metadata.get("updates", []), epoch]
        if epoch % config.save_every_n_epochs == 0 or epoch == config.epochs:
            record.checkpoint = str(save_model(model, out / f"epoch_{epoch}.chkpt"))
        record.seconds = time.perf_counter() - started
        history.append(record)
        logger.info("TL epoch %d: %s", epoch, json.dumps(record.as_dict()))
        if on_epoch is not None:
            on_epoch(record)
        score = record.valid_nll if valid else record.train_nll
        stale = 0 if score < lowest_nll else stale + 1
        lowest_nll = min(lowest_nll, score)
        if best is None or _better((score, record.validity), best, config.min_validity):
            best_epoch, best_nll, best = epoch, score, (score, record.validity)
            _write_best(model, record.checkpoint, out / "best.prior")
        patience = config.early_stopping_patience
        if (patience is not None and valid and stale >= patience) or (
            optimizer.param_groups[0]["lr"] < config.min_learning_rate
        ):
            stopped_early = epoch < config.epochs
            break
    for parameter in model.network.parameters():
        parameter.requires_grad_(True)
    final = out / "model.prior"
    shutil.copyfile(out / "best.prior", final)
    logger.info("best validation NLL %.3f at epoch %d", best_nll, best_epoch)
    extra: dict[str, object] = {
        "skipped_input": {**skipped_train, **skipped_valid},
        "randomization_skips": {e: len(s) for e, s in randomization_skips.items()},
        "train_size": len(train) - len(rehearsal),
        "prior_samples": len(rehearsal),
        "validation_size": len(valid),
        "best_valid_nll": best_nll,
    }
    (out / "history.json").write_text(
        json.dumps(
            {"history": [r.as_dict() for r in history], "best_epoch": best_epoch, **extra},
            indent=2,
            default=str,
        )
    )
    return TrainingResult(str(final), history, best_epoch, stopped_early, extra)


def trainable_parameters(
    model: GenerativeModel, config: TransferLearningConfig
) -> list[torch.nn.Parameter]:
    """Freeze what ``config`` keeps at the prior's weights; return the parameters to train.

    Raises:
        InvalidInputError: When ``frozen_rnn_layers`` is more than the model has.
    """
    layers = model.config.num_layers
    if config.frozen_rnn_layers > layers:
        raise InvalidInputError(
            "frozen_rnn_layers", f"is {config.frozen_rnn_layers} but the prior has {layers}",
            f"freeze at most {layers} layers",
        )  # fmt: skip
    frozen = {f"_l{index}" for index in range(config.frozen_rnn_layers)}
    trainable = []
    for name, parameter in model.network.named_parameters():
        keep = (config.freeze_embedding and name.startswith("_embedding.")) or (
            name.startswith("_rnn.") and any(name.endswith(suffix) for suffix in frozen)
        )
        parameter.requires_grad_(not keep)
        if not keep:
            trainable.append(parameter)
    return trainable


def prior_anchor(model: GenerativeModel, weight: float) -> Callable[[], torch.Tensor] | None:
    """L2-SP penalty: ``weight`` × squared distance of the trainable weights from now.

    Called before training, so "now" is the prior. Returns None for a zero weight.
    """
    if weight <= 0:
        return None
    pairs = [
        (parameter, parameter.detach().clone())
        for parameter in model.network.parameters()
        if parameter.requires_grad
    ]

    def penalty() -> torch.Tensor:
        return weight * sum(((p - start) ** 2).sum() for p, start in pairs)  # type: ignore[return-value]

    return penalty


def prior_samples(
    model: GenerativeModel, n_train: int, fraction: float, exclude: set[str]
) -> list[str]:
    """Valid canonical samples of the prior: ``fraction`` of the training set they join.

    Args:
        model: The prior (sampled before any update).
        n_train: Training SMILES they are mixed with.
        fraction: Their share of the mixed set (0 gives none).
        exclude: SMILES left out (the training set).
    """
    wanted = round(fraction / (1 - fraction) * n_train) if fraction > 0 else 0
    if not wanted:
        return []
    kept, _ = prepare_smiles(model.sample(math.ceil(wanted * 1.1) + 8).smiles, model)
    return [text for text in kept if text not in exclude][:wanted]


class _Warmup:
    """Linear learning-rate warm-up to the initial rate over the first ``steps`` updates.

    Called before each optimiser step; after ``steps`` updates it changes nothing.
    """

    def __init__(self, steps: int) -> None:
        self.steps = steps
        self.done = 0
        self.base: float | None = None

    def __call__(self, optimizer: torch.optim.Optimizer) -> None:
        if self.done >= self.steps:
            return
        group = optimizer.param_groups[0]
        if self.base is None:
            self.base = group["lr"]
        self.done += 1
        group["lr"] = self.base * self.done / self.steps


def _better(
    candidate: tuple[float, float], best: tuple[float, float], min_validity: float
) -> bool:
    """Whether an epoch's ``(nll, validity)`` beats the best so far.

    Epochs whose sample validity reaches ``min_validity`` (or was not measured) compete on
    NLL and beat every epoch below it; below it, the more valid epoch wins.
    """

    def fit(validity: float) -> bool:
        return math.isnan(validity) or validity >= min_validity

    (nll, validity), (best_nll, best_validity) = candidate, best
    if fit(validity) != fit(best_validity):
        return fit(validity)
    return nll < best_nll if fit(validity) else validity > best_validity


def _write_best(model: GenerativeModel, checkpoint: str, path: Path) -> None:
    """Write the best model: a copy of this epoch's checkpoint when there is one.

    The checkpoint holds exactly what :func:`save_model` would write for ``model``, so
    copying it avoids serialising the network a second time in the epoch.
    """
    if not checkpoint:
        save_model(model, path)
        return
    tmp = path.with_name(path.name + ".tmp")
    shutil.copyfile(checkpoint, tmp)
    tmp.replace(path)
