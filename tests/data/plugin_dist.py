"""Build a real, tiny installed distribution with Crucible entry points (for plug-in tests).

:func:`install_plugin_distribution` writes a package and a ``*.dist-info`` folder with
``METADATA`` and ``entry_points.txt`` into a folder and puts it on ``sys.path``, which is
what ``pip install`` leaves behind; :func:`importlib.metadata.entry_points` then finds the
entry points exactly as it finds those of any installed package.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

PLUGIN_CODE = '''
"""A lab's Crucible plug-ins (test package)."""
import numpy as np

from crucible.chem.scoring import ScoringComponent
from crucible.training.callbacks import Callback


def evaluate(params):
    return {"y": (float(params["x1"]) - 1.0) ** 2 + float(params["x2"])}


def heavy_atoms(smiles, scale=1.0):
    return [scale * len(s) for s in smiles]


class RingCount(ScoringComponent):
    def compute(self, batch):
        return np.array([m.GetRingInfo().NumRings() for m in batch.mols], float)


class StopAtEpoch(Callback):
    def __init__(self, epoch=1):
        self.epoch = epoch

    def on_epoch_end(self, epoch, metrics):
        return epoch >= self.epoch


def not_a_callback(**kwargs):
    return "nope"
'''

ENTRY_POINTS = """[crucible.evaluators]
lab-quadratic = {module}:evaluate
broken = {module}_missing:evaluate

[crucible.scoring_components]
lab-length = {module}:heavy_atoms
lab-rings = {module}:RingCount

[crucible.callbacks]
lab-stop = {module}:StopAtEpoch
lab-bad = {module}:not_a_callback
"""


def install_plugin_distribution(
    root: Path, monkeypatch: pytest.MonkeyPatch, module: str = "crucible_lab_plugins"
) -> Path:
    """Write the package ``module`` and its dist-info under ``root`` and add ``root`` to sys.path.

    Returns:
        The ``*.dist-info`` folder.
    """
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{module}.py").write_text(PLUGIN_CODE)
    dist_info = root / f"{module}-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text(ENTRY_POINTS.format(module=module))
    monkeypatch.syspath_prepend(str(root))
    importlib.invalidate_caches()
    monkeypatch.delitem(sys.modules, module, raising=False)
    return dist_info
