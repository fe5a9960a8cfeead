"""``crucible convert-legacy``: convert a file in an old, pickle-based format, once.

Crucible loads models only from safe formats (see :mod:`crucible.serialization`). Files
written before that, or by REINVENT with more of its own objects, are converted here::

    crucible convert-legacy prior agent.chkpt agent.prior --trusted
    crucible convert-legacy activity-model old_model_dir/ new_model_dir/ --trusted
    crucible convert-legacy rf-surrogate forest.blob forest.skops --trusted
    crucible convert-legacy checkpoint best.pt best_safe.pt --trusted

This module is the **only** place an old-format file is read, and it reads one only when
``--trusted`` says that the file comes from a source you trust (reading it can run code it
contains). Without the flag nothing is read. The output is written in the safe format and
then loaded back with the safe loader before the command reports success.

Kinds:

* ``prior``: a REINVENT 4 ``Reinvent`` model file that pickles REINVENT objects beyond the
  tokenizer/metadata the safe loader admits (e.g. an RL checkpoint's diversity filter), or a
  REINVENT ``Vocabulary`` object. REINVENT classes become inert stand-ins (REINVENT is not
  imported); the output keeps the model, vocabulary and metadata and drops the rest.
* ``activity-model``: a saved activity model folder with ``forest.joblib`` (random forest)
  or ``chemprop.pt`` (Chemprop's own checkpoint); written again as ``forest.skops`` or
  ``chemprop_state.pt`` with the same ``model.json``.
* ``rf-surrogate``: a pickled :class:`~crucible.bo.surrogates.RandomForestSurrogate` blob.
* ``checkpoint``: a training checkpoint (``best.pt``) that holds objects besides tensors and
  plain types.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crucible.exceptions import CrucibleError, InvalidFileError, InvalidInputError

_FIELD = "in_path"


def _require_trust(trusted: bool, source: Path) -> None:
    if not trusted:
        raise InvalidInputError(
            "--trusted",
            f"converting {source} means unpickling it, which runs any code the file contains",
            "add --trusted only if you (or a source you trust) wrote the file; otherwise "
            "retrain or re-download the model instead",
        )


def _plain(value: Any) -> Any:
    """Plain-type copy of ``value`` (objects become dicts of their attributes)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "__dict__"):
        return _plain(vars(value))
    return str(value)


# -------------------------------------------------------------------------------- priors


def _legacy_torch_load(path: Path, stand_in_prefix: str | None = None) -> Any:
    """``torch.load`` with full unpickling (trusted files only), REINVENT classes stubbed."""
    import pickle
    import types

    import torch

    class _StandIn:
        def __setstate__(self, state: Any) -> None:
            if isinstance(state, tuple) and len(state) == 2:
                state = {**(state[0] or {}), **(state[1] or {})}
            if isinstance(state, dict):
                self.__dict__.update(state)

    class _Unpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            if stand_in_prefix and (module + ".").startswith(stand_in_prefix + "."):
                return type(name, (_StandIn,), {"__module__": "crucible.legacy_stand_in"})
            return super().find_class(module, name)

    pickle_module = types.ModuleType("crucible_legacy_pickle")
    pickle_module.Unpickler = _Unpickler  # type: ignore[attr-defined]
    pickle_module.load = lambda f, **kw: _Unpickler(f, **kw).load()  # type: ignore[attr-defined]
    return torch.load(path, map_location="cpu", weights_only=False, pickle_module=pickle_module)


def convert_prior(source: Path, target: Path, trusted: bool) -> dict[str, Any]:
    """Rewrite a REINVENT/Crucible model file in the plain-types layout."""
    import torch

    from crucible.generator.model_io import FORMAT_VERSION, MODEL_TYPE, load_model, new_metadata

    _require_trust(trusted, source)
    data = _legacy_torch_load(source, stand_in_prefix="reinvent")
    if not isinstance(data, dict) or "network" not in data or "vocabulary" not in data:
        raise InvalidFileError(
            source, "is not a REINVENT RNN model file", "pass one", field=_FIELD
        )
    vocabulary = data["vocabulary"]
    if not isinstance(vocabulary, dict):  # a pickled REINVENT Vocabulary object
        vocabulary = {"tokens": dict(getattr(vocabulary, "_tokens", {}))}
    metadata = _plain(data.get("metadata")) or {}
    plain = {
        "model_type": data.get("model_type", MODEL_TYPE),
        "version": FORMAT_VERSION,
        "metadata": {**new_metadata(), **{k: v for k, v in metadata.items() if v is not None}},
        "vocabulary": _plain(vocabulary),
        "max_sequence_length": int(data.get("max_sequence_length", 256)),
        "network": {k: v.detach().cpu() for k, v in data["network"].items()},
        "network_params": _plain(data.get("network_params") or {}),
    }
    torch.save(plain, target)
    model = load_model(target)
    dropped = sorted(set(data) - set(plain) - {"tokenizer"})
    return {"parameters": model.num_parameters(), "dropped_keys": dropped}


# ----------------------------------------------------------------------- activity models


def convert_activity_model(source: Path, target: Path, trusted: bool) -> dict[str, Any]:
    """Rewrite an activity model folder with skops / weights-only files."""
    from crucible.chem import activity

    _require_trust(trusted, source)
    manifest = json.loads((source / activity.MANIFEST).read_text())
    kind = manifest.get("kind")
    params = activity.get_activity_model(kind, manifest.get("params")).params
    model: activity.ActivityModel
    if kind == "random_forest":
        import joblib

        from crucible.serialization import check_forest

        forest_model = activity.RandomForestActivityModel(params)
        forest_model.forest = joblib.load(source / activity.LEGACY_FOREST_FILE)  # trusted only
        check_forest(forest_model.forest, None, field=_FIELD, label=str(source))
        model = forest_model
    elif kind == "chemprop":
        activity._chemprop_runtime("cpu")
        from chemprop import models

        chemprop_model = activity.ChempropActivityModel(params)
        legacy = source / activity.LEGACY_CHEMPROP_FILE
        chemprop_model.model = models.MPNN.load_from_file(legacy, map_location="cpu")  # trusted
        model = chemprop_model
    else:
        raise InvalidFileError(
            source, f"holds an unknown kind {kind!r}", "check model.json", field=_FIELD
        )
    model.info = manifest.get("info", {})
    model.save(target)
    activity.load_activity_model(target)
    return {"kind": kind}


# ------------------------------------------------------------------------- RF surrogates


def convert_rf_surrogate(source: Path, target: Path, trusted: bool) -> dict[str, Any]:
    """Rewrite a pickled random-forest surrogate blob as a skops blob."""
    import pickle

    from crucible.bo.surrogates import RandomForestSurrogate

    _require_trust(trusted, source)
    blob = pickle.loads(source.read_bytes())  # trusted only: --trusted was given
    surrogate = RandomForestSurrogate(blob["n_estimators"], blob["min_samples_leaf"], blob["seed"])
    surrogate._forests = list(blob["forests"])
    target.write_bytes(surrogate.to_bytes())
    again = RandomForestSurrogate.from_bytes(target.read_bytes())
    return {"forests": len(again._forests)}


# --------------------------------------------------------------------------- checkpoints


def convert_checkpoint(source: Path, target: Path, trusted: bool) -> dict[str, Any]:
    """Rewrite a training checkpoint with tensors and plain types only."""
    import torch

    from crucible.training.engine import load_checkpoint

    _require_trust(trusted, source)
    payload = _legacy_torch_load(source)
    if not isinstance(payload, dict) or "state_dict" not in payload:
        raise InvalidFileError(
            source, "is not a training checkpoint", "pass a best.pt", field=_FIELD
        )
    config: Any = payload.get("config")
    if config is not None and hasattr(config, "model_dump"):
        config = config.model_dump(mode="json")
    plain = {
        "state_dict": {k: v.detach().cpu() for k, v in payload["state_dict"].items()},
        "epoch": int(payload.get("epoch", 0)),
        "metrics": {str(k): float(v) for k, v in dict(payload.get("metrics") or {}).items()},
        "config": _plain(config),
        "input_shape": [int(n) for n in payload["input_shape"]],
        "output_dim": int(payload["output_dim"]),
        "task": str(payload.get("task", "")),
    }
    torch.save(plain, target)
    load_checkpoint(target)
    return {"epoch": plain["epoch"]}


CONVERTERS: dict[str, Callable[[Path, Path, bool], dict[str, Any]]] = {
    "prior": convert_prior,
    "activity-model": convert_activity_model,
    "rf-surrogate": convert_rf_surrogate,
    "checkpoint": convert_checkpoint,
}


def convert(kind: str, source: str | Path, target: str | Path, trusted: bool) -> dict[str, Any]:
    """Convert ``source`` (old format) to ``target`` (safe format) and check the result.

    Args:
        kind: One of :data:`CONVERTERS`.
        source: The old file (a folder for ``activity-model``).
        target: Where to write the converted file (must not exist).
        trusted: Whether the caller vouches for ``source`` (required: reading it unpickles).

    Returns:
        A small summary of what was converted.

    Raises:
        InvalidInputError: Unknown kind, missing source, existing target, or not trusted.
    """
    if kind not in CONVERTERS:
        raise InvalidInputError("kind", f"unknown kind {kind!r}", f"use one of {list(CONVERTERS)}")
    source, target = Path(source), Path(target)
    if not source.exists():
        raise InvalidInputError(_FIELD, f"{source} does not exist", "pass the old file")
    if target.exists():
        raise InvalidInputError("out_path", f"{target} exists", "name a new file or folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        summary = CONVERTERS[kind](source, target, trusted)
    except BaseException:
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
        raise
    return {"kind": kind, "in": str(source), "out": str(target), **summary}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``convert-legacy`` command."""
    parser = sub.add_parser(
        "convert-legacy",
        help="convert a trusted file in an old pickle-based format to a safe format",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument("kind", choices=sorted(CONVERTERS))
    parser.add_argument("in_path", help="old file (a folder for activity-model)")
    parser.add_argument("out_path", help="new file or folder (must not exist)")
    parser.add_argument(
        "--trusted",
        action="store_true",
        help="you trust the input file: reading it unpickles, which can run code",
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        summary = convert(args.kind, args.in_path, args.out_path, args.trusted)
    except CrucibleError as exc:
        print(f"crucible convert-legacy: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2))
    return 0
