"""Plug-ins by name: built-ins, real installed entry points, and import paths behind a setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from crucible.exceptions import AlreadyExistsError, InvalidInputError
from crucible.plugins import CALLBACKS, EVALUATORS, SCORING_COMPONENTS, PluginRegistry
from tests.data.plugin_dist import install_plugin_distribution


@pytest.fixture
def lab_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return install_plugin_distribution(tmp_path / "site-packages", monkeypatch)


def test_builtin_evaluators_are_the_bo_problems() -> None:
    assert {"branin", "hartmann6", "ackley5", "mixed", "chartmann6", "branin_currin"} <= set(
        EVALUATORS.names()
    )
    assert EVALUATORS.get("branin", "evaluator")({"x1": 3.14159265, "x2": 2.275})["y"] == (
        pytest.approx(0.39789, abs=1e-4)
    )


def test_installed_entry_points_are_found_and_loaded_by_name(lab_plugins: Path) -> None:
    assert "lab-quadratic" in EVALUATORS.names()
    assert EVALUATORS.get("lab-quadratic", "evaluator")({"x1": 3, "x2": 1}) == {"y": 5.0}
    assert {"lab-length", "lab-rings"} <= set(SCORING_COMPONENTS.names())
    assert "lab-stop" in CALLBACKS.names() and "time_limit" in CALLBACKS.names()


def test_entry_point_that_fails_to_load_names_the_field_and_the_group(lab_plugins: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"^evaluator: .*'broken'.*crucible\.evaluators"):
        EVALUATORS.get("broken", "evaluator")


def test_entry_points_vanish_with_their_distribution(tmp_path: Path) -> None:
    assert "lab-quadratic" not in EVALUATORS.names()


def test_scoring_plugins_work_as_component_type_and_as_python_callable(
    lab_plugins: Path,
) -> None:
    from crucible.chem.scoring import build_scoring_function, get_component_class

    assert get_component_class("lab-rings").__name__ == "RingCount"
    function = build_scoring_function(
        {
            "components": [
                {"type": "lab-rings", "name": "rings"},
                {
                    "type": "python_callable",
                    "name": "length",
                    "params": {"function": "lab-length", "kwargs": {"scale": 2.0}},
                },
            ]
        }
    )
    result = function.score(["c1ccccc1", "CCO"])
    assert list(result.raw["rings"]) == [1.0, 0.0]
    assert list(result.raw["length"]) == [16.0, 6.0]


def test_a_function_plugin_is_not_a_component_type(lab_plugins: Path) -> None:
    from crucible.chem.scoring import get_component_class

    with pytest.raises(InvalidInputError, match=r"^type: .*is a function.*python_callable"):
        get_component_class("lab-length")


def test_callbacks_are_built_from_names(lab_plugins: Path) -> None:
    from crucible.plugins import build_callbacks
    from crucible.training.callbacks import TimeLimit

    built = build_callbacks(
        [{"name": "time_limit", "params": {"seconds": 5}}, {"name": "lab-stop", "params": {}}]
    )
    assert isinstance(built[0], TimeLimit) and built[0].seconds == 5
    assert built[1].on_epoch_end(1, {}) is True
    with pytest.raises(InvalidInputError, match=r"^callbacks\[0\]\.name: .*not a Callback"):
        build_callbacks([{"name": "lab-bad"}])
    with pytest.raises(InvalidInputError, match=r"^callbacks\[0\]\.params: "):
        build_callbacks([{"name": "time_limit", "params": {"minutes": 1}}])


def test_import_paths_need_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InvalidInputError, match="CRUCIBLE_ALLOW_IMPORT_PATHS"):
        EVALUATORS.get("crucible.bo.problems:branin", "evaluator")
    monkeypatch.setenv("CRUCIBLE_ALLOW_IMPORT_PATHS", "true")
    function = EVALUATORS.get("crucible.bo.problems:branin", "evaluator")
    assert function.__name__ == "branin"


def test_registry_refuses_bad_and_duplicate_names() -> None:
    registry = PluginRegistry("widget", "crucible.test_widgets")
    registry.register("a", len)
    with pytest.raises(AlreadyExistsError, match="'a'"):
        registry.register("a", max)
    registry.register("a", max, overwrite=True)
    assert registry.get("a", "w") is max
    for bad in ("", "../x", "a b", "x" * 101, "mod:fn"):
        with pytest.raises(InvalidInputError, match=r"^name: "):
            registry.register(bad, len)
    registry.unregister("a")
    assert registry.names() == []
