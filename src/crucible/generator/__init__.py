"""SMILES generative engine: vocabulary, recurrent prior, sampling, pre-training, TL and RL.

Follows REINVENT 4's published algorithm (Loeffler et al., J. Cheminf. 2024) and reads and
writes REINVENT 4 ``.prior``/agent files, without depending on REINVENT. Modules:

* :mod:`~crucible.generator.tokenizer`: SMILES tokenizer and :class:`Vocabulary`.
* :mod:`~crucible.generator.model`: :class:`SmilesRNN` network and :class:`GenerativeModel`
  (sampling with temperature, likelihoods).
* :mod:`~crucible.generator.model_io`: REINVENT 4 file read/write.
* :mod:`~crucible.generator.pretraining`, :mod:`~crucible.generator.transfer_learning`,
  :mod:`~crucible.generator.reinforcement`: the three training stages.
* :mod:`~crucible.generator.diversity_filters`, :mod:`~crucible.generator.replay`: RL memory.
* :mod:`~crucible.generator.reinvent_toml`: TOML configs for an external ``reinvent``.

This ``__init__`` stays light: torch and RDKit load only when a submodule is imported.
"""

from __future__ import annotations

from pathlib import Path

#: The prior shipped with Crucible (trained with ``flows/prior_flow.py``; see docs/generator.md).
DEFAULT_PRIOR_PATH = (
    Path(__file__).resolve().parent.parent / "resources" / "priors" / ("moses_lstm.prior")
)
#: The broader prior of the ``oracle`` RL recipe: the shipped prior fine-tuned on MOSES plus
#: ChEMBL-derived molecules up to MW 600 (``benchmarks/broad_prior.py``; see
#: ``resources/priors/README.md``).
BROAD_PRIOR_PATH = DEFAULT_PRIOR_PATH.with_name("broad_lstm.prior")
#: The MOSES training subset the default prior was trained on.
DEFAULT_CORPUS_PATH = (
    Path(__file__).resolve().parent.parent
    / "resources"
    / "corpora"
    / ("moses_train_subset.smi.gz")
)

__all__ = ["BROAD_PRIOR_PATH", "DEFAULT_CORPUS_PATH", "DEFAULT_PRIOR_PATH"]
