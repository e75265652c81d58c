"""Items of a real (fake-sensor, fake-clock) tracker run: valid wire objects for the server."""

from __future__ import annotations

from typing import Any

import wattprint
from fakes.clock import FakeClock
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
