"""A local HTTP server on 127.0.0.1 that answers like the ChEMBL REST API.

It serves the JSON fixtures in ``tests/data/chembl/`` under ``/chembl/api/data``: the
``status``, ``target`` (with ``/search``), ``activity`` and ``molecule`` resources, with
ChEMBL's filters (``field``, ``__in``, ``__iexact``, ``__isnull``, ``__icontains``), ``only``,
``limit``/``offset`` paging and ``page_meta``. Requests come as ChEMBL's own client sends
them: ``POST`` with ``X-HTTP-Method-Override: GET`` and a JSON body of ``[key, value]``
pairs (URL-quoted values), or plain ``GET`` with a query string.

Faults are injected per request path: ``server.fail("activity", "500", times=1)`` answers
the next matching request with HTTP 500 (any status given as digits, e.g. ``"404"``);
``"timeout"`` sleeps before answering; ``"truncate"`` sends half the JSON body with status
200.

:func:`serve_fake_chembl` (wrapped in a fixture by the tests that need it) starts the server
on a free port, points ``CRUCIBLE_CHEMBL_BASE_URL`` at it and stops it afterwards.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest

FIXTURES = Path(__file__).parent / "chembl"
PREFIX = "/chembl/api/data"
_OPS = {"in", "iexact", "isnull", "icontains", "exact"}
_COLLECTIONS = {"activity": "activities", "molecule": "molecules", "target": "targets"}


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _match(record: dict[str, Any], key: str, value: Any) -> bool:
    field, _, op = key.rpartition("__")
    if op not in _OPS:
        field, op = key, "exact"
    actual = record.get(field)
    wanted = unquote(value) if isinstance(value, str) else value
    if op == "isnull":
        is_null = str(wanted).lower() in {"true", "1"}
        return (actual is None) == is_null
    if op == "in":  # a JSON array, or a comma-separated (URL-quoted) string
        options = wanted if isinstance(wanted, list) else str(wanted).split(",")
        return _text(actual) in {unquote(str(option)) for option in options}
    if op == "iexact":
        return _text(actual).casefold() == str(wanted).casefold()
    if op == "icontains":
        return str(wanted).casefold() in _text(actual).casefold()
    return _text(actual) == str(wanted)


def _search_score(record: dict[str, Any], query: str) -> float:
    names = [record.get("pref_name") or ""]
    for component in record.get("target_components") or []:
        names.append(component.get("accession") or "")
        names += [s["component_synonym"] for s in component["target_component_synonyms"]]
    query = query.casefold()
    if any(name.casefold() == query for name in names):
        return 16.0
    return 10.0 if any(query in name.casefold() for name in names) else 0.0


class FakeChembl(ThreadingHTTPServer):
    """The server; ``base_url`` is what ``CRUCIBLE_CHEMBL_BASE_URL`` should be."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.data = {
            "activity": load_fixture("activities.json"),
            "molecule": load_fixture("molecules.json"),
            "target": load_fixture("targets.json"),
        }
        self.status = load_fixture("status.json")
        self.faults: list[list[Any]] = []  # [path substring, kind, remaining, delay]
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.base_url = f"http://127.0.0.1:{self.server_address[1]}{PREFIX}"

    def fail(self, path_part: str, kind: str, times: int = 1, delay_s: float = 2.0) -> None:
        """Answer the next ``times`` requests whose path contains ``path_part`` with a fault."""
        with self.lock:
            self.faults.append([path_part, kind, times, delay_s])

    def take_fault(self, path: str) -> tuple[str, float] | None:
        with self.lock:
            for fault in self.faults:
                if fault[0] in path and fault[2] > 0:
                    fault[2] -= 1
                    return fault[1], fault[3]
        return None

    def respond(self, path: str, params: list[tuple[str, Any]]) -> tuple[int, dict[str, Any]]:
        """The status code and JSON payload for one request."""
        resource = path[len(PREFIX) :].strip("/").removesuffix(".json")
        if resource == "status":
            return 200, self.status
        search = resource.endswith("/search")
        resource = resource.removesuffix("/search")
        if resource not in self.data:
            return 404, {"error_message": f"unknown resource {resource}"}
        options = {k: v for k, v in params if k in {"limit", "offset", "q"}}
        records = self._select(resource, params, search, options.get("q"))
        limit = int(options.get("limit", 20))
        offset = int(options.get("offset", 0))
        page = records[offset : offset + limit]
        only = [unquote(str(v)) for k, v in params if k == "only"]
        if only:
            page = [{k: r.get(k) for k in only} for r in page]
        after = offset + limit
        meta = {
            "limit": limit,
            "offset": offset,
            "total_count": len(records),
            "next": f"{PREFIX}/{resource}.json?limit={limit}&offset={after}"
            if after < len(records)
            else None,
            "previous": None if offset == 0 else f"{PREFIX}/{resource}.json?offset={offset}",
        }
        return 200, {_COLLECTIONS[resource]: page, "page_meta": meta}

    def _select(
        self, resource: str, params: list[tuple[str, Any]], search: bool, query: Any
    ) -> list[dict[str, Any]]:
        records = self.data[resource]
        if search:
            text = unquote(str(query or ""))
            scored = [(r, _search_score(r, text)) for r in records]
            records = [{**r, "score": s} for r, s in sorted(scored, key=lambda p: -p[1]) if s > 0]
        filters = [(k, v) for k, v in params if k not in {"limit", "offset", "q", "only"}]
        return [r for r in records if all(_match(r, k, v) for k, v in filters)]


class _Handler(BaseHTTPRequestHandler):
    server: FakeChembl

    def log_message(self, format: str, *args: Any) -> None:  # silence the default log
        return None

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        self._answer(url.path, parse_qsl(url.query))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        params = [tuple(pair) for pair in json.loads(body)] if body else []
        url = urlsplit(self.path)
        self._answer(url.path, params + parse_qsl(url.query))

    def _answer(self, path: str, params: list[Any]) -> None:
        self.server.hits[path] += 1
        fault = self.server.take_fault(path)
        if fault and fault[0] == "timeout":
            time.sleep(fault[1])
        if fault and fault[0].isdigit():  # an HTTP status: "404", "429", "500", "503"
            self._send(int(fault[0]), b'{"error_message": "fault injected by the test"}')
            return
        status, payload = self.server.respond(path, params)
        body = json.dumps(payload).encode()
        if fault and fault[0] == "truncate":
            body = body[: len(body) // 2]
        self._send(status, body)

    def _send(self, status: int, body: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            pass


def serve_fake_chembl(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeChembl]:
    """Run a fake ChEMBL on a free 127.0.0.1 port and point the settings at it.

    Wrap it in a fixture where needed::

        @pytest.fixture
        def chembl_server(monkeypatch):
            yield from serve_fake_chembl(monkeypatch)
    """
    server = FakeChembl()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setenv("CRUCIBLE_CHEMBL_BASE_URL", server.base_url)
    monkeypatch.setenv("CRUCIBLE_CHEMBL_TIMEOUT_S", "5")
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
