"""Graceful shutdown with a REAL server process: an ingest in flight when SIGTERM (or SIGINT)
arrives completes with 200 and all its data stored, a new connection is refused, the process
exits 0; past the shutdown timeout the held request is cancelled and stores nothing."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from server_constants import PEPPER  # tests/server is on sys.path (see conftest)
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from wattprint.server.models import IntervalRecord, Summary

HELD_APP = Path(__file__).with_name("held_app.py")
DEADLINE_S = 30.0  # generous bounds for a loaded 2-core machine; polls end as soon as true


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _until(condition, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
    except ConnectionRefusedError:
        return True
    return False


class HeldServer:
    """tests/server/held_app.py in its own process, configured through a config file."""

    def __init__(self, tmp_path: Path, db_url: str, *, shutdown_timeout_s: float,
                 workers: int = 1) -> None:
        self.hold_dir = tmp_path / "hold"
        self.hold_dir.mkdir()
        (tmp_path / "pepper").write_text(PEPPER)
        self.port = _free_port()
        config = tmp_path / "server.toml"
        config.write_text(f'db = "{db_url}"\nport = {self.port}\npepper_file = "pepper"\n'
                          f'access_log = "json"\nshutdown_timeout_s = {shutdown_timeout_s}\n'
                          f"workers = {workers}\n")
        self.log_path = tmp_path / "server.log"
        environ = {**os.environ, "WATTPRINT_TEST_HOLD_DIR": str(self.hold_dir)}
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(HELD_APP), "--config", str(config)],
                stdout=subprocess.DEVNULL, stderr=log, env=environ)
        self.url = f"http://127.0.0.1:{self.port}"
        _until(self._ready, "the server to answer /readyz")

    def _ready(self) -> bool:
        assert self.process.poll() is None, self.log_path.read_text()
        try:
            return httpx.get(f"{self.url}/readyz", timeout=1.0).status_code == 200
        except httpx.TransportError:
            return False

    def log_lines(self) -> list[dict]:
        return [json.loads(line) for line in self.log_path.read_text().splitlines()]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def start_server(tmp_path, db_url, engine, org):
    started: list[HeldServer] = []

    def start(**options) -> HeldServer:
        started.append(HeldServer(tmp_path, db_url, **options))
        return started[-1]

    yield start
    for server in started:
        server.stop()


def _post_in_background(server: HeldServer, items: list, key: str) -> tuple[threading.Thread,
                                                                            dict]:
    outcome: dict = {}

    def post() -> None:
        try:
            outcome["response"] = httpx.post(
                f"{server.url}/api/v1/ingest", json={"items": items}, timeout=DEADLINE_S,
                headers={"Authorization": f"Bearer {key}"})
        except httpx.HTTPError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=post)
    thread.start()
    _until((server.hold_dir / "held").exists, "the ingest to be in flight")
    return thread, outcome


def _shown(db_url: str) -> str:
    return make_url(db_url).render_as_string(hide_password=True)


def _stored(engine) -> tuple[int, int]:
    with engine.connect() as connection:
        return (connection.execute(select(func.count()).select_from(IntervalRecord)).scalar_one(),
                connection.execute(select(func.count()).select_from(Summary)).scalar_one())


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_a_signal_lets_the_ingest_in_flight_finish_and_refuses_new_connections(
        start_server, engine, org, run_objects, stop_signal, db_url):
    if stop_signal == signal.SIGINT and db_url.startswith("postgresql"):
        pytest.skip("SIGINT takes the same path as SIGTERM: checked once, on SQLite")
    items, summary = run_objects
    records = sum(item["type"] == "record" for item in items)
    server = start_server(shutdown_timeout_s=20)
    thread, outcome = _post_in_background(server, items, org.api_key)

    server.process.send_signal(stop_signal)
    _until(lambda: _refuses_connections(server.port), "the listening socket to close")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/healthz", timeout=2.0)
    assert server.process.poll() is None  # still finishing the held request
    assert _stored(engine) == (0, 0)

    (server.hold_dir / "release").touch()
    thread.join(DEADLINE_S)
    response = outcome["response"]
    assert response.status_code == 200
    assert response.json() == {"accepted": len(items), "duplicates": 0}
    assert server.process.wait(DEADLINE_S) == 0
    assert _stored(engine) == (records, 1) and records == summary.records

    lines = server.log_lines()  # every stderr line is JSON: ours and uvicorn's own
    access = [line for line in lines if "request_id" in line]
    ingest = [line for line in access if line["path"] == "/api/v1/ingest"]
    assert [(line["status"], line["accepted"]) for line in ingest] == [(200, len(items))]
    assert {line["path"] for line in access} == {"/readyz", "/api/v1/ingest"}
    messages = [line["message"] for line in lines if line.get("logger", "").startswith("uvicorn")]
    assert "Shutting down" in messages and not any("HTTP/1.1" in m for m in messages)
    assert [line["message"] for line in lines if line.get("logger") == "wattprint.server"] == [
        f"serving on http://127.0.0.1:{server.port} (database {_shown(db_url)})"]
    assert org.api_key not in server.log_path.read_text()


def test_past_the_shutdown_timeout_the_held_ingest_is_cancelled_and_stores_nothing(
        start_server, engine, org, run_objects):
    items, _ = run_objects
    server = start_server(shutdown_timeout_s=1)
    thread, outcome = _post_in_background(server, items, org.api_key)
    signalled = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(DEADLINE_S) == 0  # never released: the timeout ends it
    assert time.monotonic() - signalled >= 1.0
    thread.join(DEADLINE_S)
    assert "response" not in outcome or outcome["response"].status_code >= 500
    assert _stored(engine) == (0, 0)  # all or nothing: the cancelled batch left no rows
    messages = [line.get("message", "") for line in server.log_lines()]
    assert any("timeout graceful shutdown exceeded" in message for message in messages)


def test_with_two_worker_processes_the_ingest_in_flight_finishes_too(start_server, engine, org,
                                                                     run_objects, db_url):
    if db_url.startswith("sqlite"):
        pytest.skip("several workers are for PostgreSQL (SQLite has one writer); the same path")
    items, summary = run_objects
    server = start_server(shutdown_timeout_s=20, workers=2)
    thread, outcome = _post_in_background(server, items, org.api_key)
    server.process.send_signal(signal.SIGTERM)  # the supervisor passes it to its workers
    _until(lambda: "Received SIGTERM" in server.log_path.read_text(), "the supervisor to stop")
    assert _stored(engine) == (0, 0)
    (server.hold_dir / "release").touch()
    thread.join(DEADLINE_S)
    assert outcome["response"].status_code == 200
    assert outcome["response"].json() == {"accepted": len(items), "duplicates": 0}
    assert server.process.wait(DEADLINE_S) == 0
    assert _stored(engine) == (summary.records, 1)
    lines = server.log_lines()
    assert sum(line.get("message", "").startswith("Started server process") for line in lines) == 2
    assert [line["message"] for line in lines if line.get("logger") == "wattprint.server"] == [
        f"serving on http://127.0.0.1:{server.port} with 2 worker processes "
        f"(database {_shown(db_url)})"]
    assert [line["status"] for line in lines if line.get("path") == "/api/v1/ingest"] == [200]
