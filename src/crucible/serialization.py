"""Safe loading of stored models: torch weights and scikit-learn estimators.

Crucible never unpickles a file or a blob that a user or a run can supply. Two formats
are read instead, each with an explicit allow-list of the types it may contain:

* **torch files** (REINVENT priors, training checkpoints, GP states) are read with
  ``torch.load(weights_only=True)``: tensors, plain Python containers and numbers, plus
  the few extra classes the caller names (e.g. REINVENT's metadata class, mapped to an
  inert stand-in). Anything else is refused before it is created.
* **scikit-learn estimators** (random forests of activity models and BO surrogates) are
  stored with `skops <https://skops.readthedocs.io>`_ and loaded with an explicit list of
  trusted types; the loaded trees are then checked for out-of-range node indices (skops
  notes that a crafted ``Tree`` could otherwise make ``predict`` read out of bounds).

Every failure is a :class:`~crucible.exceptions.InvalidFileError` (unreadable file) or an
:class:`~crucible.exceptions.UnsafeFileError` (objects outside the allow-list) whose message
names the field and the file. Files written in older, pickle-based formats are converted once
with ``crucible convert-legacy`` (see :mod:`crucible.cli.convert`).
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from crucible.exceptions import InvalidFileError, UnsafeFileError

#: Start of a zip archive (torch >= 1.6 files, skops files).
ZIP_MAGIC = b"PK\x03\x04"
#: torch's pre-1.6 ("legacy") format starts with a pickle of this number (LONG1 opcode).
_LEGACY_TORCH_MAGIC = b"\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19"
#: The scikit-learn type skops does not trust by default that a random forest holds.
TRUSTED_FOREST_TYPES = ("sklearn.tree._tree.Tree",)
_EXTRA_GLOBALS_LOCK = threading.Lock()
_REFUSED_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")
_CONVERT_HINT = (
    "if you wrote this file yourself with an older Crucible (or REINVENT) and trust it, "
    "convert it once with `crucible convert-legacy {kind} IN OUT --trusted`"
)

Source = str | Path | bytes


def convert_hint(kind: str) -> str:
    """The fix for a file in an old, pickle-based format of ``kind``."""
    return _CONVERT_HINT.format(kind=kind)


def _label(source: Source, label: str | None) -> str:
    if label is not None:
        return label
    return "<bytes>" if isinstance(source, bytes) else str(source)


def _read(source: Source, field: str, label: str, fix: str) -> bytes:
    """The bytes of ``source`` (a path or bytes), with clear errors for missing/empty files."""
    if isinstance(source, bytes):
        data = source
    else:
        path = Path(source)
        if not path.is_file():
            raise InvalidFileError(label, "the file does not exist", fix, field=field)
        data = path.read_bytes()
    if not data:
        raise InvalidFileError(label, "the file is empty", fix, field=field)
    return data


def _refuse_plain_pickle(data: bytes, field: str, label: str, kind: str) -> None:
    if data[:1] == b"\x80" and _LEGACY_TORCH_MAGIC not in data[:24]:
        raise UnsafeFileError(
            label,
            "is a plain pickle, which Crucible never loads (unpickling can run code)",
            convert_hint(kind),
            field=field,
        )


def load_torch(
    source: Source,
    *,
    field: str,
    kind: str,
    fix: str,
    allowed: Sequence[Callable[..., Any] | tuple[Callable[..., Any], str]] = (),
    label: str | None = None,
) -> Any:
    """Load a torch file or blob with ``weights_only=True`` and ``allowed`` extra globals.

    Args:
        source: A path or the bytes of a ``torch.save`` output.
        field: The field the file came from (named in errors).
        kind: The ``convert-legacy`` kind for files in an old format (named in errors).
        fix: What to do when the file is unreadable (named in errors).
        allowed: Extra globals to admit, as ``torch.serialization.safe_globals`` takes them
            (an object, or ``(stand_in, "module.Name")`` to map a name to an inert class).
        label: How to name the source in errors (default: the path, or ``<bytes>``).

    Returns:
        The loaded object (tensors on the CPU).

    Raises:
        InvalidFileError: The file is missing, empty, truncated, corrupted or not a torch file.
        UnsafeFileError: The file refers to a global outside the allow-list, or is a plain
            pickle; nothing in it was run.
    """
    import torch

    name = _label(source, label)
    data = _read(source, field, name, fix)
    _refuse_plain_pickle(data, field, name, kind)
    try:
        if not allowed:
            return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        # torch keeps the extra globals in one process-wide set: one such load at a time
        with _EXTRA_GLOBALS_LOCK, torch.serialization.safe_globals(list(allowed)):
            return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, EOFError, KeyError, UnpicklingError
        raise _torch_error(exc, field, name, kind, fix) from exc


def _torch_error(exc: Exception, field: str, name: str, kind: str, fix: str) -> Exception:
    message = str(exc)
    refused = _REFUSED_GLOBAL.search(message)
    if refused:
        return UnsafeFileError(
            name,
            f"refers to {refused.group(1)}, which this file type never holds (loading it "
            "could run code), so it was not loaded",
            convert_hint(kind),
            field=field,
        )
    if "Weights only load failed" in message and (
        "unrecognized function" in message or "allowlisted" in message
    ):
        return UnsafeFileError(
            name,
            "builds objects this file type never holds (loading it could run code), so it "
            "was not loaded",
            convert_hint(kind),
            field=field,
        )
    _, marker, after = message.partition("WeightsUnpickler error:")
    lines = [line.strip() for line in (after if marker else message).splitlines() if line.strip()]
    detail = f"{type(exc).__name__}: {lines[0][:160]}" if lines else type(exc).__name__
    return InvalidFileError(
        name,
        f"is not a readable torch file (empty, truncated, corrupted or another format: {detail})",
        fix,
        field=field,
    )


def describe_error(exc: BaseException) -> str:
    """One line about ``exc`` for an error message (field paths for pydantic errors)."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            found = errors()
        except Exception:  # not a pydantic ValidationError after all
            found = None
        if isinstance(found, list) and found:
            return "; ".join(
                f"{'.'.join(str(part) for part in e.get('loc', ()))}: {e.get('msg', '')}"
                for e in found[:3]
            )
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def dump_skops(obj: Any) -> bytes:
    """Serialise ``obj`` (scikit-learn estimators, NumPy arrays, plain containers) with skops."""
    import skops.io as sio

    data: bytes = sio.dumps(obj)
    return data


def load_skops(
    source: Source,
    *,
    field: str,
    kind: str,
    fix: str,
    trusted: Sequence[str] = TRUSTED_FOREST_TYPES,
    label: str | None = None,
) -> Any:
    """Load a skops file or blob, admitting only skops' default types and ``trusted``.

    Args:
        source: A path or the bytes of a :func:`dump_skops` output.
        field: The field the file came from (named in errors).
        kind: The ``convert-legacy`` kind for files in an old format (named in errors).
        fix: What to do when the file is unreadable (named in errors).
        trusted: Extra type names to admit (an explicit list, never "everything found").
        label: How to name the source in errors (default: the path, or ``<bytes>``).

    Raises:
        InvalidFileError: Missing, empty, corrupted or not a skops file.
        UnsafeFileError: The file holds types outside the allow-list, or is a plain pickle.
    """
    import skops.io as sio
    from skops.io.exceptions import UntrustedTypesFoundException

    name = _label(source, label)
    data = _read(source, field, name, fix)
    _refuse_plain_pickle(data, field, name, kind)
    if not data.startswith(ZIP_MAGIC):
        raise InvalidFileError(name, "is not a skops file (not a zip archive)", fix, field=field)
    try:
        return sio.loads(data, trusted=list(trusted))
    except UntrustedTypesFoundException as exc:
        found = sorted(set(sio.get_untrusted_types(data=data)) - set(trusted))
        raise UnsafeFileError(
            name,
            f"holds types outside the allow-list ({', '.join(found)[:200]}), so it was not loaded",
            convert_hint(kind),
            field=field,
        ) from exc
    except Exception as exc:  # zipfile, json, KeyError, TypeError from a damaged schema
        detail = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
        raise InvalidFileError(
            name,
            f"is not a readable skops file ({type(exc).__name__}: {detail})",
            fix,
            field=field,
        ) from exc


def check_forest(forest: Any, n_features: int | None, *, field: str, label: str) -> None:
    """Check a loaded random forest's trees before any prediction reads them.

    Node children must point forward to existing nodes (so traversal ends), internal nodes
    must split on an existing feature and leaves must hold ``-1`` children. scikit-learn's
    ``predict`` does no such bounds check.

    Args:
        forest: The loaded ``RandomForestRegressor``.
        n_features: The expected number of input features (None: take the forest's own).
        field: The field the file came from (named in errors).
        label: How to name the file in errors.

    Raises:
        InvalidFileError: Not a fitted random forest, or a tree fails a check.
    """
    import numpy as np
    from sklearn.ensemble import RandomForestRegressor

    fix = "retrain the model and save it again"
    if not isinstance(forest, RandomForestRegressor) or not hasattr(forest, "estimators_"):
        raise InvalidFileError(
            label, f"holds a {type(forest).__name__}, not a fitted random forest", fix, field=field
        )
    width = int(getattr(forest, "n_features_in_", -1))
    if n_features is not None and width != n_features:
        raise InvalidFileError(
            label, f"the forest takes {width} features, expected {n_features}", fix, field=field
        )
    for index, estimator in enumerate(forest.estimators_):
        tree = getattr(estimator, "tree_", None)
        if tree is None or not _tree_is_sound(tree, width, np):
            raise InvalidFileError(
                label, f"tree {index} of the forest has invalid node links", fix, field=field
            )


def _tree_is_sound(tree: Any, n_features: int, np: Any) -> bool:
    count = int(tree.node_count)
    left = np.asarray(tree.children_left)
    right = np.asarray(tree.children_right)
    feature = np.asarray(tree.feature)
    if count < 1 or not (len(left) == len(right) == len(feature) == count):
        return False
    nodes = np.arange(count)
    leaf = left == -1
    if not np.array_equal(leaf, right == -1):
        return False
    inner = ~leaf
    forward = (left[inner] > nodes[inner]) & (right[inner] > nodes[inner])
    in_range = (left[inner] < count) & (right[inner] < count)
    features_ok = (feature[inner] >= 0) & (feature[inner] < n_features)
    values = np.asarray(tree.value)
    return bool(forward.all() and in_range.all() and features_ok.all() and len(values) == count)
