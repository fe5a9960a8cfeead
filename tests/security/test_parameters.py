"""Parameters that name code or paths: refused before anything runs or is written.

Each case crafts what an attacker who can create a flow run or post an event controls (a
flow parameter, a task argument, an event payload) and checks that it is refused with an
error naming the field, and that the command it smuggles never ran (a marker file does not
appear).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from crucible.exceptions import InvalidInputError

IMPORT_PATHS = [
    "subprocess:run",
    "subprocess:call",
    "subprocess:check_output",
    "subprocess:getoutput",
    "os:system",
    "os:popen",
    "builtins:exec",
    "builtins:eval",
    "importlib:import_module",
    "shutil:rmtree",
    "pty:spawn",
    "torch.utils.collect_env:run",
]


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "PWNED"


def _command_args(marker: Path) -> dict:
    """A trial whose 'params' would create the marker if handed to the named function."""
    return {"trial": 0, "params": ["touch", str(marker)]}


@pytest.mark.parametrize("path", IMPORT_PATHS)
def test_bo_evaluator_import_path_is_refused_and_never_runs(path: str, marker: Path) -> None:
    from tasks import bo

    with pytest.raises(InvalidInputError, match=r"^evaluator: .*CRUCIBLE_ALLOW_IMPORT_PATHS"):
        bo.evaluate_callable.fn(path, _command_args(marker))
    with pytest.raises(InvalidInputError, match=r"^evaluator: "):
        bo.evaluate_callable.fn(path, {"trial": 0, "params": f"touch {marker}"})
    assert not marker.exists()


@pytest.mark.parametrize("path", ["subprocess:run", "os:system", "builtins:exec"])
def test_bo_flow_parameter_naming_code_is_refused_at_validation(path: str) -> None:
    from flows.bo_campaign_flow import BOCampaignConfig

    with pytest.raises(ValidationError, match="evaluator") as info:
        BOCampaignConfig(name="attack", problem="branin", evaluator=path)
    assert "CRUCIBLE_ALLOW_IMPORT_PATHS" in str(info.value)


@pytest.mark.parametrize("path", ["subprocess:getoutput", "os:system", "subprocess:run"])
def test_scoring_parameters_naming_code_are_refused(path: str, marker: Path) -> None:
    from crucible.chem.scoring import build_scoring_function

    callable_config = {
        "components": [
            {"type": "python_callable", "params": {"function": path, "kwargs": {}}},
        ]
    }
    with pytest.raises(InvalidInputError, match=r"params\.function"):
        build_scoring_function(callable_config).score([f"touch {marker}"])
    factory_config = {
        "components": [
            {
                "type": "activity_model",
                "params": {"factory": path, "factory_kwargs": {"cmd": f"touch {marker}"}},
            }
        ]
    }
    with pytest.raises(InvalidInputError, match=r"params\.factory"):
        build_scoring_function(factory_config)
    assert not marker.exists()


def test_component_type_naming_code_is_refused(marker: Path) -> None:
    from crucible.chem.scoring import build_scoring_function

    with pytest.raises(InvalidInputError, match=r"^components\[0\]\.type: unknown scoring"):
        build_scoring_function({"components": [{"type": "os:system"}]})
    assert not marker.exists()


def test_callback_naming_code_is_refused(marker: Path) -> None:
    from crucible.plugins import build_callbacks

    with pytest.raises(InvalidInputError, match=r"^callbacks\[0\]\.name: .*import path"):
        build_callbacks([{"name": "os:system", "params": {"command": f"touch {marker}"}}])
    assert not marker.exists()


def test_setting_spelled_false_keeps_import_paths_off(
    monkeypatch: pytest.MonkeyPatch, marker: Path
) -> None:
    from tasks import bo

    monkeypatch.setenv("CRUCIBLE_ALLOW_IMPORT_PATHS", "false")
    with pytest.raises(InvalidInputError, match="CRUCIBLE_ALLOW_IMPORT_PATHS"):
        bo.evaluate_callable.fn("os:system", {"trial": 0, "params": f"touch {marker}"})
    assert not marker.exists()


# --------------------------------------------------------------------------- names and paths
TRAVERSALS = ["../../x", "../../../../x", "..", "a/../../../x", "/tmp/x", "x/y", "~root"]


def _files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")}


def _render_trigger(payload: dict) -> dict:
    """The parameters the molecular-design-cpu trigger builds from an event payload."""
    import json

    import yaml

    root = Path(__file__).resolve().parents[2]
    deployments = yaml.safe_load((root / "prefect.yaml").read_text())["deployments"]
    (trigger,) = next(d for d in deployments if d["name"] == "molecular-design-cpu")["triggers"]
    text = json.dumps(trigger["parameters"])
    columns = {"smiles_column": "smiles", "activity_column": "pchembl", "activity_units": "p"}
    for key, value in {**columns, **payload}.items():
        text = text.replace(f"{{{{ event.payload.{key} }}}}", json.dumps(value)[1:-1])
    return dict(json.loads(text))


@pytest.fixture
def deep_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "a" / "b" / "c" / "home"
    monkeypatch.setenv("CRUCIBLE_HOME", str(home))
    monkeypatch.setenv("CRUCIBLE_DATA_ROOT", str(home / "data"))
    return home


@pytest.mark.parametrize("name", TRAVERSALS)
def test_design_name_that_leaves_home_is_refused_and_writes_nothing(
    name: str, deep_home: Path, tmp_path: Path
) -> None:
    from prefect.exceptions import ParameterTypeError

    from flows.molecular_design_flow import MolecularDesignConfig, molecular_design

    before = _files_under(tmp_path)
    with pytest.raises(ParameterTypeError, match=r"config\.name"):
        molecular_design.validate_parameters({"config": {"name": name}})
    with pytest.raises(ValidationError, match="name"):
        MolecularDesignConfig(name=name)
    # Even a config that skipped validation cannot build a folder outside the artifacts.
    with pytest.raises(InvalidInputError, match=r"^name: "):
        MolecularDesignConfig.model_construct(name=name).folder()
    assert _files_under(tmp_path) == before


def test_bo_flow_run_with_a_traversing_name_writes_nothing(
    prefect_harness: None, deep_home: Path, tmp_path: Path
) -> None:
    from prefect.exceptions import ParameterTypeError

    from flows.bo_campaign_flow import BOCampaignConfig, bo_campaign

    before = _files_under(tmp_path)
    with pytest.raises(ParameterTypeError, match=r"config\.name"):
        bo_campaign.validate_parameters({"config": {"name": "../../x"}})
    # A config object that skipped validation reaches the flow body (Prefect passes model
    # instances through as they are); the flow validates it again against its preset.
    attack = BOCampaignConfig.model_construct(**{**BOCampaignConfig().__dict__, "name": "../../x"})
    with pytest.raises(InvalidInputError, match=r"^config\.name: '\.\./\.\./x' is not a safe"):
        bo_campaign(attack)
    outside = {p for p in _files_under(tmp_path) - before if deep_home not in p.parents}
    assert outside == set()


@pytest.mark.parametrize(
    "payload",
    [
        {"name": "egfr", "path": "/etc/passwd"},
        {"name": "egfr", "path": "../../../../../../etc/passwd"},
        {"name": "egfr", "path": "/proc/self/environ"},
        {"name": "egfr", "path": "link/ligands.csv"},
    ],
)
def test_event_payload_naming_a_file_outside_the_data_root_is_refused(
    payload: dict, deep_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.exceptions import ParameterTypeError

    from flows.molecular_design_flow import molecular_design

    data = deep_home / "data"
    data.mkdir(parents=True)
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "ligands.csv").write_text("smiles,pchembl_value\nCCO,6\n")
    (data / "link").symlink_to(tmp_path / "secret")
    monkeypatch.chdir(data)
    with pytest.raises(ParameterTypeError, match=r"config\.data\.path"):
        molecular_design.validate_parameters(_render_trigger(payload))


def test_event_payload_inside_the_data_root_is_accepted(deep_home: Path) -> None:
    from flows.molecular_design_flow import molecular_design

    (deep_home / "data").mkdir(parents=True)
    ligands = deep_home / "data" / "ligands.csv"
    ligands.write_text("smiles,pchembl_value\nCCO,6\n")
    params = molecular_design.validate_parameters(
        _render_trigger({"name": "egfr-batch-2", "path": str(ligands)})
    )
    assert params["config"].data.path == str(ligands.resolve())


def test_event_payload_with_a_traversing_name_is_refused(deep_home: Path) -> None:
    from prefect.exceptions import ParameterTypeError

    from flows.molecular_design_flow import molecular_design

    (deep_home / "data").mkdir(parents=True)
    (deep_home / "data" / "l.csv").write_text("smiles\nCCO\n")
    with pytest.raises(ParameterTypeError, match=r"config\.name") as info:
        molecular_design.validate_parameters(
            _render_trigger({"name": "../../../../x", "path": str(deep_home / "data" / "l.csv")})
        )
    assert "config.data.name" in str(info.value)


def test_ligand_task_refuses_a_file_outside_the_data_root(deep_home: Path) -> None:
    from tasks.ligand_data import load_ligands

    out = deep_home / "artifacts" / "x"
    with pytest.raises(InvalidInputError, match=r"^path: .*outside the data roots"):
        load_ligands.fn("file", str(out), "/etc/hosts")
    assert not out.exists()


def test_deployed_runs_keep_import_paths_off() -> None:
    import json

    import yaml

    root = Path(__file__).resolve().parents[2]
    config = yaml.safe_load((root / "prefect.yaml").read_text())
    cpu_env = config["definitions"]["work_pools"]["cpu_process"]["job_variables"]["env"]
    assert cpu_env["CRUCIBLE_ALLOW_IMPORT_PATHS"] == "false"
    for dockerfile in ("Dockerfile.cpu", "Dockerfile.cuda"):  # what the GPU pools run
        assert "CRUCIBLE_ALLOW_IMPORT_PATHS=false" in (root / "docker" / dockerfile).read_text()
    for template in (root / "deployments" / "pools").glob("*.json"):
        env = json.loads(template.read_text())["variables"]["properties"]["env"].get("default")
        assert (env or {}).get("CRUCIBLE_ALLOW_IMPORT_PATHS", "false") == "false", template
    for deployment in config["deployments"]:
        env = deployment.get("work_pool", {}).get("job_variables", {}).get("env", {})
        assert env.get("CRUCIBLE_ALLOW_IMPORT_PATHS", "false") == "false", deployment["name"]
