"""Prefect flows: composition of tasks only, one deployable flow per ``*_flow.py`` file.

``python -m flows.<stage>_flow`` runs like ``crucible run <stage>``: when Prefect is not
loaded yet (a local run, not a worker or a test that set its own), the local environment of
``make demo`` is filled in first (``PREFECT_HOME`` under ``.crucible``, the ephemeral
server's startup timeout, analytics off; see :mod:`crucible.local`).
"""

import sys

if "prefect" not in sys.modules:
    from crucible.local import apply_local_env

    apply_local_env(use_running_ui=False)
