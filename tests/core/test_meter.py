from __future__ import annotations

import pytest

from wattprint.meter import Meter
from wattprint.sensors import Reading
from wattprint.sensors.fake import FakeDevice, FakeSensor


class ScriptedSensor:
    """Replays a list of reading batches (or exceptions), one per read()."""

    name = "scripted"

    def __init__(self, batches: list[list[Reading] | Exception]) -> None:
        self._batches = list(batches)

    def devices(self) -> list:
        return []

    def read(self) -> list[Reading]:
        batch = self._batches.pop(0)
        if isinstance(batch, Exception):
            raise batch
        return batch

    def close(self) -> None:
        pass


def counter(value: float, wrap: float | None = None, device: str = "rapl:package-0") -> Reading:
    return Reading(device, "cpu", "measured", energy_j=value, wrap_j=wrap)


def power(watts: float, device: str = "nvml:0") -> Reading:
    return Reading(device, "gpu", "sampled", power_w=watts)


def test_counter_deltas_and_durations(clock):
    sensor = ScriptedSensor([[counter(100.0)], [counter(150.0)], [counter(400.0)]])
    meter = Meter([sensor], clock=clock, wall_clock=clock.wall_clock)
    meter.start()
    clock.advance(1.0)
    first = meter.measure()
    clock.advance(5.0)
    second = meter.measure()
    assert first.energy_j() == pytest.approx(50.0)
    assert first.duration_s == pytest.approx(1.0)
    assert second.energy_j("cpu") == pytest.approx(250.0)
    assert second.start_s == pytest.approx(first.end_s)
    assert second.devices[0].method == "measured"


def test_counter_wraparound_uses_range(clock):
    wrap = 262_143.328850  # a real RAPL max_energy_range_uj, in J
    sensor = ScriptedSensor([[counter(wrap - 10.0, wrap)], [counter(30.0, wrap)]])
    meter = Meter([sensor], clock=clock, wall_clock=clock.wall_clock)
    meter.start()
    clock.advance(1.0)
    assert meter.measure().energy_j() == pytest.approx(40.0)


def test_counter_going_back_without_range_is_a_gap_not_negative_energy(clock):
    sensor = ScriptedSensor([[counter(500.0)], [counter(20.0)], [counter(70.0)]])
    meter = Meter([sensor], clock=clock, wall_clock=clock.wall_clock)
    meter.start()
    clock.advance(1.0)
    reset = meter.measure()
    clock.advance(1.0)
    after = meter.measure()
    assert reset.energy_j() == 0.0
    assert [g.device for g in reset.gaps] == ["rapl:package-0"]
    assert "reset" in reset.gaps[0].reason
    assert after.energy_j() == pytest.approx(50.0)


def test_implausible_jump_is_dropped(clock):
    sensor = ScriptedSensor([[counter(0.0)], [counter(1e9)]])
    meter = Meter([sensor], clock=clock, wall_clock=clock.wall_clock)
    meter.start()
    clock.advance(1.0)
    interval = meter.measure()
    assert interval.energy_j() == 0.0
    assert "implausible" in interval.gaps[0].reason


def test_power_only_devices_use_trapezoid(clock):
    sensor = ScriptedSensor([[power(100.0)], [power(300.0)], [power(300.0)]])
    meter = Meter([sensor], clock=clock, wall_clock=clock.wall_clock)
    meter.start()
    clock.advance(2.0)
    ramp = meter.measure()
    clock.advance(0.5)
    flat = meter.measure()
    assert ramp.energy_j("gpu") == pytest.approx(400.0)  # (100 + 300) / 2 * 2 s
    assert flat.energy_j("gpu") == pytest.approx(150.0)
    assert ramp.devices[0].method == "sampled"


def test_failing_sensor_leaves_a_gap_and_others_keep_counting(clock):
    steady = FakeSensor([FakeDevice("fake:ram", "ram", 10.0)], clock=clock, name="steady")
    flaky = FakeSensor([FakeDevice("flaky:cpu", "cpu", 50.0)], clock=clock, name="flaky")
    meter = Meter([steady, flaky], clock=clock, wall_clock=clock.wall_clock)
    meter.start()
    clock.advance(1.0)
    assert meter.measure().energy_j() == pytest.approx(60.0)
    flaky.fail_next()
    clock.advance(1.0)
    broken = meter.measure()
    assert broken.energy_j("ram") == pytest.approx(10.0)
    assert broken.energy_j("cpu") == 0.0
    assert [g.device for g in broken.gaps] == ["flaky"]
    clock.advance(1.0)
    rebaseline = meter.measure()  # first good read after the gap only sets a new baseline
    assert rebaseline.energy_j("cpu") == 0.0
    clock.advance(1.0)
    assert meter.measure().energy_j("cpu") == pytest.approx(50.0)


def test_device_that_disappears_is_recorded_and_comes_back_with_a_fresh_baseline(clock):
    gpu0 = FakeDevice("fake:gpu0", "gpu", 100.0)
    gpu1 = FakeDevice("fake:gpu1", "gpu", 200.0)
    sensor = FakeSensor([gpu0, gpu1], clock=clock)
    meter = Meter([sensor], clock=clock, wall_clock=clock.wall_clock)
    meter.start()
    gpu1.present = False
    clock.advance(1.0)
    interval = meter.measure()
    assert interval.energy_j() == pytest.approx(100.0)
    assert [g.device for g in interval.gaps] == ["fake:gpu1"]
    gpu1.present = True
    clock.advance(1.0)
    assert meter.measure().energy_j() == pytest.approx(100.0)
    clock.advance(1.0)
    assert meter.measure().energy_j() == pytest.approx(300.0)


def test_fake_counter_wraps_like_hardware_and_meter_recovers_the_true_energy(clock):
    device = FakeDevice("fake:pkg", "cpu", 150.0, wrap_j=1000.0)
    sensor = FakeSensor([device], clock=clock)
    meter = Meter([sensor], clock=clock, wall_clock=clock.wall_clock)
    meter.start()
    total = 0.0
    for _ in range(10):  # 10 x 4 s x 150 W = 6000 J: the counter wraps six times
        clock.advance(4.0)
        total += meter.measure().energy_j()
    assert total == pytest.approx(device.true_energy_j) == pytest.approx(6000.0)
