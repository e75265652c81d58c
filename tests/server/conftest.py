"""Server fixtures: a fresh, migrated database per test, the app on it, and API keys.

``db_url`` is the one place a database is chosen: SQLite for now; the PostgreSQL harness
parametrizes it, and every test below runs on both without change.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed")

from fastapi.testclient import TestClient  # noqa: E402

import wattprint  # noqa: E402
from wattprint.intensity import Intensity  # noqa: E402
from wattprint.sensors.fake import FakeDevice, FakeSensor  # noqa: E402
from wattprint.server.accounts import bootstrap, create_api_key  # noqa: E402
from wattprint.server.app import create_app  # noqa: E402
from wattprint.server.db import make_engine  # noqa: E402
from wattprint.server.migrate import upgrade  # noqa: E402
from wattprint.server.settings import Settings  # noqa: E402
from wattprint.sinks.memory import MemorySink  # noqa: E402
from wattprint.wire import to_wire  # noqa: E402

PEPPER = "test-pepper-not-secret"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'server.db'}"


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



class FixedIntensity:
    name = "fixed"

    def lookup(self, where, start, end):
        return Intensity(360.0, "XX", "test table", 2024)


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
