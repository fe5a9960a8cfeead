"""The stack's files: private credentials, client settings, ports, deploy stamp."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from crucible.exceptions import StackError
from crucible.ops.stack import DEFAULT_PORTS, Stack, StackLayout, _digest


def _stack(tmp_path: Path, **ports: int) -> Stack:
    layout = StackLayout(project=tmp_path, root=tmp_path / "stack", home=tmp_path / "home")
    return Stack(layout, ports)


def test_secrets_are_private_and_kept(tmp_path: Path) -> None:
    stack = _stack(tmp_path)
    folder = stack.ensure_secrets()
    assert folder.stat().st_mode & 0o777 == 0o700
    first = {p.name: p.read_text() for p in folder.iterdir()}
    assert set(first) == {"postgres-password", "prefect-auth-string"}
    for path in folder.iterdir():
        assert path.stat().st_mode & 0o777 == 0o600
    assert first["prefect-auth-string"].startswith("crucible:")
    stack.ensure_secrets()
    assert {p.name: p.read_text() for p in folder.iterdir()} == first  # not regenerated


def test_env_file_is_private_and_points_clients_at_the_stack(tmp_path: Path) -> None:
    stack = _stack(tmp_path, prefect=14200, mlflow=15000, postgres=15432)
    stack.ensure_secrets()
    stack._write_env_file()
    env_file = stack.layout.env_file
    assert env_file.stat().st_mode & 0o777 == 0o600
    text = env_file.read_text()
    assert "export PREFECT_API_URL=http://127.0.0.1:14200/api" in text
    assert f"export PREFECT_API_AUTH_STRING={stack.auth_string()}" in text
    assert "CRUCIBLE_CAMPAIGN_STORE_URL=postgresql+psycopg2://crucible:" in text
    assert "@127.0.0.1:15432/crucible" in text
    assert "export CRUCIBLE_MLFLOW_TRACKING_URI=http://127.0.0.1:15000" in text
    assert "CRUCIBLE_ALLOW_IMPORT_PATHS" not in text


def test_ports_are_kept_after_the_first_up(tmp_path: Path) -> None:
    stack = _stack(tmp_path, prefect=14201)
    stack.layout.root.mkdir(parents=True)
    stack._save_ports(stack.ports())
    later = _stack(tmp_path)
    assert later.ports() == {**DEFAULT_PORTS, "prefect": 14201}


def test_a_taken_port_names_the_option_to_change_it(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        stack = _stack(tmp_path, mlflow=port)
        with pytest.raises(StackError, match=r"port \d+ .*--mlflow-port N"):
            stack._check_port("mlflow", "mlflow")


def test_deploy_stamp_follows_prefect_yaml(tmp_path: Path) -> None:
    (tmp_path / "prefect.yaml").write_text("deployments: []\n")
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "a_flow.py").write_text("x = 1\n")
    before = _digest(tmp_path)
    assert _digest(tmp_path) == before
    (tmp_path / "flows" / "a_flow.py").write_text("x = 2\n")
    assert _digest(tmp_path) != before
