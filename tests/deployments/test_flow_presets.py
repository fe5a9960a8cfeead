"""Every flow takes ``preset`` + a composing ``config``; its run form documents each field.

The parameter schema is what Prefect stores on a deployment and the UI builds its run form
from (``prefect.utilities.callables.parameter_schema``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from crucible.cli.run import STAGES, load_stage
from tests.servers import REPO, child_env


def _schema(stage: str) -> dict[str, Any]:
    from prefect.utilities.callables import parameter_schema

    flow, _ = load_stage(stage)
    return parameter_schema(flow).model_dump()


def test_every_flow_module_is_a_stage() -> None:
    modules = {path.stem for path in (REPO / "flows").glob("*_flow.py")}
    assert {target.split(":")[0].split(".")[1] for target in STAGES.values()} == modules


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_presets_are_the_preset_parameter_choices_and_all_validate(stage: str) -> None:
    _, presets = load_stage(stage)
    schema = _schema(stage)["properties"]["preset"]
    assert set(schema.get("enum") or [schema.get("const")]) == set(presets.names)
    assert schema["default"] == "default"
    for name in presets.names:
        config = presets.resolve(name, None)
        assert presets.model.model_validate(config.model_dump()) == config  # round-trips


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_every_field_of_the_run_form_has_its_own_help_text(stage: str) -> None:
    undocumented = [
        f"{name}.{field}"
        for name, definition in _schema(stage)["definitions"].items()
        for field, prop in definition.get("properties", {}).items()
        if not prop.get("description")
    ]
    sections = [
        name
        for name, definition in _schema(stage)["definitions"].items()
        if "Attributes:" in (definition.get("description") or "")
    ]
    assert not sections, f"whole docstring above the fields: {sections}"
    if stage in {"molecular-design", "ligand-data", "activity-model", "prior"}:
        assert not undocumented


def test_defaults_set_in_code_appear_in_the_run_form() -> None:
    definitions = _schema("molecular-design")["definitions"]
    design = definitions["MolecularDesignConfig"]["properties"]
    assert design["data"]["default"]["chembl"]["target"] == "CHEMBL203"
    assert design["data"]["default"]["split"]["method"] == "random"
    assert design["tl"]["default"]["epochs"] >= 1
    assert design["filters"]["default"]["qed_min"] is not None
    assert definitions["LigandDataConfig"]["properties"]["chembl"]["default"]["target"] == (
        "CHEMBL203"
    )
    assert "Attributes" not in definitions["ChemblQuery"]["description"]
    assert definitions["ChemblQuery"]["properties"]["target"]["description"].startswith(
        "ChEMBL target id"
    )


def test_the_cpu_design_preset_composes_with_a_partial_config() -> None:
    from flows.molecular_design_flow import PRESETS, MolecularDesignConfig

    given = MolecularDesignConfig.model_validate({"tl": {"epochs": 3}, "rl_steps": 5})
    config = PRESETS.resolve("cpu", given)
    cpu = PRESETS.get("cpu")
    assert (config.tl.epochs, config.rl_steps) == (3, 5)
    assert (config.device, config.name, config.tl.sample_size) == ("cpu", "egfr-cpu", 50)
    assert config.data == cpu.data and config.filters == cpu.filters


def _crucible(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crucible.cli", *args],
        env=child_env(),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_crucible_run_show_prints_the_resolved_config() -> None:
    result = _crucible(
        "run", "molecular-design", "--preset", "demo", "--set", "tl.epochs=2", "--show"
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["presets"] == ["default", "cpu", "demo"]
    assert shown["config"]["name"] == "egfr-demo" and shown["config"]["tl"]["epochs"] == 2
    assert shown["config"]["data"]["limit"] == 1500  # kept from the demo preset


@pytest.mark.parametrize(
    ("args", "field", "hint"),
    [
        (["--set", "rl_stepz=3"], "config.rl_stepz", "rl_steps"),
        (["--set", "tl.epochz=3"], "config.tl.epochz", "epochs"),
        (["--set", "rl_steps=0"], "config.rl_steps", "greater than or equal to 1"),
        (["--preset", "gpu"], "preset", "default, cpu, demo"),
        (["--set", "rl_steps"], "--set", "key=value"),
    ],
)
def test_crucible_run_refuses_bad_overrides_before_starting(
    args: list[str], field: str, hint: str
) -> None:
    result = _crucible("run", "molecular-design", *args)
    assert result.returncode == 2
    assert field in result.stderr and hint in result.stderr
    assert "Traceback" not in result.stderr and "temporary server" not in result.stdout
