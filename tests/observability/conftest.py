"""Real trackers with fake hardware on a fake clock, for the observability sinks' tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import wattprint
from fakes.intensity import FixedIntensity
from wattprint.sensors.fake import FakeDevice, FakeSensor

# The helpers the tests import live in a plain module beside this file (never `from conftest`).
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

G_PER_KWH = 360.0


@pytest.fixture
def make_tracker(clock):
    """make_tracker(*sinks, **settings): a tracker over a 50 W CPU, a 250 W sampled GPU and a
    5 W RAM model on the fake clock; the thread never ticks by itself (tests flush)."""

    def make(*sinks, **settings):
        devices = [FakeDevice("fake:cpu", "cpu", 50.0),
                   FakeDevice("fake:gpu", "gpu", 250.0, method="sampled"),
                   FakeDevice("fake:ram", "ram", 5.0, method="modelled")]
        settings.setdefault("country", "FR")
        settings.setdefault("interval_s", 3600)
        settings.setdefault("project", "vision")
        settings.setdefault("experiment", "resnet")
        return wattprint.Tracker(sensors=[FakeSensor(devices, clock=clock)], sinks=list(sinks),
                                 intensity=FixedIntensity(G_PER_KWH), clock=clock,
                                 wall_clock=clock.wall_clock, **settings)

    return make
