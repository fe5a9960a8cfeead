"""Tiny models and corpora shared by the generator tests."""

from __future__ import annotations

import pytest
import torch

from crucible.generator.model import GenerativeModel, NetworkConfig
from crucible.generator.tokenizer import Vocabulary

TINY_CORPUS = [
    "CCO", "CCN", "CCC", "c1ccccc1", "c1ccncc1", "CC(=O)O", "CC(=O)N", "CCOC", "c1ccc(Cl)cc1",
    "c1ccc(Br)cc1", "CC(C)O", "CN(C)C", "OCCO", "NCCN", "c1ccoc1", "c1ccsc1", "CC#N", "C=CC",
    "c1ccc2ccccc2c1", "CC1CCCCC1", "O=C1CCCCC1", "c1cc[nH]c1", "CCS", "CF",
]  # fmt: skip

TINY_NETWORK = NetworkConfig(num_layers=2, layer_size=32, embedding_layer_size=16)


@pytest.fixture
def tiny_vocabulary() -> Vocabulary:
    return Vocabulary.from_smiles(TINY_CORPUS)


@pytest.fixture
def tiny_model(tiny_vocabulary: Vocabulary) -> GenerativeModel:
    torch.manual_seed(0)
    return GenerativeModel.create(tiny_vocabulary, TINY_NETWORK, max_sequence_length=40)
