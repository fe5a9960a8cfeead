"""Named recipes for the generator stages of a design run (used by the molecular-design flow).

* :func:`focused_transfer_learning`: fine-tuning on a target's actives. The shipped prior
  (``moses_lstm.prior``) was pre-trained on **canonical** SMILES only, so the recipe
  fine-tunes on canonical SMILES: randomised SMILES (REINVENT 4's TL default, right for its
  priors, which are trained on randomised SMILES) are a different SMILES language for this
  prior, and 499 EGFR actives are too few to learn it. Measured on the demo's EGFR split
  (499 training actives, batch 64, 200 samples per epoch): randomised SMILES at lr 1e-4 fell
  from 0.98 to 0.68 validity in 8 epochs while barely moving the samples, and collapsed to
  0.19-0.25 at 5e-4; canonical SMILES at 5e-4 hold 0.70-0.75 over 8 epochs while the
  validation NLL falls 55 → 26 and the samples' median nearest-neighbour similarity to the
  actives rises 0.25 → 0.41. Validity drops in the first epoch (0.98 → 0.74) and then stays
  flat, the cost of moving a lead-like MOSES prior to larger kinase inhibitors; a per-epoch
  learning-rate decay (×0.8) changed nothing (0.72 at epoch 5 in both). Each epoch's sample
  validity is tracked and an epoch below ``min_validity`` is never kept as the best one.
  The invalid samples are long kinase-like SMILES with unclosed rings or fused aromatic
  systems RDKit cannot kekulise (of 86 invalid in 300 samples: 50 unparsable, 34
  kekulisation, 2 valence), not a broken grammar: none of the grammar-keeping options
  helped (seed 0, 500 samples of the TL model; valid / predicted active / median
  similarity to the actives): the recipe 0.768 / 0.378 / 0.463; a frozen embedding and
  first LSTM layer 0.670 / 0.264 / 0.390; an L2-SP pull to the prior (``prior_anchor``
  0.05) 0.766 / 0.262 / 0.351; a 16-step warm-up 0.730 / 0.320 / 0.443; 30 % of the
  prior's own samples in every epoch (``prior_sample_fraction``) 0.874 / 0.246 / 0.311,
  more valid only because a third of the samples stay MOSES-like. Validity is repaired
  in RL instead (below).
* :func:`design_reinforcement`: RL for a multi-objective design run: PMO's REINVENT settings (σ
  60, Adam 5e-4, batch 64) with REINVENT 4's identical-Murcko-scaffold diversity filter, bucket
  50 (minimum score 0.4), a replay memory (REINVENT 4's inception, 50 kept, 10 replayed per step)
  that the design flow seeds with the training actives (:func:`with_replayed_actives`), and
  invalid SMILES scored -0.5 in the loss (``invalid_score``; reported scores keep 0). The filter
  zeroes about 40 % of the valid samples after step 10, so with REINVENT's invalid = 0 an invalid
  SMILES and a filtered valid one had the same target and validity stalled at 0.91-0.94 whatever
  the TL model's. Measured on the demo's seed-0 TL model, 70 steps (valid / predicted active /
  independent active / median similarity / unique scaffolds / score gain, RL CPU-s): without
  replay and with invalid = 0, 0.930 / 0.556 / 0.568 / 0.462 / 0.628 / 1.51, about 150; replay of
  the actives (50/10) 0.944 / 0.642 / 0.618 / 0.522 / 0.572 / 1.60, 169; a larger replay (100/20)
  0.916 / 0.776 / 0.754 / 0.608 / 0.469 / 1.72, 190 (too few scaffolds); replay 50/10 with
  invalid -0.5 0.958 / 0.600 / 0.612 / 0.528 / 0.539 / 1.70, 179. A TL model trained with 30 %
  prior samples (0.87 valid) plus replay stalled at 0.89-0.92 validity over the first 30 steps.
  The weights and bucket were chosen earlier (seed 0, 60 steps from the same TL model, activity
  weight 3 against QED 1 and SA 1 unless said): bucket 25 with activity weight 1 kept 87.5 %
  unique scaffolds but only 14.6 % of samples predicted active and a median similarity to the
  actives of 0.31 (the filter and QED/SA pulled the agent away from the EGFR chemotypes); bucket
  100 gave 70.6 % / 0.50 but 44.9 % scaffolds; REINVENT's ``PenalizeSameSmiles`` 84.2 % / 0.57
  but 36 % scaffolds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from crucible.generator import BROAD_PRIOR_PATH, DEFAULT_PRIOR_PATH
from crucible.generator.diversity_filters import DiversityFilterConfig
from crucible.generator.reinforcement import LearningStrategyConfig, ReinforcementConfig
from crucible.generator.replay import InceptionConfig
from crucible.generator.transfer_learning import TransferLearningConfig


def focused_transfer_learning(epochs: int = 8, sample_size: int = 100) -> TransferLearningConfig:
    """TL on a few hundred actives from the shipped canonical-SMILES prior.

    Args:
        epochs: Epochs (8 move the demo's samples to a median similarity of about 0.41).
        sample_size: SMILES sampled per epoch to measure validity.
    """
    return TransferLearningConfig(
        epochs=epochs,
        batch_size=64,
        learning_rate=5e-4,
        randomize_smiles=False,
        sample_size=sample_size,
        min_validity=0.6,
        early_stopping_patience=None,
    )


def with_replayed_actives(config: ReinforcementConfig, actives_file: str) -> ReinforcementConfig:
    """``config`` with its replay memory seeded from ``actives_file`` (no change without one).

    Args:
        config: RL settings; only a config with ``inception`` changes.
        actives_file: SMILES file of the target's training actives (the TL set).
    """
    if config.inception is None:
        return config
    inception = config.inception.model_copy(update={"smiles_file": actives_file})
    return config.model_copy(update={"inception": inception})


def design_reinforcement(seed: int = 0) -> ReinforcementConfig:
    """RL settings of a design run (PMO's σ and rate, scaffold filter, replay, invalid -0.5)."""
    return ReinforcementConfig(
        batch_size=64,
        learning_strategy=LearningStrategyConfig(sigma=60.0, rate=5e-4, invalid_score=-0.5),
        diversity_filter=DiversityFilterConfig(
            type="IdenticalMurckoScaffold", bucket_size=50, minscore=0.4
        ),
        inception=InceptionConfig(memory_size=50, sample_size=10),
        seed=seed,
    )


def oracle_reinforcement(
    seed: int = 0, diversity_filter: DiversityFilterConfig | None = None
) -> ReinforcementConfig:
    """RL settings for one narrow objective (a PMO oracle, one scoring component).

    PMO's REINVENT σ 60 and Adam 5e-4 (batch 64) with REINVENT 4's inception replay (the 50
    best molecules so far, 10 replayed per step); see ``docs/generator.md`` ("PMO oracles")
    for the measurements behind the choice.

    Args:
        seed: Sampling seed.
        diversity_filter: The filter (none by default, as PMO's REINVENT).
    """
    return ReinforcementConfig(
        batch_size=64,
        learning_strategy=LearningStrategyConfig(sigma=60.0, rate=5e-4),
        diversity_filter=diversity_filter,
        inception=InceptionConfig(memory_size=50, sample_size=10),
        seed=seed,
    )


#: Named RL recipes: ``oracle`` (:func:`oracle_reinforcement`), ``design``
#: (:func:`design_reinforcement`), ``reinvent4`` (REINVENT 4's defaults: σ 128, Adam 1e-4,
#: identical-Murcko-scaffold filter, bucket 25, no replay).
ReinforcementRecipe = Literal["oracle", "design", "reinvent4"]


def reinforcement_recipe(name: ReinforcementRecipe, seed: int = 0) -> ReinforcementConfig:
    """The RL settings of a named recipe."""
    if name == "oracle":
        return oracle_reinforcement(seed)
    if name == "design":
        return design_reinforcement(seed)
    return ReinforcementConfig(seed=seed)


def recipe_for_objectives(objective_counts: Sequence[int]) -> ReinforcementRecipe:
    """The recipe for a run whose stages score these numbers of objectives.

    One objective in every stage (a PMO oracle, or a scoring function of one component) is a
    narrow single-objective run: ``oracle``. A stage aggregating several components (a design
    run: activity, QED, SA, alerts) wants diverse molecules: ``design`` and its scaffold filter.
    """
    return "oracle" if all(count <= 1 for count in objective_counts) else "design"


def recipe_prior(name: ReinforcementRecipe) -> Path:
    """The shipped prior a recipe starts from when the run names none.

    ``oracle`` starts from the broad prior (``broad_lstm.prior``, MOSES plus ChEMBL-derived
    molecules up to MW 600): most PMO targets are drug-sized, outside the MOSES prior's MW
    250-350, and over three seeds at 10,000 calls the broad prior raised the mean AUC top-10
    of the ten PMO oracles from 0.519 to 0.63 (``docs/generator.md``, "Does a broader prior
    help?"). ``design`` and ``reinvent4`` keep the MOSES prior (``moses_lstm.prior``): a design
    run fine-tunes it on the target's actives first, and its samples are 98 % valid against the
    broad prior's 83 %.
    """
    return BROAD_PRIOR_PATH if name == "oracle" else DEFAULT_PRIOR_PATH
