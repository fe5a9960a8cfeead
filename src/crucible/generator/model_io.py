"""Read and write REINVENT 4 model files (``.prior``, agents, TL checkpoints).

Files are written in REINVENT 4's plain-types layout (a ``torch.save`` of one dict with
``model_type``, ``version``, ``metadata``, ``vocabulary``, ``max_sequence_length``,
``network``, ``network_params`` and no ``tokenizer``), so they load with
``torch.load(weights_only=True)`` and are accepted by the ``reinvent`` CLI.

Files that REINVENT 4 wrote itself also pickle a ``SMILESTokenizer`` (no state), sometimes a
``ModelMetaData`` dataclass and a ``uuid.UUID``. Every file is read with
``torch.load(weights_only=True)`` (:func:`crucible.serialization.load_torch`), which admits
only tensors and plain types plus exactly those three classes, the REINVENT ones mapped to
inert stand-ins (REINVENT is never imported). A file that refers to anything else is refused
with an :class:`~crucible.exceptions.UnsafeFileError` naming the file; REINVENT files with more
REINVENT objects (e.g. an RL checkpoint's diversity filter) are converted once with
``crucible convert-legacy prior IN OUT --trusted``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch

from crucible.exceptions import InvalidFileError, InvalidInputError, NotFoundError
from crucible.generator.model import GenerativeModel, NetworkConfig, SmilesRNN
from crucible.generator.tokenizer import Vocabulary

MODEL_TYPE = "Reinvent"
FORMAT_VERSION = 1
_METADATA_KEYS = (
    "hash_id",
    "hash_id_format",
    "model_id",
    "origina_data_source",
    "creation_date",
    "date_format",
    "model_id_format",
    "updates",
    "comments",
)


class _ReinventStandIn:
    """Inert replacement for a pickled REINVENT object: keeps its state as attributes."""


class _SMILESTokenizer(_ReinventStandIn):
    """Stand-in for ``reinvent.models.reinvent.models.vocabulary.SMILESTokenizer``."""


class _ModelMetaData(_ReinventStandIn):
    """Stand-in for the ``reinvent.models.meta_data.ModelMetaData`` dataclass."""


#: The only non-plain globals a REINVENT 4 ``Reinvent`` model file holds.
REINVENT_GLOBALS: tuple[tuple[Any, str], ...] = (
    (_SMILESTokenizer, "reinvent.models.reinvent.models.vocabulary.SMILESTokenizer"),
    (_ModelMetaData, "reinvent.models.meta_data.ModelMetaData"),
    (uuid.UUID, "uuid.UUID"),
)


def new_metadata(data_source: str = "", comments: list[str] | None = None) -> dict[str, Any]:
    """REINVENT 4 metadata dict (only REINVENT's own keys, all plain types)."""
    return {
        "hash_id": None,
        "hash_id_format": "xxhash.xxh3_128_hexdigest",
        "model_id": uuid.uuid4().hex,
        "origina_data_source": data_source,
        "creation_date": time.time(),
        "date_format": "UNIX epoch",
        "model_id_format": "uuid4.hex",
        "updates": [],
        "comments": list(comments or []),
    }


def model_to_dict(model: GenerativeModel) -> dict[str, Any]:
    """The plain-types dict REINVENT 4 stores for a Reinvent model."""
    metadata = {key: model.metadata.get(key) for key in _METADATA_KEYS}
    if not metadata["model_id"]:
        metadata = {**new_metadata(), **{k: v for k, v in metadata.items() if v is not None}}
    metadata["updates"] = list(metadata.get("updates") or [])
    metadata["comments"] = [str(c) for c in metadata.get("comments") or []]
    state = OrderedDict((k, v.detach().cpu()) for k, v in model.network.state_dict().items())
    return {
        "model_type": MODEL_TYPE,
        "version": FORMAT_VERSION,
        "metadata": metadata,
        "vocabulary": model.vocabulary.to_reinvent(),
        "max_sequence_length": model.max_sequence_length,
        "network": state,
        "network_params": model.config.model_dump(),
    }


def save_model(model: GenerativeModel, path: str | Path, **extra: Any) -> Path:
    """Write ``model`` as a REINVENT 4 model file.

    Args:
        model: The model.
        path: Target file (parent folders are created).
        **extra: Additional plain-typed top-level keys (e.g. a checkpoint's training state).

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {**model_to_dict(model), **extra}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(data, tmp)
    tmp.replace(path)
    return path


def read_model_dict(path: str | Path) -> dict[str, Any]:
    """Load a REINVENT 4 model file as a dict, without importing REINVENT.

    Only tensors, plain types and :data:`REINVENT_GLOBALS` are admitted
    (``torch.load(weights_only=True)``).

    Raises:
        NotFoundError: The file does not exist.
        InvalidFileError: Empty, truncated, corrupted, or not a REINVENT/Crucible RNN model.
        UnsafeFileError: The file refers to any other global (nothing in it was run).
    """
    from crucible.serialization import load_torch

    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"model file {path} does not exist; pass a .prior/.model/.chkpt file")
    data = load_torch(
        path,
        field="model_file",
        kind="prior",
        fix="pass a REINVENT 4 .prior/.model/.chkpt file written by REINVENT or Crucible",
        allowed=REINVENT_GLOBALS,
    )
    if not isinstance(data, dict) or "network" not in data or "vocabulary" not in data:
        raise InvalidFileError(
            path,
            "is not a REINVENT/Crucible RNN model (no 'network' and 'vocabulary')",
            "pass a .prior file",
            field="model_file",
        )
    return data


def _plain_metadata(metadata: Any) -> dict[str, Any]:
    if metadata is None:
        return {}
    source = metadata if isinstance(metadata, dict) else vars(metadata)
    return {k: (v.hex if isinstance(v, uuid.UUID) else v) for k, v in source.items()}


def load_model(path: str | Path, device: torch.device | str = "cpu") -> GenerativeModel:
    """Load a REINVENT 4 (``model_type`` ``Reinvent``) or Crucible model file.

    Args:
        path: The file.
        device: Where to put the network.

    Returns:
        The model, in eval mode.

    Raises:
        NotFoundError: The file does not exist.
        InvalidFileError: The file is unreadable or its content does not form a SMILES RNN
            (another model type, no vocabulary, network weights of the wrong shape).
        UnsafeFileError: The file refers to globals outside the REINVENT allow-list.
    """
    data = read_model_dict(path)
    model_type = data.get("model_type", MODEL_TYPE)
    if model_type != MODEL_TYPE:
        raise InvalidFileError(
            path,
            f"holds a {model_type!r} model",
            "only REINVENT's SMILES RNN ('Reinvent') generator is supported",
            field="model_file",
        )
    try:
        network, vocabulary, max_length = _network_from_dict(data)
    except (InvalidInputError, TypeError, ValueError, KeyError, RuntimeError) as exc:
        from crucible.serialization import describe_error

        raise InvalidFileError(
            path,
            f"does not hold a usable SMILES RNN ({describe_error(exc)})",
            "pass a REINVENT 4 .prior file written by REINVENT or Crucible",
            field="model_file",
        ) from exc
    return GenerativeModel(
        vocabulary, network, max_length, _plain_metadata(data.get("metadata")), device
    )


def _network_from_dict(data: dict[str, Any]) -> tuple[SmilesRNN, Vocabulary, int]:
    if not isinstance(data["vocabulary"], dict):
        raise TypeError(f"'vocabulary' is a {type(data['vocabulary']).__name__}, not a dict")
    vocabulary = Vocabulary.from_reinvent(data["vocabulary"])
    params = data.get("network_params") or {}
    if not isinstance(params, dict):
        raise TypeError(f"'network_params' is a {type(params).__name__}, not a dict")
    config = NetworkConfig(**{k: params[k] for k in NetworkConfig.model_fields if k in params})
    if not isinstance(data["network"], dict):
        raise TypeError(f"'network' is a {type(data['network']).__name__}, not a state dict")
    max_length = data.get("max_sequence_length", 256)
    if not isinstance(max_length, int) or not 2 <= max_length <= 10_000:
        raise ValueError(f"'max_sequence_length' {max_length!r} is not an integer in [2, 10000]")
    _check_shapes(len(vocabulary), config, data["network"])
    network = SmilesRNN(len(vocabulary), config)
    network.load_state_dict(data["network"])
    network.eval()
    return network, vocabulary, max_length


def _check_shapes(vocabulary_size: int, config: NetworkConfig, state: dict[str, Any]) -> None:
    """Compare the stored weights with the architecture before allocating it (meta device)."""
    with torch.device("meta"):
        expected = {
            k: tuple(v.shape) for k, v in SmilesRNN(vocabulary_size, config).state_dict().items()
        }
    found = {k: tuple(v.shape) for k, v in state.items() if isinstance(v, torch.Tensor)}
    if found != expected or len(found) != len(state):
        wrong = sorted(set(expected) ^ set(state)) or [
            k for k in expected if found.get(k) != expected[k]
        ]
        raise ValueError(
            f"the network weights do not fit vocabulary size {vocabulary_size} and "
            f"network_params {config.model_dump()} (first mismatch: {wrong[:1]})"
        )


def describe_model(path: str | Path) -> dict[str, Any]:
    """Small JSON-able summary of a model file (architecture, vocabulary size, size on disk)."""
    model = load_model(path)
    comments = model.metadata.get("comments") or []
    recipe = None
    for comment in comments:
        if isinstance(comment, str) and comment.startswith("{"):
            try:
                recipe = json.loads(comment)
            except json.JSONDecodeError:
                continue
    return {
        "path": str(path),
        "file_bytes": Path(path).stat().st_size,
        "parameters": model.num_parameters(),
        "vocabulary_size": len(model.vocabulary),
        "max_sequence_length": model.max_sequence_length,
        "network_params": model.config.model_dump(),
        "recipe": recipe,
    }
