"""Tracker -> exporter -> http sink -> a real local server implementing the ingest CONTRACT:
the server ends up with exactly the run's records and the summary's totals, through outages,
errors, garbage answers and slowness, and the host program is never blocked."""

from __future__ import annotations

import threading
import time

import pytest
from run_items import real_run

import wattprint
from fakes.ingest_server import GOOD_KEY, FakeIngestServer
from wattprint.exporter import Exporter
from wattprint.sensors.fake import FakeDevice, FakeSensor
from wattprint.sinks.http import HttpSink
from wattprint.spool import Spool
from wattprint.wire import to_wire


@pytest.fixture
def server():
    with FakeIngestServer() as running:
        yield running


def _tracker(clock, sink):
    sensor = FakeSensor([FakeDevice("fake:cpu", "cpu", 50.0), FakeDevice("fake:gpu", "gpu", 200.0)],
                        clock=clock)
    return wattprint.Tracker(sensors=[sensor], sinks=[sink], clock=clock,
                             wall_clock=clock.wall_clock, country="FR", interval_s=3600)


def _assert_server_holds(server, summary):
    run_id = summary.run_id
    records = sorted((v for (rid, _), v in server.records.items() if rid == run_id),
                     key=lambda r: r["seq"])
    assert [r["seq"] for r in records] == list(range(summary.records))
    assert sum(r["energy_j"] for r in records) == pytest.approx(summary.energy_j["total"])
    assert sum(r["emissions_g"] for r in records) == pytest.approx(summary.emissions_g, rel=1e-6)
    stored = server.summaries[run_id]
    assert stored["energy_j"] == pytest.approx(summary.energy_j)
    assert stored["emissions_g"] == pytest.approx(summary.emissions_g)
    assert server.runs[run_id]["run_id"] == run_id


def _spool(tracker):
    return Spool(tracker.config.store_path.parent / "spool")


def test_a_run_reaches_the_server_whole_through_an_outage_a_500_and_garbage(clock, server):
    tracker = _tracker(clock, HttpSink(server.url, GOOD_KEY))
    tracker.start()
    with tracker.span("train"):
        clock.advance(10.0)
        tracker.flush()  # seq 0 delivered
        server.down()
        for trouble in ("down", "error", "garbage"):
            if trouble != "down":
                server.mode = trouble
                if not server.is_up:
                    server.up()
            clock.advance(10.0)  # past the exporter's backoff on the injected clock
            tracker.flush()
        server.mode = "ok"
        clock.advance(70.0)
        tracker.flush()  # the backlog, kept through every failure, arrives now
    clock.advance(10.0)
    summary = tracker.stop()
    assert summary.records == 6
    _assert_server_holds(server, summary)
    assert summary.delivery == {"http": "delivered"}
    assert any("sink http failed" in w and "recovered" in w for w in summary.warnings)
    statuses = [r["status"] for r in server.requests]
    assert {500, 200} <= set(statuses)
    # the garbage answer came after the server had stored the batch: the resend was a duplicate
    assert server.spans[(summary.run_id, "train")]["count"] == 1


def test_a_server_down_at_the_end_gets_the_rest_from_the_spool(clock, server):
    tracker = _tracker(clock, HttpSink(server.url, GOOD_KEY))
    tracker.start()
    clock.advance(10.0)
    tracker.flush()
    server.down()
    for _ in range(3):
        clock.advance(10.0)
        tracker.flush()
    summary = tracker.stop()
    assert summary.delivery["http"].startswith("spooled: ")
    assert len(server.records) == 1
    server.up()
    report = _spool(tracker).deliver(lambda name: HttpSink(server.url, GOOD_KEY))
    assert report.ok and report.delivered
    _assert_server_holds(server, summary)


def test_a_slow_server_never_blocks_the_host_and_loses_nothing(clock, server):
    server.mode, server.delay_s = "slow", 0.6
    tracker = _tracker(clock, HttpSink(server.url, GOOD_KEY, read_timeout_s=0.2))
    tracker.start()
    clock.advance(10.0)
    flusher = threading.Thread(target=tracker.flush)  # the exporter is now waiting on the server
    flusher.start()
    slowest_s = 0.0
    for _ in range(200):  # the host's own calls meanwhile
        started = time.perf_counter()
        with tracker.span("step"):
            tracker.step(1)
        slowest_s = max(slowest_s, time.perf_counter() - started)
    flusher.join()
    assert slowest_s < 0.05
    started = time.monotonic()
    summary = tracker.stop()
    assert time.monotonic() - started < 4.0  # bounded by the exporter's close timeout
    assert summary.delivery["http"].startswith("spooled: ")
    server.mode = "ok"
    report = _spool(tracker).deliver(lambda name: HttpSink(server.url, GOOD_KEY))
    assert report.ok
    _assert_server_holds(server, summary)
    assert server.spans[(summary.run_id, "step")]["count"] == 200


def test_a_batch_the_server_rejects_is_set_aside_and_does_not_block_the_rest(clock, server,
                                                                            tmp_path):
    info, first, second, *_ = real_run(2)
    spool = Spool(tmp_path / "spool")
    exporter = Exporter([HttpSink(server.url, GOOD_KEY)], run_id=info.run_id, spool=spool,
                        clock=clock, wall_clock=clock.wall_clock, heartbeat_s=0)
    exporter.start(info)
    server.mode = "reject"
    exporter.submit(first)
    assert exporter.flush()  # nothing left pending: the rejected batch went to the spool
    server.mode = "ok"
    exporter.submit(second)
    assert exporter.flush()
    assert list(server.records) == [(info.run_id, 1)]
    assert any("sink http rejected a batch" in w and "rejected by the test" in w
               and "spooled to" in w for w in exporter.warnings)
    delivery = exporter.close()
    assert delivery["http"].startswith("spooled: ")  # kept, and said so
    report = spool.deliver(lambda name: HttpSink(server.url, GOOD_KEY))
    assert report.ok
    assert server.records[(info.run_id, 0)] == to_wire(first)
