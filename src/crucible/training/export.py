"""Pickle-free export of trained networks: weights, a JSON config and an MLflow pyfunc.

A network folder holds two files:

* ``weights.pt``: the plain ``state_dict`` (tensors only), written with ``torch.save`` and
  read back with ``torch.load(weights_only=True)`` through :mod:`crucible.serialization`;
* ``network.json``: the :class:`~crucible.training.config.ModelConfig`, the input shape
  and the output size, from which :func:`crucible.training.nets.build_model` rebuilds the
  network.

:func:`log_network_model` logs such a folder to MLflow as a ``pyfunc`` model written as
"models from code" (:mod:`crucible.training._network_pyfunc`), so neither the network nor
a ``PythonModel`` instance is pickled; ``mlflow.pyfunc.load_model(uri).predict(x)`` returns
the network's raw outputs (logits for classification) as numpy. Loading needs Crucible.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from crucible.exceptions import InvalidFileError

WEIGHTS_FILE = "weights.pt"
CONFIG_FILE = "network.json"
FORMAT = "crucible.network"
FORMAT_VERSION = 1
_FIX = "pass a folder written by crucible.training.export.save_network"
_PYFUNC_FILE = Path(__file__).with_name("_network_pyfunc.py")


def save_network(
    model: Any,
    model_config: Any,
    input_shape: Sequence[int],
    output_dim: int,
    folder: str | Path,
) -> Path:
    """Write ``model``'s weights and config to ``folder`` (created).

    Args:
        model: The ``nn.Module`` built by ``build_model(model_config, input_shape, ...)``.
        model_config: Its :class:`~crucible.training.config.ModelConfig`.
        input_shape: Shape of one example, without the batch dimension.
        output_dim: Classes (classification) or targets (regression).
        folder: Output folder.

    Returns:
        The folder.
    """
    import torch

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {key: value.detach().to("cpu") for key, value in model.state_dict().items()}
    torch.save(state, folder / WEIGHTS_FILE)
    spec = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "model": model_config.model_dump(mode="json"),
        "input_shape": [int(n) for n in input_shape],
        "output_dim": int(output_dim),
    }
    (folder / CONFIG_FILE).write_text(json.dumps(spec, indent=2), encoding="utf-8")
    return folder


def load_network(folder: str | Path) -> Any:
    """Rebuild the network saved by :func:`save_network` (CPU, eval mode).

    Raises:
        InvalidFileError: A file is missing, unreadable, or the weights do not fit the config.
        UnsafeFileError: ``weights.pt`` refers to objects other than tensors and plain types.
    """
    from pydantic import ValidationError

    from crucible.exceptions import InvalidInputError
    from crucible.serialization import describe_error, load_torch
    from crucible.training.config import ModelConfig
    from crucible.training.nets import build_model

    folder = Path(folder)
    spec = _read_spec(folder / CONFIG_FILE)
    state = load_torch(folder / WEIGHTS_FILE, field="network", kind="checkpoint", fix=_FIX)
    try:
        config = ModelConfig.model_validate(spec["model"])
        shape = [int(n) for n in spec["input_shape"]]
        model = build_model(config, shape, int(spec["output_dim"]))
        model.load_state_dict(state)
    except (
        ValidationError,
        InvalidInputError,
        KeyError,
        TypeError,
        ValueError,
        RuntimeError,
    ) as exc:
        problem = f"does not rebuild a network ({describe_error(exc)})"
        raise InvalidFileError(folder, problem, _FIX, field="network") from exc
    return model.eval()


def _read_spec(path: Path) -> dict[str, Any]:
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidFileError(path, f"is unreadable ({exc})", _FIX, field="network") from exc
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        raise InvalidFileError(path, f"is not a {FORMAT} file", _FIX, field="network")
    if spec.get("version") != FORMAT_VERSION:
        problem = f"has version {spec.get('version')!r}; this Crucible reads {FORMAT_VERSION}"
        raise InvalidFileError(path, problem, _FIX, field="network")
    return spec


def log_network_model(
    model: Any,
    model_config: Any,
    input_shape: Sequence[int],
    output_dim: int,
    input_example: Any,
    registered_name: str,
    artifact_name: str = "best_model",
) -> Callable[[Any], Any]:
    """A ``log_model`` for :meth:`crucible.tracking.Tracker.register_model` (no pickles).

    The network is saved with :func:`save_network` into a temporary folder that MLflow
    copies as the ``network`` artifact, next to the pyfunc's code file. The input example
    is given and the pip requirements are explicit, so MLflow infers no requirements.
    """
    from importlib.metadata import version

    pins = [f"{name}=={version(name).split('+')[0]}" for name in ("torch", "numpy", "pydantic")]

    def log(mlflow: Any) -> Any:
        with tempfile.TemporaryDirectory(prefix="crucible-network-") as tmp:
            folder = Path(tmp) / "network"  # MLflow keeps the folder's name
            save_network(model, model_config, input_shape, output_dim, folder)
            return mlflow.pyfunc.log_model(
                name=artifact_name,
                python_model=str(_PYFUNC_FILE),
                artifacts={"network": str(folder)},
                input_example=input_example,
                pip_requirements=pins,
                registered_model_name=registered_name,
            )

    return log
