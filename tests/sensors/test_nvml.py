"""The NVML sensor against a scripted fake pynvml (see tests/fakes/nvml.py)."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from fakes.clock import FakeClock as Clock
from fakes.nvml import (
    NVML_ERROR_DRIVER_NOT_LOADED,
    NVML_ERROR_GPU_IS_LOST,
    NVML_ERROR_LIB_RM_VERSION_MISMATCH,
    NVML_ERROR_LIBRARY_NOT_FOUND,
    NVML_ERROR_NO_PERMISSION,
    NVML_ERROR_NOT_SUPPORTED,
    FakeNvml,
    NVMLError,
)
from wattprint.errors import SensorReadError, SensorUnavailable
from wattprint.meter import DeviceEnergy, Gap, Meter
from wattprint.sensors import (
    DeviceInfo,
    HostPaths,
    ProbeContext,
    Reading,
    Sensor,
    SensorOptions,
    nvml,
)
from wattprint.sensors.nvml import Sampling

UUID0 = "GPU-00000000-1111-2222-3333-444444444444"
UUID1 = "GPU-00000001-1111-2222-3333-444444444444"
MIG_UUID = "MIG-7a3e1c55-0b6d-5b1e-9c3f-2d4a8e6f1b20"
GIB = 1 << 30


@pytest.fixture
def fake(clock: Clock) -> FakeNvml:
    return FakeNvml(clock)


@pytest.fixture
def proc(tmp_path: Path) -> Path:
    root = tmp_path / "proc"
    root.mkdir()
    return root


def _probe(
    fake: FakeNvml,
    *,
    env: dict[str, str] | None = None,
    gpu_ids: tuple[str, ...] | None = None,
    sampling: Sampling | None = None,
    proc: Path | None = None,
) -> nvml.NvmlSensor:
    ctx = ProbeContext(
        paths=HostPaths(proc=proc) if proc is not None else HostPaths(),
        options=SensorOptions(gpu_ids=gpu_ids),
        modules={"pynvml": fake},
        env=env or {},
    )
    return nvml.probe(ctx, sampling=sampling)


def _meter(sensor: nvml.NvmlSensor, clock: Clock) -> Meter:
    return Meter([sensor], clock=clock, wall_clock=clock.wall_clock)


def _devices(sensor: nvml.NvmlSensor) -> list[str]:
    return [d.device for d in sensor.devices()]


def _sample_through_meter(
    meter: Meter, clock: Clock, *, seconds: float, every_s: float = 0.1
) -> tuple[float, list[Gap]]:
    """What the tracker's sampler does with a power-only device: read it every ``every_s``
    through the meter. Returns the energy integrated over ``seconds`` and the gaps seen."""
    energy_j, gaps = 0.0, []
    for _ in range(round(seconds / every_s)):
        clock.advance(every_s)
        interval = meter.measure()
        energy_j += interval.energy_j()
        gaps.extend(interval.gaps)
    return energy_j, gaps


def _unavailable(fake: FakeNvml, **kwargs: object) -> SensorUnavailable:
    with pytest.raises(SensorUnavailable) as caught:
        _probe(fake, **kwargs)  # type: ignore[arg-type]
    assert fake.refcount == 0  # a failed probe never leaves NVML initialised
    return caught.value


# --- the energy counter --------------------------------------------------------------------------


def test_counter_gives_exact_joules_through_the_meter(fake: FakeNvml, clock: Clock) -> None:
    gpu = fake.gpu(power_w=250.0, energy_mj=5_000_000)
    sensor = _probe(fake)
    meter = _meter(sensor, clock)

    assert isinstance(sensor, Sensor)
    assert sensor.method == "measured"
    assert sensor.read() == [Reading("nvml:0", "gpu", "measured", energy_j=5000.0)]
    meter.start()
    clock.advance(2.0)
    first = meter.measure()
    gpu.set_power(100.0)
    clock.advance(1.0)
    second = meter.measure()

    assert first.devices == (DeviceEnergy("nvml:0", "gpu", "measured", 500.0),)
    assert second.devices == (DeviceEnergy("nvml:0", "gpu", "measured", 100.0),)
    assert first.gaps == second.gaps == ()


def test_read_asks_only_for_the_counters(fake: FakeNvml) -> None:
    fake.gpu()
    fake.gpu()
    sensor = _probe(fake)
    fake.calls.clear()

    sensor.read()

    assert fake.calls == ["nvmlDeviceGetTotalEnergyConsumption"] * 2


def test_devices_describe_each_gpu(fake: FakeNvml) -> None:
    fake.gpu(name="NVIDIA H100 80GB HBM3", uuid=UUID0, power_limit_w=700.0)

    (info,) = _probe(fake).devices()

    assert info == DeviceInfo(
        device="nvml:0",
        component="gpu",
        method="measured",
        detail=f"NVIDIA H100 80GB HBM3 ({UUID0}), power limit 700 W: NVML total energy counter",
        attributes=(
            ("name", "NVIDIA H100 80GB HBM3"),
            ("uuid", UUID0),
            ("index", "0"),
            ("mig", "off"),
        ),
        warning=None,
        max_power_w=700.0,
    )


def test_unreadable_power_limit_is_left_out_of_the_detail(fake: FakeNvml) -> None:
    fake.gpu(name="Tesla V100-SXM2-16GB", uuid=UUID0, power_limit_w=None)

    (info,) = _probe(fake).devices()

    assert info.detail == f"Tesla V100-SXM2-16GB ({UUID0}): NVML total energy counter"
    assert info.max_power_w is None


def test_counter_reset_is_a_recorded_gap_not_invented_energy(fake: FakeNvml, clock: Clock) -> None:
    gpu = fake.gpu(power_w=200.0, energy_mj=9_000_000)
    sensor = _probe(fake)
    meter = _meter(sensor, clock)
    meter.start()
    clock.advance(1.0)
    gpu.reset_counter()  # driver reload
    clock.advance(1.0)

    after_reset = meter.measure()
    clock.advance(1.0)
    next_one = meter.measure()

    assert after_reset.devices == ()
    assert after_reset.gaps == (Gap("nvml:0", "counter went backwards (reset)"),)
    assert next_one.devices == (DeviceEnergy("nvml:0", "gpu", "measured", 200.0),)
    assert sensor.notes[-1] == (
        "nvml:0: energy counter went backwards (9000.000 J -> 200.000 J), the driver was "
        "reloaded or the GPU reset; the energy around it is unknown and recorded as a gap"
    )


# --- lost GPUs -----------------------------------------------------------------------------------


def test_lost_gpu_raises_and_the_meter_records_a_gap(fake: FakeNvml, clock: Clock) -> None:
    gpu = fake.gpu(power_w=100.0)
    sensor = _probe(fake)
    meter = _meter(sensor, clock)
    meter.start()
    clock.advance(1.0)
    gpu.lose()

    with pytest.raises(SensorReadError, match=r"^nvml:0: GPU is lost$"):
        sensor.read()
    interval = meter.measure()

    assert interval.devices == ()
    assert interval.gaps == (Gap("nvml", "read failed: nvml:0: GPU is lost"),)


def test_one_lost_gpu_leaves_the_others_counting(fake: FakeNvml, clock: Clock) -> None:
    fake.gpu(power_w=100.0)
    lost = fake.gpu(power_w=300.0)
    sensor = _probe(fake)
    meter = _meter(sensor, clock)
    meter.start()
    clock.advance(1.0)
    lost.lose()

    interval = meter.measure()

    assert interval.devices == (DeviceEnergy("nvml:0", "gpu", "measured", 100.0),)
    assert interval.gaps == (Gap("nvml:1", "device missing from its sensor's readings"),)


def test_gpu_that_comes_back_restarts_from_a_fresh_baseline(fake: FakeNvml, clock: Clock) -> None:
    gpu = fake.gpu(power_w=100.0)
    sensor = _probe(fake)
    meter = _meter(sensor, clock)
    meter.start()
    gpu.fail("nvmlDeviceGetTotalEnergyConsumption", NVML_ERROR_GPU_IS_LOST)
    clock.advance(1.0)
    gap = meter.measure()
    clock.advance(1.0)
    baseline = meter.measure()
    clock.advance(1.0)
    counted = meter.measure()

    assert gap.gaps == (Gap("nvml", "read failed: nvml:0: GPU is lost"),)
    assert baseline.devices == () and baseline.gaps == ()
    assert counted.devices == (DeviceEnergy("nvml:0", "gpu", "measured", 100.0),)


# --- power sampling where there is no counter ----------------------------------------------------


def test_power_mode_reads_plain_power_one_call_per_gpu(fake: FakeNvml) -> None:
    fake.gpu(energy_counter=False, power_w=100.0, name="Tesla P100-PCIE-16GB")
    fake.gpu(energy_counter=False, power_w=37.5, name="Tesla P100-PCIE-16GB")
    sensor = _probe(fake)
    fake.calls.clear()

    readings = sensor.read()

    assert sensor.method == "sampled"
    assert readings == [
        Reading("nvml:0", "gpu", "sampled", power_w=100.0),
        Reading("nvml:1", "gpu", "sampled", power_w=37.5),
    ]
    # The sampler reads it ~10 times a second: one cheap NVML call per GPU, nothing else.
    assert fake.calls == ["nvmlDeviceGetPowerUsage"] * 2


def test_mixed_host_reads_each_gpu_its_own_way(fake: FakeNvml) -> None:
    fake.gpu(power_w=250.0, energy_mj=4_000_000)
    fake.gpu(energy_counter=False, power_w=90.0)

    sensor = _probe(fake)

    assert sensor.method == "sampled"  # the weakest device's provenance
    assert sensor.read() == [
        Reading("nvml:0", "gpu", "measured", energy_j=4000.0),
        Reading("nvml:1", "gpu", "sampled", power_w=90.0),
    ]


def test_power_mode_integrates_a_ramp_exactly_through_the_meter(
    fake: FakeNvml, clock: Clock
) -> None:
    gpu = fake.gpu(energy_counter=False, power_w=80.0)
    sensor = _probe(fake)
    meter = _meter(sensor, clock)
    truth_mj = gpu.energy_mj  # the fake integrates its profile exactly, counter hidden or not

    meter.start()
    flat_j, _ = _sample_through_meter(meter, clock, seconds=1.0)
    gpu.ramp_power(280.0, over_s=0.5)  # a training step spinning up
    ramp_j, _ = _sample_through_meter(meter, clock, seconds=0.5)
    gpu.ramp_power(80.0, over_s=1.0)
    down_j, gaps = _sample_through_meter(meter, clock, seconds=1.5)

    # 1 s at 80 W; 0.5 s from 80 to 280 W (90 J); 1 s back down (180 J), 0.5 s at 80 W (40 J).
    assert flat_j == pytest.approx(80.0)
    assert ramp_j == pytest.approx(90.0)
    assert down_j == pytest.approx(220.0)
    assert gaps == []
    # Samples on the profile's corners: the trapezoid rule is exact for a piecewise-linear draw.
    assert flat_j + ramp_j + down_j == pytest.approx((gpu.energy_mj - truth_mj) / 1000, abs=1e-3)


def test_power_step_between_samples_is_off_by_at_most_half_a_step(
    fake: FakeNvml, clock: Clock
) -> None:
    gpu = fake.gpu(energy_counter=False, power_w=100.0)
    sensor = _probe(fake)
    meter = _meter(sensor, clock)
    before_mj = gpu.energy_mj
    meter.start()

    measured_j, _ = _sample_through_meter(meter, clock, seconds=1.0)
    clock.advance(0.02)  # the step lands 20 ms into a 100 ms sampling period
    gpu.set_power(300.0)
    clock.advance(0.08)
    measured_j += meter.measure().energy_j()
    rest_j, gaps = _sample_through_meter(meter, clock, seconds=0.9)
    measured_j += rest_j
    true_j = (gpu.energy_mj - before_mj) / 1000

    assert true_j == pytest.approx(100.0 * 1.02 + 300.0 * 0.98, abs=1e-3)
    # Over [1.0, 1.1] s the trapezoid assumes (100 + 300) / 2 W: 20 J where 26 J were drawn.
    assert measured_j == pytest.approx(true_j - 6.0, abs=1e-3)
    assert abs(measured_j - true_j) <= (300.0 - 100.0) * 0.1 / 2
    assert gaps == []


def test_failed_power_read_is_a_gap_never_bridged(fake: FakeNvml, clock: Clock) -> None:
    gpu = fake.gpu(energy_counter=False, power_w=100.0)
    fake.gpu(energy_counter=False, power_w=10.0)
    sensor = _probe(fake)
    meter = _meter(sensor, clock)
    meter.start()
    clock.advance(0.1)
    gpu.fail("nvmlDeviceGetPowerUsage", NVML_ERROR_GPU_IS_LOST)

    hole = meter.measure()  # gpu 0's call fails: left out of this read
    clock.advance(0.1)
    baseline = meter.measure()  # back: its first reading after the hole is a new baseline
    clock.advance(0.1)
    counted = meter.measure()

    assert hole.devices == (DeviceEnergy("nvml:1", "gpu", "sampled", pytest.approx(1.0)),)
    assert hole.gaps == (Gap("nvml:0", "device missing from its sensor's readings"),)
    assert baseline.devices == (DeviceEnergy("nvml:1", "gpu", "sampled", pytest.approx(1.0)),)
    assert baseline.gaps == ()
    assert counted.devices == (
        DeviceEnergy("nvml:0", "gpu", "sampled", pytest.approx(10.0)),
        DeviceEnergy("nvml:1", "gpu", "sampled", pytest.approx(1.0)),
    )


def test_every_power_read_failing_raises_and_is_a_sensor_gap(fake: FakeNvml, clock: Clock) -> None:
    gpu = fake.gpu(energy_counter=False, power_w=100.0)
    sensor = _probe(fake)
    meter = _meter(sensor, clock)
    meter.start()
    clock.advance(0.1)
    gpu.lose()

    with pytest.raises(SensorReadError, match=r"^nvml:0: GPU is lost$"):
        sensor.read()
    interval = meter.measure()

    assert interval.devices == ()
    assert interval.gaps == (Gap("nvml", "read failed: nvml:0: GPU is lost"),)


def test_power_mode_starts_no_thread(fake: FakeNvml, clock: Clock) -> None:
    fake.gpu(energy_counter=False, power_w=100.0)
    fake.gpu(power_w=200.0)
    threads = set(threading.enumerate())

    sensor = _probe(fake)
    meter = _meter(sensor, clock)
    meter.start()
    _sample_through_meter(meter, clock, seconds=0.5)

    assert set(threading.enumerate()) == threads  # the tracker's sampler does the timing
    sensor.close()
    assert set(threading.enumerate()) == threads
    assert fake.shutdown_calls == 1


def test_forced_power_mode_reads_power_where_a_counter_exists(fake: FakeNvml) -> None:
    fake.gpu(power_w=250.0)

    sensor = _probe(fake, sampling=Sampling(force=True))

    assert sensor.read() == [Reading("nvml:0", "gpu", "sampled", power_w=250.0)]
    assert "GPU 0 has no energy counter" not in " ".join(sensor.notes)
    warning = sensor.devices()[0].warning
    assert warning is not None and warning.startswith("power read instead of the energy counter:")


def test_sampled_device_says_so(fake: FakeNvml) -> None:
    fake.gpu(energy_counter=False, uuid=UUID0, name="Tesla P100-PCIE-16GB", power_limit_w=250)
    sensor = _probe(fake)

    (info,) = sensor.devices()

    assert info.method == "sampled"
    assert info.max_power_w == 250.0
    assert info.detail == (
        f"Tesla P100-PCIE-16GB ({UUID0}), power limit 250 W: NVML power, sampled by the "
        "tracker's sampler every 0.1 s"
    )
    assert info.warning == (
        "no energy counter on this GPU: power is sampled by the tracker's sampler every 0.1 s "
        "and integrated (trapezoid), an estimate between samples"
    )
    assert "GPU 0 has no energy counter (Not Supported): power is sampled" in sensor.notes


def test_sampling_interval_describes_the_samplers_cadence(fake: FakeNvml) -> None:
    fake.gpu(energy_counter=False)

    (info,) = _probe(fake, sampling=Sampling(interval_s=0.25)).devices()

    assert info.detail.endswith("NVML power, sampled by the tracker's sampler every 0.25 s")


def test_gpu_without_counter_or_power_is_skipped(fake: FakeNvml) -> None:
    fake.gpu()
    mute = fake.gpu(energy_counter=False)
    mute.fail("nvmlDeviceGetPowerUsage", NVML_ERROR_NOT_SUPPORTED)

    sensor = _probe(fake)

    assert _devices(sensor) == ["nvml:0"]
    assert sensor.notes[-1] == (
        "GPU 1 skipped: no energy counter and no power reading (Not Supported)"
    )


def test_no_gpu_with_energy_or_power_is_unavailable(fake: FakeNvml) -> None:
    mute = fake.gpu(energy_counter=False)
    mute.fail("nvmlDeviceGetPowerUsage", NVML_ERROR_NOT_SUPPORTED)

    error = _unavailable(fake)

    assert error.reason.startswith("no selected NVIDIA GPU reports energy or power (")


# --- which GPUs ----------------------------------------------------------------------------------


@pytest.fixture
def three(fake: FakeNvml) -> FakeNvml:
    for _ in range(3):
        fake.gpu()
    return fake


def test_all_gpus_without_selection(three: FakeNvml) -> None:
    assert _devices(_probe(three)) == ["nvml:0", "nvml:1", "nvml:2"]


def test_cuda_visible_devices_by_index_in_its_order(three: FakeNvml) -> None:
    sensor = _probe(three, env={"CUDA_VISIBLE_DEVICES": "2,0"})

    assert _devices(sensor) == ["nvml:2", "nvml:0"]
    assert [r.device for r in sensor.read()] == ["nvml:2", "nvml:0"]


def test_cuda_visible_devices_by_uuid_and_unique_prefix(three: FakeNvml) -> None:
    assert _devices(_probe(three, env={"CUDA_VISIBLE_DEVICES": UUID1})) == ["nvml:1"]
    assert _devices(_probe(three, env={"CUDA_VISIBLE_DEVICES": "gpu-00000002"})) == ["nvml:2"]


def test_cuda_visible_devices_stops_at_the_first_invalid_entry(three: FakeNvml) -> None:
    sensor = _probe(three, env={"CUDA_VISIBLE_DEVICES": "1,-1,0"})

    assert _devices(sensor) == ["nvml:1"]
    assert (
        "CUDA_VISIBLE_DEVICES entry '-1' matches no GPU; as in CUDA, it and the entries after "
        "it are ignored"
    ) in sensor.notes


@pytest.mark.parametrize("value", ["", "  ", "NoDevFiles"])
def test_cuda_visible_devices_hiding_every_gpu(three: FakeNvml, value: str) -> None:
    error = _unavailable(three, env={"CUDA_VISIBLE_DEVICES": value})

    assert error.reason == f"CUDA_VISIBLE_DEVICES={value!r} hides every GPU from this program"
    assert error.fix == (
        "unset CUDA_VISIBLE_DEVICES, or set gpu_ids to measure GPUs the program cannot see"
    )


@pytest.mark.parametrize("value", ["7", "-1", "GPU-00000000"])  # out of range, invalid, ambiguous
def test_cuda_visible_devices_naming_no_gpu_lists_those_present(fake: FakeNvml, value: str) -> None:
    fake.gpu(uuid=UUID0)
    fake.gpu(uuid="GPU-00000000-9999-2222-3333-444444444444", name="NVIDIA L4")

    error = _unavailable(fake, env={"CUDA_VISIBLE_DEVICES": value})

    assert error.reason == (
        f"CUDA_VISIBLE_DEVICES={value!r} selects no NVIDIA GPU on this host (present: "
        f"0: NVIDIA A100-SXM4-40GB ({UUID0}); "
        "1: NVIDIA L4 (GPU-00000000-9999-2222-3333-444444444444))"
    )


def test_gpu_ids_override_cuda_visible_devices(three: FakeNvml) -> None:
    sensor = _probe(three, gpu_ids=("0", UUID1), env={"CUDA_VISIBLE_DEVICES": "2"})

    assert _devices(sensor) == ["nvml:0", "nvml:1"]


def test_gpu_ids_in_device_form_and_other_sensors_entries(three: FakeNvml) -> None:
    # A mixed host's gpu_ids may name other sensors' devices: they do not restrict this one.
    sensor = _probe(three, gpu_ids=("nvml:2", "amdsmi:0", "hwmon:card1"))

    assert _devices(sensor) == ["nvml:2"]
    sensor.close()
    error = _unavailable(three, gpu_ids=("amdsmi:0",))
    assert error.reason == "gpu_ids ['amdsmi:0'] name no NVIDIA GPU"


def test_unknown_gpu_id_is_unavailable_with_the_gpus_present(fake: FakeNvml) -> None:
    fake.gpu(uuid=UUID0)

    error = _unavailable(fake, gpu_ids=("3",))

    assert error.reason == (
        f"gpu_ids entry '3' matches no NVIDIA GPU (present: 0: NVIDIA A100-SXM4-40GB ({UUID0}))"
    )
    assert error.fix == "set gpu_ids to indices or UUIDs as `nvidia-smi -L` lists them"


def test_empty_gpu_ids_select_nothing(three: FakeNvml) -> None:
    assert _unavailable(three, gpu_ids=()).reason == "gpu_ids is empty: no GPU is selected"


def test_index_on_a_mixed_host_warns_about_cuda_device_order(fake: FakeNvml) -> None:
    fake.gpu(name="NVIDIA GeForce RTX 3090")
    fake.gpu(name="NVIDIA RTX A6000")

    warned = _probe(fake, env={"CUDA_VISIBLE_DEVICES": "1"}).devices()[0].warning
    ordered = _probe(
        fake, env={"CUDA_VISIBLE_DEVICES": "1", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
    ).devices()[0]

    assert warned is not None and "CUDA_DEVICE_ORDER=PCI_BUS_ID" in warned
    assert ordered.warning is None


# --- MIG -----------------------------------------------------------------------------------------


def test_mig_gpu_is_reported_whole_with_a_warning(fake: FakeNvml) -> None:
    fake.gpu(mig=True, mig_uuids=(MIG_UUID,))

    (info,) = _probe(fake).devices()

    assert ("mig", "on") in info.attributes
    assert info.warning == (
        "MIG is enabled: the energy is the whole GPU's, all its instances together; NVML has no "
        "per-instance energy or power, so it cannot be attributed to one instance"
    )


@pytest.mark.parametrize("entry", [MIG_UUID, MIG_UUID[:12], f"MIG-{UUID1}/1/0"])
def test_mig_instance_in_cuda_visible_devices_selects_its_parent(
    fake: FakeNvml, entry: str
) -> None:
    fake.gpu()
    fake.gpu(uuid=UUID1, mig=True, mig_uuids=(MIG_UUID,))

    sensor = _probe(fake, env={"CUDA_VISIBLE_DEVICES": entry})

    assert _devices(sensor) == ["nvml:1"]
    assert sensor.read() == [Reading("nvml:1", "gpu", "measured", energy_j=0.0)]


def test_gpu_without_mig_support_is_mig_off(fake: FakeNvml) -> None:
    fake.gpu(name="Tesla V100-SXM2-16GB", mig=None)

    assert ("mig", "off") in _probe(fake).devices()[0].attributes


# --- process shares ------------------------------------------------------------------------------


def _running(proc: Path, *pids: int) -> None:
    for pid in pids:
        (proc / str(pid)).mkdir()


def test_shares_by_sm_utilization_since_the_last_call(
    fake: FakeNvml, clock: Clock, proc: Path
) -> None:
    gpu = fake.gpu()
    _running(proc, 100, 101, 200)
    sensor = _probe(fake, proc=proc)
    ours = frozenset({100, 101})
    gpu.add_utilization(100, sm_util=20)
    gpu.add_utilization(101, sm_util=10)
    gpu.add_utilization(200, sm_util=10)

    first = sensor.process_shares(ours)
    clock.advance(1.0)
    gpu.add_utilization(200, sm_util=50)  # only this one is newer than the last call
    second = sensor.process_shares(ours)

    assert first == {"nvml:0": (0.75, "utilization")}
    assert second == {"nvml:0": (0.0, "utilization")}


def test_idle_gpu_is_split_by_memory_held(fake: FakeNvml, clock: Clock, proc: Path) -> None:
    gpu = fake.gpu()
    _running(proc, 100, 200)
    gpu.run_process(100, 3 * GIB)
    gpu.run_process(200, 1 * GIB)
    sensor = _probe(fake, proc=proc)

    assert sensor.process_shares(frozenset({100})) == {"nvml:0": (0.75, "idle-memory")}


def test_idle_gpu_held_by_nobody_is_not_ours(fake: FakeNvml, proc: Path) -> None:
    fake.gpu()

    assert _probe(fake, proc=proc).process_shares(frozenset({100})) == {
        "nvml:0": (0.0, "idle-memory")
    }


def test_success_without_samples_is_read_as_idle(fake: FakeNvml, proc: Path) -> None:
    # pynvml raises NVMLError(NVML_SUCCESS) when the driver reports zero samples that way.
    gpu = fake.gpu()
    gpu.empty_utilization_as_success = True
    gpu.run_process(100, GIB)
    _running(proc, 100)

    shares = _probe(fake, proc=proc).process_shares(frozenset({100}))

    assert shares == {"nvml:0": (1.0, "idle-memory")}


def test_memory_fallback_when_utilization_is_not_supported(fake: FakeNvml, proc: Path) -> None:
    gpu = fake.gpu()
    gpu.utilization_supported = False
    gpu.run_process(100, 1 * GIB)
    gpu.run_process(200, 3 * GIB)
    _running(proc, 100, 200)
    sensor = _probe(fake, proc=proc)

    shares = sensor.process_shares(frozenset({100}))
    fake.calls.clear()
    sensor.process_shares(frozenset({100}))

    assert shares == {"nvml:0": (0.25, "memory")}
    assert "nvmlDeviceGetProcessUtilization" not in fake.calls  # not asked again
    assert sensor.notes[-1] == (
        "nvml:0: no per-process utilization (Not Supported); process shares fall back to GPU "
        "memory held"
    )


def test_mig_gpu_shares_fall_back_to_memory(fake: FakeNvml, proc: Path) -> None:
    gpu = fake.gpu(mig=True, mig_uuids=(MIG_UUID,))
    gpu.run_process(100, 2 * GIB)
    gpu.run_process(200, 2 * GIB)
    _running(proc, 100, 200)

    shares = _probe(fake, proc=proc).process_shares(frozenset({100}))

    assert shares == {"nvml:0": (0.5, "memory")}


def test_unknown_memory_splits_by_process_count(fake: FakeNvml, proc: Path) -> None:
    gpu = fake.gpu()
    gpu.utilization_supported = False
    for pid in (100, 200, 300, 400):
        gpu.run_process(pid, None)
    _running(proc, 100, 200, 300, 400)

    shares = _probe(fake, proc=proc).process_shares(frozenset({100}))

    assert shares == {"nvml:0": (0.25, "memory")}


def test_unattributed_when_nothing_can_be_read(fake: FakeNvml, proc: Path) -> None:
    gpu = fake.gpu()
    gpu.utilization_supported = False
    gpu.fail("nvmlDeviceGetComputeRunningProcesses", NVML_ERROR_NO_PERMISSION)
    sensor = _probe(fake, proc=proc)

    assert sensor.process_shares(frozenset({100})) == {"nvml:0": (1.0, "unattributed")}
    assert sensor.notes[-1] == (
        "nvml:0: cannot list compute processes (Insufficient Permissions); its energy is "
        "unattributed in process scope (share 1.0)"
    )


def test_unattributed_when_nvml_pids_are_from_another_namespace(fake: FakeNvml, proc: Path) -> None:
    gpu = fake.gpu()
    gpu.add_utilization(48_213, sm_util=90)  # a host PID, invisible in this container's /proc
    sensor = _probe(fake, proc=proc)

    assert sensor.process_shares(frozenset({7})) == {"nvml:0": (1.0, "unattributed")}
    assert "a container with its own PID namespace?" in sensor.notes[-1]


# --- probe failures ------------------------------------------------------------------------------


def test_missing_nvidia_ml_py(clock: Clock) -> None:
    error = _unavailable_ctx(ProbeContext(modules={"pynvml": None}))

    assert error.reason == "nvidia-ml-py is not installed"
    assert error.fix == "pip install 'wattprint[nvidia]'"


def test_missing_module_on_the_real_import_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` raise ImportError

    error = _unavailable_ctx(ProbeContext())

    assert (error.reason, error.fix) == ("nvidia-ml-py is not installed", nvml.INSTALL_FIX)


def _unavailable_ctx(ctx: ProbeContext) -> SensorUnavailable:
    with pytest.raises(SensorUnavailable) as caught:
        nvml.probe(ctx)
    return caught.value


@pytest.mark.parametrize(
    ("code", "reason", "fix_part"),
    [
        (
            NVML_ERROR_LIBRARY_NOT_FOUND,
            "the NVIDIA driver's NVML library (libnvidia-ml.so.1) was not found",
            "--gpus all",
        ),
        (NVML_ERROR_DRIVER_NOT_LOADED, "the NVIDIA kernel driver is not loaded", "modprobe nvidia"),
        (
            NVML_ERROR_NO_PERMISSION,
            "NVML was denied access to the GPU device files (/dev/nvidia*)",
            "group that owns /dev/nvidia*",
        ),
        (
            NVML_ERROR_LIB_RM_VERSION_MISMATCH,
            (
                "the NVML library and the loaded kernel driver are different versions (a driver "
                "update without a reboot)"
            ),
            "reboot",
        ),
    ],
)
def test_init_failures_explain_themselves(
    clock: Clock, code: int, reason: str, fix_part: str
) -> None:
    fake = FakeNvml(clock, init_error=code)

    error = _unavailable(fake)

    assert error.reason == reason
    assert error.fix is not None and fix_part in error.fix
    assert fake.shutdown_calls == 0  # nothing to shut down: init never succeeded


def test_no_gpu_at_all(fake: FakeNvml) -> None:
    error = _unavailable(fake)

    assert error.reason == "NVML found no NVIDIA GPU"
    assert fake.shutdown_calls == 1


# --- closing -------------------------------------------------------------------------------------


def test_close_shuts_nvml_down_once(fake: FakeNvml) -> None:
    fake.gpu()
    sensor = _probe(fake)

    sensor.close()
    sensor.close()

    assert (fake.init_calls, fake.shutdown_calls, fake.refcount) == (1, 1, 0)
    with pytest.raises(SensorReadError, match="closed"):
        sensor.read()


# --- the fake itself behaves like pynvml ---------------------------------------------------------


def test_fake_errors_map_codes_to_the_generated_subclasses(fake: FakeNvml) -> None:
    error = NVMLError(NVML_ERROR_NOT_SUPPORTED)

    assert type(error).__name__ == "NVMLError_NotSupported"
    assert isinstance(error, fake.NVMLError_NotSupported)
    assert fake.NVMLError_GpuIsLost().value == NVML_ERROR_GPU_IS_LOST
    assert type(NVMLError(0)) is NVMLError  # NVML_SUCCESS has no subclass
    with pytest.raises(NVMLError) as caught:
        fake.nvmlDeviceGetCount()  # before nvmlInit
    assert str(caught.value) == "Uninitialized"


def test_without_the_bindings_the_probe_says_so_without_loading_the_nvml_package() -> None:
    import subprocess

    code = ("import sys\nfrom wattprint.sensors import ProbeContext, detect\n"
            "found = detect(ProbeContext())\n"
            "print([s.reason for s in found.skipped if s.sensor == 'nvml'],"
            " 'wattprint.sensors.nvml' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    try:
        import pynvml  # noqa: F401
    except ImportError:
        assert done.stdout.strip() == "['nvidia-ml-py is not installed'] False"
    else:  # the bindings are here: the package must load to look for GPUs
        assert done.stdout.strip().endswith("True")
