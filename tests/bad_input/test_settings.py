"""Bad settings: get_settings() refuses them with a ConfigurationError naming the setting,
its CRUCIBLE_* environment variable and the fix, whether they come from the environment or
from keywords."""

from __future__ import annotations

import pytest

from crucible.exceptions import ConfigurationError
from crucible.settings import get_settings

# setting, bad value, fragments of the message besides the setting and its variable
REFUSED: list[tuple[str, str, list[str]]] = [
    ("campaign_store_url", "notaurl", ["not a database URL", "sqlite:///"]),
    ("campaign_store_url", "/data/campaigns.db", ["not a database URL"]),
    ("campaign_store_url", "postgresql//bo@db/x", ["not a database URL"]),
    ("optuna_storage_url", "optuna.db", ["not a database URL", "postgresql"]),
    ("mlflow_tracking_uri", "notaurl", ["not a URI", "http://"]),
    ("mlflow_registry_uri", "registry here", ["not a URI"]),
    ("mlflow_artifact_location", "relative/folder", ["neither a URI nor an absolute path"]),
    ("chembl_base_url", "www.ebi.ac.uk/chembl", ["not an http(s) URL"]),
    ("chembl_base_url", "ftp://mirror/chembl", ["not an http(s) URL"]),
    ("chembl_timeout_s", "inf", ["finite"]),
    ("chembl_timeout_s", "0", ["greater than 0"]),
    ("device", "quantum", ["'auto', 'cpu' or 'cuda'", "'quantum'"]),
    ("device", "cuda:0", ["'auto', 'cpu' or 'cuda'"]),
    ("torch_threads", "-2", ["greater than or equal to 0"]),
    ("torch_threads", "many", ["integer"]),
    ("max_ligand_file_mb", "0", ["greater than 0"]),
    ("max_ligand_file_mb", "nan", ["finite"]),
    ("max_ligand_rows", "0", ["greater than or equal to 1"]),
]


def _check(error: ConfigurationError, setting: str, fragments: list[str]) -> None:
    message = str(error)
    assert f"{setting} (env CRUCIBLE_{setting.upper()})" in message, message
    assert "Fix:" in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


@pytest.mark.parametrize(("setting", "value", "fragments"), REFUSED)
def test_bad_environment_variable_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch, setting: str, value: str, fragments: list[str]
) -> None:
    monkeypatch.setenv(f"CRUCIBLE_{setting.upper()}", value)
    with pytest.raises(ConfigurationError) as info:
        get_settings()
    _check(info.value, setting, fragments)


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("campaign_store_url", "notaurl"),
        ("optuna_storage_url", "notaurl"),
        ("mlflow_tracking_uri", "notaurl"),
        ("device", "quantum"),
        ("max_ligand_rows", -1),
    ],
)
def test_bad_keyword_is_refused_naming_it(setting: str, value: object) -> None:
    with pytest.raises(ConfigurationError) as info:
        get_settings(**{setting: value})
    _check(info.value, setting, [])


def test_every_bad_setting_is_listed_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRUCIBLE_DEVICE", "quantum")
    monkeypatch.setenv("CRUCIBLE_CAMPAIGN_STORE_URL", "notaurl")
    with pytest.raises(ConfigurationError) as info:
        get_settings()
    assert "CRUCIBLE_DEVICE" in str(info.value)
    assert "CRUCIBLE_CAMPAIGN_STORE_URL" in str(info.value)


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("campaign_store_url", "sqlite:////data/campaigns.db"),
        ("campaign_store_url", "postgresql+psycopg2://bo:secret@db:5432/crucible"),
        ("optuna_storage_url", "mysql+pymysql://u@h/optuna"),
        ("mlflow_tracking_uri", "http://127.0.0.1:5000"),
        ("mlflow_tracking_uri", "databricks"),
        ("mlflow_artifact_location", "s3://bucket/mlartifacts"),
        ("mlflow_artifact_location", "/srv/mlartifacts"),
        ("chembl_base_url", "http://127.0.0.1:8765/chembl/api/data"),
        ("device", "cuda"),
    ],
)
def test_valid_settings_still_pass(setting: str, value: str) -> None:
    assert getattr(get_settings(**{setting: value}), setting) == value


def test_limits_default_to_200_mb_and_2_million_rows() -> None:
    settings = get_settings()
    assert (settings.max_ligand_file_mb, settings.max_ligand_rows) == (200.0, 2_000_000)


def test_cli_reports_a_bad_setting_in_one_line_with_status_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from crucible.cli import main

    monkeypatch.setenv("CRUCIBLE_CAMPAIGN_STORE_URL", "notaurl")
    assert main(["info"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("crucible info: error: ") and "CRUCIBLE_CAMPAIGN_STORE_URL" in err
    assert "Traceback" not in err
