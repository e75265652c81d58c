"""The round trip against the REAL server: tracker -> exporter -> http sink -> uvicorn serving
``wattprint.server.app.create_app`` -> its database, which then holds exactly the run's records
and the summary's energy and emissions, even when the server was down for part of the run."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed")
pytest.importorskip("uvicorn", reason="the server extra is not installed")

from real_server import PEPPER, RealServer, bootstrapped  # noqa: E402
from run_items import login, stored_run  # noqa: E402
from sqlalchemy import select  # noqa: E402

import wattprint  # noqa: E402
from wattprint.cli import main  # noqa: E402
from wattprint.sensors.fake import FakeDevice, FakeSensor  # noqa: E402
from wattprint.server.accounts import create_api_key  # noqa: E402
from wattprint.server.app import create_app  # noqa: E402
from wattprint.server.models import IntervalRecord, Span, Summary  # noqa: E402
from wattprint.server.settings import Settings  # noqa: E402
from wattprint.sinks.http import HttpSink  # noqa: E402
from wattprint.spool import Spool  # noqa: E402


@pytest.fixture
def real(tmp_path: Path):
    db_url, engine, org = bootstrapped(tmp_path)
    server = RealServer(Settings(db_url=db_url, pepper=PEPPER))
    server.up()
    server.project_id = org.project_id
    yield server, engine, org.api_key
    server.down()
    engine.dispose()


def _tracker(clock, sink):
    sensor = FakeSensor([FakeDevice("fake:cpu", "cpu", 50.0), FakeDevice("fake:gpu", "gpu", 200.0)],
                        clock=clock)
    return wattprint.Tracker(sensors=[sensor], sinks=[sink], clock=clock,
                             wall_clock=clock.wall_clock, country="FR", interval_s=3600,
                             project="vision", experiment="resnet")


def _assert_database_holds(engine, summary):
    with engine.connect() as connection:
        records = connection.execute(select(IntervalRecord).where(
            IntervalRecord.run_id == summary.run_id).order_by(IntervalRecord.seq)).all()
        stored = connection.execute(select(Summary).where(
            Summary.run_id == summary.run_id)).one()
        spans = connection.execute(select(Span).where(Span.run_id == summary.run_id)).all()
    assert [r.seq for r in records] == list(range(summary.records))
    assert sum(r.energy_j for r in records) == pytest.approx(summary.energy_j["total"])
    assert sum(r.emissions_g for r in records) == pytest.approx(summary.emissions_g, rel=1e-6)
    assert stored.energy_j == pytest.approx(summary.energy_j["total"])
    assert stored.emissions_g == pytest.approx(summary.emissions_g)
    assert stored.records == summary.records
    assert [(s.span_id, s.count) for s in spans] == [("epoch", 1)]


def test_a_run_reaches_the_real_servers_database_exactly(clock, real):
    server, engine, key = real
    tracker = _tracker(clock, HttpSink(server.url, key))
    tracker.start()
    with tracker.span("epoch"):
        for _ in range(3):
            clock.advance(10.0)
            tracker.flush()
    clock.advance(10.0)
    summary = tracker.stop()
    assert summary.delivery == {"http": "delivered"}
    assert summary.records == 4
    _assert_database_holds(engine, summary)


def test_with_the_server_down_for_part_of_the_run_the_spool_delivers_the_rest(clock, real):
    server, engine, key = real
    tracker = _tracker(clock, HttpSink(server.url, key))
    tracker.start()
    with tracker.span("epoch"):
        clock.advance(10.0)
        tracker.flush()  # delivered
        server.down()
        for _ in range(3):
            clock.advance(10.0)
            tracker.flush()  # kept, retried with backoff
    clock.advance(10.0)
    summary = tracker.stop()
    assert summary.delivery["http"].startswith("spooled: ")
    server.up()
    report = Spool(tracker.config.store_path.parent / "spool").deliver(
        lambda name: HttpSink(server.url, key))
    assert report.ok and report.delivered
    _assert_database_holds(engine, summary)
    # and once more: ingest is idempotent, nothing is counted twice
    HttpSink(server.url, key).export([tracker.info])
    _assert_database_holds(engine, summary)


def test_login_and_push_against_the_real_server(real, monkeypatch, capsys):
    server, engine, key = real
    with engine.begin() as connection:
        read_only = create_api_key(connection, project_id=server.project_id,
                                   pepper=PEPPER.encode(), now_s=time.time(), scopes=("read",))
    code, said = login(monkeypatch, capsys, server.url, read_only)
    assert code == 0 and read_only not in said
    assert "it may list runs with `wattprint runs --server`;" in said and "send runs" not in said
    first, second = stored_run(3), stored_run(2)
    assert main(["push", "--all"]) == 1  # a read key cannot ingest: refused, nothing stored
    said = capsys.readouterr()
    assert "403" in said.out + said.err and "ingest" in said.out + said.err
    assert read_only not in said.out + said.err
    code, said = login(monkeypatch, capsys, server.url, key)
    assert code == 0 and key not in said
    assert main(["push", "--all"]) == 0
    for summary in (first, second):
        _assert_database_holds(engine, summary)
    assert main(["push", first.run_id]) == 0  # again: idempotent, nothing counted twice
    _assert_database_holds(engine, first)


def test_a_prediction_reaches_the_real_server_and_its_query_api_exactly(clock, real):
    # the one schema end to end: tracker -> http sink -> uvicorn -> database -> query API
    from fastapi.testclient import TestClient

    from wattprint.wire import to_wire

    server, engine, key = real
    tracker = _tracker(clock, HttpSink(server.url, key))
    tracker.start()
    tracker.expect(total=60, unit="steps")
    for _ in range(4):
        for _ in range(10):
            clock.advance(1.0)
            tracker.step(1, unit="steps")
        tracker.flush()
    summary = tracker.stop()
    assert summary.delivery == {"http": "delivered"}
    last = tracker.prediction
    assert last is not None and last.done == 40
    assert last.energy_j == pytest.approx(250.0 * 60)  # 50 + 200 W, 1 s a step
    with engine.begin() as connection:
        read = create_api_key(connection, project_id=server.project_id, pepper=PEPPER.encode(),
                              now_s=time.time(), scopes=("read",))
    with TestClient(create_app(server.settings)) as client:
        got = client.get(f"/api/v1/runs/{summary.run_id}/prediction",
                         headers={"Authorization": f"Bearer {read}"})
    assert got.status_code == 200, got.text
    assert got.json()["prediction"] == to_wire(last)
