"""advice.waste on a run recorded by the real Tracker (fake sensors on a fake clock, the real
local store): the device info the tracker writes is what the waste scan reads."""

from __future__ import annotations

import pytest

import wattprint
from fakes.clock import FakeClock
from wattprint.advice.waste import waste_report
from wattprint.config import load_config
from wattprint.sensors.fake import FakeDevice, FakeSensor
from wattprint.store import open_repository

T0 = 1_767_225_600.0
STEP_S = 10.0


def test_an_idle_gpu_phase_recorded_by_the_tracker_is_found():
    clock = FakeClock(wall_start_s=T0)
    start_s = clock()

    def gpu_w(now_s: float) -> float:
        """300 W, except 50 W (left idle) from 40 s to 80 s."""
        return 50.0 if 40.0 <= now_s - start_s < 80.0 else 300.0

    devices = [FakeDevice("fake:cpu", "cpu", 40.0), FakeDevice("fake:gpu", "gpu", gpu_w)]
    tracker = wattprint.Tracker(sensors=[FakeSensor(devices, clock=clock)], clock=clock,
                                wall_clock=clock.wall_clock, country="FR", interval_s=3600,
                                project="advice", store_flush_s=0)
    tracker.start()
    for _ in range(10):  # ten records of 10 s each
        clock.advance(STEP_S)
        tracker.flush()
    summary = tracker.stop()  # no time since the last flush: a last record of 0 s
    repo = open_repository(load_config().store_path)
    try:
        report = waste_report(repo.info(summary.run_id), repo.records(summary.run_id))
    finally:
        repo.close()
    [idle] = report.findings
    # the fake GPU states no power limit: 20% of its 300 W peak = 60 W; 4 intervals at 50 W
    assert (idle.kind, idle.device) == ("idle_accelerator", "fake:gpu")
    assert idle.threshold_w == pytest.approx(60.0)
    assert idle.seconds == pytest.approx(40.0) and idle.share_of_time == pytest.approx(0.4)
    assert idle.energy_j == pytest.approx(4 * STEP_S * 50.0)
    assert "highest power it reached in this run, 300 W" in idle.based_on
    # the CPU drew a flat 40 W: busy or idle cannot be told, and the report says so
    assert any("cannot be told apart" in note for note in report.notes)
    assert any("machine scope" in note for note in report.notes)
