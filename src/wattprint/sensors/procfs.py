"""Cheap readers of the Linux ``/proc`` files the CPU and RAM models need.

Every reader takes a :class:`~wattprint.sensors.HostPaths` so tests point it at a fake tree.
Readers raise ``OSError`` when a file is missing or unreadable and ``ValueError`` when its
content is not what the kernel documents; callers (the probes) turn those into
:class:`~wattprint.errors.SensorUnavailable` with a reason.

Formats follow the kernel's ``Documentation/filesystems/proc.rst``. The hot-path readers
(:func:`read_busy_total_s`, :func:`read_uptime_s`) read one small chunk with ``os.read`` and
parse bytes, because they run on every sampling tick and must cost tens of microseconds.
"""

from __future__ import annotations

import os
from functools import lru_cache

from .._struct import dataclass
from . import HostPaths
from ._files import KeptFile
from .arm_cpus import arm_cpu_name

__all__ = [
    "ProcFile",
    "CpuInfo",
    "CpuTimes",
    "clock_ticks_per_s",
    "cpu_info",
    "cpu_times",
    "mem_total_bytes",
    "parse_cpu_line",
    "read_busy_total_s",
    "read_uptime_s",
    "uptime_s",
]

# The first line of /proc/stat ("cpu  user nice system ...") is under 256 bytes even with ten
# 20-digit counters; seq_file renders the whole file on the first read() but copies only what we
# ask for, so one small read is enough and avoids copying the (long) "intr" line into Python.
_FIRST_LINE_BYTES = 1024


@dataclass(frozen=True, slots=True)
class CpuTimes:
    """Cumulative CPU time since boot, summed over all CPUs (seconds of CPU time)."""

    busy_s: float
    total_s: float
    n_cpus: int


@dataclass(frozen=True, slots=True)
class CpuInfo:
    """What ``/proc/cpuinfo`` says about the processors the kernel sees."""

    model_name: str
    sockets: int
    logical_cpus: int
    hypervisor: bool
    # Whether ``sockets`` was counted from "physical id" lines (x86); ARM and POWER kernels
    # print none, and then ``sockets`` is 1 whatever the machine has.
    sockets_counted: bool = True


@lru_cache(maxsize=1)
def clock_ticks_per_s() -> int:
    """USER_HZ, the unit of /proc/stat times (100 on every mainstream Linux architecture)."""
    return int(os.sysconf("SC_CLK_TCK"))


def read_bytes(path: str, size: int = -1) -> bytes:
    """Read a pseudo-file with raw ``os`` calls (no buffered-IO object: a few µs cheaper).

    ``size`` > 0 reads at most that many bytes in one call; -1 reads to the end.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        if size > 0:
            return os.read(fd, size)
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def parse_cpu_line(line: bytes, clk_tck: int) -> tuple[float, float]:
    """``(busy_s, total_s)`` from a ``cpu ...`` line of /proc/stat.

    Columns: user nice system idle iowait irq softirq steal guest guest_nice. Busy is every
    column except idle and iowait, the convention of top and psutil. guest and guest_nice are
    left out of both sums because the kernel already adds them to user and nice
    (kernel/sched/cputime.c, account_guest_time). Old kernels print fewer columns; missing ones
    count as zero.
    """
    fields = line.split()
    if not fields or not fields[0].startswith(b"cpu") or len(fields) < 5:
        raise ValueError(f"not a /proc/stat cpu line: {line[:80]!r}")
    ticks = [int(x) for x in fields[1:9]]
    ticks.extend([0] * (8 - len(ticks)))
    user, nice, system, idle, iowait, irq, softirq, steal = ticks
    busy = user + nice + system + irq + softirq + steal
    return busy / clk_tck, (busy + idle + iowait) / clk_tck


def cpu_times(paths: HostPaths, *, clk_tck: int | None = None) -> CpuTimes:
    """Host CPU times from ``<proc>/stat``; ``n_cpus`` counts the per-CPU (online) lines."""
    data = read_bytes(str(paths.proc / "stat"))
    end = data.find(b"\n")
    busy_s, total_s = parse_cpu_line(
        data[: end if end >= 0 else None], clk_tck or clock_ticks_per_s()
    )
    # Per-CPU lines are "cpuN ..." at the start of a line; the aggregate line is "cpu  ...".
    n_cpus = data.count(b"\ncpu")
    if n_cpus == 0:
        raise ValueError(f"{paths.proc / 'stat'} lists no per-CPU lines")
    return CpuTimes(busy_s=busy_s, total_s=total_s, n_cpus=n_cpus)


def read_busy_total_s(stat_path: str, clk_tck: int) -> tuple[float, float]:
    """Hot path of :func:`cpu_times`: ``(busy_s, total_s)`` from one small read."""
    data = read_bytes(stat_path, _FIRST_LINE_BYTES)
    end = data.find(b"\n")
    return parse_cpu_line(data[: end if end >= 0 else None], clk_tck)


# /proc/cpuinfo keys that name the processor, best first: x86 and some 32-bit ARM kernels print
# "model name"; older 32-bit ARM "Processor"; MIPS "cpu model"; POWER "cpu" ("POWER9 (raw), ...").
_NAME_KEYS = ("model name", "Processor", "cpu model", "cpu")
# Boards (Raspberry Pi and the like) add these to a trailing block: a last resort, they name the
# board rather than the processor.
_BOARD_KEYS = ("Model", "Hardware")


def _parse_cpuinfo(text: str) -> list[dict[str, str]]:
    """Split /proc/cpuinfo into blank-line separated blocks of ``key: value`` pairs."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for raw in text.splitlines():
        key, sep, value = raw.partition(":")
        if not sep:
            if current:
                blocks.append(current)
                current = {}
            continue
        current[key.strip()] = value.strip()
    if current:
        blocks.append(current)
    return blocks


def _dmi_sys_vendor(paths: HostPaths) -> str | None:
    """The machine's DMI vendor ("Amazon EC2", "Google", ...); None where DMI is unreadable."""
    try:
        return (paths.sys / "class" / "dmi" / "id" / "sys_vendor").read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _model_name(blocks: list[dict[str, str]], paths: HostPaths) -> str:
    merged: dict[str, str] = {}
    for block in reversed(blocks):  # the first processor's values win over later blocks
        merged.update(block)
    for key in _NAME_KEYS:
        if merged.get(key):
            return merged[key]
    # 64-bit ARM kernels print only the MIDR codes ("CPU implementer", "CPU part").
    arm = arm_cpu_name(
        merged.get("CPU implementer", ""),
        merged.get("CPU part", ""),
        lambda: _dmi_sys_vendor(paths),
    )
    if arm:
        return arm
    for key in (*_BOARD_KEYS, "vendor_id"):
        if merged.get(key):
            return merged[key]
    return ""


def cpu_info(paths: HostPaths) -> CpuInfo:
    """Model name, socket count, logical CPUs and the hypervisor flag from ``<proc>/cpuinfo``.

    On 64-bit ARM the model name comes from the MIDR codes (:mod:`.arm_cpus`), with the DMI
    vendor under ``<sys>/class/dmi/id`` where the core alone does not tell the chip.
    """
    path = paths.proc / "cpuinfo"
    blocks = _parse_cpuinfo(path.read_text(encoding="utf-8", errors="replace"))
    processors = [b for b in blocks if "processor" in b]
    if not processors:
        raise ValueError(f"{path} lists no processors")
    # Distinct "physical id" values are sockets; ARM, POWER and many VMs omit it: one socket.
    socket_ids = {b["physical id"] for b in processors if "physical id" in b}
    sockets = len(socket_ids) or 1
    # x86 guests see CPUID's hypervisor-present bit as the "hypervisor" flag; ARM has no such flag.
    hypervisor = "hypervisor" in processors[0].get("flags", "").split()
    return CpuInfo(
        model_name=_model_name(blocks, paths),
        sockets=sockets,
        logical_cpus=len(processors),
        hypervisor=hypervisor,
        sockets_counted=bool(socket_ids),
    )


def mem_total_bytes(paths: HostPaths) -> int:
    """``MemTotal`` from ``<proc>/meminfo``: RAM the kernel manages (a little under installed)."""
    path = paths.proc / "meminfo"
    for line in read_bytes(str(path)).splitlines():
        if line.startswith(b"MemTotal:"):
            fields = line.split()
            # The kernel always prints this in "kB", meaning KiB (fs/proc/meminfo.c).
            return int(fields[1]) * 1024
    raise ValueError(f"{path} has no MemTotal line")


class ProcFile(KeptFile):
    """A /proc file kept open and re-read with ``pread`` at offset 0 (see :class:`KeptFile`).

    procfs regenerates the text on every read from offset 0, so one open descriptor serves the
    whole run: each tick costs one syscall instead of open + read + close. The file is opened on
    the first read; a descriptor that goes bad (the file vanished, a forked child closed it) is
    reopened once. Errors are ``OSError`` (unreadable) and ``ValueError`` (unexpected content).
    """

    __slots__ = ()

    def busy_total_s(self, clk_tck: int) -> tuple[float, float]:
        """``(busy_s, total_s)`` from /proc/stat's first line."""
        data = self.read(_FIRST_LINE_BYTES)
        end = data.find(b"\n")
        return parse_cpu_line(data[: end if end >= 0 else None], clk_tck)

    def uptime_s(self) -> float:
        return float(self.read(256).split(None, 1)[0])


def read_uptime_s(uptime_path: str) -> float:
    """Hot path of :func:`uptime_s`: seconds since boot from one small read."""
    return float(read_bytes(uptime_path, 256).split(None, 1)[0])


def uptime_s(paths: HostPaths) -> float:
    """Seconds since boot from ``<proc>/uptime`` (its first number; the second is idle time)."""
    return read_uptime_s(str(paths.proc / "uptime"))
