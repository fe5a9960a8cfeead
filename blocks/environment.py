"""The ``crucible-environment`` block: where one environment keeps its stores.

Scientific settings are flow parameters; *where* things are stored (and the passwords to
get there) is per-environment and lives here. A flow loads the block by name and exports
it as ``CRUCIBLE_*`` variables for the domain code, so switching from the embedded SQLite
stores to PostgreSQL and an MLflow server is a block edit in the UI, not a code change.

Register and save once per environment (from the project root)::

    crucible blocks register
    python -c "from blocks import CrucibleEnvironment as E; E(home='/data/crucible').save('prod')"

Every flow is wrapped in :func:`uses_environment_block`: when ``CRUCIBLE_ENVIRONMENT_BLOCK``
names a saved block (set it on the worker, or per deployment in ``job_variables.env``),
the run loads it and works with its stores.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from crucible.exceptions import ConfigurationError

ENVIRONMENT_BLOCK_VARIABLE = "CRUCIBLE_ENVIRONMENT_BLOCK"
_P = ParamSpec("_P")
_R = TypeVar("_R")

_FIELDS_TO_ENV = {
    "home": "CRUCIBLE_HOME",
    "campaign_store_url": "CRUCIBLE_CAMPAIGN_STORE_URL",
    "optuna_storage_url": "CRUCIBLE_OPTUNA_STORAGE_URL",
    "mlflow_tracking_uri": "CRUCIBLE_MLFLOW_TRACKING_URI",
    "mlflow_artifact_location": "CRUCIBLE_MLFLOW_ARTIFACT_LOCATION",
    "chembl_base_url": "CRUCIBLE_CHEMBL_BASE_URL",
    "device": "CRUCIBLE_DEVICE",
}


class CrucibleEnvironment(Block):
    """Store locations and credentials of one Crucible environment."""

    _block_type_name = "Crucible Environment"
    _block_type_slug = "crucible-environment"
    _description = "Where Crucible keeps campaigns, studies, MLflow runs and artifacts."

    home: str | None = Field(default=None, description="Crucible home folder.")
    campaign_store_url: SecretStr | None = Field(
        default=None, description="SQLAlchemy URL of the BO campaign store (may hold a password)."
    )
    optuna_storage_url: SecretStr | None = Field(
        default=None, description="Optuna RDB storage URL (may hold a password)."
    )
    mlflow_tracking_uri: str | None = Field(default=None, description="MLflow tracking URI.")
    mlflow_artifact_location: str | None = Field(default=None, description="MLflow artifacts.")
    chembl_base_url: str | None = Field(default=None, description="ChEMBL API base URL.")
    device: str | None = Field(default=None, description="auto, cpu or cuda.")

    def as_environment(self) -> dict[str, str]:
        """The block's values as ``CRUCIBLE_*`` variables (unset fields are left out)."""
        env: dict[str, str] = {}
        for field, variable in _FIELDS_TO_ENV.items():
            value = getattr(self, field)
            if value is None:
                continue
            env[variable] = value.get_secret_value() if isinstance(value, SecretStr) else value
        return env

    @contextmanager
    def applied(self) -> Iterator[None]:
        """Export the block's values to the process environment for the duration."""
        saved = {name: os.environ.get(name) for name in _FIELDS_TO_ENV.values()}
        os.environ.update(self.as_environment())
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def load_environment(name: str) -> CrucibleEnvironment:
    """The saved ``crucible-environment`` block ``name``.

    Raises:
        ConfigurationError: No such block on the Prefect server.
    """
    try:
        block = CrucibleEnvironment.load(name)
    except ValueError as exc:
        raise ConfigurationError(
            f"{ENVIRONMENT_BLOCK_VARIABLE}={name!r}: no crucible-environment block of that name "
            f"({exc}). Fix: save one (see blocks/environment.py) or unset the variable"
        ) from None
    assert isinstance(block, CrucibleEnvironment)
    return block


@contextmanager
def environment_block_applied(name: str | None = None) -> Iterator[CrucibleEnvironment | None]:
    """Apply the named block (default: ``$CRUCIBLE_ENVIRONMENT_BLOCK``) for the duration.

    Yields:
        The applied block, or None when no block is named (the environment is unchanged).
    """
    name = name or os.environ.get(ENVIRONMENT_BLOCK_VARIABLE, "")
    if not name:
        yield None
        return
    block = load_environment(name)
    with block.applied():
        yield block


def uses_environment_block(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run ``fn`` (a flow function) inside :func:`environment_block_applied`.

    Put it under ``@flow``; the signature (and so the flow's parameter form) is unchanged.
    """

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with environment_block_applied():
            return fn(*args, **kwargs)

    wrapper.uses_environment_block = True  # type: ignore[attr-defined]
    return wrapper
