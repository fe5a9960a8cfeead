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
