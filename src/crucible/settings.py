"""Crucible settings: one home folder and a URL for every store.

Every store has an embedded default under the home folder, so a single machine needs no
server: campaigns and Optuna studies in SQLite files, MLflow on a SQLite backend with a
local artifact folder, Prefect results in a local folder. Moving to PostgreSQL, an MLflow
server or shared storage is a change of environment variable (prefix ``CRUCIBLE_``), never
a change of code::

    CRUCIBLE_HOME=/data/crucible
    CRUCIBLE_CAMPAIGN_STORE_URL=postgresql+psycopg2://bo@db/crucible
    CRUCIBLE_OPTUNA_STORAGE_URL=postgresql+psycopg2://bo@db/optuna
    CRUCIBLE_MLFLOW_TRACKING_URI=http://mlflow.internal:5000

Two settings guard what a flow parameter or an event payload may reach:

* ``CRUCIBLE_DATA_ROOT``: the folder input files named in a parameter or an event must lie
  under (``<home>/data`` when unset). ``CRUCIBLE_HOME``, the artifacts folder and Crucible's
  bundled resources are readable too (:meth:`CrucibleSettings.data_roots`). Output folders
  named in a parameter must lie under ``CRUCIBLE_HOME``, the artifacts folder or the data
  root (:meth:`CrucibleSettings.output_roots`), never under the bundled resources.
* ``CRUCIBLE_ALLOW_IMPORT_PATHS``: off by default. When on, a parameter may name an
  evaluator, scoring function or callback as a free ``module:function`` import path instead
  of a registered plug-in (:mod:`crucible.plugins`). For local, non-deployed runs only: anyone
  who can start a run could then run any importable function; deployed stacks keep it off.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from crucible.exceptions import ConfigurationError
from crucible.slugs import check_slug
from crucible.validation import check_database_url, check_tracking_uri

#: Crucible's bundled data (EGFR set, priors, corpora): always readable.
RESOURCES_DIR = Path(__file__).resolve().parent / "resources"
ENV_PREFIX = "CRUCIBLE_"
#: Any URI with a scheme (``file:``, ``s3:``...).
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_HTTP_URL = re.compile(r"^https?://[^/\s]+")


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


class CrucibleSettings(BaseSettings):
    """Per-environment configuration, read from ``CRUCIBLE_*`` environment variables.

    Unset store URLs are filled in from :attr:`home` when the object is built.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=None, extra="ignore", allow_inf_nan=False
    )

    home: Path = Field(
        default_factory=lambda: Path.cwd() / ".crucible",
        description="Folder for every embedded store, cache and artifact.",
    )
    campaign_store_url: str = Field(
        default="", description="SQLAlchemy URL of the BO campaign store."
    )
    optuna_storage_url: str = Field(default="", description="Optuna RDB storage URL.")
    mlflow_tracking_uri: str = Field(
        default="", description="MLflow tracking URI (SQLite file or http(s) server)."
    )
    mlflow_artifact_location: str = Field(
        default="", description="Artifact root for new MLflow experiments."
    )
    mlflow_registry_uri: str = Field(
        default="", description="MLflow model registry URI; the tracking URI when empty."
    )
    prefect_results_path: Path | None = Field(
        default=None, description="Where Prefect persists task results and cache records."
    )
    artifacts_dir: Path | None = Field(
        default=None, description="Where flows write files (plots, CSVs, models)."
    )
    data_root: Path | None = Field(
        default=None,
        description=(
            "Folder of input files that flow parameters and webhooks may name (``<home>/data`` "
            "by default); CRUCIBLE_HOME, the artifacts folder and the bundled resources are "
            "readable too."
        ),
    )
    chembl_base_url: str = Field(
        default="https://www.ebi.ac.uk/chembl/api/data",
        description="ChEMBL web services base URL (point at a mirror or a test server).",
    )
    chembl_timeout_s: float = Field(default=30.0, gt=0, description="ChEMBL request timeout.")
    chembl_cache_path: Path | None = Field(
        default=None, description="HTTP cache of the ChEMBL client (under home by default)."
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="Torch device; 'auto' picks CUDA when present."
    )
    torch_threads: int = Field(
        default=0, ge=0, description="torch intra-op threads; 0 leaves torch's default."
    )
    allow_import_paths: bool = Field(
        default=False,
        description=(
            "Let parameters name free 'module:function' import paths instead of registered "
            "plug-ins. Local, non-deployed runs only; keep it off wherever others can start runs."
        ),
    )
    max_ligand_file_mb: float = Field(
        default=200.0, gt=0, description="Largest ligand file (MB, 10^6 bytes) read."
    )
    max_ligand_rows: int = Field(
        default=2_000_000, ge=1, description="Most records read from one ligand file."
    )

    @field_validator("campaign_store_url", "optuna_storage_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return check_database_url(value)

    @field_validator("mlflow_tracking_uri", "mlflow_registry_uri")
    @classmethod
    def _mlflow_uri(cls, value: str) -> str:
        return check_tracking_uri(value)

    @field_validator("mlflow_artifact_location")
    @classmethod
    def _artifact_uri(cls, value: str) -> str:
        if value and not (_URI.match(value) or Path(value).is_absolute()):
            raise ValueError(
                f"{value!r} is neither a URI nor an absolute path; give e.g. "
                "'file:///data/mlartifacts' or 's3://bucket/mlartifacts'"
            )
        return value

    @field_validator("chembl_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not _HTTP_URL.match(value):
            raise ValueError(
                f"{value!r} is not an http(s) URL; give e.g. "
                "'https://www.ebi.ac.uk/chembl/api/data'"
            )
        return value

    @model_validator(mode="after")
    def _fill_embedded_defaults(self) -> CrucibleSettings:
        home = self.home
        if not self.campaign_store_url:
            self.campaign_store_url = _sqlite_url(home / "campaigns.db")
        if not self.optuna_storage_url:
            self.optuna_storage_url = _sqlite_url(home / "optuna.db")
        if not self.mlflow_tracking_uri:
            self.mlflow_tracking_uri = _sqlite_url(home / "mlflow.db")
        if not self.mlflow_artifact_location:
            self.mlflow_artifact_location = (home / "mlartifacts").resolve().as_uri()
        if self.prefect_results_path is None:
            self.prefect_results_path = home / "prefect-results"
        if self.artifacts_dir is None:
            self.artifacts_dir = home / "artifacts"
        if self.data_root is None:
            self.data_root = home / "data"
        if self.chembl_cache_path is None:
            self.chembl_cache_path = home / "cache" / "chembl"
        return self

    def artifact_folder(self, *parts: str, field: str = "name") -> Path:
        """``<artifacts_dir>/<parts...>``: where a flow's files go unless told otherwise.

        Every part must be a slug (:func:`crucible.slugs.check_slug`), so a user-supplied
        name (a campaign, a design) can never lead out of the artifacts folder.

        Raises:
            InvalidInputError: A part is not a slug (the message names ``field``).
        """
        assert self.artifacts_dir is not None  # set by the validator above
        return self.artifacts_dir.joinpath(*(check_slug(part, field) for part in parts))

    def data_roots(self) -> list[Path]:
        """Folders that input files named in parameters or events must lie under."""
        assert self.artifacts_dir is not None and self.data_root is not None
        return [self.data_root, self.home, self.artifacts_dir, RESOURCES_DIR]

    def output_roots(self) -> list[Path]:
        """Folders that output folders named in parameters must lie under."""
        assert self.artifacts_dir is not None and self.data_root is not None
        return [self.home, self.artifacts_dir, self.data_root]

    def ensure_dirs(self) -> CrucibleSettings:
        """Create the home folder and the local folders the embedded stores need."""
        for folder in (self.home, self.prefect_results_path, self.artifacts_dir):
            assert folder is not None
            folder.mkdir(parents=True, exist_ok=True)
        assert self.chembl_cache_path is not None
        self.chembl_cache_path.mkdir(parents=True, exist_ok=True)
        return self


def get_settings(**overrides: object) -> CrucibleSettings:
    """Build the settings from the environment, with keyword overrides on top.

    Settings are rebuilt at each call so that a changed environment is honoured; the
    object is cheap to build.

    Raises:
        ConfigurationError: If a setting is invalid; the message names each setting, its
            environment variable and the fix.
    """
    try:
        return CrucibleSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    """One line per invalid setting: name, environment variable, problem."""
    lines = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"]) or "settings"
        problem = error["msg"].removeprefix("Value error, ")
        if error["type"] != "value_error":  # custom messages already quote the value
            problem += f" (got {error['input']!r})"
        lines.append(f"{name} (env {ENV_PREFIX}{name.upper()}): {problem}")
    fix = "Fix: correct these settings (environment variables or get_settings() keywords)"
    return "invalid Crucible settings: " + "; ".join(lines) + f". {fix}"
