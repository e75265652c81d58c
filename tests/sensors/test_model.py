"""The modelled CPU and RAM sensors, with hand-computed joules for known counter advances.

Reference data is injected (``FAKE_MODEL``, ``_lookup``) so these numbers do not move when the
bundled tables are regenerated.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from wattprint.errors import SensorReadError, SensorUnavailable
from wattprint.sensors import HostPaths, ProbeContext, Reading, Sensor, SensorOptions
from wattprint.sensors.model import CpuModelSensor, RamModelSensor, probe_cpu, probe_ram

TYPE_CHECKING = False
if TYPE_CHECKING:
    from wattprint.sensors.model import CpuMatchLike

# The shared fake-/proc builder lives in tests/fakes (no packages under --import-mode=importlib).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fakes.procfs import FakeHost  # noqa: E402

GIB = 2**30


@dataclass(frozen=True)
class Ref:
    value: float
    unit: str
    source: str
    year: int


@dataclass(frozen=True)
class Match:
    model_name: str
    matched_name: str
    tdp_w: float
    cores: int | None
    threads: int | None
    confidence: str
    source: str
    year: int


FAKE_MODEL = {
    "cpu_idle_fraction": Ref(0.3, "1", "SPECpower (test)", 2024),
    "ram_w_per_gb": Ref(0.3725, "W/GB", "Green Algorithms (test)", 2021),
    "vcpu_min_w": Ref(1.0, "W", "CCF (test)", 2021),
    "vcpu_max_w": Ref(4.0, "W", "CCF (test)", 2021),
    "default_cpu_tdp_w": Ref(100.0, "W", "default (test)", 2024),
}

TABLE = {
    "Test CPU 100": Match("Test CPU 100", "Test CPU 100", 100.0, 4, 4, "exact", "ark", 2020),
    "Test CPU 100 v2": Match("Test CPU 100 v2", "Test CPU 100", 100.0, 4, 4, "close", "ark", 2020),
    "AMD EPYC 7763 64-Core Processor": Match(
        "AMD EPYC 7763 64-Core Processor", "AMD EPYC 7763", 280.0, 64, 128, "exact", "amd", 2021
    ),
    "Mystery Xeon": Match("Mystery Xeon", "Mystery Xeon", 150.0, None, None, "exact", "x", 2019),
    "Arm Chip 64 (ARM Neoverse-V1)": Match(
        "Arm Chip 64 (ARM Neoverse-V1)", "Arm Chip 64", 256.0, 64, 64, "exact", "vendor", 2022
    ),
    "Arm Chip 72 (ARM Neoverse-V2)": Match(
        "Arm Chip 72 (ARM Neoverse-V2)", "Arm Chip 72", 252.0, 72, 72, "exact", "vendor", 2023
    ),
}


def _lookup(name: str) -> CpuMatchLike | None:
    return TABLE.get(name)


def _no_lookup(name: str) -> CpuMatchLike | None:
    raise AssertionError("a configured TDP must not consult the table")


@pytest.fixture
def host(tmp_path: Path) -> FakeHost:
    fake = FakeHost(tmp_path)
    fake.x86_cpuinfo("Test CPU 100", cpus_per_socket=4)
    fake.stat(n_cpus=4, user_s=10.0, idle_s=30.0)
    fake.meminfo(total_kib=16 * GIB // 1024)
    fake.uptime(100.0)
    return fake


def _ctx(host: FakeHost, options: SensorOptions | None = None) -> ProbeContext:
    return ProbeContext(paths=host.paths, options=options or SensorOptions())


def _cpu(host: FakeHost) -> CpuModelSensor:
    return probe_cpu(_ctx(host), lookup=_lookup, model=FAKE_MODEL)


def _energy(sensor: CpuModelSensor | RamModelSensor) -> float:
    (reading,) = sensor.read()
    assert reading.energy_j is not None
    return reading.energy_j


def _attrs(sensor: CpuModelSensor | RamModelSensor) -> dict[str, str]:
    return dict(sensor.devices()[0].attributes)


# --- CPU, whole host -------------------------------------------------------------------------


def test_cpu_energy_for_two_seconds_at_half_load(host: FakeHost) -> None:
    sensor = _cpu(host)
    before = _energy(sensor)
    # 100 W x (0.3 x 10 s wall + 0.7 x 10 s busy / 4 CPUs ... ) from boot: (30*40 + 70*10) / 4.
    assert before == pytest.approx(475.0)
    # 2 s of wall time on 4 CPUs at 50 %: 8 CPU-seconds, 4 of them busy.
    host.stat(n_cpus=4, user_s=14.0, idle_s=34.0)
    # 100 W x (0.3 x 2 s + 0.7 x 4 s / 4) = 60 J + 70 J.
    assert _energy(sensor) - before == pytest.approx(130.0)


def test_cpu_reading_and_device_shape(host: FakeHost) -> None:
    sensor = _cpu(host)
    assert isinstance(sensor, Sensor)
    assert sensor.method == "modelled"
    (reading,) = sensor.read()
    assert reading == Reading("model:cpu", "cpu", "modelled", energy_j=reading.energy_j)
    assert reading.energy_j == pytest.approx(475.0) and reading.power_w is None
    (device,) = sensor.devices()
    assert (device.device, device.component, device.method, device.coverage) == (
        "model:cpu",
        "cpu",
        "modelled",
        "host",
    )
    assert device.warning is None
    assert _attrs(sensor) == {
        "model_name": "Test CPU 100",
        "tdp_w": "100",
        "tdp_source": "TDP table: 'Test CPU 100' (ark, 2020)",
        "confidence": "exact",
        "idle_fraction": "0.3",
        "scaling": "per-socket",
        "sockets": "1",
        "idle_w": "30",
        "max_w": "100",
    }
    for fact in ("Test CPU 100", "1 socket x 100 W TDP", "30%", "SPECpower (test)", "whole host"):
        assert fact in device.detail


def test_cpu_steal_and_iowait_are_charged_as_documented(host: FakeHost) -> None:
    sensor = _cpu(host)
    before = _energy(sensor)
    # +1 s steal (busy) and +1 s iowait (idle) over 0.5 s of wall time on 4 CPUs.
    host.stat(n_cpus=4, user_s=10.0, idle_s=30.0, steal_s=1.0, iowait_s=1.0)
    assert _energy(sensor) - before == pytest.approx(100 * (0.3 * 0.5 + 0.7 * 1.0 / 4))


def test_cpu_config_tdp_is_per_socket_and_skips_the_table(host: FakeHost) -> None:
    host.x86_cpuinfo("Test CPU 100", sockets=2, cpus_per_socket=2)
    sensor = probe_cpu(
        _ctx(host, SensorOptions(cpu_tdp_w=200.0)), lookup=_no_lookup, model=FAKE_MODEL
    )
    before = _energy(sensor)
    host.stat(n_cpus=4, user_s=18.0, idle_s=30.0)  # 2 s wall, all 4 CPUs busy
    # P_max = 2 x 200 W; 400 x (0.3 x 2 + 0.7 x 8 / 4) = 800 J.
    assert _energy(sensor) - before == pytest.approx(800.0)
    attrs = _attrs(sensor)
    assert (attrs["confidence"], attrs["tdp_w"], attrs["max_w"]) == ("config", "200", "400")
    assert sensor.devices()[0].warning is None


def test_cpu_unknown_model_uses_default_and_warns(host: FakeHost) -> None:
    host.x86_cpuinfo("Frobnicator 9000", sockets=2, cpus_per_socket=2)
    sensor = _cpu(host)
    before = _energy(sensor)
    host.stat(n_cpus=4, user_s=14.0, idle_s=34.0)
    assert _energy(sensor) - before == pytest.approx(260.0)  # 2 sockets x 100 W default
    device = sensor.devices()[0]
    assert _attrs(sensor)["confidence"] == "default"
    assert device.warning is not None
    for fact in ("Frobnicator 9000", "100 W", "cpu_tdp_w", "wattprint.toml", "WATTPRINT_CPU_TDP_W"):
        assert fact in device.warning


def test_cpu_close_match_warns_with_the_matched_name(host: FakeHost) -> None:
    host.x86_cpuinfo("Test CPU 100 v2")
    sensor = _cpu(host)
    device = sensor.devices()[0]
    assert _attrs(sensor)["confidence"] == "close"
    assert device.warning is not None
    assert "'Test CPU 100'" in device.warning and "WATTPRINT_CPU_TDP_W" in device.warning


def test_vm_scales_tdp_per_thread(host: FakeHost) -> None:
    host.x86_cpuinfo("AMD EPYC 7763 64-Core Processor", cpus_per_socket=4, hypervisor=True)
    sensor = _cpu(host)
    before = _energy(sensor)
    host.stat(n_cpus=4, user_s=14.0, idle_s=34.0)
    # 280 W / 128 threads x 4 vCPUs = 8.75 W; 8.75 x (0.3 x 2 + 0.7 x 1) = 11.375 J.
    assert _energy(sensor) - before == pytest.approx(11.375)
    attrs = _attrs(sensor)
    assert (attrs["scaling"], attrs["confidence"], attrs["max_w"]) == (
        "per-thread",
        "exact",
        "8.75",
    )
    assert sensor.devices()[0].warning is None
    assert "128 threads" in sensor.devices()[0].detail


def test_vm_without_match_uses_vcpu_averages(host: FakeHost) -> None:
    host.x86_cpuinfo("Unknown Cloud CPU", cpus_per_socket=4, hypervisor=True)
    sensor = _cpu(host)
    before = _energy(sensor)
    host.stat(n_cpus=4, user_s=14.0, idle_s=34.0)
    # P_idle = 4 x 1 W, P_max = 4 x 4 W: 4 W x 2 s + 12 W x 4 busy CPU-s / 4 = 8 + 12 J.
    assert _energy(sensor) - before == pytest.approx(20.0)
    attrs = _attrs(sensor)
    assert (attrs["confidence"], attrs["scaling"], attrs["idle_fraction"]) == (
        "vcpu-average",
        "per-vcpu",
        "0.25",
    )
    warning = sensor.devices()[0].warning
    assert warning is not None
    assert "not in the TDP table" in warning and "WATTPRINT_CPU_TDP_W" in warning


def test_vm_match_without_thread_count_uses_vcpu_averages(host: FakeHost) -> None:
    host.x86_cpuinfo("Mystery Xeon", cpus_per_socket=4, hypervisor=True)
    sensor = _cpu(host)
    warning = sensor.devices()[0].warning
    assert _attrs(sensor)["confidence"] == "vcpu-average"
    assert warning is not None and "no known thread count" in warning


def _arm_host(host: FakeHost, name: str, cpus: int) -> None:
    # arm64 prints no model name, hypervisor flag or socket ids; the chip's name is what
    # procfs.cpu_info would derive from its MIDR codes and DMI (see test_arm_cpus.py).
    host.cpuinfo(
        "".join(f"processor\t: {i}\nmodel name\t: {name}\nCPU part\t: 0xd40\n\n" for i in range(cpus))
    )
    host.stat(n_cpus=cpus, user_s=10.0, idle_s=30.0)


def test_arm_guest_without_hypervisor_flag_is_charged_per_thread(host: FakeHost) -> None:
    _arm_host(host, "Arm Chip 64 (ARM Neoverse-V1)", cpus=4)
    sensor = _cpu(host)
    attrs = _attrs(sensor)
    # 4 CPUs of a 64-core chip: 256 W / 64 threads x 4 = 16 W, not the whole socket's 256 W.
    assert (attrs["scaling"], attrs["max_w"], attrs["confidence"]) == ("per-thread", "16", "exact")
    assert "fewer CPUs seen than the chip has cores" in sensor.devices()[0].detail
    assert sensor.devices()[0].warning is None


def test_arm_host_with_two_chips_and_no_socket_ids_counts_both(host: FakeHost) -> None:
    _arm_host(host, "Arm Chip 72 (ARM Neoverse-V2)", cpus=144)  # a two-chip superchip
    attrs = _attrs(sensor := _cpu(host))
    assert (attrs["scaling"], attrs["max_w"], attrs["sockets"]) == ("per-thread", "504", "1")
    assert "more CPUs seen than one chip holds" in sensor.devices()[0].detail


def test_arm_host_with_the_whole_chip_is_charged_per_socket(host: FakeHost) -> None:
    _arm_host(host, "Arm Chip 64 (ARM Neoverse-V1)", cpus=64)
    attrs = _attrs(_cpu(host))
    assert (attrs["scaling"], attrs["max_w"]) == ("per-socket", "256")


def test_x86_socket_ids_are_trusted_over_the_tables_thread_count(host: FakeHost) -> None:
    # 8 CPUs on one counted socket of a part the table says has 4 threads: the sockets stand.
    host.x86_cpuinfo("Test CPU 100", cpus_per_socket=8)
    host.stat(n_cpus=8, user_s=10.0, idle_s=70.0)
    attrs = _attrs(_cpu(host))
    assert (attrs["scaling"], attrs["max_w"]) == ("per-socket", "100")


def test_counter_never_runs_backwards(host: FakeHost) -> None:
    host.stat(n_cpus=4, user_s=10.0, idle_s=30.0, iowait_s=2.0)
    sensor = _cpu(host)
    before = _energy(sensor)
    host.stat(n_cpus=4, user_s=10.0, idle_s=30.0, iowait_s=1.0)  # iowait may decrease
    assert _energy(sensor) == before


def test_read_failure_is_a_sensor_read_error(host: FakeHost) -> None:
    sensor = _cpu(host)
    (host.paths.proc / "stat").unlink()
    with pytest.raises(SensorReadError):
        sensor.read()


# --- CPU, a container's share ----------------------------------------------------------------


def _container(host: FakeHost, *, cpu_max: str, usage_usec: int, memory_max: str = "max") -> None:
    host.self_cgroup("0::/\n")
    host.cgroup_v2("", cpu_max=cpu_max, memory_max=memory_max, usage_usec=usage_usec)


def test_cgroup_quota_models_the_containers_share(host: FakeHost) -> None:
    host.x86_cpuinfo("Test CPU 100", cpus_per_socket=8)
    host.stat(n_cpus=8, user_s=10.0, idle_s=70.0)
    host.uptime(1000.0)
    _container(host, cpu_max="200000 100000", usage_usec=5_000_000)
    sensor = _cpu(host)
    before = _energy(sensor)
    host.uptime(1002.0)
    host.cgroup_v2("", cpu_max="200000 100000", usage_usec=8_000_000)
    # (100 W / 8) x (0.3 x 2 CPUs x 2 s + 0.7 x 3 CPU-s) = 12.5 x 3.3 = 41.25 J.
    assert _energy(sensor) - before == pytest.approx(41.25)
    device = sensor.devices()[0]
    assert device.coverage == "cgroup"
    assert "container" in device.detail and "2 of 8 CPUs" in device.detail
    assert _attrs(sensor)["cgroup_cpus"] == "2"


def test_cgroup_quota_not_below_host_keeps_host_coverage(host: FakeHost) -> None:
    _container(host, cpu_max="400000 100000", usage_usec=1)
    assert _cpu(host).devices()[0].coverage == "host"


def test_cgroup_quota_with_unreadable_usage_falls_back_visibly(host: FakeHost) -> None:
    _container(host, cpu_max="100000 100000", usage_usec=1)
    (host.paths.cgroup / "cpu.stat").unlink()
    device = _cpu(host).devices()[0]
    assert device.coverage == "host"
    assert device.warning is not None and "whole host" in device.warning


# --- RAM -------------------------------------------------------------------------------------


def _ram_energy_over(sensor: RamModelSensor, seconds: float) -> float:
    from wattprint.meter import Meter

    now = [0.0]
    meter = Meter([sensor], clock=lambda: now[0], wall_clock=lambda: now[0])
    meter.start()
    now[0] += seconds
    return meter.measure().energy_j("ram")


def test_ram_host_energy(host: FakeHost) -> None:
    sensor = probe_ram(_ctx(host), model=FAKE_MODEL)
    assert isinstance(sensor, Sensor)
    (reading,) = sensor.read()
    assert (reading.power_w, reading.energy_j, reading.method) == (
        pytest.approx(5.96), None, "modelled")
    # 16 GiB x 0.3725 W/GiB = 5.96 W, for 10 s.
    assert _ram_energy_over(sensor, 10.0) == pytest.approx(59.6)
    device = sensor.devices()[0]
    assert (device.device, device.component, device.coverage) == ("model:ram", "ram", "host")
    assert "Green Algorithms (test)" in device.detail
    assert _attrs(sensor)["power_w"] == "5.96"


def test_ram_cgroup_limit_below_host(host: FakeHost) -> None:
    _container(host, cpu_max="max 100000", usage_usec=0, memory_max=str(2 * GIB))
    sensor = probe_ram(_ctx(host), model=FAKE_MODEL)
    assert _ram_energy_over(sensor, 10.0) == pytest.approx(2 * 0.3725 * 10)
    device = sensor.devices()[0]
    assert device.coverage == "cgroup" and "memory limit" in device.detail


def test_ram_cgroup_limit_above_host_uses_host(host: FakeHost) -> None:
    _container(host, cpu_max="max 100000", usage_usec=0, memory_max=str(64 * GIB))
    assert probe_ram(_ctx(host), model=FAKE_MODEL).devices()[0].coverage == "host"


def test_ram_config_override(host: FakeHost) -> None:
    sensor = probe_ram(_ctx(host, SensorOptions(ram_w_per_gib=0.5)), model=FAKE_MODEL)
    assert sensor.power_w == pytest.approx(8.0)
    assert _attrs(sensor)["w_per_gib"] == "0.5"
    assert _attrs(sensor)["w_per_gib_source"] == "config (ram_w_per_gib)"


def test_the_deprecated_ram_w_per_gb_variable_still_reaches_the_ram_model(
        host: FakeHost, tmp_path: Path) -> None:
    from wattprint.config import load_config
    from wattprint.tracker import probe_context

    with pytest.warns(FutureWarning, match="use WATTPRINT_RAM_W_PER_GIB"):
        config = load_config(environ={"WATTPRINT_RAM_W_PER_GB": "0.5"}, cwd=tmp_path)
    sensor = probe_ram(probe_context(config, host.paths, None), model=FAKE_MODEL)
    assert sensor.power_w == pytest.approx(8.0)  # 16 GiB x 0.5 W per GiB


# --- no /proc --------------------------------------------------------------------------------


def test_missing_proc_is_unavailable_with_reason(tmp_path: Path) -> None:
    ctx = ProbeContext(paths=HostPaths(proc=tmp_path / "proc", sys=tmp_path / "sys"))
    with pytest.raises(SensorUnavailable) as cpu:
        probe_cpu(ctx, lookup=_lookup, model=FAKE_MODEL, platform="linux")
    assert "/proc" in cpu.value.reason and cpu.value.fix
    with pytest.raises(SensorUnavailable) as ram:
        probe_ram(ctx, model=FAKE_MODEL, platform="linux")
    assert "/proc" in ram.value.reason


def test_macos_says_so(tmp_path: Path) -> None:
    ctx = ProbeContext(paths=HostPaths(proc=tmp_path / "proc", sys=tmp_path / "sys"))
    with pytest.raises(SensorUnavailable) as exc:
        probe_cpu(ctx, lookup=_lookup, model=FAKE_MODEL, platform="darwin")
    assert "macOS" in exc.value.reason
    assert exc.value.fix is not None and "later release" in exc.value.fix
