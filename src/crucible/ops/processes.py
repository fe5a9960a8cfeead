"""Background processes the stack starts: pid files, health waits, and stopping by pid.

Each process is started in its own session (so its whole process group can be signalled)
with stdout and stderr appended to its log file. Its pid file records the pid *and* the
kernel's start time of that pid, so a pid reused by an unrelated process after a reboot or
a crash is never signalled: ``stop`` only stops what ``start`` started.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from crucible.exceptions import StackError


def _start_time(pid: int) -> int | None:
    """Kernel start time (clock ticks since boot) of ``pid``, or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 2 (comm) may contain spaces; fields after the closing parenthesis are fixed.
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[19])


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


@dataclass(frozen=True)
class PidRecord:
    """What a pid file holds: the pid, its kernel start time and what was run."""

    name: str
    pid: int
    start_time: int
    command: str

    def alive(self) -> bool:
        """Whether this very process (same pid *and* start time) is still running."""
        return _start_time(self.pid) == self.start_time and not _is_zombie(self.pid)


def pid_file(run_dir: Path, name: str) -> Path:
    """Where the pid file of service ``name`` lives."""
    return run_dir / f"{name}.pid"


def read_pid(run_dir: Path, name: str) -> PidRecord | None:
    """The pid record of ``name``, or None when there is none (or it is unreadable)."""
    path = pid_file(run_dir, name)
    try:
        data = json.loads(path.read_text())
        return PidRecord(
            name=name,
            pid=int(data["pid"]),
            start_time=int(data["start_time"]),
            command=str(data["command"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def record_pid(run_dir: Path, name: str, pid: int, command: str) -> PidRecord:
    """Write the pid file of ``name`` for the running process ``pid``."""
    start = _start_time(pid)
    if start is None:
        raise StackError(f"{name}: process {pid} exited right after it started; see its log")
    record = PidRecord(name=name, pid=pid, start_time=start, command=command)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = pid_file(run_dir, name)
    path.write_text(json.dumps({"pid": pid, "start_time": start, "command": command}) + "\n")
    return record


def running(run_dir: Path, name: str) -> PidRecord | None:
    """The record of ``name`` when the process it names is still running, else None."""
    record = read_pid(run_dir, name)
    return record if record is not None and record.alive() else None


def start(
    name: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log: Path,
    run_dir: Path,
) -> PidRecord:
    """Start ``argv`` in a new session, output appended to ``log``, and record its pid."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        out.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} start: {argv[0]}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return record_pid(run_dir, name, proc.pid, " ".join(argv[:3]))


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # killpg(…, 0) also succeeds while only zombies remain: look at the members.
    return any(
        not _is_zombie(int(entry.name))
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and _pgid(int(entry.name)) == pgid
    )


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def _reap(pid: int) -> None:
    """Collect ``pid`` if it is our child (a test starting the stack in-process)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def stop(run_dir: Path, name: str, *, grace_s: float = 15.0) -> bool:
    """Stop the process group that ``start`` recorded for ``name``.

    SIGTERM first (SIGINT as well: ``prefect worker`` ignores a lone SIGTERM), SIGKILL to
    whatever is left after ``grace_s``. A pid file naming a process that is no longer the
    one started (pid reused) is removed without signalling anything.

    Returns:
        True when a running process was stopped, False when there was none.
    """
    record = read_pid(run_dir, name)
    path = pid_file(run_dir, name)
    if record is None or not record.alive():
        path.unlink(missing_ok=True)
        return False
    # start() makes each service the leader of its own process group; a process recorded
    # otherwise (the PostgreSQL postmaster) is signalled alone.
    group = _pgid(record.pid) == record.pid
    send = _signal_group if group else _signal_pid
    gone = (lambda: not _group_alive(record.pid)) if group else (lambda: not record.alive())
    for sig in (signal.SIGTERM, signal.SIGINT):
        send(record.pid, sig)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and not gone():
        _reap(record.pid)
        time.sleep(0.2)
    if not gone():
        send(record.pid, signal.SIGKILL)
        while not gone():
            _reap(record.pid)
            time.sleep(0.1)
    _reap(record.pid)
    path.unlink(missing_ok=True)
    return True


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _signal_pid(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def http_ok(url: str, *, timeout: float = 3.0, expect: bytes | None = None) -> bool:
    """Whether ``GET url`` answers 200 (and, when given, a body containing ``expect``)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read()
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return response.status == 200 and (expect is None or expect in body)


def wait_for(
    what: str,
    check: Callable[[], bool],
    *,
    timeout_s: float,
    log: Path | None = None,
    alive: Callable[[], bool] | None = None,
) -> float:
    """Poll ``check`` until it is true; return the seconds waited.

    Raises:
        StackError: ``check`` stayed false for ``timeout_s``, or ``alive`` turned false (the
            process died); the message ends with the tail of ``log``.
    """
    started = time.monotonic()
    while not check():
        if alive is not None and not alive():
            raise StackError(f"{what}: the process exited{log_tail(log)}")
        if time.monotonic() - started > timeout_s:
            raise StackError(f"{what}: not healthy after {timeout_s:.0f} s{log_tail(log)}")
        time.sleep(0.5)
    return time.monotonic() - started


def log_tail(log: Path | None, lines: int = 15) -> str:
    """``". Last lines of <log>:"`` and its last ``lines`` lines (empty without a log)."""
    if log is None or not log.exists():
        return ""
    tail = log.read_text(errors="replace").splitlines()[-lines:]
    return f". Last lines of {log}:\n" + "\n".join(tail)
