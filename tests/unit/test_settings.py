from pathlib import Path

import pytest

from crucible.settings import get_settings


def test_embedded_defaults_live_under_home(crucible_home: Path) -> None:
    settings = get_settings()
    assert settings.home == crucible_home
    assert settings.campaign_store_url == f"sqlite:///{crucible_home.resolve()}/campaigns.db"
    assert settings.optuna_storage_url == f"sqlite:///{crucible_home.resolve()}/optuna.db"
    assert settings.mlflow_tracking_uri == f"sqlite:///{crucible_home.resolve()}/mlflow.db"
    assert settings.mlflow_artifact_location.startswith("file://")
    assert settings.prefect_results_path == crucible_home / "prefect-results"
    assert settings.chembl_cache_path == crucible_home / "cache" / "chembl"


def test_home_defaults_to_dot_crucible_in_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CRUCIBLE_HOME")
    monkeypatch.chdir(tmp_path)
    assert get_settings().home == tmp_path / ".crucible"


def test_store_urls_switch_by_environment_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRUCIBLE_CAMPAIGN_STORE_URL", "postgresql+psycopg2://bo@db/crucible")
    monkeypatch.setenv("CRUCIBLE_OPTUNA_STORAGE_URL", "postgresql+psycopg2://bo@db/optuna")
    monkeypatch.setenv("CRUCIBLE_MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    settings = get_settings()
    assert settings.campaign_store_url == "postgresql+psycopg2://bo@db/crucible"
    assert settings.optuna_storage_url == "postgresql+psycopg2://bo@db/optuna"
    assert settings.mlflow_tracking_uri == "http://127.0.0.1:5000"


def test_invalid_setting_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRUCIBLE_DEVICE", "tpu")
    with pytest.raises(ValueError, match="device"):
        get_settings()


def test_ensure_dirs_creates_local_folders(crucible_home: Path) -> None:
    settings = get_settings().ensure_dirs()
    assert settings.prefect_results_path is not None and settings.prefect_results_path.is_dir()
    assert settings.artifacts_dir is not None and settings.artifacts_dir.is_dir()


def test_artifact_folder_follows_the_artifacts_setting(
    crucible_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert get_settings().artifact_folder("bo", "x") == crucible_home / "artifacts" / "bo" / "x"
    monkeypatch.setenv("CRUCIBLE_ARTIFACTS_DIR", str(tmp_path / "elsewhere"))
    assert get_settings().artifact_folder("hpo") == tmp_path / "elsewhere" / "hpo"
