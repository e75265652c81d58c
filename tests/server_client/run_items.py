"""Items of a real (fake-sensor, fake-clock) tracker run: valid wire objects for the server."""

from __future__ import annotations

import io
from typing import Any

import wattprint
from fakes.clock import FakeClock
from wattprint.cli import main
from wattprint.records import RunSummary
from wattprint.sensors.fake import FakeDevice, FakeSensor
from wattprint.sinks.memory import MemorySink


def real_run(records: int, *, span: str = "train") -> list[Any]:
    """[run info, ``records`` records, one span aggregate, summary] of one finished run."""
    clock = FakeClock()
    memory = MemorySink()
    sensor = FakeSensor([FakeDevice("fake:cpu", "cpu", 50.0), FakeDevice("fake:ram", "ram", 5.0)],
                        clock=clock)
    tracker = wattprint.Tracker(sensors=[sensor], sinks=[memory], clock=clock,
                                wall_clock=clock.wall_clock, country="FR", interval_s=3600)
    tracker.start()
    with tracker.span(span):
        for _ in range(records - 1):
            clock.advance(5.0)
            tracker.flush()
    clock.advance(5.0)
    tracker.stop()
    assert len(memory.records) == records
    return [memory.run, *memory.records, *memory.spans, memory.summary]


def stored_run(records: int) -> RunSummary:
    """A finished run in the local store (the default sqlite sink under WATTPRINT_HOME)."""
    clock = FakeClock()
    sensor = FakeSensor([FakeDevice("fake:cpu", "cpu", 40.0)], clock=clock)
    tracker = wattprint.Tracker(sensors=[sensor], clock=clock, wall_clock=clock.wall_clock,
                                country="FR", interval_s=3600)
    tracker.start()
    with tracker.span("epoch"):
        for _ in range(records - 1):
            clock.advance(5.0)
            tracker.flush()
    clock.advance(5.0)
    return tracker.stop()


def login(monkeypatch: Any, capsys: Any, url: str, key: str) -> tuple[int, str]:
    """`wattprint login URL --key-stdin` with ``key`` on stdin: (exit code, all it printed)."""
    monkeypatch.setattr("sys.stdin", io.StringIO(key + "\n"))
    code = main(["login", url, "--key-stdin"])
    out, err = capsys.readouterr()
    return code, out + err
