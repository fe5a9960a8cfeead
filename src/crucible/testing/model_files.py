"""Small, valid model files of every stored kind, for file-format and security tests.

Each writer takes well under a second on one CPU core and produces a file in the format
Crucible's own code writes (so tests can damage or replace it and check the loaders' errors).
"""

from __future__ import annotations

from pathlib import Path

from crucible.testing.generator import TINY_CORPUS


def write_tiny_prior(path: str | Path) -> Path:
    """An untrained 1×LSTM 8 REINVENT-layout prior over :data:`TINY_CORPUS`' vocabulary."""
    import torch

    from crucible.generator.model import GenerativeModel, NetworkConfig
    from crucible.generator.model_io import save_model
    from crucible.generator.tokenizer import Vocabulary

    torch.manual_seed(0)
    config = NetworkConfig(num_layers=1, layer_size=8, embedding_layer_size=4)
    model = GenerativeModel.create(Vocabulary.from_smiles(TINY_CORPUS), config, 32)
    return save_model(model, path)


def write_tiny_checkpoint(folder: str | Path) -> Path:
    """Train a one-layer MLP on digits for one epoch and return its ``best.pt``."""
    from crucible.training.config import TrainConfig
    from crucible.training.engine import fit

    config = TrainConfig(epochs=1).with_overrides(
        {"model.hidden_sizes": [8], "checkpoint.directory": str(folder)}
    )
    result = fit(config)
    assert result.best_checkpoint_path is not None
    return result.best_checkpoint_path


def write_tiny_activity_model(folder: str | Path) -> Path:
    """A 3-tree random forest on 64-bit fingerprints of the tiny corpus; returns the folder."""
    from crucible.chem.activity import get_activity_model

    smiles = list(TINY_CORPUS[:12])
    model = get_activity_model("random_forest", {"n_estimators": 3, "n_bits": 64})
    model.fit(smiles, [float(len(s)) for s in smiles])
    return model.save(folder)


def tiny_rf_surrogate_bytes() -> bytes:
    """:meth:`RandomForestSurrogate.to_bytes` of a 3-tree forest on 8 points in 2-D."""
    import numpy as np

    from crucible.bo.surrogates import RandomForestSurrogate

    X = np.linspace(0.0, 1.0, 16).reshape(8, 2)
    surrogate = RandomForestSurrogate(n_estimators=3)
    surrogate.fit(X, X.sum(axis=1))
    return surrogate.to_bytes()
