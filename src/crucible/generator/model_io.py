"""Read and write REINVENT 4 model files (``.prior``, agents, TL checkpoints).

Files are written in REINVENT 4's plain-types layout (a ``torch.save`` of one dict with
``model_type``, ``version``, ``metadata``, ``vocabulary``, ``max_sequence_length``,
``network``, ``network_params`` and no ``tokenizer``), so they load with
``torch.load(weights_only=True)`` and are accepted by the ``reinvent`` CLI.

Files that REINVENT wrote itself pickle REINVENT classes (``SMILESTokenizer``,
``ModelMetaData``). They are read without importing REINVENT: a restricted unpickler maps every
``reinvent.*`` global to an inert stand-in and refuses globals outside a short allow-list.
"""

from __future__ import annotations

import json
import pickle
import time
import types
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch

from crucible.exceptions import InvalidInputError, NotFoundError
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
_ALLOWED_MODULE_PREFIXES = ("torch", "collections", "uuid", "numpy", "_codecs", "copyreg")
_ALLOWED_BUILTINS = {"set", "frozenset", "dict", "list", "tuple", "int", "float", "str", "bytes"}


class _ReinventStandIn:
    """Inert replacement for any pickled ``reinvent.*`` object: keeps its state as attributes."""

    def __new__(cls, *args: Any, **kwargs: Any) -> _ReinventStandIn:
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slots) form
            state = {**(state[0] or {}), **(state[1] or {})}
        if isinstance(state, dict):
            self.__dict__.update(state)


class _StandInUnpickler(pickle.Unpickler):
    """Unpickler that stubs ``reinvent.*`` classes and allows only plain/torch globals."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "reinvent" or module.startswith("reinvent."):
            return type(name, (_ReinventStandIn,), {"__module__": "crucible.reinvent_stub"})
        if module == "builtins" and name in _ALLOWED_BUILTINS:
            return super().find_class(module, name)
        if module.startswith(_ALLOWED_MODULE_PREFIXES):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")


_stand_in_pickle = types.ModuleType("crucible_reinvent_pickle")
_stand_in_pickle.Unpickler = _StandInUnpickler  # type: ignore[attr-defined]
_stand_in_pickle.load = pickle.load  # type: ignore[attr-defined]
_stand_in_pickle.__name__ = "pickle"


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

    Plain-types files load with ``weights_only=True``; files that pickle REINVENT classes
    fall back to a restricted unpickler that stubs those classes.
    """
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"model file {path} does not exist; pass a .prior/.model/.chkpt file")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        data = torch.load(
            path, map_location="cpu", weights_only=False, pickle_module=_stand_in_pickle
        )
    if not isinstance(data, dict) or "network" not in data or "vocabulary" not in data:
        raise InvalidInputError(
            "model_file", f"{path} is not a REINVENT/Crucible RNN model", "pass a .prior file"
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
    """
    data = read_model_dict(path)
    model_type = data.get("model_type", MODEL_TYPE)
    if model_type != MODEL_TYPE:
        raise InvalidInputError(
            "model_file",
            f"{path} holds a {model_type!r} model",
            "only REINVENT's SMILES RNN ('Reinvent') generator is supported",
        )
    vocabulary_data = data["vocabulary"]
    if not isinstance(vocabulary_data, dict):
        vocabulary_data = vars(vocabulary_data)
        vocabulary_data = vocabulary_data.get("_tokens", vocabulary_data)
    vocabulary = Vocabulary.from_reinvent(vocabulary_data)
    params = {k: v for k, v in dict(data.get("network_params") or {}).items()}
    config = NetworkConfig(**{k: params[k] for k in NetworkConfig.model_fields if k in params})
    network = SmilesRNN(len(vocabulary), config)
    network.load_state_dict(data["network"])
    network.eval()
    return GenerativeModel(
        vocabulary,
        network,
        int(data.get("max_sequence_length", 256)),
        _plain_metadata(data.get("metadata")),
        device,
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
