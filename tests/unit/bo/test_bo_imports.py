"""The BO packages stay light to import (no torch, BoTorch, Prefect, scikit-learn)."""

import json
import subprocess
import sys

HEAVY = {"torch", "botorch", "gpytorch", "prefect", "sklearn", "optuna", "sqlalchemy"}


def test_space_design_and_bo_package_import_light() -> None:
    code = (
        "import sys, json; import crucible.space, crucible.design, crucible.bo, "
        "crucible.bo.objectives, crucible.bo.problems; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    loaded = {name.split(".")[0] for name in json.loads(out.stdout)}
    assert not loaded & HEAVY, sorted(loaded & HEAVY)
