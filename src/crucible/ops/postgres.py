"""A private PostgreSQL cluster for the stack, from Debian's ``postgresql`` package.

``initdb`` creates the cluster when its folder is missing, with one password-protected
superuser (``crucible``, scram-sha-256, the password kept in a 0600 file) and TCP on
127.0.0.1 only. ``initdb`` and ``pg_ctl`` refuse to run as root, so as root (a container, a
CI machine) they run as the ``postgres`` system user through ``runuser`` and the cluster's
folder belongs to that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from crucible.exceptions import ConfigurationError, StackError

SUPERUSER = "crucible"
_INSTALL_FIX = "install PostgreSQL's server binaries: apt-get install -y postgresql"


def find_binary(name: str) -> str:
    """Path of a PostgreSQL server binary (``initdb``, ``pg_ctl``): PATH, then Debian's folder.

    Raises:
        ConfigurationError: Not installed; the message gives the apt command.
    """
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    if not candidates:
        raise ConfigurationError(f"PostgreSQL: '{name}' not found. Fix: {_INSTALL_FIX}")
    return candidates[-1]


def _system_user() -> pwd.struct_passwd | None:
    """The account to run PostgreSQL as when we are root (None when we are not root)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise ConfigurationError(
            "PostgreSQL: running as root, and initdb/pg_ctl refuse root, but there is no "
            f"'postgres' user to run them as. Fix: {_INSTALL_FIX} (it creates the user)"
        ) from None


@dataclass(frozen=True)
class LocalPostgres:
    """One PostgreSQL cluster in ``data_dir`` listening on ``127.0.0.1:port``.

    Attributes:
        data_dir: The cluster folder (created by :meth:`init` when missing).
        port: TCP port on 127.0.0.1.
        log: Server log file.
        password_file: 0600 file holding the superuser's password.
    """

    data_dir: Path
    port: int
    log: Path
    password_file: Path

    def _as_owner(self, argv: list[str]) -> list[str]:
        user = _system_user()
        if user is None:
            return argv
        runuser = shutil.which("runuser")
        if runuser is None:
            raise ConfigurationError(
                "PostgreSQL: running as root without 'runuser' to switch to the postgres user."
                " Fix: apt-get install -y util-linux, or run as a normal user"
            )
        return [runuser, "-u", user.pw_name, "--", *argv]

    def _give_to_owner(self, path: Path) -> None:
        user = _system_user()
        if user is not None:
            os.chown(path, user.pw_uid, user.pw_gid)

    def initialised(self) -> bool:
        """Whether the cluster folder holds an initialised cluster."""
        return (self.data_dir / "PG_VERSION").is_file()

    def password(self) -> str:
        """The superuser's password (created by :meth:`init`)."""
        return self.password_file.read_text().strip()

    def init(self, password: str) -> None:
        """``initdb`` the cluster with superuser ``crucible`` identified by ``password``."""
        self.data_dir.mkdir(parents=True, exist_ok=False)
        self.data_dir.chmod(0o700)
        self._give_to_owner(self.data_dir)
        pwfile = self.data_dir.parent / ".pg-initdb-password"
        pwfile.write_text(password + "\n")
        pwfile.chmod(0o600)
        self._give_to_owner(pwfile)
        argv = [
            find_binary("initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "--auth=scram-sha-256",
            f"--pwfile={pwfile}",
            "-E",
            "UTF8",
            "--locale=C",
        ]
        try:
            done = subprocess.run(self._as_owner(argv), capture_output=True, text=True)
        finally:
            pwfile.unlink(missing_ok=True)
        if done.returncode != 0:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            raise StackError(
                f"postgres: initdb failed:\n{done.stdout[-1500:]}{done.stderr[-1500:]}"
            )

    def postmaster_pid(self) -> int | None:
        """Pid of the running server from ``postmaster.pid``, or None."""
        try:
            first = (self.data_dir / "postmaster.pid").read_text().splitlines()[0]
            pid = int(first)
        except (OSError, IndexError, ValueError):
            return None
        return pid if Path(f"/proc/{pid}").exists() else None

    def start(self) -> int:
        """Start the server (``pg_ctl -w start``) and return the postmaster's pid."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.log.touch(exist_ok=True)
        self._give_to_owner(self.log)
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} "
            f"-c unix_socket_directories={self.data_dir}"
        )
        argv = [
            find_binary("pg_ctl"),
            "-D",
            str(self.data_dir),
            "-o",
            options,
            "-l",
            str(self.log),
            "-w",
            "-t",
            "120",
            "start",
        ]
        done = subprocess.run(self._as_owner(argv), capture_output=True, text=True)
        pid = self.postmaster_pid()
        if done.returncode != 0 or pid is None:
            tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-15:])
            raise StackError(f"postgres: pg_ctl start failed: {done.stderr.strip()}\n{tail}")
        return pid

    def stop(self) -> None:
        """Stop the server (``pg_ctl -m fast -w stop``)."""
        argv = [find_binary("pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"]
        done = subprocess.run(self._as_owner(argv), capture_output=True, text=True)
        if done.returncode != 0 and self.postmaster_pid() is not None:
            raise StackError(f"postgres: pg_ctl stop failed: {done.stderr.strip()}")

    def url(self, database: str, driver: str = "psycopg2") -> str:
        """SQLAlchemy URL of ``database`` as the superuser (password included)."""
        return (
            f"postgresql+{driver}://{SUPERUSER}:{self.password()}@127.0.0.1:{self.port}/{database}"
        )

    def ensure_databases(self, names: list[str]) -> list[str]:
        """Create the databases in ``names`` that do not exist yet; return those created."""
        import psycopg2  # the 'postgres' extra; only the stack needs it here

        connection = psycopg2.connect(
            host="127.0.0.1",
            port=self.port,
            user=SUPERUSER,
            password=self.password(),
            dbname="postgres",
            connect_timeout=10,
        )
        connection.autocommit = True
        created = []
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT datname FROM pg_database")
                existing = {row[0] for row in cursor.fetchall()}
                for name in names:
                    if name not in existing:
                        cursor.execute(f'CREATE DATABASE "{name}"')
                        created.append(name)
        finally:
            connection.close()
        return created
