"""Ax's default ``Client`` driven from another interpreter (Ax is not a Crucible dependency).

:class:`AxRemote` is an ask/tell adapter for the benchmark's own interpreter: it starts
``python -c "...serve()"`` in an environment with ``ax-platform`` (``--ax-python``, e.g.
``.ax-venv/bin/python``) and exchanges one JSON line per message with :func:`serve`, which
runs :class:`~bobench.adapters.ax_ad.AxDefault` (Ax's default generation strategy, centre
point + Sobol for ``n_init`` trials, then BoTorch's modular model with qLogNEI). The
problem is evaluated by the caller, so a scenario (noise, simulated workers) stays in one
place. Every ask reports the CPU time it took in the Ax process (``last_ask_cpu``): the
caller's own process time would only count the pipe.

Trials that were asked and not yet told stay ``RUNNING`` in Ax's experiment, and Ax's
generation strategy treats them as pending points (what asynchronous workers see).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .base import Optimizer

HERE = Path(__file__).resolve().parents[2]  # benchmarks/, where ``bobench`` is importable
_SERVE = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from bobench.adapters.ax_remote import serve; serve()"
)


def ax_environment(python: str) -> dict[str, str]:
    """The environment for an Ax process: its own BoTorch C++ extension cache.

    BoTorch 0.18 JIT-compiles a fused kernel into ``TORCH_EXTENSIONS_DIR`` (by default
    ``~/.cache/torch_extensions``, shared) and rebuilds it, minutes of CPU, whenever another
    environment built it last; Ax's runs get ``<ax venv>/torch_extensions`` unless the
    variable is set.
    """
    venv = Path(python).absolute().parent.parent
    return {"TORCH_EXTENSIONS_DIR": str(venv / "torch_extensions"), **os.environ}


class AxRemote(Optimizer):
    """Ask/tell proxy to an Ax ``Client`` living in the interpreter ``python``."""

    name = "ax"
    supports_mixed = True
    supports_constraints = True

    def __init__(self, problem: Any, seed: int, n_init: int = 8, python: str = "", **kw: Any):
        super().__init__(problem, seed, n_init, **kw)
        if not python:
            raise SystemExit("method 'ax' needs --ax-python (an interpreter with ax-platform)")
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed in close())
        self._proc = subprocess.Popen(
            [python, "-c", _SERVE, str(HERE)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=ax_environment(python),
        )
        self._keys: dict[int, int] = {}
        self.last_ask_cpu = 0.0
        # the bobench problem whose parameters Ax sees (a scenario may rename its copy)
        base = getattr(problem, "base_name", problem.name)
        self._call(op="init", problem=base, seed=seed, n_init=n_init)

    def _call(self, **message: Any) -> dict[str, Any]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(message) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            self._stderr.seek(0)
            tail = self._stderr.read()[-3000:]
            raise RuntimeError(f"the Ax process stopped at {message['op']!r}:\n{tail}")
        return json.loads(line)

    def ask(self, max_points: int) -> list[dict]:
        reply = self._call(op="ask", n=max_points)
        self.last_ask_cpu = reply["cpu_s"]
        out = []
        for key, params in reply["points"]:
            self._keys[id(params)] = key
            out.append(params)
        return out

    def tell(self, points: list[dict], results: list[dict]) -> None:
        keys = [self._keys.pop(id(p)) for p in points]
        self._call(op="tell", keys=keys, results=results)

    def recommend(self) -> dict[str, Any]:
        """Ax's best parameterization (``use_model_predictions=True``, its default)."""
        return self._call(op="best")["params"]

    def info(self) -> dict:
        return self._call(op="info")["info"]

    def close(self) -> None:
        if self._proc.poll() is None:
            self._call(op="close")
            self._proc.wait(timeout=60)
        self._stderr.close()


def serve() -> None:
    """The Ax side: answer :class:`AxRemote`'s JSON lines on stdin until ``close``."""
    import torch

    from ..problems import get_problem
    from .ax_ad import AxDefault

    torch.set_num_threads(1)
    reply_to = sys.stdout
    sys.stdout = sys.stderr  # anything Ax prints must not reach the protocol's pipe
    opt: Any = None
    pending: dict[int, dict] = {}
    for line in sys.stdin:
        msg = json.loads(line)
        reply: dict[str, Any] = {}
        if msg["op"] == "init":
            opt = AxDefault(get_problem(msg["problem"]), msg["seed"], n_init=msg["n_init"])
        elif msg["op"] == "ask":
            c0 = time.process_time()
            points = opt.ask(msg["n"])
            reply["cpu_s"] = time.process_time() - c0
            reply["points"] = []
            for params in points:
                key = id(params)  # unique while the dict is kept in ``pending``
                pending[key] = params
                reply["points"].append([key, params])
        elif msg["op"] == "tell":
            opt.tell([pending.pop(k) for k in msg["keys"]], msg["results"])
        elif msg["op"] == "best":
            reply["params"] = opt.client.get_best_parameterization(use_model_predictions=True)[0]
        elif msg["op"] == "info":
            reply["info"] = opt.info()
        reply_to.write(json.dumps(reply, default=_plain) + "\n")
        reply_to.flush()
        if msg["op"] == "close":
            return


def _plain(value: Any) -> Any:
    """NumPy scalars in Ax's parameterizations as plain numbers."""
    return value.item() if hasattr(value, "item") else str(value)
