"""Recurrent SMILES prior: embedding → multi-layer LSTM/GRU (optional layer norm) → linear.

Parameter names (``_embedding``, ``_rnn``, ``_linear``) and the ``network_params`` keys match
REINVENT 4, so state dicts move between the two unchanged. Notation in shapes: ``b`` batch,
``t`` sequence length (tokens incl. ``^``), ``V`` vocabulary size, ``E`` embedding size,
``H`` hidden size, ``L`` number of layers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn
from torch.nn import functional as F  # noqa: N812

from crucible.generator.tokenizer import Vocabulary

HiddenState = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


class NetworkConfig(BaseModel):
    """Architecture of the recurrent network (REINVENT 4 ``network_params`` keys).

    The defaults are REINVENT 4's default prior: 3×LSTM 512, embedding 256.
    """

    model_config = ConfigDict(extra="forbid")

    cell_type: Literal["lstm", "gru"] = Field("lstm", description="Recurrent cell.")
    num_layers: int = Field(3, ge=1, le=8, description="Stacked recurrent layers.")
    layer_size: int = Field(512, ge=8, le=4096, description="Hidden units per layer.")
    embedding_layer_size: int = Field(256, ge=4, le=4096, description="Token embedding size.")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout between layers.")
    layer_normalization: bool = Field(
        False, description="Layer-normalise the RNN output (REINVENT semantics)."
    )


class SmilesRNN(nn.Module):
    """The network: token indices → next-token logits."""

    def __init__(self, vocabulary_size: int, config: NetworkConfig) -> None:
        super().__init__()
        self.config = config
        self._embedding = nn.Embedding(vocabulary_size, config.embedding_layer_size)
        rnn_class = nn.LSTM if config.cell_type == "lstm" else nn.GRU
        self._rnn = rnn_class(
            config.embedding_layer_size,
            config.layer_size,
            num_layers=config.num_layers,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            batch_first=True,
        )
        self._linear = nn.Linear(config.layer_size, vocabulary_size)

    def forward(
        self, tokens: torch.Tensor, hidden: HiddenState | None = None
    ) -> tuple[torch.Tensor, HiddenState]:
        """Next-token logits.

        Args:
            tokens: ``b x t`` token indices.
            hidden: Recurrent state from a previous call (zeros when None).

        Returns:
            ``(logits, hidden)`` with logits ``b x t x V``.
        """
        output, hidden_out = self._rnn(self._embedding(tokens), hidden)
        if self.config.layer_normalization:
            output = F.layer_norm(output, output.shape[1:])
        return self._linear(output), hidden_out


@dataclass
class SampledBatch:
    """Sampled molecules.

    Attributes:
        smiles: Decoded SMILES (not canonicalised; may be invalid).
        nll: ``b`` negative log-likelihood of each sequence under the model (temperature 1).
        sequences: ``b x t`` token indices starting with ``^``, padded with ``$`` (0).
    """

    smiles: list[str]
    nll: np.ndarray
    sequences: torch.Tensor = field(repr=False)


class GenerativeModel:
    """A vocabulary plus a :class:`SmilesRNN`: sampling and likelihoods.

    Args:
        vocabulary: Token map.
        network: The network (moved to ``device``).
        max_sequence_length: Cap on sampled tokens (incl. ``^``).
        metadata: Free-form provenance (REINVENT ``metadata`` dict).
        device: Torch device.
    """

    def __init__(
        self,
        vocabulary: Vocabulary,
        network: SmilesRNN,
        max_sequence_length: int = 256,
        metadata: dict[str, Any] | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        self.vocabulary = vocabulary
        self.device = torch.device(device)
        self.network = network.to(self.device)
        self.max_sequence_length = int(max_sequence_length)
        self.metadata: dict[str, Any] = dict(metadata or {})

    @classmethod
    def create(
        cls,
        vocabulary: Vocabulary,
        config: NetworkConfig | None = None,
        max_sequence_length: int = 256,
        device: torch.device | str = "cpu",
        metadata: dict[str, Any] | None = None,
    ) -> GenerativeModel:
        """An untrained model with ``config`` (REINVENT 4 default when None)."""
        network = SmilesRNN(len(vocabulary), config or NetworkConfig())
        return cls(vocabulary, network, max_sequence_length, metadata, device)

    @property
    def config(self) -> NetworkConfig:
        """The network architecture."""
        return self.network.config

    def to(self, device: torch.device | str) -> GenerativeModel:
        """Move to ``device`` (in place); returns self."""
        self.device = torch.device(device)
        self.network.to(self.device)
        return self

    def clone(self) -> GenerativeModel:
        """A deep copy (e.g. an agent initialised from a prior)."""
        network = SmilesRNN(len(self.vocabulary), self.config)
        network.load_state_dict(self.network.state_dict())
        return GenerativeModel(
            self.vocabulary, network, self.max_sequence_length, dict(self.metadata), self.device
        )

    def num_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.network.parameters())

    # ----------------------------------------------------------------------------- encoding
    def encode(self, smiles: Sequence[str]) -> torch.Tensor:
        """Pad encoded SMILES into a ``b x t`` tensor on the model's device (``$``-padded).

        Raises:
            InvalidInputError: If a SMILES has a token missing from the vocabulary.
        """
        encoded = [self.vocabulary.encode(text) for text in smiles]
        return pad_sequences(encoded, self.device)

    # --------------------------------------------------------------------------- likelihood
    def likelihood(self, sequences: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood of token sequences (with autograd).

        Args:
            sequences: ``b x t`` indices starting with ``^``; tokens after the first ``$``
                are ignored.

        Returns:
            ``b`` NLL per sequence (sum over tokens up to and including the first ``$``).
        """
        logits, _ = self.network(sequences[:, :-1])
        targets = sequences[:, 1:]
        token_nll = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
        return (token_nll * _mask_after_end(targets)).sum(dim=1)

    def likelihood_smiles(self, smiles: Sequence[str], batch_size: int = 512) -> np.ndarray:
        """NLL of each SMILES (no gradient), in batches.

        Returns:
            ``len(smiles)`` NLL values.
        """
        out: list[np.ndarray] = []
        with torch.no_grad():
            for start in range(0, len(smiles), batch_size):
                batch = self.encode(smiles[start : start + batch_size])
                out.append(self.likelihood(batch).cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0)

    # ----------------------------------------------------------------------------- sampling
    @torch.no_grad()
    def sample_sequences(
        self, batch_size: int, temperature: float = 1.0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample token sequences.

        Args:
            batch_size: Number of sequences ``b``.
            temperature: Softmax temperature (> 0); below 1 sharpens, above 1 flattens.

        Returns:
            ``(sequences, nll)``: ``b x t`` indices (``^`` first, ``$``-padded) and the ``b``
            NLL under the untempered model.
        """
        if temperature <= 0:
            raise ValueError("temperature must be > 0")
        start = self.vocabulary.tokens["^"]
        tokens = torch.full((batch_size, 1), start, dtype=torch.long, device=self.device)
        steps = [tokens]
        nll = torch.zeros(batch_size, device=self.device)
        finished = torch.zeros(batch_size, dtype=torch.bool, device=self.device)
        hidden: HiddenState | None = None
        for _ in range(self.max_sequence_length - 1):
            logits, hidden = self.network(tokens, hidden)
            logits = logits[:, -1, :]
            probabilities = torch.softmax(logits / temperature, dim=-1)
            next_tokens = torch.multinomial(probabilities, 1).squeeze(1)
            next_tokens = next_tokens.masked_fill(finished, 0)
            log_probs = torch.log_softmax(logits, dim=-1)
            token_nll = -log_probs.gather(1, next_tokens.unsqueeze(1)).squeeze(1)
            nll += token_nll.masked_fill(finished, 0.0)
            finished |= next_tokens == 0
            tokens = next_tokens.unsqueeze(1)
            steps.append(tokens)
            if bool(finished.all()):
                break
        return torch.cat(steps, dim=1), nll

    def sample(self, num: int, batch_size: int = 256, temperature: float = 1.0) -> SampledBatch:
        """Sample ``num`` SMILES in batches of ``batch_size``."""
        smiles: list[str] = []
        nlls: list[np.ndarray] = []
        sequences: list[torch.Tensor] = []
        for start in range(0, num, batch_size):
            size = min(batch_size, num - start)
            seqs, nll = self.sample_sequences(size, temperature)
            smiles.extend(self.decode(seqs))
            nlls.append(nll.cpu().numpy())
            sequences.append(seqs)
        width = max((s.shape[1] for s in sequences), default=1)
        padded = (
            torch.cat([F.pad(s, (0, width - s.shape[1])) for s in sequences], dim=0)
            if (sequences)
            else torch.zeros((0, 1), dtype=torch.long)
        )
        return SampledBatch(smiles, np.concatenate(nlls) if nlls else np.zeros(0), padded)

    def decode(self, sequences: torch.Tensor) -> list[str]:
        """SMILES of ``b x t`` index sequences."""
        return [self.vocabulary.decode(row) for row in sequences.cpu().tolist()]


def pad_sequences(encoded: Sequence[Sequence[int]], device: torch.device | str) -> torch.Tensor:
    """Right-pad index lists with 0 (``$``) into a ``b x t`` long tensor."""
    width = max((len(seq) for seq in encoded), default=1)
    out = torch.zeros((len(encoded), width), dtype=torch.long)
    for row, seq in enumerate(encoded):
        out[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
    return out.to(device)


def _mask_after_end(targets: torch.Tensor) -> torch.Tensor:
    """``b x t`` float mask: 1 up to and including the first ``$`` (index 0), then 0."""
    is_end = (targets == 0).long()
    ends_before = torch.cumsum(is_end, dim=1) - is_end
    return (ends_before == 0).to(torch.float32)


def perplexity(nll: float, num_tokens: float) -> float:
    """Per-token perplexity from a summed NLL."""
    return math.exp(nll / max(num_tokens, 1.0))
