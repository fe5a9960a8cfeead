"""Parameters compose on a real Prefect server: a deployment stores a preset, a run that
changes one setting keeps the preset's others, and unknown keys are refused at creation."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.utilities.callables import parameter_schema

from crucible.cli.run import load_stage
from tests.deployments.test_prefect_yaml import _SAMPLE_CONTEXTS, _fill_templates
from tests.servers import REPO, prefect_server

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with prefect_server(tmp_path_factory.mktemp("presets")) as url:  # noqa: SIM117
        with temporary_settings({PREFECT_API_URL: url}):
            yield url


def _yaml_deployment(name: str) -> dict[str, Any]:
    project = yaml.safe_load((REPO / "prefect.yaml").read_text())
    return next(d for d in project["deployments"] if d["name"] == name)


def _deploy(stage: str, name: str) -> tuple[str, Any, Any]:
    """Register the prefect.yaml deployment ``name`` (its parameters and the flow's schema,
    enforced, as ``prefect deploy`` stores them); return its id, flow and presets."""
    flow, presets = load_stage(stage)
    spec = _yaml_deployment(name)

    async def create() -> str:
        async with get_client() as client:
            flow_id = await client.create_flow_from_name(flow.name)
            deployment_id = await client.create_deployment(
                flow_id=flow_id,
                name=f"{name}-{uuid.uuid4().hex[:6]}",
                entrypoint=spec["entrypoint"],
                parameters=spec.get("parameters") or {},
                parameter_openapi_schema=parameter_schema(flow).model_dump_for_openapi(),
                enforce_parameter_schema=True,
            )
            return str(deployment_id)

    return asyncio.run(create()), flow, presets


def _run(api_url: str, deployment_id: str, parameters: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{api_url}/deployments/{deployment_id}/create_flow_run",
        json={"parameters": parameters},
        timeout=60,
    )


def _what_the_flow_sees(flow: Any, presets: Any, stored: dict[str, Any]) -> Any:
    """The flow's own parameter validation, then its first statement (resolve the preset)."""
    bound = flow.validate_parameters(stored)
    return presets.resolve(bound["preset"], bound["config"])


@pytest.fixture(scope="module")
def design_cpu(api_url: str) -> tuple[str, Any, Any]:
    return _deploy("molecular-design", "molecular-design-cpu")


def test_one_changed_setting_keeps_the_presets_others(
    api_url: str, design_cpu: tuple[str, Any, Any]
) -> None:
    deployment_id, flow, presets = design_cpu
    answer = _run(api_url, deployment_id, {"config": {"tl": {"epochs": 3}}})
    assert answer.status_code == 201, answer.text
    stored = answer.json()["parameters"]
    assert stored == {"preset": "cpu", "config": {"tl": {"epochs": 3}}}
    config = _what_the_flow_sees(flow, presets, stored)
    cpu = presets.get("cpu")
    assert config.tl.epochs == 3
    assert (config.device, config.name, config.tl.sample_size) == ("cpu", "egfr-cpu", 50)
    assert config.data == cpu.data and config.rl == cpu.rl and config.rl_steps == cpu.rl_steps


def test_a_form_submitted_with_every_default_changes_only_the_edited_field(
    api_url: str, design_cpu: tuple[str, Any, Any]
) -> None:
    deployment_id, flow, presets = design_cpu
    form = presets.get("default").model_dump(mode="json")
    form["rl_steps"] = 7
    answer = _run(api_url, deployment_id, {"config": form})
    assert answer.status_code == 201, answer.text
    config = _what_the_flow_sees(flow, presets, answer.json()["parameters"])
    assert (config.rl_steps, config.device, config.name) == (7, "cpu", "egfr-cpu")


@pytest.mark.parametrize(
    ("parameters", "named"),
    [
        ({"config": {"rl_stepz": 3}}, "rl_stepz"),
        ({"config": {"tl": {"epochz": 3}}}, "epochz"),
        ({"config": {"rl_steps": 0}}, "rl_steps"),
        ({"preset": "gpu"}, "preset"),
    ],
    ids=["unknown key", "unknown nested key", "bad value", "unknown preset"],
)
def test_unknown_keys_and_bad_values_are_refused_at_run_creation(
    api_url: str, design_cpu: tuple[str, Any, Any], parameters: dict[str, Any], named: str
) -> None:
    deployment_id, _, _ = design_cpu
    answer = _run(api_url, deployment_id, parameters)
    assert answer.status_code in (409, 422), answer.text
    assert named in answer.text


@pytest.mark.parametrize(
    ("stage", "deployment", "event"),
    [
        ("molecular-design", "molecular-design-cpu", "crucible.ligands.ready"),
        ("bo-campaign", "bo-campaign", "crucible.campaign.requested"),
    ],
)
def test_trigger_parameters_keep_the_deployment_preset(
    api_url: str, stage: str, deployment: str, event: str
) -> None:
    """The trigger's parameters (rendered as Prefect renders them) on the real server."""
    deployment_id, flow, presets = _deploy(stage, deployment)
    (trigger,) = _yaml_deployment(deployment)["triggers"]
    parameters = _fill_templates(trigger["parameters"], _SAMPLE_CONTEXTS[event])
    answer = _run(api_url, deployment_id, parameters)
    assert answer.status_code == 201, answer.text
    config = _what_the_flow_sees(flow, presets, answer.json()["parameters"])
    payload = _SAMPLE_CONTEXTS[event]["event"]["payload"]
    assert config.name == payload["name"]
    if stage == "molecular-design":
        assert (config.data.source, config.data.path) == ("file", payload["path"])
        assert config.data.mapping.activity == payload["activity_column"]
        assert (config.device, config.tl.sample_size) == ("cpu", 50)  # the cpu preset
    else:
        default = presets.get("default")
        assert config.stopping.max_trials == payload["budget"]
        assert config.strategy == default.strategy  # n_init etc. kept
        assert config.stopping.model_copy(update={"max_trials": 24}) == default.stopping
