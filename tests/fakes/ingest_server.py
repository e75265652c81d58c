"""A real local HTTP server playing the team server's ingest endpoint, for the http-sink tests.

It implements the CONTRACT's ``POST /api/v1/ingest`` (and ``GET /api/v1/key``, which
``wattprint login`` uses to check a key) minimally but strictly, so a client that
gets the contract wrong fails here as it would against the real server:

- ``Authorization: Bearer <key>``: missing or unknown -> 401; a key without the ``ingest`` scope
  -> 403; every error body is ``{"detail": {"index", "field", "message"}}``.
- the body must be JSON ``{"items": [...]}``, each item a wire object that validates against
  wattprint's published JSON Schema (400 naming the item's index and field otherwise); a body over
  ``max_body_bytes`` -> 413. A batch is all-or-nothing.
- idempotent: records by (run_id, seq), spans by (run_id, span_id) (newer replaces), run info
  and summary by run_id; answers 200 ``{"accepted": n, "duplicates": m}``.

``mode`` plays a broken server: "slow" sleeps ``delay_s`` before answering (the only real sleep:
keep it tiny), "error" answers 500, "garbage" answers 200 with a body that is not JSON,
"reject" answers 400. :meth:`down` closes the listening socket (connections refused) and
:meth:`up` opens it again on the same port. It stands in for the real app
(``wattprint.server.app``) until that exists.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


class FakeIngestServer:
    def __init__(self, *, keys: dict[str, set[str]] | None = None, mode: str = "ok",
                 delay_s: float = 0.3, max_body_bytes: int = 5_000_000) -> None:
        self.keys = keys if keys is not None else {GOOD_KEY: {"ingest", "read"}}
        self.mode = mode
        self.delay_s = delay_s
        self.max_body_bytes = max_body_bytes
        self.runs: dict[str, dict[str, Any]] = {}
        self.records: dict[tuple[str, int], dict[str, Any]] = {}
        self.spans: dict[tuple[str, str], dict[str, Any]] = {}
        self.summaries: dict[str, dict[str, Any]] = {}
        self.requests: list[dict[str, Any]] = []  # method, path, headers, status, items
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        from jsonschema import Draft202012Validator

        from wattprint.wire import schema

        self._validator = Draft202012Validator(schema())

    # -- life ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def is_up(self) -> bool:
        return self._server is not None

    def up(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                fake._handle(self)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                fake._handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def down(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> FakeIngestServer:
        self.up()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.down()

    # -- the endpoint ----------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        length = int(headers.get("content-length", "0"))
        body = handler.rfile.read(length) if length else b""
        status, answer = self._answer(handler.path, headers, body)
        if self.mode == "slow":
            time.sleep(self.delay_s)
        raw = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(raw)))
            handler.end_headers()
            handler.wfile.write(raw)
        except OSError:
            pass  # the client gave up (timeout): as a real server, carry on

    def _answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        seen: dict[str, Any] = {"path": path, "headers": headers, "items": None}
        with self._lock:
            self.requests.append(seen)
        if path == "/api/v1/key" and self.mode == "ok":
            return self._describe_key(seen, headers)
        if path != "/api/v1/ingest":
            seen["status"] = 404
            return 404, {"detail": "Not Found"}
        if self.mode == "error":
            seen["status"] = 500
            return 500, b"Internal Server Error"
        if self.mode == "reject":
            seen["status"] = 400
            return 400, _error(None, None, "rejected by the test")
        auth = headers.get("authorization", "")
        key = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
        if key is None or key not in self.keys:
            seen["status"] = 401
            return 401, _error(None, None, "missing or unknown API key")
        if "ingest" not in self.keys[key]:
            seen["status"] = 403
            return 403, _error(None, None, "this key lacks the ingest scope")
        if len(body) > self.max_body_bytes:
            seen["status"] = 413
            return 413, _error(None, None, "request too large")
        try:
            data = json.loads(body)
            items = data["items"]
            if not isinstance(items, list):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            seen["status"] = 400
            return 400, _error(None, "items", "body must be JSON {\"items\": [...]}")
        for index, item in enumerate(items):
            error = _first_error(self._validator, item)
            if error is not None:
                seen["status"] = 400
                where = "/".join(str(p) for p in error.absolute_path) or None
                return 400, _error(index, where, error.message)
        seen["items"] = items
        if self.mode == "garbage":
            self._store(items)
            seen["status"] = 200
            return 200, b"<html>maintenance</html>"
        accepted, duplicates = self._store(items)
        seen["status"] = 200
        return 200, {"accepted": accepted, "duplicates": duplicates}

    def _describe_key(self, seen: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
        auth = headers.get("authorization", "")
        key = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
        if key is None or key not in self.keys:
            seen["status"] = 401
            return 401, _error(None, None, "missing or unknown API key")
        seen["status"] = 200
        return 200, {"prefix": key.split("_")[1], "scopes": sorted(self.keys[key]),
                     "project": {"id": 1, "name": "vision"},
                     "organisation": {"id": 1, "name": "acme"}}

    def _store(self, items: list[dict[str, Any]]) -> tuple[int, int]:
        accepted = duplicates = 0
        with self._lock:
            for item in items:
                kind, run_id = item["type"], item.get("run_id")
                table: dict[Any, dict[str, Any]]
                if kind == "record":
                    table, key = self.records, (run_id, item["seq"])
                elif kind == "span":
                    table, key = self.spans, (run_id, item["span_id"])
                elif kind == "run":
                    table, key = self.runs, run_id
                elif kind == "summary":
                    table, key = self.summaries, run_id
                else:  # heartbeats: liveness only
                    accepted += 1
                    continue
                if table.get(key) == item:
                    duplicates += 1
                else:
                    accepted += 1
                table[key] = item
        return accepted, duplicates


def _first_error(validator: Any, item: Any) -> Any:
    """The schema error that names the item's own field: the schema is a oneOf over the item
    types, so look inside the branch whose ``type`` matched."""
    error = next(iter(validator.iter_errors(item)), None)
    if error is None or error.validator != "oneOf":
        return error
    branches: dict[Any, list[Any]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    for errors in branches.values():
        if not any(e.validator == "const" and list(e.absolute_path) == ["type"] for e in errors):
            return errors[0]
    return error


GOOD_KEY = "wp_abcd1234_" + "s" * 43


def _error(index: int | None, field: str | None, message: str) -> dict[str, Any]:
    return {"detail": {"index": index, "field": field, "message": message}}
