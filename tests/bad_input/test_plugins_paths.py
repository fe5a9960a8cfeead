"""Bad plug-in names and bad paths: each refused with its error class and the field named."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from crucible.exceptions import InvalidInputError

OUTSIDE = "/etc"  # outside CRUCIBLE_HOME, the artifacts folder and the test data root


# --------------------------------------------------------------------------- plug-in names
@pytest.mark.parametrize(
    ("evaluator", "says"),
    [
        ("no-such-evaluator", "unknown evaluator"),
        ("mylab.robot:evaluate", "CRUCIBLE_ALLOW_IMPORT_PATHS"),
        ("branin; rm -rf /", "unknown evaluator"),
    ],
)
def test_bo_config_refuses_unregistered_evaluators(evaluator: str, says: str) -> None:
    from flows.bo_campaign_flow import BOCampaignConfig

    with pytest.raises(ValidationError, match="evaluator") as info:
        BOCampaignConfig(name="x", problem="branin", evaluator=evaluator)
    assert says in str(info.value) and "branin" in str(info.value)  # lists registered names


@pytest.mark.parametrize("name", [None, "", 42])
def test_evaluator_task_refuses_non_names(name: object) -> None:
    from tasks.bo import load_callable

    with pytest.raises(InvalidInputError, match=r"^evaluator: "):
        load_callable(name)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("component", "field"),
    [
        ({"type": "python_callable", "params": {"function": "no-such-fn"}}, "params.function"),
        ({"type": "activity_model", "params": {"factory": "no-such-factory"}}, "params.factory"),
        ({"type": "no-such-component"}, "components[0].type"),
    ],
)
def test_scoring_refuses_unregistered_plugins(component: dict, field: str) -> None:
    from crucible.chem.scoring import build_scoring_function

    with pytest.raises(InvalidInputError) as info:
        build_scoring_function({"components": [component]})
    assert field in str(info.value)


def test_scoring_function_pattern_refuses_traversal_like_names() -> None:
    from crucible.chem.scoring import build_scoring_function

    with pytest.raises(InvalidInputError, match=r"params\.function"):
        build_scoring_function(
            {"components": [{"type": "python_callable", "params": {"function": "../x"}}]}
        )


@pytest.mark.parametrize(
    ("specs", "field"),
    [
        ([{"name": "no-such-callback"}], r"callbacks\[0\]\.name"),
        (["time_limit"], r"callbacks\[0\]"),
        ([{"name": "time_limit", "params": [600]}], r"callbacks\[0\]\.params"),
        ([{"name": "time_limit", "params": {"seconds": 1}, "extra": 1}], r"callbacks\[0\]"),
    ],
)
def test_callbacks_refuse_bad_specs(specs: list, field: str) -> None:
    from crucible.plugins import build_callbacks

    with pytest.raises(InvalidInputError, match=f"^{field}"):
        build_callbacks(specs)


# --------------------------------------------------------------------------- names
@pytest.mark.parametrize("name", ["", "../x", "a/b", "x" * 101, ".hidden", "a b"])
def test_campaign_name_must_be_a_slug(name: str) -> None:
    from flows.bo_campaign_flow import BOCampaignConfig

    with pytest.raises(ValidationError, match="name"):
        BOCampaignConfig(name=name)


def test_study_name_must_be_a_slug() -> None:
    from crucible.training.hpo import StudySpec, default_space

    with pytest.raises(ValidationError, match="name"):
        StudySpec(name="..", space=default_space())


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ("flows.prior_flow:PriorFlowConfig", "name"),
        ("flows.reinforcement_flow:ReinforcementFlowConfig", "name"),
        ("flows.transfer_learning_flow:TransferLearningFlowConfig", "name"),
        ("flows.transfer_learning_flow:TransferLearningFlowConfig", "train_file"),
        ("flows.transfer_learning_flow:TransferLearningFlowConfig", "validation_file"),
        ("flows.activity_model_flow:ActivityModelConfig", "register_as"),
        ("flows.ligand_data_flow:LigandDataConfig", "name"),
    ],
)
def test_names_that_become_paths_are_slugs(config: str, field: str) -> None:
    import importlib

    module, _, cls = config.partition(":")
    model = getattr(importlib.import_module(module), cls)
    with pytest.raises(ValidationError, match=field) as info:
        model.model_validate({field: "../../etc/passwd"})
    assert "not a safe name" in str(info.value)


def test_derived_ligand_folder_name_cannot_traverse() -> None:
    from flows.ligand_data_flow import LigandDataConfig

    config = LigandDataConfig(source="chembl", chembl={"target": "../../.."})
    assert config.default_name() == "ligands"
    assert ".." not in str(config.folder())


# --------------------------------------------------------------------------- paths
@pytest.mark.parametrize(
    ("config", "field"),
    [
        ("flows.bo_campaign_flow:BOCampaignConfig", "output_dir"),
        ("flows.hpo_flow:HpoFlowConfig", "output_dir"),
        ("flows.ligand_data_flow:LigandDataConfig", "output_dir"),
        ("flows.prior_flow:PriorFlowConfig", "output_dir"),
        ("flows.training_flow:TrainFlowConfig", "output_dir"),
        ("flows.activity_model_flow:ActivityModelConfig", "output_dir"),
        ("flows.ligand_data_flow:LigandDataConfig", "path"),
        ("flows.molecular_design_flow:MolecularDesignConfig", "prior_path"),
        ("flows.prior_flow:PriorFlowConfig", "corpus_path"),
        ("flows.reinforcement_flow:ReinforcementFlowConfig", "agent_path"),
        ("flows.transfer_learning_flow:TransferLearningFlowConfig", "split_dir"),
        ("flows.activity_model_flow:ActivityModelConfig", "split_dir"),
    ],
)
def test_paths_outside_their_roots_are_refused(config: str, field: str) -> None:
    import importlib

    module, _, cls = config.partition(":")
    model = getattr(importlib.import_module(module), cls)
    with pytest.raises(ValidationError, match=field) as info:
        model.model_validate({field: OUTSIDE})
    assert "outside the" in str(info.value)


@pytest.mark.parametrize("path", ["bad\x00path", " ", "x" * 5000])
def test_unusable_paths_name_the_field(path: str) -> None:
    from crucible.naming import input_path

    with pytest.raises(InvalidInputError, match=r"^data\.path: "):
        input_path(path, "data.path")


def test_link_out_of_the_data_root_is_refused(tmp_path: Path) -> None:
    from crucible.naming import input_path
    from crucible.settings import get_settings

    settings = get_settings(data_root=tmp_path / "data", home=tmp_path / "home")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "out").symlink_to("/etc")
    with pytest.raises(InvalidInputError, match=r"^path: .*outside the data roots"):
        input_path(tmp_path / "data" / "out" / "hosts", "path", settings)
    inside = tmp_path / "data" / "ligands.csv"
    assert input_path(inside, "path", settings) == inside.resolve()


def test_bundled_resources_are_readable_but_not_writable() -> None:
    from crucible.data.datasets import egfr_path
    from crucible.naming import input_path, output_path

    assert input_path(egfr_path(), "path") == egfr_path().resolve()
    with pytest.raises(InvalidInputError, match=r"^output_dir: "):
        output_path(egfr_path().parent, "output_dir")


def test_saved_activity_model_outside_the_data_root_is_refused() -> None:
    from crucible.chem.components import ActivityModelComponent

    with pytest.raises(InvalidInputError, match=r"^params\.model_path: .*outside"):
        ActivityModelComponent({"model_path": "/usr/lib"})


# --------------------------------------------------------------------------- store URLs
@pytest.mark.parametrize(
    ("config", "field", "url"),
    [
        ("flows.bo_campaign_flow:BOCampaignConfig", "store_url", "sqlite:////etc/campaigns.db"),
        ("flows.bo_campaign_flow:BOCampaignConfig", "store_url", "sqlite:///../../../x.db"),
        ("flows.hpo_flow:HpoFlowConfig", "storage_url", "sqlite+pysqlite:////usr/optuna.db"),
        ("flows.hpo_flow:HpoFlowConfig", "tracking_uri", "sqlite:////etc/mlflow.db"),
        ("flows.hpo_flow:HpoFlowConfig", "tracking_uri", "file:///etc/mlruns"),
    ],
)
def test_store_urls_naming_files_outside_the_output_roots_are_refused(
    config: str, field: str, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    monkeypatch.chdir(tmp_path)
    module, _, cls = config.partition(":")
    model = getattr(importlib.import_module(module), cls)
    with pytest.raises(ValidationError, match=field) as info:
        model.model_validate({field: url})
    assert "outside the output roots" in str(info.value)


@pytest.mark.parametrize(
    "url", ["postgresql+psycopg2://bo@db/crucible", "sqlite://", "sqlite:///:memory:"]
)
def test_server_and_memory_store_urls_pass(url: str) -> None:
    from flows.bo_campaign_flow import BOCampaignConfig

    assert BOCampaignConfig(store_url=url).store_url == url


def test_store_url_under_the_home_passes(crucible_home: Path) -> None:
    from flows.bo_campaign_flow import BOCampaignConfig

    url = f"sqlite:///{crucible_home / 'other.db'}"
    assert BOCampaignConfig(store_url=url).store_url == url


@pytest.mark.parametrize(
    ("callbacks", "says"),
    [
        ([{"name": "no-such-callback"}], "unknown training callback"),
        ([{"name": "os:system", "params": {"command": "id"}}], "CRUCIBLE_ALLOW_IMPORT_PATHS"),
        ([{"name": "time_limit", "extra": 1}], "extra"),
        ([{"name": "time_limit"}] * 21, "20"),
    ],
)
def test_training_flow_callbacks_are_registered_names(callbacks: list, says: str) -> None:
    from flows.training_flow import TrainFlowConfig

    with pytest.raises(ValidationError, match="callbacks") as info:
        TrainFlowConfig(callbacks=callbacks)
    assert says in str(info.value)
