"""Crucible: closed-loop optimisation and molecular design, orchestrated by Prefect.

The domain package is orchestrator-free and light to import: ``import crucible`` loads
neither Prefect, torch, RDKit nor MLflow. Heavy dependencies are imported where a
feature is used, through :func:`crucible._imports.require`, which names the extra to
install when one is missing.
"""

from crucible.exceptions import CrucibleError
from crucible.settings import CrucibleSettings, get_settings

__all__ = ["CrucibleError", "CrucibleSettings", "__version__", "get_settings"]

__version__ = "0.1.0"
