from __future__ import annotations

import sys
from pathlib import Path

import pytest

from wattprint.sensors import HostPaths, procfs
from wattprint.sensors.procfs import CpuInfo

# The shared fake-/proc builder lives in tests/fakes (no packages under --import-mode=importlib).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fakes.procfs import FakeHost


@pytest.fixture
def host(tmp_path: Path) -> FakeHost:
    return FakeHost(tmp_path)


# --- /proc/stat ----------------------------------------------------------------------------


def test_parse_cpu_line_counts_busy_columns_and_total() -> None:
    # A real line (2-vCPU cloud VM): user nice system idle iowait irq softirq steal guest gnice.
    busy_s, total_s = procfs.parse_cpu_line(b"cpu  2635 0 2134 732233 137 0 24 594 0 0", 100)
    assert busy_s == pytest.approx((2635 + 2134 + 24 + 594) / 100)
    assert total_s == pytest.approx((2635 + 2134 + 24 + 594 + 732233 + 137) / 100)


def test_parse_cpu_line_does_not_count_guest_time_twice() -> None:
    # guest (5000) and guest_nice (100) are already inside user (10000) and nice (200).
    busy_s, total_s = procfs.parse_cpu_line(b"cpu  10000 200 3000 50000 400 10 20 30 5000 100", 100)
    assert busy_s == pytest.approx(132.60)
    assert total_s == pytest.approx(636.60)


def test_parse_cpu_line_accepts_old_kernels_without_steal() -> None:
    assert procfs.parse_cpu_line(b"cpu  100 0 50 1000 5 1 2", 100) == pytest.approx((1.53, 11.58))


@pytest.mark.parametrize("line", [b"", b"intr 1 2 3", b"cpu 1 2"])
def test_parse_cpu_line_rejects_other_lines(line: bytes) -> None:
    with pytest.raises(ValueError):
        procfs.parse_cpu_line(line, 100)


def test_cpu_times_reads_aggregate_line_and_counts_cpus(host: FakeHost) -> None:
    host.stat(
        n_cpus=4,
        user_s=30.0,
        nice_s=1.0,
        system_s=9.0,
        idle_s=150.0,
        iowait_s=2.0,
        irq_s=0.5,
        softirq_s=1.5,
        steal_s=3.0,
        guest_s=4.0,
        guest_nice_s=0.5,
    )
    times = procfs.cpu_times(host.paths)
    assert times.n_cpus == 4
    assert times.busy_s == pytest.approx(30 + 1 + 9 + 0.5 + 1.5 + 3)
    assert times.total_s == pytest.approx(45 + 150 + 2)


def test_cpu_times_uses_injected_clock_ticks(host: FakeHost) -> None:
    host.write("proc/stat", "cpu  250 0 250 500 0 0 0 0 0 0\ncpu0 250 0 250 500 0 0 0 0 0 0\n")
    times = procfs.cpu_times(host.paths, clk_tck=250)
    assert (times.busy_s, times.total_s, times.n_cpus) == (2.0, 4.0, 1)


def test_hot_path_matches_full_read(host: FakeHost) -> None:
    host.load(n_cpus=8, wall_s=100.0, busy_fraction=0.25)
    times = procfs.cpu_times(host.paths)
    hot = procfs.read_busy_total_s(str(host.paths.proc / "stat"), procfs.clock_ticks_per_s())
    assert hot == (times.busy_s, times.total_s)
    assert hot == pytest.approx((200.0, 800.0))


def test_cpu_times_missing_file_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        procfs.cpu_times(HostPaths(proc=tmp_path / "nope"))


# --- /proc/cpuinfo -------------------------------------------------------------------------


def test_cpu_info_two_sockets(host: FakeHost) -> None:
    host.x86_cpuinfo("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", sockets=2, cpus_per_socket=40)
    assert procfs.cpu_info(host.paths) == CpuInfo(
        model_name="Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz",
        sockets=2,
        logical_cpus=80,
        hypervisor=False,
    )


def test_cpu_info_hypervisor_flag(host: FakeHost) -> None:
    host.x86_cpuinfo("AMD EPYC 7R13 Processor", cpus_per_socket=4, hypervisor=True)
    info = procfs.cpu_info(host.paths)
    assert info.hypervisor is True
    assert (info.sockets, info.logical_cpus) == (1, 4)


_GRAVITON2 = "".join(
    f"processor\t: {i}\n"
    "BogoMIPS\t: 243.75\n"
    "Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid\n"
    "CPU implementer\t: 0x41\n"
    "CPU architecture: 8\n"
    "CPU variant\t: 0x3\n"
    "CPU part\t: 0xd0c\n"
    "CPU revision\t: 1\n\n"
    for i in range(2)
)


def test_cpu_info_arm64_names_core_from_midr(host: FakeHost) -> None:
    host.cpuinfo(_GRAVITON2)  # no DMI: the cloud cannot be told, so the core name is kept
    assert procfs.cpu_info(host.paths) == CpuInfo(
        model_name="ARM Neoverse-N1",
        sockets=1,
        logical_cpus=2,
        hypervisor=False,
        sockets_counted=False,
    )


def test_cpu_info_arm64_names_the_chip_from_midr_and_dmi(host: FakeHost) -> None:
    host.cpuinfo(_GRAVITON2)
    host.dmi("Amazon EC2")
    assert procfs.cpu_info(host.paths).model_name == "AWS Graviton2 (ARM Neoverse-N1)"


def test_cpu_info_x86_counts_sockets_from_physical_ids(host: FakeHost) -> None:
    host.x86_cpuinfo("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", sockets=2, cpus_per_socket=2)
    assert procfs.cpu_info(host.paths).sockets_counted is True


def test_cpu_info_raspberry_pi_prefers_core_over_board(host: FakeHost) -> None:
    text = _GRAVITON2.replace("0xd0c", "0xd08") + (
        "Hardware\t: BCM2835\nRevision\t: c03111\nModel\t\t: Raspberry Pi 4 Model B Rev 1.1\n"
    )
    host.cpuinfo(text)
    assert procfs.cpu_info(host.paths).model_name == "ARM Cortex-A72"


def test_cpu_info_unknown_arm_codes_are_kept_visible(host: FakeHost) -> None:
    host.cpuinfo("processor\t: 0\nCPU implementer\t: 0x7a\nCPU part\t: 0x123\n")
    assert procfs.cpu_info(host.paths).model_name == "implementer 0x7a part 0x123"


def test_cpu_info_arm32_and_power_name_keys(host: FakeHost) -> None:
    host.cpuinfo("processor\t: 0\nmodel name\t: ARMv7 Processor rev 4 (v7l)\nBogoMIPS\t: 38.40\n")
    assert procfs.cpu_info(host.paths).model_name == "ARMv7 Processor rev 4 (v7l)"
    host.cpuinfo(
        "processor\t: 0\ncpu\t\t: POWER9 (raw), altivec supported\nclock\t\t: 3800.000000MHz\n\n"
        "processor\t: 1\ncpu\t\t: POWER9 (raw), altivec supported\n\n"
        "timebase\t: 512000000\nplatform\t: PowerNV\nmachine\t\t: PowerNV 9006-22P\n"
    )
    info = procfs.cpu_info(host.paths)
    assert (info.model_name, info.logical_cpus, info.sockets) == (
        "POWER9 (raw), altivec supported",
        2,
        1,
    )


def test_cpu_info_without_processors_is_an_error(host: FakeHost) -> None:
    host.cpuinfo("garbage\n")
    with pytest.raises(ValueError):
        procfs.cpu_info(host.paths)


# --- /proc/meminfo and /proc/uptime -------------------------------------------------------


def test_mem_total_bytes_converts_kib(host: FakeHost) -> None:
    host.meminfo(total_kib=24684092)
    assert procfs.mem_total_bytes(host.paths) == 24684092 * 1024


def test_mem_total_missing_line(host: FakeHost) -> None:
    host.write("proc/meminfo", "MemFree: 1 kB\n")
    with pytest.raises(ValueError):
        procfs.mem_total_bytes(host.paths)


def test_uptime_first_number(host: FakeHost) -> None:
    host.write("proc/uptime", "3798.88 7531.59\n")
    assert procfs.uptime_s(host.paths) == 3798.88
