"""`import crucible` stays light, and missing extras are named."""

import json
import subprocess
import sys

import pytest

from crucible._imports import require
from crucible.exceptions import MissingDependencyError

HEAVY = ("prefect", "torch", "rdkit", "mlflow", "botorch", "optuna", "chemprop", "sklearn")


def _modules_after(statement: str) -> set[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return {name.split(".")[0] for name in json.loads(out)}


@pytest.mark.parametrize(
    "statement",
    [
        "import crucible",
        "import crucible.settings, crucible.exceptions, crucible.device",
        "import crucible.bo.fast",
    ],
)
def test_import_crucible_loads_no_heavy_dependency(statement: str) -> None:
    loaded = _modules_after(statement)
    assert not loaded & set(HEAVY), f"heavy modules imported: {sorted(loaded & set(HEAVY))}"


def test_missing_dependency_names_the_extra() -> None:
    with pytest.raises(MissingDependencyError) as info:
        require("crucible_no_such_module.sub", extra="chem")
    assert "pip install 'crucible[chem]'" in str(info.value)
    assert isinstance(info.value, ImportError)


def test_require_returns_the_module() -> None:
    assert require("json") is json
