"""Trackers with a fake 100 W CPU, a fixed 360 g/kWh and a clock that moves only when a test's
training callback moves it, so every figure a framework logs is exact."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from fakes.intensity import FixedIntensity
from wattprint.sensors.fake import FakeDevice, FakeSensor
from wattprint.sinks.memory import MemorySink

# The helpers the tests import live in plain modules beside this file (never `from conftest`).
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

CPU_W = 100.0
G_PER_KWH = 360.0


@pytest.fixture
def tracked(clock):
    """Callback keywords (a fake CPU on the fake clock, a memory sink, a thread that never
    ticks by itself), the sink, and the figures to expect per second of fake time."""
    sink = MemorySink()
    settings = {
        "sensors": [FakeSensor([FakeDevice("fake:cpu", "cpu", CPU_W)], clock=clock)],
        "intensity": FixedIntensity(G_PER_KWH), "sinks": [sink], "clock": clock,
        "wall_clock": clock.wall_clock, "country": "FR", "interval_s": 3600,
    }
    return SimpleNamespace(settings=settings, sink=sink, clock=clock, cpu_w=CPU_W,
                           g_per_kwh=G_PER_KWH, g_per_j=G_PER_KWH / 3.6e6)
