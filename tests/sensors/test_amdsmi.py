"""The amdsmi sensor against a fake amdsmi module (tests/fakes/amdsmi.py), through the Meter."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from fakes.amdsmi import (
    RESOLUTION_UJ,
    AmdSmiRetCode,
    FakeAmdSmi,
    FakeCounter,
    FakeGpu,
    gpu,
    mi250x,
    mi300x,
)
from fakes.clock import FakeClock as Clock
from wattprint.errors import SensorReadError, SensorUnavailable
from wattprint.meter import Gap, Interval, Meter
from wattprint.sensors import ProbeContext, Reading, Sensor, SensorOptions, amdsmi


def _probe(
    fake: FakeAmdSmi,
    *,
    env: dict[str, str] | None = None,
    gpu_ids: tuple[str, ...] | None = None,
    prefer_power: bool = False,
) -> amdsmi.AmdSmiSensor:
    ctx = ProbeContext(
        modules={"amdsmi": fake}, env=env or {}, options=SensorOptions(gpu_ids=gpu_ids)
    )
    return amdsmi.probe(ctx, prefer_power=prefer_power)


def _meter(sensor: amdsmi.AmdSmiSensor) -> tuple[Meter, Clock]:
    clock = Clock()
    meter = Meter([sensor], clock=clock, wall_clock=clock)
    meter.start()
    return meter, clock


def _step(meter: Meter, clock: Clock, seconds: float = 10.0) -> Interval:
    clock.now += seconds
    return meter.measure()


def _by_device(interval: Interval) -> dict[str, float]:
    return {d.device: d.energy_j for d in interval.devices}


def _unavailable(fake: FakeAmdSmi | None, **kwargs: object) -> SensorUnavailable:
    ctx = ProbeContext(modules={"amdsmi": fake}, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(SensorUnavailable) as caught:
        amdsmi.probe(ctx)
    return caught.value


# --- one GPU, exact joules ---------------------------------------------------------------------


def test_single_gpu_counter_gives_exact_joules_through_the_meter() -> None:
    card = gpu(3, joules=1000.0)
    fake = FakeAmdSmi([card])
    sensor = _probe(fake)
    assert isinstance(sensor, Sensor)
    assert sensor.read() == [Reading("amdsmi:0", "gpu", "measured", energy_j=1000.0)]

    meter, clock = _meter(sensor)
    assert card.counter is not None
    card.counter.spend(2500.0)
    interval = _step(meter, clock)

    assert _by_device(interval) == {"amdsmi:0": 2500.0}
    assert interval.devices[0].method == "measured"
    assert interval.devices[0].component == "gpu"
    assert interval.gaps == ()
    info = sensor.devices()[0]
    assert (info.device, info.component, info.method) == ("amdsmi:0", "gpu", "measured")
    assert ("bdf", "0000:03:00.0") in info.attributes
    assert info.warning is None


def test_pre_62_key_name_power_is_read_as_the_accumulator() -> None:
    card = gpu(3, joules=40.0, legacy_keys=True)
    sensor = _probe(FakeAmdSmi([card]))
    assert sensor.read()[0].energy_j == 40.0


def test_energy_is_accumulator_times_resolution_in_microjoules() -> None:
    card = gpu(3, joules=0.0, counter=FakeCounter(resolution_uj=15.3))
    assert card.counter is not None
    card.counter.ticks = 1_000_000
    sensor = _probe(FakeAmdSmi([card]))
    assert sensor.read()[0].energy_j == pytest.approx(1_000_000 * 15.3 / 1e6, rel=1e-12)


def test_init_asks_for_gpus_only_and_close_shuts_down_once() -> None:
    fake = FakeAmdSmi([gpu(3)])
    sensor = _probe(fake)
    assert fake.init_flags == [2]  # AmdSmiInitFlags.INIT_AMD_GPUS
    sensor.close()
    sensor.close()
    assert (fake.references, fake.shut_downs) == (0, 1)
    with pytest.raises(SensorReadError, match="closed"):
        sensor.read()


# --- dual-die MI250X: no die dropped, none doubled ---------------------------------------------


def test_mi250x_pairs_become_one_device_per_card_counted_once() -> None:
    card_a, card_b = mi250x(0x29, joules=5000.0), mi250x(0x2D, joules=7000.0)
    fake = FakeAmdSmi(card_a + card_b)
    sensor = _probe(fake)

    assert [r.device for r in sensor.read()] == ["amdsmi:0", "amdsmi:2"]
    meter, clock = _meter(sensor)
    # Both GCDs of card A busy: the primary's counter carries the whole card.
    assert card_a[0].counter is not None and card_b[0].counter is not None
    card_a[0].counter.spend(4000.0)
    card_b[0].counter.spend(1000.0)
    interval = _step(meter, clock)

    assert _by_device(interval) == {"amdsmi:0": 4000.0, "amdsmi:2": 1000.0}
    assert interval.energy_j("gpu") == 5000.0
    infos = {d.device: d for d in sensor.devices()}
    assert ("dies", "0,1") in infos["amdsmi:0"].attributes
    assert ("package", "dual-die") in infos["amdsmi:0"].attributes
    assert "GCD 1" in infos["amdsmi:0"].detail
    assert ("dies", "2,3") in infos["amdsmi:2"].attributes


def test_mi250x_gcds_pair_by_board_serial_even_when_not_adjacent() -> None:
    a0, a1 = mi250x(0x29, joules=100.0, serial="CARD-A")
    b0, b1 = mi250x(0x2D, joules=200.0, serial="CARD-B")
    sensor = _probe(FakeAmdSmi([a0, b0, a1, b1]))  # enumeration interleaves the cards

    infos = {d.device: dict(d.attributes) for d in sensor.devices()}
    assert {device: attrs["dies"] for device, attrs in infos.items()} == {
        "amdsmi:0": "0,2",
        "amdsmi:1": "1,3",
    }
    assert {r.device: r.energy_j for r in sensor.read()} == {"amdsmi:0": 100.0, "amdsmi:1": 200.0}


def test_mi250x_without_serials_pairs_adjacent_indices() -> None:
    card = mi250x(0x29, joules=100.0)
    for die in card:
        die.product_serial = "N/A"
    sensor = _probe(FakeAmdSmi(card))
    assert [dict(d.attributes)["dies"] for d in sensor.devices()] == ["0,1"]


def test_only_the_secondary_gcd_visible_still_counts_its_card_and_says_so() -> None:
    card = mi250x(0x29, joules=100.0)
    sensor = _probe(FakeAmdSmi(card), env={"HIP_VISIBLE_DEVICES": "1"})

    assert sensor.read() == [Reading("amdsmi:0", "gpu", "measured", energy_j=100.0)]
    info = sensor.devices()[0]
    assert dict(info.attributes)["visible_dies"] == "1"
    assert info.warning is not None and "GPU 0" in info.warning


def test_mi300x_partitions_share_one_counter_counted_once() -> None:
    parts = mi300x(0x05, partitions=8, joules=9000.0)
    sensor = _probe(FakeAmdSmi(parts))

    assert [r.device for r in sensor.read()] == ["amdsmi:0"]
    meter, clock = _meter(sensor)
    assert parts[0].counter is not None
    parts[0].counter.spend(700.0)  # the socket's one counter, whoever ran
    assert _by_device(_step(meter, clock)) == {"amdsmi:0": 700.0}
    info = sensor.devices()[0]
    assert ("package", "partitions") in info.attributes
    assert dict(info.attributes)["dies"] == "0,1,2,3,4,5,6,7"
    assert any("counted once" in note for note in sensor.notes)


def test_partition_id_in_the_domain_bits_still_groups_the_partitions() -> None:
    parts = mi300x(0x05, partitions=4, joules=100.0)
    for p, die in enumerate(parts):
        die.bdf = f"{p:x}000:05:00.0"  # BDFID[31:28] carries the partition id on some parts
    sensor = _probe(FakeAmdSmi([*parts, gpu(0x09, joules=1.0)]))
    assert {r.device: r.energy_j for r in sensor.read()} == {"amdsmi:0": 100.0, "amdsmi:4": 1.0}


def test_mixed_host_single_gpu_next_to_a_dual_die_card() -> None:
    sensor = _probe(FakeAmdSmi([gpu(0x03, joules=10.0), *mi250x(0x29, joules=20.0)]))
    assert {r.device: r.energy_j for r in sensor.read()} == {"amdsmi:0": 10.0, "amdsmi:1": 20.0}


# --- visibility --------------------------------------------------------------------------------


def test_rocr_then_hip_visible_devices_select_physical_gpus() -> None:
    fake = FakeAmdSmi([gpu(b, joules=float(b)) for b in (3, 4, 5, 6)])
    sensor = _probe(fake, env={"ROCR_VISIBLE_DEVICES": "1,2,3", "HIP_VISIBLE_DEVICES": "1"})
    assert [r.device for r in sensor.read()] == ["amdsmi:2"]


def test_rocr_visible_devices_accepts_the_rocr_uuid_form() -> None:
    cards = [gpu(b) for b in (3, 4)]
    sensor = _probe(FakeAmdSmi(cards), env={"ROCR_VISIBLE_DEVICES": "GPU-C0FFEE04"})
    assert [r.device for r in sensor.read()] == ["amdsmi:1"]


def test_empty_hip_visible_devices_means_no_gpu() -> None:
    error = _unavailable(FakeAmdSmi([gpu(3)]), env={"HIP_VISIBLE_DEVICES": ""})
    assert "no AMD GPU visible" in error.reason


def test_gpu_ids_option_overrides_the_environment() -> None:
    fake = FakeAmdSmi([gpu(3), gpu(4)])
    sensor = _probe(fake, env={"HIP_VISIBLE_DEVICES": "0"}, gpu_ids=("amdsmi:1",))
    assert [r.device for r in sensor.read()] == ["amdsmi:1"]


def test_gpu_ids_naming_only_other_vendors_is_a_clear_skip() -> None:
    fake = FakeAmdSmi([gpu(3)])
    with pytest.raises(SensorUnavailable) as caught:
        _probe(fake, gpu_ids=("nvml:0",))
    assert "names no AMD GPU" in caught.value.reason
    assert fake.references == 0  # shut down again after the failed probe


# --- wraparound, resets, failures --------------------------------------------------------------


def test_mi100_32_bit_counter_wraps_and_the_meter_unwraps_it() -> None:
    counter = FakeCounter(bits=32)
    card = gpu(3, joules=0.0, gfx="gfx908", market_name="AMD Instinct MI100", counter=counter)
    counter.ticks = (1 << 32) - _ticks(10.0)  # 10 J before the wrap
    sensor = _probe(FakeAmdSmi([card]))
    wrap_j = (1 << 32) * RESOLUTION_UJ / 1e6
    assert sensor.read()[0].wrap_j == wrap_j

    meter, clock = _meter(sensor)
    counter.spend(25.0)
    assert counter.value < _ticks(20.0)  # it did wrap
    assert _by_device(_step(meter, clock)) == {"amdsmi:0": 25.0}
    assert ("counter_bits", "32") in sensor.devices()[0].attributes


def test_64_bit_counter_reset_is_a_gap_then_counting_resumes() -> None:
    card = gpu(3, joules=5000.0)
    sensor = _probe(FakeAmdSmi([card]))
    assert sensor.read()[0].wrap_j is None
    meter, clock = _meter(sensor)
    assert card.counter is not None
    card.counter.reset()  # GPU reset or driver reload
    card.counter.spend(3.0)
    interval = _step(meter, clock)
    assert interval.devices == ()
    assert interval.gaps == (Gap("amdsmi:0", "counter went backwards (reset)"),)
    card.counter.spend(8.0)
    assert _by_device(_step(meter, clock)) == {"amdsmi:0": 8.0}


def test_one_gpu_failing_mid_run_is_a_gap_for_it_alone() -> None:
    good, bad = gpu(3, joules=1.0), gpu(4, joules=2.0)
    sensor = _probe(FakeAmdSmi([good, bad]))
    meter, clock = _meter(sensor)
    assert good.counter is not None and bad.counter is not None

    bad.failure = AmdSmiRetCode.ERR_NOT_FOUND  # fell off the bus
    good.counter.spend(50.0)
    interval = _step(meter, clock)
    assert _by_device(interval) == {"amdsmi:0": 50.0}
    assert interval.gaps == (Gap("amdsmi:1", "device missing from its sensor's readings"),)

    bad.failure = None  # back: a fresh baseline, then counted again
    _step(meter, clock)
    bad.counter.spend(7.0)
    good.counter.spend(1.0)
    assert _by_device(_step(meter, clock)) == {"amdsmi:0": 1.0, "amdsmi:1": 7.0}


def test_every_gpu_failing_is_a_sensor_read_error_and_a_sensor_gap() -> None:
    card = gpu(3)
    sensor = _probe(FakeAmdSmi([card]))
    meter, clock = _meter(sensor)
    card.failure = AmdSmiRetCode.TIMEOUT
    with pytest.raises(SensorReadError, match="amdsmi:0"):
        sensor.read()
    interval = _step(meter, clock)
    assert interval.devices == ()
    assert [g.device for g in interval.gaps] == ["amdsmi"]
    assert "TIMEOUT" in interval.gaps[0].reason


# --- power fallback ----------------------------------------------------------------------------


def test_without_an_energy_counter_power_is_sampled_and_integrated() -> None:
    card = gpu(3, counter=None, power_w={"average_socket_power": 100.0})
    sensor = _probe(FakeAmdSmi([card]))
    assert sensor.read() == [Reading("amdsmi:0", "gpu", "sampled", power_w=100.0)]
    assert sensor.devices()[0].method == "sampled"
    assert any("power is sampled" in note for note in sensor.notes)

    meter, clock = _meter(sensor)
    card.power_w = {"average_socket_power": 200.0}
    interval = _step(meter, clock, 10.0)
    assert _by_device(interval) == {"amdsmi:0": 1500.0}  # trapezoid: (100 + 200) / 2 x 10 s
    assert interval.devices[0].method == "sampled"


def test_power_fallback_reads_current_socket_power_where_average_is_na() -> None:
    card = gpu(3, counter=None, power_w={"current_socket_power": 650.0})
    sensor = _probe(FakeAmdSmi([card]))
    assert sensor.read()[0].power_w == 650.0


def test_a_counter_stuck_at_zero_while_drawing_power_falls_back_to_power() -> None:
    # The same signature as an MI250 secondary die read alone: a supported counter at 0.
    card = gpu(3, joules=0.0, power_w={"average_socket_power": 90.0})
    sensor = _probe(FakeAmdSmi([card]))
    assert sensor.read() == [Reading("amdsmi:0", "gpu", "sampled", power_w=90.0)]


def test_prefer_power_reads_power_even_with_a_counter() -> None:
    sensor = _probe(FakeAmdSmi([gpu(3)]), prefer_power=True)
    assert sensor.read() == [Reading("amdsmi:0", "gpu", "sampled", power_w=250.0)]


def test_power_that_turns_na_mid_run_is_a_gap() -> None:
    card = gpu(3, counter=None, power_w={"average_socket_power": 100.0})
    sensor = _probe(FakeAmdSmi([card]))
    card.power_w = {}
    with pytest.raises(SensorReadError, match="N/A"):
        sensor.read()


def test_a_gpu_with_neither_energy_nor_power_is_skipped_with_a_reason() -> None:
    card = FakeGpu(counter=None, power_w={})
    error = _unavailable(FakeAmdSmi([card]))
    assert "no visible AMD GPU reports energy or power" in error.reason
    assert "neither energy nor power" in error.reason


class _CappedAmdSmi(FakeAmdSmi):
    """The fake, with each processor's ``power_limit`` (W) as given: a number, "N/A", a sentinel."""

    def __init__(self, gpus: list[FakeGpu], limits: list[object]) -> None:
        super().__init__(gpus)
        self.limits = limits

    def amdsmi_get_power_info(self, handle: Any, sensor_ind: int = 0) -> dict[str, Any]:
        result = super().amdsmi_get_power_info(handle, sensor_ind)
        result["power_limit"] = self.limits[self.amdsmi_get_processor_handles().index(handle)]
        return result


def test_power_limit_is_the_devices_max_power() -> None:
    counted = _probe(FakeAmdSmi([gpu(3)]))  # the fake states a 300 W limit
    sampled = _probe(FakeAmdSmi([gpu(3, counter=None)]))

    assert counted.devices()[0].max_power_w == 300.0
    assert sampled.devices()[0].max_power_w == 300.0


@pytest.mark.parametrize("limit", ["N/A", 0, 0xFFFFFFFF, 300_000_000, None])
def test_unstated_or_implausible_power_limit_is_no_bound(limit: object) -> None:
    # UINT_MAX is amdsmi's "unreadable" fill; 300e6 would be 300 W in µW, not a limit in W.
    sensor = _probe(_CappedAmdSmi([gpu(3)], [limit]))

    assert sensor.devices()[0].max_power_w is None


def test_dual_die_card_takes_its_carriers_limit() -> None:
    sensor = _probe(_CappedAmdSmi(mi250x(0x29), [560, "N/A"]))

    (info,) = sensor.devices()
    assert info.max_power_w == 560.0


# --- probe reasons and fixes -------------------------------------------------------------------


def test_missing_module_says_how_to_install() -> None:
    error = _unavailable(None)
    assert error.reason == "the amdsmi Python package is not installed"
    assert error.fix == "pip install 'wattprint[amd]' (needs ROCm)"


@pytest.mark.skipif(importlib.util.find_spec("amdsmi") is not None, reason="amdsmi installed")
def test_real_import_when_amdsmi_is_absent() -> None:
    with pytest.raises(SensorUnavailable) as caught:
        amdsmi.probe(ProbeContext())
    assert caught.value.fix == amdsmi.INSTALL_FIX


def test_driver_not_loaded() -> None:
    error = _unavailable(FakeAmdSmi([gpu(3)], init_error=AmdSmiRetCode.DRIVER_NOT_LOADED))
    assert error.reason == "the amdgpu kernel driver is not loaded"
    assert error.fix is not None and "modprobe amdgpu" in error.fix


def test_permission_denied_names_the_groups() -> None:
    error = _unavailable(FakeAmdSmi([gpu(3)], init_error=AmdSmiRetCode.ERR_NO_PERM))
    assert "/dev/kfd" in error.reason
    assert error.fix is not None and "render,video" in error.fix


def test_other_init_failures_carry_the_library_message() -> None:
    error = _unavailable(FakeAmdSmi([gpu(3)], init_error=AmdSmiRetCode.INIT_ERROR))
    assert error.reason.startswith("amdsmi_init failed: An error occured with code: 18")


def test_no_gpu_at_all() -> None:
    fake = FakeAmdSmi([])
    error = _unavailable(fake)
    assert error.reason == "amdsmi found no AMD GPU"
    assert fake.references == 0


def _ticks(joules: float) -> int:
    return round(joules * 1e6 / RESOLUTION_UJ)
