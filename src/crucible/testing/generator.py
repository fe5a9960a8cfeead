"""Tiny SMILES corpus and a seconds-to-train prior for generator tests and examples."""

from __future__ import annotations

from pathlib import Path

#: Small drug-like corpus (canonical SMILES) that a tiny LSTM learns in a few seconds.
TINY_CORPUS: tuple[str, ...] = (
    "CCO", "CCN", "CCC", "c1ccccc1", "c1ccncc1", "CC(=O)O", "CC(=O)N", "CCOC", "Clc1ccccc1",
    "Brc1ccccc1", "CC(C)O", "CN(C)C", "OCCO", "NCCN", "c1ccoc1", "c1ccsc1", "CC#N", "C=CC",
    "c1ccc2ccccc2c1", "CC1CCCCC1", "O=C1CCCCC1", "c1cc[nH]c1", "CCS", "CF",
    "CC(=O)Nc1ccc(O)cc1", "CC(C)Cc1ccc(C(C)C(=O)O)cc1", "Cn1cnc2c1c(=O)n(C)c(=O)n2C",
    "O=C(O)c1ccccc1O", "CCN(CC)CC", "c1ccc(-c2ccccc2)cc1", "COc1ccccc1", "Nc1ccccc1",
)  # fmt: skip


def write_tiny_corpus(path: str | Path, repeats: int = 1) -> Path:
    """Write :data:`TINY_CORPUS` (``repeats`` times) as a ``.smi`` file with a header."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("SMILES\n" + "\n".join(list(TINY_CORPUS) * repeats) + "\n")
    return path


def train_tiny_prior(output_dir: str | Path, epochs: int = 10, seed: int = 0) -> Path:
    """Train a 2×LSTM 32 prior on the tiny corpus on the CPU (a few seconds); returns its file.

    The vocabulary also holds ``I`` (never seen in training) so tests can check how
    out-of-corpus tokens are handled.
    """
    from crucible.generator.model import NetworkConfig
    from crucible.generator.pretraining import PretrainConfig, pretrain

    config = PretrainConfig(
        network=NetworkConfig(num_layers=2, layer_size=32, embedding_layer_size=16),
        epochs=epochs, batch_size=16, learning_rate=1e-2, lr_gamma=0.95, sample_size=0,
        validation_fraction=0.0, max_sequence_length=60, device="cpu", seed=seed,
        extra_tokens=["I"],
    )  # fmt: skip
    return Path(pretrain(list(TINY_CORPUS) * 6, config, output_dir).model_path)
