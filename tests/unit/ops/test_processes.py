"""Pid files and stopping by pid: only what was started is ever signalled."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from crucible.exceptions import StackError
from crucible.ops import processes


def _start(tmp_path: Path, name: str, script: str) -> processes.PidRecord:
    return processes.start(
        name,
        [sys.executable, "-c", script],
        env=dict(os.environ),
        cwd=tmp_path,
        log=tmp_path / "logs" / f"{name}.log",
        run_dir=tmp_path / "run",
    )


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


def test_start_records_and_stop_removes(tmp_path: Path) -> None:
    record = _start(tmp_path, "sleeper", "import time; print('up', flush=True); time.sleep(60)")
    assert processes.running(tmp_path / "run", "sleeper") == record
    assert processes.stop(tmp_path / "run", "sleeper", grace_s=10)
    assert _gone(record.pid)
    assert not (tmp_path / "run" / "sleeper.pid").exists()
    assert processes.running(tmp_path / "run", "sleeper") is None
    assert not processes.stop(tmp_path / "run", "sleeper")  # nothing left to stop


def test_stop_ends_the_whole_process_group(tmp_path: Path) -> None:
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    record = _start(tmp_path, "parent", script)
    log = tmp_path / "logs" / "parent.log"
    processes.wait_for(
        "child", lambda: log.read_text().strip().splitlines()[-1].isdigit(), timeout_s=60
    )
    child = int(log.read_text().strip().splitlines()[-1])
    assert processes.stop(tmp_path / "run", "parent", grace_s=10)
    deadline = time.monotonic() + 10
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _gone(record.pid) and _gone(child)


def test_a_process_ignoring_term_and_int_is_killed_after_the_grace(tmp_path: Path) -> None:
    script = (
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    record = _start(tmp_path, "stubborn", script)
    log = tmp_path / "logs" / "stubborn.log"
    processes.wait_for("ready", lambda: "ready" in log.read_text(), timeout_s=60)
    started = time.monotonic()
    assert processes.stop(tmp_path / "run", "stubborn", grace_s=1)
    assert _gone(record.pid)
    assert time.monotonic() - started < 10


def test_a_reused_pid_is_never_signalled(tmp_path: Path) -> None:
    record = _start(tmp_path, "other", "import time; time.sleep(60)")
    pid_file = tmp_path / "run" / "other.pid"
    # The same pid, but another start time: a different process than the one started.
    data = json.loads(pid_file.read_text())
    pid_file.write_text(json.dumps({**data, "start_time": data["start_time"] + 1}))
    try:
        assert processes.running(tmp_path / "run", "other") is None
        assert not processes.stop(tmp_path / "run", "other")
        assert not _gone(record.pid)
        assert not pid_file.exists()
    finally:
        os.killpg(record.pid, signal.SIGKILL)
        os.waitpid(record.pid, 0)


def test_wait_for_names_the_service_and_shows_its_log(tmp_path: Path) -> None:
    record = _start(
        tmp_path, "crasher", "print('bad config: port', flush=True); raise SystemExit(3)"
    )
    log = tmp_path / "logs" / "crasher.log"
    with pytest.raises(StackError, match=r"crasher: the process exited(.|\n)*bad config: port"):
        processes.wait_for(
            "crasher",
            lambda: False,
            timeout_s=60,
            log=log,
            alive=lambda: processes.running(tmp_path / "run", "crasher") is not None,
        )
    os.waitpid(record.pid, 0)


def test_http_ok_is_false_when_nothing_listens() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert not processes.http_ok(f"http://127.0.0.1:{port}/health", timeout=1)
