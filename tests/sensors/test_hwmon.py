"""The hwmon GPU sensor against fake sysfs DRM/hwmon trees (tests/fakes/hwmon.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fakes.clock import FakeClock as Clock
from fakes.hwmon import FakeSysfs
from wattprint.errors import SensorReadError, SensorUnavailable
from wattprint.meter import Gap, Interval, Meter
from wattprint.sensors import HostPaths, ProbeContext, Reading, Sensor, SensorOptions, hwmon

UJ = 1_000_000  # µJ per J, µW per W



@pytest.fixture
def sysfs(tmp_path: Path) -> FakeSysfs:
    return FakeSysfs(tmp_path / "sys")


def _probe(
    fake: FakeSysfs,
    *,
    leave_to_vendor: frozenset[str] = hwmon.VENDOR_DRIVERS,
    gpu_ids: tuple[str, ...] | None = None,
) -> hwmon.HwmonSensor:
    ctx = ProbeContext(paths=fake.paths, options=SensorOptions(gpu_ids=gpu_ids))
    return hwmon.probe(ctx, leave_to_vendor=leave_to_vendor, opener=fake.opener)


def _meter(sensor: hwmon.HwmonSensor) -> tuple[Meter, Clock]:
    clock = Clock()
    meter = Meter([sensor], clock=clock, wall_clock=clock)
    meter.start()
    return meter, clock


def _step(meter: Meter, clock: Clock, seconds: float = 5.0) -> Interval:
    clock.now += seconds
    return meter.measure()


def _by_device(interval: Interval) -> dict[str, float]:
    return {d.device: d.energy_j for d in interval.devices}


def _unavailable(fake: FakeSysfs, **kwargs: object) -> SensorUnavailable:
    with pytest.raises(SensorUnavailable) as caught:
        _probe(fake, **kwargs)  # type: ignore[arg-type]
    return caught.value


# --- Intel ---------------------------------------------------------------------------------------


def test_i915_card_energy_is_measured_in_exact_joules(sysfs: FakeSysfs) -> None:
    card = sysfs.gpu(1, driver="i915", hwmons=[("i915", {"energy1_input": 12 * UJ})])
    sensor = _probe(sysfs)
    assert isinstance(sensor, Sensor)
    assert sensor.read() == [Reading("hwmon:card1", "gpu", "measured", energy_j=12.0)]

    meter, clock = _meter(sensor)
    sysfs.advance(card.attribute("energy1_input"), 750 * UJ)
    interval = _step(meter, clock)
    assert _by_device(interval) == {"hwmon:card1": 750.0}
    assert interval.devices[0].method == "measured"
    assert interval.gaps == ()

    info = sensor.devices()[0]
    assert (info.device, info.component, info.method) == ("hwmon:card1", "gpu", "measured")
    assert info.detail == "i915 card energy (card1, hwmon0/energy1_input)"
    assert dict(info.attributes) == {
        "driver": "i915",
        "hwmon": "hwmon0",
        "attribute": "energy1_input",
        "pci": "0000:04:00.0",
    }


def test_i915_per_gt_hwmons_are_parts_of_the_device_counter(sysfs: FakeSysfs) -> None:
    sysfs.gpu(
        0,
        driver="i915",
        hwmons=[
            ("i915", {"energy1_input": 10 * UJ}),
            ("i915_gt0", {"energy1_input": 6 * UJ}),
            ("i915_gt1", {"energy1_input": 3 * UJ}),
        ],
    )
    sensor = _probe(sysfs)
    assert [r.energy_j for r in sensor.read()] == [10.0]
    assert sum("per-GT part" in note for note in sensor.notes) == 2
    # The GT hwmons belong to the GPU: not listed again as unclassified counters.
    assert not any("not established" in note for note in sensor.notes)


def test_xe_counts_the_card_not_the_package_inside_it(sysfs: FakeSysfs) -> None:
    card = sysfs.gpu(
        0,
        driver="xe",
        hwmons=[
            (
                "xe",
                {
                    "energy1_input": 100 * UJ,
                    "energy1_label": "card",
                    "energy2_input": 80 * UJ,
                    "energy2_label": "pkg",
                },
            )
        ],
    )
    sensor = _probe(sysfs)
    meter, clock = _meter(sensor)
    sysfs.advance(card.attribute("energy1_input"), 30 * UJ)
    sysfs.advance(card.attribute("energy2_input"), 25 * UJ)
    assert _by_device(_step(meter, clock)) == {"hwmon:card0": 30.0}
    info = sensor.devices()[0]
    assert info.detail == "xe card energy (card0, hwmon0/energy1_input, label 'card')"
    assert ("label", "card") in info.attributes
    assert any("energy2_input (package) is inside" in note for note in sensor.notes)


def test_xe_with_only_the_package_counter_warns_about_the_rest(sysfs: FakeSysfs) -> None:
    sysfs.gpu(0, driver="xe", hwmons=[("xe", {"energy2_input": 5 * UJ})])
    sensor = _probe(sysfs)
    assert sensor.read() == [Reading("hwmon:card0", "gpu", "measured", energy_j=5.0)]
    warning = sensor.devices()[0].warning
    assert warning is not None and "board power" in warning


# --- vendor-covered and other GPUs ---------------------------------------------------------------


def test_amdgpu_is_left_to_amdsmi_by_default(sysfs: FakeSysfs) -> None:
    sysfs.gpu(0, driver="amdgpu", hwmons=[("amdgpu", {"power1_average": 80 * UJ})])
    sysfs.gpu(1, driver="i915", hwmons=[("i915", {"energy1_input": UJ})])
    sensor = _probe(sysfs)
    assert [r.device for r in sensor.read()] == ["hwmon:card1"]
    assert "card0 (amdgpu): left to its vendor library sensor, not read here" in sensor.notes


def test_amdgpu_power_is_sampled_when_no_vendor_sensor_covers_it(sysfs: FakeSysfs) -> None:
    card = sysfs.gpu(
        0,
        driver="amdgpu",
        hwmons=[
            (
                "amdgpu",
                {"power1_average": 100 * UJ, "power1_label": "PPT", "power2_average": 9 * UJ},
            )
        ],
    )
    sensor = _probe(sysfs, leave_to_vendor=frozenset())
    assert sensor.read() == [Reading("hwmon:card0", "gpu", "sampled", power_w=100.0)]
    assert sensor.devices()[0].method == "sampled"

    meter, clock = _meter(sensor)
    sysfs.set(card.attribute("power1_average"), 300 * UJ)
    interval = _step(meter, clock, 4.0)
    assert _by_device(interval) == {"hwmon:card0": 800.0}  # (100 + 300) / 2 W x 4 s
    assert interval.devices[0].method == "sampled"


@pytest.mark.parametrize(
    ("attributes", "max_power_w"),
    [
        ({"power1_cap": 220 * UJ}, 220.0),  # amdgpu's package power limit, in µW
        ({"power1_cap": 0}, None),  # no cap set
        ({"power1_cap": "garbage"}, None),
        ({}, None),  # the driver states none
    ],
)
def test_power1_cap_is_the_devices_max_power(
    sysfs: FakeSysfs, attributes: dict[str, int | str], max_power_w: float | None
) -> None:
    sysfs.gpu(0, driver="amdgpu", hwmons=[("amdgpu", {"power1_average": 100 * UJ, **attributes})])

    sensor = _probe(sysfs, leave_to_vendor=frozenset())

    assert sensor.devices()[0].max_power_w == max_power_w
    assert sensor.read() == [Reading("hwmon:card0", "gpu", "sampled", power_w=100.0)]


def test_nouveau_instantaneous_power(sysfs: FakeSysfs) -> None:
    sysfs.gpu(0, driver="nouveau", hwmons=[("nouveau", {"power1_input": 42_500_000})])
    sensor = _probe(sysfs)
    assert sensor.read() == [Reading("hwmon:card0", "gpu", "sampled", power_w=42.5)]
    assert "instantaneous power" in sensor.devices()[0].detail


def test_connectors_and_cards_without_hwmon_are_ignored(sysfs: FakeSysfs) -> None:
    sysfs.gpu(0, driver="nvidia")  # the proprietary driver registers no hwmon
    sysfs.gpu(1, driver="i915", hwmons=[("i915", {"energy1_input": 3 * UJ})])
    sysfs.connector("card1", "DP-1")
    sensor = _probe(sysfs)
    assert [r.device for r in sensor.read()] == ["hwmon:card1"]


def test_gpu_ids_in_hwmon_form_select_cards(sysfs: FakeSysfs) -> None:
    sysfs.gpu(0, driver="i915", hwmons=[("i915", {"energy1_input": UJ})])
    sysfs.gpu(1, driver="xe", hwmons=[("xe", {"energy1_input": 2 * UJ})])
    sensor = _probe(sysfs, gpu_ids=("nvml:0", "hwmon:card1"))
    assert [r.device for r in sensor.read()] == ["hwmon:card1"]
    other = _probe(sysfs, gpu_ids=("0",))  # another sensor's form: no restriction here
    assert [r.device for r in other.read()] == ["hwmon:card0", "hwmon:card1"]


# --- counters outside the GPU tree ---------------------------------------------------------------


def test_other_energy_counters_are_noted_not_counted(sysfs: FakeSysfs) -> None:
    sysfs.gpu(0, driver="i915", hwmons=[("i915", {"energy1_input": UJ})])
    sysfs.platform_hwmon("amd_energy", {"energy1_input": 5, "energy17_input": 9})
    sysfs.platform_hwmon("ina238", {"energy1_input": 7, "power1_input": 3})
    sysfs.platform_hwmon("k10temp", {"temp1_input": 45000})
    sensor = _probe(sysfs)

    assert [r.device for r in sensor.read()] == ["hwmon:card0"]
    notes = "\n".join(sensor.notes)
    assert "(amd_energy): energy17_input, energy1_input: reads the same RAPL MSRs" in notes
    assert "(ina238): energy1_input: the component it meters is not established" in notes
    assert "k10temp" not in notes


# --- resets, failures, reloads -------------------------------------------------------------------


def test_counter_going_backwards_is_a_reset_gap(sysfs: FakeSysfs) -> None:
    card = sysfs.gpu(0, driver="i915", hwmons=[("i915", {"energy1_input": 900 * UJ})])
    sensor = _probe(sysfs)
    assert sensor.read()[0].wrap_j is None
    meter, clock = _meter(sensor)
    sysfs.set(card.attribute("energy1_input"), 2 * UJ)
    interval = _step(meter, clock)
    assert interval.gaps == (Gap("hwmon:card0", "counter went backwards (reset)"),)
    sysfs.advance(card.attribute("energy1_input"), 11 * UJ)
    assert _by_device(_step(meter, clock)) == {"hwmon:card0": 11.0}


def test_a_card_vanishing_mid_run_is_a_gap_for_it_alone(sysfs: FakeSysfs) -> None:
    first = sysfs.gpu(0, driver="i915", hwmons=[("i915", {"energy1_input": UJ})])
    sysfs.gpu(1, driver="xe", hwmons=[("xe", {"energy1_input": UJ})])
    sensor = _probe(sysfs)
    meter, clock = _meter(sensor)

    sysfs.remove_hwmon("card1")
    sysfs.advance(first.attribute("energy1_input"), 4 * UJ)
    interval = _step(meter, clock)
    assert _by_device(interval) == {"hwmon:card0": 4.0}
    assert interval.gaps == (Gap("hwmon:card1", "device missing from its sensor's readings"),)


def test_every_card_failing_raises_and_the_meter_records_a_sensor_gap(sysfs: FakeSysfs) -> None:
    sysfs.gpu(0, driver="i915", hwmons=[("i915", {"energy1_input": UJ})])
    sensor = _probe(sysfs)
    meter, clock = _meter(sensor)
    sysfs.remove_hwmon("card0")
    with pytest.raises(SensorReadError, match="energy1_input"):
        sensor.read()
    interval = _step(meter, clock)
    assert [g.device for g in interval.gaps] == ["hwmon"]


def test_driver_reload_is_found_again_under_its_new_hwmon(sysfs: FakeSysfs) -> None:
    sysfs.gpu(0, driver="xe", hwmons=[("xe", {"energy1_input": 500 * UJ})])
    sensor = _probe(sysfs)
    meter, clock = _meter(sensor)

    new = sysfs.reload("card0")  # hwmon0 -> hwmon1, counter back to 0
    sysfs.advance(new / "energy1_input", 3 * UJ)
    interval = _step(meter, clock)
    assert interval.gaps == (Gap("hwmon:card0", "counter went backwards (reset)"),)
    sysfs.advance(new / "energy1_input", 6 * UJ)
    assert _by_device(_step(meter, clock)) == {"hwmon:card0": 6.0}


def test_close_releases_fds_and_later_reads_fail(sysfs: FakeSysfs) -> None:
    card = sysfs.gpu(0, driver="i915", hwmons=[("i915", {"energy1_input": UJ})])
    sensor = _probe(sysfs)
    sensor.close()
    (fd,) = sysfs.opened[str(card.attribute("energy1_input"))]
    with pytest.raises(OSError):
        os.fstat(fd)
    with pytest.raises(SensorReadError, match="closed"):
        sensor.read()


# --- probe reasons -------------------------------------------------------------------------------


def test_no_drm_directory(tmp_path: Path) -> None:
    ctx = ProbeContext(paths=HostPaths(sys=tmp_path / "sys"))
    with pytest.raises(SensorUnavailable) as caught:
        hwmon.probe(ctx)
    assert "class/drm (not Linux, or no GPU driver is loaded)" in caught.value.reason


def test_only_vendor_covered_gpus_is_a_skip_that_names_them(sysfs: FakeSysfs) -> None:
    sysfs.gpu(0, driver="amdgpu", hwmons=[("amdgpu", {"power1_average": UJ})])
    error = _unavailable(sysfs)
    assert error.reason.startswith(
        "no GPU energy or power for hwmon to read (cards: card0 (amdgpu)"
    )
    assert "left to its vendor library sensor" in error.reason


def test_no_gpu_at_all(sysfs: FakeSysfs) -> None:
    assert _unavailable(sysfs).reason == "no GPU in /sys/class/drm"


def test_unreadable_counter_says_so(sysfs: FakeSysfs) -> None:
    card = sysfs.gpu(0, driver="i915", hwmons=[("i915", {"energy1_input": UJ})])
    sysfs.denied.add(str(card.attribute("energy1_input")))
    error = _unavailable(sysfs)
    assert error.reason.endswith("energy1_input is not readable by this user")
    assert error.fix == "run as root, or make it readable"
