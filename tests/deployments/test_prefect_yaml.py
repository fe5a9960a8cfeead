"""prefect.yaml loads, every deployment points at a real flow, and pools are known."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
KNOWN_POOLS = {"cpu-process", "gpu-docker", "gpu-kubernetes"}
IMAGE_CODE = [{"prefect.deployments.steps.set_working_directory": {"directory": "/opt/crucible"}}]


def _project() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "prefect.yaml").read_text())


def _deployments() -> list[dict[str, Any]]:
    return list(_project().get("deployments") or [])


def test_prefect_yaml_has_pull_step_and_pool_definitions() -> None:
    project = _project()
    assert project["prefect-version"] == "3.8.8"
    steps = project["pull"]
    assert any("prefect.deployments.steps.set_working_directory" in step for step in steps)
    pools = project["definitions"]["work_pools"]
    assert {pool["name"] for pool in pools.values()} == KNOWN_POOLS
    for pool in KNOWN_POOLS:
        assert (ROOT / "deployments" / "pools" / f"{pool}.json").is_file()


def test_container_deployments_run_the_image_code() -> None:
    """GPU (Docker, Kubernetes) runs start in the image's /opt/crucible, not a host path."""
    for deployment in _deployments():
        if deployment["work_pool"]["name"] == "cpu-process":
            assert "pull" not in deployment, deployment["name"]
        else:
            assert deployment.get("pull") == IMAGE_CODE, deployment["name"]


def test_deployment_names_are_unique() -> None:
    names = [d["name"] for d in _deployments()]
    assert len(names) == len(set(names)), names


@pytest.mark.parametrize("deployment", _deployments(), ids=lambda d: d["name"])
def test_deployment_entrypoint_loads_a_flow(deployment: dict[str, Any]) -> None:
    from prefect.flows import Flow, load_flow_from_entrypoint
    from prefect.utilities.callables import parameter_schema

    path, _, func = deployment["entrypoint"].partition(":")
    assert (ROOT / path).is_file(), f"{deployment['name']}: {path} does not exist"
    assert Path(path).name.endswith("_flow.py"), "flow files are named *_flow.py"
    flow = load_flow_from_entrypoint(str(ROOT / deployment["entrypoint"]))
    assert isinstance(flow, Flow) and func
    schema = parameter_schema(flow).model_dump()
    for param in deployment.get("parameters") or {}:
        assert param in schema["properties"], f"{deployment['name']}: unknown parameter {param}"
    assert deployment["work_pool"]["name"] in KNOWN_POOLS


# What a trigger's templates see, per event it expects: a gateway payload
# (crucible.gateway.payloads), or the triggering flow run (automation on a completed run).
_SAMPLE_CONTEXTS: dict[str, dict[str, Any]] = {
    "crucible.ligands.ready": {
        "event": {
            "payload": {
                "name": "sample",
                "path": str(ROOT / "src/crucible/resources/data/egfr_chembl27_teachopencadd.csv"),
                "smiles_column": "smiles",
                "activity_column": "pIC50",
                "activity_units": "p",
            }
        }
    },
    "crucible.campaign.requested": {
        "event": {
            "payload": {
                "name": "sample",
                "problem": "branin",
                "evaluator": "",
                "budget": 10,
                "batch_size": 2,
            }
        }
    },
    "prefect.flow-run.Completed": {
        "flow_run": {"parameters": {"config": {"source": "egfr", "limit": 50}}}
    },
}


def _fill_templates(value: Any, context: dict[str, Any]) -> Any:
    """Render ``{{ ... }}`` values as Prefect renders a single-expression template:
    Jinja with ``| tojson``, then parsed, so the value keeps its type."""
    import jinja2

    if isinstance(value, dict):
        return {key: _fill_templates(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill_templates(item, context) for item in value]
    if isinstance(value, str) and "{{" in value:
        stripped = value.strip()
        assert stripped.startswith("{{") and stripped.endswith("}}"), value
        template = "{{ " + stripped[2:-2].strip() + " | tojson }}"
        environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
        return json.loads(environment.from_string(template).render(**context))
    return value


def _parameter_sets() -> list[tuple[str, str, dict[str, Any]]]:
    sets = []
    for deployment in _deployments():
        entry, name = deployment["entrypoint"], deployment["name"]
        sets.append((f"{name}:parameters", entry, deployment.get("parameters") or {}))
        for number, trigger in enumerate(deployment.get("triggers") or []):
            (event,) = trigger["expect"]
            params = _fill_templates(trigger.get("parameters") or {}, _SAMPLE_CONTEXTS[event])
            sets.append((f"{name}:trigger{number}", entry, params))
    return sets


@pytest.mark.parametrize(("label", "entrypoint", "parameters"), _parameter_sets(), ids=str)
def test_deployment_parameters_validate_against_the_strict_configs(
    label: str, entrypoint: str, parameters: dict[str, Any]
) -> None:
    """Every config refuses unknown keys, so a stale key in prefect.yaml would fail here."""
    from prefect.flows import load_flow_from_entrypoint

    flow = load_flow_from_entrypoint(str(ROOT / entrypoint))
    flow.validate_parameters(parameters)  # raises ParameterTypeError on a bad or unknown key
