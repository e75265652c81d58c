"""The sampler's cadence and the meter's accumulation: wraps, power sampling, resets."""

from __future__ import annotations

import math

import pytest

from wattprint.meter import Interval, Meter
from wattprint.sampler import FAST_S, POWER_BOUND_W, Sampler, read_period_s
from wattprint.sensors import Reading
from wattprint.sensors.fake import FakeDevice, FakeSensor


def run_loop(sampler: Sampler, meter: Meter, clock, *, interval_s: float, seconds: float,
             cuts: list[Interval]) -> None:
    """What the tracker's thread does, on a fake clock: sleep to the next read or cut."""
    next_cut = clock() + interval_s
    end = clock() + seconds
    while clock() < end - 1e-9:
        target = min(next_cut, sampler.next_due_s, end)
        clock.advance(target - clock())
        now = clock()
        if now >= next_cut - 1e-9:
            cuts.append(meter.cut())
            sampler.after_cut(now)
            next_cut = now + interval_s
        elif now >= sampler.next_due_s - 1e-9:
            sampler.poll(now)


def start(clock, devices, *, interval_s: float, **kw):
    sensor = FakeSensor(devices, clock=clock)
    meter = Meter([sensor], clock=clock, wall_clock=clock.wall_clock)
    sampler = Sampler(meter, interval_s=interval_s, **kw)
    sampler.start(clock())
    return sensor, meter, sampler


def test_a_counter_that_wraps_many_times_per_record_is_exact(clock):
    # The case: an 80 W package with a 500 J range at a 30 s interval (4.8 wraps per
    # record) reported 30 W before the sampler read counters by their range.
    device = FakeDevice("rapl:package-0", "cpu", 80.0, wrap_j=500.0)
    sensor, meter, sampler = start(clock, [device], interval_s=30.0)
    assert sampler.periods()["fake"] == pytest.approx(500.0 / POWER_BOUND_W["cpu"] / 2)
    cuts: list[Interval] = []
    run_loop(sampler, meter, clock, interval_s=30.0, seconds=90.0, cuts=cuts)
    assert [c.energy_j() for c in cuts] == pytest.approx([2400.0, 2400.0, 2400.0])
    assert all(not c.gaps for c in cuts)
    assert sensor.reads > 3 * 30.0 / 0.25  # read between cuts, not only at them


def test_a_stated_power_bound_sets_the_cadence():
    wrap = Reading("amdsmi:0", "gpu", "measured", energy_j=1.0, wrap_j=65_536.0)
    assert read_period_s([wrap], interval_s=3600.0,
                         max_power_w={"amdsmi:0": 800.0}) == pytest.approx(65_536.0 / 800 / 2)
    assert read_period_s([wrap], interval_s=5.0) == 5.0  # no faster than records need


def test_counters_that_do_not_wrap_and_models_are_read_only_at_cuts(clock):
    devices = [FakeDevice("nvml:0", "gpu", 300.0), FakeDevice("cpu-model", "cpu", 40.0)]
    readings = [Reading("nvml:0", "gpu", "measured", energy_j=5.0),
                Reading("cpu-model", "cpu", "modelled", power_w=40.0)]
    assert read_period_s(readings, interval_s=5.0) == 5.0
    sensor, meter, sampler = start(clock, devices, interval_s=5.0)
    assert sampler.next_due_s == math.inf
    cuts: list[Interval] = []
    run_loop(sampler, meter, clock, interval_s=5.0, seconds=20.0, cuts=cuts)
    assert sensor.reads == 1 + 4  # the baseline, then one read per cut


def test_power_only_devices_are_sampled_fast_and_integrated(clock):
    # 100 W for 0.5 s, then 300 W for 0.5 s, repeating: 200 W on average. Read only at 5 s
    # cuts, the trapezoid would see whatever phase the cut lands on.
    def square(t: float) -> float:
        return 100.0 if (t % 1.0) < 0.5 else 300.0

    device = FakeDevice("hwmon:card0", "gpu", square, method="sampled")
    sensor, meter, sampler = start(clock, [device], interval_s=5.0)
    assert sampler.periods()["fake"] == FAST_S
    cuts: list[Interval] = []
    run_loop(sampler, meter, clock, interval_s=5.0, seconds=20.0, cuts=cuts)
    for cut in cuts:
        assert cut.energy_j() == pytest.approx(1000.0, rel=0.05)
        assert cut.devices[0].method == "sampled"


def test_a_counter_reset_is_still_a_gap_not_invented_energy(clock):
    device = FakeDevice("nvml:0", "gpu", 100.0)
    sensor, meter, sampler = start(clock, [device], interval_s=10.0)
    clock.advance(4.0)
    meter.read()
    device._energy_j = 0.0  # driver reload: the counter restarts from zero
    clock.advance(2.0)
    cut = meter.cut()
    assert cut.energy_j() == pytest.approx(400.0)  # what was counted before the reset
    assert [g.reason for g in cut.gaps] == ["counter went backwards (reset)"]
    clock.advance(10.0)
    assert meter.cut().energy_j() == pytest.approx(1000.0)


def test_a_failing_read_between_cuts_is_a_gap_and_counting_restarts(clock):
    device = FakeDevice("hwmon:card0", "gpu", 100.0, method="sampled")
    sensor, meter, sampler = start(clock, [device], interval_s=10.0)
    clock.advance(2.0)
    meter.read()
    sensor.fail_next()
    clock.advance(2.0)
    meter.read()  # fails: the 2..4 s stretch and until the next good read are unknown
    clock.advance(2.0)
    meter.read()  # a fresh baseline
    clock.advance(4.0)
    cut = meter.cut()
    assert cut.energy_j() == pytest.approx(200.0 + 400.0)
    assert [g.device for g in cut.gaps] == ["fake"]


def test_a_sensor_that_failed_at_start_is_planned_once_it_reads(clock):
    device = FakeDevice("hwmon:card0", "gpu", 100.0, method="sampled")
    sensor = FakeSensor([device], clock=clock)
    sensor.fail_next()
    meter = Meter([sensor], clock=clock, wall_clock=clock.wall_clock)
    sampler = Sampler(meter, interval_s=5.0)
    sampler.start(clock())
    assert sampler.periods()["fake"] == 5.0
    clock.advance(5.0)
    meter.cut()
    sampler.after_cut(clock())
    assert sampler.periods()["fake"] == FAST_S
    assert sampler.next_due_s == pytest.approx(clock() + FAST_S)


def test_timelines_stay_small_over_long_intervals(clock):
    device = FakeDevice("hwmon:card0", "gpu", 100.0, method="sampled")
    sensor, meter, sampler = start(clock, [device], interval_s=3600.0)
    cuts: list[Interval] = []
    run_loop(sampler, meter, clock, interval_s=3600.0, seconds=3600.0, cuts=cuts)
    timeline = cuts[0].timeline["hwmon:card0"]
    assert len(timeline.t_s) <= timeline.MAX_POINTS
    assert cuts[0].energy_j() == pytest.approx(360_000.0)
    # Thinned, still linear: the energy up to any moment is exact for constant power.
    assert timeline.at(timeline.t_s[0] + 1234.5) == pytest.approx(123_450.0)
