"""Lazy, explicit imports of optional heavy dependencies.

Modeled on Optuna's ``optuna/_imports.py``: domain modules call :func:`require` at the
point of use instead of importing torch, RDKit, MLflow or Prefect at module import time.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: Which extra provides each optional top-level module.
EXTRA_FOR_MODULE: dict[str, str] = {
    "torch": "bo",
    "botorch": "bo",
    "gpytorch": "bo",
    "optuna": "hpo",
    "mlflow": "hpo",
    "rdkit": "chem",
    "chembl_webresource_client": "chem",
    "umap": "chem",
    "openTSNE": "chem",
    "chemprop": "chemprop",
    "lightning": "chemprop",
    "prefect": "prefect",
    "psycopg2": "postgres",
}


def require(module: str, extra: str | None = None) -> ModuleType:
    """Import ``module`` or fail with an error that names the extra to install.

    Args:
        module: Dotted module name, e.g. ``"botorch.models"``.
        extra: The extra that provides it; looked up from the top-level name when omitted.

    Returns:
        The imported module.

    Raises:
        MissingDependencyError: If the module (or one of its own imports) is missing.
    """
    from crucible.exceptions import MissingDependencyError

    top = module.split(".")[0]
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing = getattr(exc, "name", None) or top
        raise MissingDependencyError(missing, extra or EXTRA_FOR_MODULE.get(top, "all")) from exc
