"""Server fixtures: a fresh, migrated database per test, the app on it, and API keys.

``db_url`` is the one place a database is chosen: every test that uses it runs twice, on a fresh
SQLite file and on a fresh database of the real PostgreSQL server that `make test` starts
(pg_harness.py beside this file says what happens without one).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

# pg_harness beside this file, importable by name
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import pg_harness  # noqa: E402

# Read now: the autouse isolated_env fixture removes every WATTPRINT_* variable before each test.
_PG_ENVIRON = {name: os.environ[name] for name in (pg_harness.URL_VARIABLE, pg_harness.OPT_OUT_VARIABLE)
               if name in os.environ}

pytest.importorskip("fastapi", reason="the server extra is not installed")

from fastapi.testclient import TestClient  # noqa: E402
from server_constants import OWNER, PEPPER, FixedIntensity  # noqa: E402, F401

import wattprint  # noqa: E402
from wattprint.sensors.fake import FakeDevice, FakeSensor  # noqa: E402
from wattprint.server.accounts import bootstrap, create_api_key  # noqa: E402
from wattprint.server.app import create_app  # noqa: E402
from wattprint.server.db import make_engine  # noqa: E402
from wattprint.server.migrate import upgrade  # noqa: E402
from wattprint.server.settings import Settings  # noqa: E402
from wattprint.sinks.memory import MemorySink  # noqa: E402
from wattprint.wire import to_wire  # noqa: E402


@pytest.fixture(scope="session")
def pg_admin_engine():
    """An engine on the PostgreSQL test server's maintenance database, for CREATE/DROP DATABASE."""
    from sqlalchemy import create_engine

    engine = create_engine(pg_harness.server_url(_PG_ENVIRON), isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path):
    """A URL of a fresh, empty database: a new SQLite file, or a new PostgreSQL database dropped after."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'server.db'}"
        return
    admin_engine = request.getfixturevalue("pg_admin_engine")
    name = pg_harness.new_database_name()
    url = pg_harness.create_database(admin_engine, name)
    yield url
    pg_harness.drop_database(admin_engine, name)


@pytest.fixture
def engine(db_url: str):
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(db_url=db_url, pepper=PEPPER)


@pytest.fixture
def org(engine):
    """The bootstrapped organisation: ids and its first (ingest-only) key."""
    with engine.begin() as connection:
        return bootstrap(connection, organisation="Acme Research", email="owner@acme.test",
                         password="correct horse battery", pepper=PEPPER.encode(),
                         now_s=1_700_000_000.0)


class WallClock:
    """The server's wall clock in tests: set ``now_s`` to move it."""

    def __init__(self) -> None:
        self.now_s = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now_s


@pytest.fixture
def wall():
    return WallClock()


@pytest.fixture
def make_key(engine, org):
    def make(*, scopes=("ingest",), project_id=None) -> str:
        with engine.begin() as connection:
            return create_api_key(connection, project_id=project_id or org.project_id,
                                  pepper=PEPPER.encode(), now_s=time.time(), scopes=scopes)
    return make


@pytest.fixture
def client(settings, engine):
    app = create_app(settings, wall_clock=lambda: 1_800_000_000.0)
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


@pytest.fixture
def auth(org) -> dict[str, str]:
    return {"Authorization": f"Bearer {org.api_key}"}



def _tracked_run(clock, *, intervals: int = 3, **settings):
    """(sink, summary) of a run with a CPU at 50 W and a GPU at 250 W, one span."""
    sink = MemorySink()
    sensor = FakeSensor([FakeDevice("fake:cpu", "cpu", 50.0),
                         FakeDevice("fake:gpu", "gpu", 250.0, method="sampled")], clock=clock)
    settings.setdefault("country", "FR")
    tracker = wattprint.Tracker(sensors=[sensor], sinks=[sink], intensity=FixedIntensity(),
                                clock=clock, wall_clock=clock.wall_clock, interval_s=3600,
                                project="vision", experiment="resnet", **settings)
    tracker.start()
    with tracker.span("epoch"):
        clock.advance(10.0)
    for _ in range(intervals):
        clock.advance(36.0)
        tracker.flush()
    summary = tracker.stop()
    return sink, summary


def _wire_objects(sink: MemorySink) -> list[dict]:
    """Everything the run emitted, in the order a sender would send it."""
    items = [to_wire(sink.run)]
    items += [to_wire(r) for r in sink.records]
    items += [to_wire(s) for s in sink.spans]
    items += [to_wire(h) for h in sink.heartbeats]
    items.append(to_wire(sink.summary))
    return items


@pytest.fixture
def run_objects(clock):
    """(wire objects, summary) of one real tracker run."""
    sink, summary = _tracked_run(clock)
    return _wire_objects(sink), summary


@pytest.fixture
def driver(tmp_path):
    """A headless Chromium for the dashboard's browser tests (dashboard_browser_kit.py)."""
    from dashboard_browser_kit import browser

    d = browser.start_driver(tmp_path)
    yield d
    d.quit()
