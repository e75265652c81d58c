"""The NVML sensor on a real NVIDIA GPU; skipped wherever there is no working driver.

These tests wait on real hardware (the energy counter updates every few tens of ms), so unlike
the unit tests they poll with short sleeps, bounded by a deadline.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from wattprint.sensors import ProbeContext, Reading, nvml

pytestmark = pytest.mark.hardware

_PLAUSIBLE_W = (1.0, 2000.0)  # an idle board draws tens of watts; none draws 2 kW


@pytest.fixture(scope="module")
def driver() -> None:
    pynvml = pytest.importorskip("pynvml", reason="nvidia-ml-py is not installed")
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        pytest.skip(f"no usable NVIDIA driver: {exc}")
    pynvml.nvmlShutdown()  # the sensor initialises NVML itself (reference counted)


@pytest.fixture
def sensor(driver: None) -> Iterator[nvml.NvmlSensor]:
    opened = nvml.probe(ProbeContext(env=dict(os.environ)))
    yield opened
    opened.close()


def _by_device(readings: list[Reading]) -> dict[str, Reading]:
    return {r.device: r for r in readings}


def _energy(reading: Reading) -> float:
    assert reading.energy_j is not None
    return reading.energy_j


def test_counter_is_plausible_and_advances(sensor: nvml.NvmlSensor) -> None:
    readings = _by_device(sensor.read())
    assert readings, "the sensor opened but reads no GPU"
    # A GPU without an energy counter (pre-Volta) gives plain power for the tracker's sampler.
    for device, reading in readings.items():
        if reading.energy_j is None:
            assert reading.method == "sampled" and reading.power_w is not None
            assert _PLAUSIBLE_W[0] <= reading.power_w <= _PLAUSIBLE_W[1], device
    first = {d: r for d, r in readings.items() if r.energy_j is not None}
    if not first:
        return
    start = time.monotonic()
    later = first
    while time.monotonic() - start < 5.0:
        time.sleep(0.25)
        later = _by_device(sensor.read())
        if time.monotonic() - start >= 1.0 and all(
            _energy(later[d]) > _energy(r) for d, r in first.items()
        ):
            break
    elapsed_s = time.monotonic() - start

    for device, before in first.items():
        assert before.component == "gpu" and before.method == "measured"
        assert _energy(before) >= 0.0 and before.wrap_j is None
        watts = (_energy(later[device]) - _energy(before)) / elapsed_s
        assert _PLAUSIBLE_W[0] <= watts <= _PLAUSIBLE_W[1], f"{device}: {watts:.1f} W"


def test_devices_name_real_gpus(sensor: nvml.NvmlSensor) -> None:
    for info in sensor.devices():
        attributes = dict(info.attributes)
        assert info.device == f"nvml:{attributes['index']}"
        assert attributes["uuid"].startswith("GPU-")
        assert attributes["mig"] in ("on", "off")
        # The enforced power limit, where NVML gives one: a board's limit is tens to ~1000 W.
        assert info.max_power_w is None or _PLAUSIBLE_W[0] <= info.max_power_w <= _PLAUSIBLE_W[1]


def test_process_shares_are_fractions_with_a_known_basis(sensor: nvml.NvmlSensor) -> None:
    shares = sensor.process_shares(frozenset({os.getpid()}))

    assert set(shares) == {d.device for d in sensor.devices()}
    for share, basis in shares.values():
        assert 0.0 <= share <= 1.0
        assert basis in (
            nvml.BASIS_UTILIZATION,
            nvml.BASIS_IDLE,
            nvml.BASIS_MEMORY,
            nvml.BASIS_UNATTRIBUTED,
        )
