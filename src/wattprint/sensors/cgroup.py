"""This process's cgroup: its CPU quota, memory limit and usage counters (v1 and v2).

A container's share of a host is its cgroup. The CPU and RAM models use it when the cgroup is
*limited* (a CPU quota below the host's CPU count, or a memory limit below the host's RAM); an
unlimited cgroup is not a share of anything, so the models fall back to the host.

Where the files are:

- ``<proc>/self/cgroup`` names the cgroup: ``0::/path`` for the v2 unified hierarchy, and
  ``id:controllers:/path`` per v1 hierarchy (``4:memory:/docker/abc``, ``2:cpu,cpuacct:/...``).
- v2 mounts one hierarchy at ``/sys/fs/cgroup`` (it has ``cgroup.controllers``). Hybrid hosts
  mount an empty v2 tree at ``/sys/fs/cgroup/unified`` and the controllers as v1, so v1 wins there.
- v1 mounts one directory per hierarchy, named after its controllers (``cpu,cpuacct``, with
  ``cpu`` and ``cpuacct`` often symlinks to it, or separate ``cpu`` and ``cpuacct``).
- In a container the path from ``/proc/self/cgroup`` is often ``/`` (cgroup namespaces) or a host
  path such as ``/docker/abc`` that does not exist inside, because the runtime mounted the
  container's own cgroup at the mount root. Either way the files are at the mount root.

A limit set on an ancestor binds too (cgroup-v2.rst, "Top-down Constraint"), so the effective
limit is the tightest one from the cgroup up to the mount root.

Formats: kernel ``Documentation/admin-guide/cgroup-v2.rst`` (``cpu.max``, ``cpu.stat``,
``memory.max``, ``memory.current``) and ``cgroup-v1/`` (``cpu.cfs_quota_us``,
``cpuacct.usage``, ``memory.limit_in_bytes``, ``memory.usage_in_bytes``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .._struct import dataclass
from . import HostPaths
from .procfs import cpu_times, mem_total_bytes, read_bytes

__all__ = ["Cgroup", "detect_cgroup", "parse_proc_self_cgroup"]

# v1 reports "no limit" as the largest page-aligned signed 64-bit value: 2**63 - 4096 with 4 KiB
# pages (9223372036854771712), 2**63 - 65536 with 64 KiB pages. Anything above 2**62 bytes
# (4 EiB) is that sentinel: no machine has that much RAM.
_V1_UNLIMITED_BYTES = 2**62

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TypeVar

    _N = TypeVar("_N", int, float)


@dataclass(frozen=True, slots=True)
class Cgroup:
    """The cgroup this process runs in, with its effective limits and where its counters live."""

    version: int  # 1 or 2
    path: str  # as named in /proc/self/cgroup (the memory or cpu hierarchy's path for v1)
    cpu_quota_cores: float | None  # CPUs' worth of time per period; None: no quota
    memory_limit_bytes: int | None  # None: no limit
    host_cpus: int  # CPUs the host kernel has online, for deciding whether a quota limits
    host_memory_bytes: int | None  # host MemTotal, for deciding whether a memory limit limits
    cpu_usage_file: str | None = None  # v2 cpu.stat or v1 cpuacct.usage
    memory_usage_file: str | None = None  # v2 memory.current or v1 memory.usage_in_bytes

    @property
    def cpu_limited(self) -> bool:
        return self.cpu_quota_cores is not None and self.cpu_quota_cores < self.host_cpus

    @property
    def memory_limited(self) -> bool:
        if self.memory_limit_bytes is None:
            return False
        return self.host_memory_bytes is None or self.memory_limit_bytes < self.host_memory_bytes

    @property
    def limited(self) -> bool:
        """True when the cgroup is a real share: a CPU quota or memory limit below the host's."""
        return self.cpu_limited or self.memory_limited

    def cpu_usage_s(self) -> float:
        """CPU time this cgroup (and its children) used since it was created, in seconds."""
        if self.cpu_usage_file is None:
            raise OSError("this cgroup has no CPU usage counter")
        data = read_bytes(self.cpu_usage_file, 256)
        if self.version == 2:
            # cpu.stat starts with "usage_usec N" (cgroup-v2.rst, "CPU Interface Files").
            key, value = data.split(None, 2)[:2]
            if key != b"usage_usec":
                raise ValueError(f"{self.cpu_usage_file} does not start with usage_usec")
            return int(value) / 1e6
        return int(data) / 1e9  # cpuacct.usage is nanoseconds

    def memory_usage_bytes(self) -> int:
        """Memory this cgroup uses now (page cache included, as the kernel charges it)."""
        if self.memory_usage_file is None:
            raise OSError("this cgroup has no memory usage counter")
        return int(read_bytes(self.memory_usage_file, 64))


def parse_proc_self_cgroup(text: str) -> tuple[str | None, dict[str, str]]:
    """``(v2 path or None, {v1 controller: path})`` from the text of /proc/self/cgroup."""
    unified: str | None = None
    v1: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and controllers == "":
            unified = path
            continue
        # Keep the comma-joined name too: it is the usual mount directory ("cpu,cpuacct").
        v1[controllers] = path
        for name in controllers.split(","):
            v1[name] = path
    return unified, v1


def _read_text(path: Path) -> str | None:
    try:
        return read_bytes(str(path)).decode().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _cgroup_dir(mount: Path, path: str) -> Path:
    """The directory of cgroup ``path`` under ``mount``, or the mount root inside a container."""
    candidate = mount / path.lstrip("/")
    return candidate if path not in ("", "/") and candidate.is_dir() else mount


def _chain(mount: Path, leaf: Path) -> list[Path]:
    """``leaf`` and each ancestor up to and including ``mount``: every limit on it binds."""
    chain = [leaf]
    while chain[-1] != mount and mount in chain[-1].parents:
        chain.append(chain[-1].parent)
    return chain


def _tightest(values: Iterable[_N | None]) -> _N | None:
    known = [v for v in values if v is not None]
    return min(known) if known else None


# --- cgroup v2 ---------------------------------------------------------------------------------


def _v2_quota_cores(directory: Path) -> float | None:
    text = _read_text(directory / "cpu.max")  # "$MAX $PERIOD", MAX may be "max"
    if not text:
        return None
    fields = text.split()
    if fields[0] == "max" or len(fields) < 2 or int(fields[1]) <= 0:
        return None
    return int(fields[0]) / int(fields[1])


def _v2_memory_limit(directory: Path) -> int | None:
    text = _read_text(directory / "memory.max")  # bytes, or "max"
    return None if not text or text == "max" else int(text)


def _detect_v2(mount: Path, path: str, host_cpus: int, host_mem: int | None) -> Cgroup:
    leaf = _cgroup_dir(mount, path)
    chain = _chain(mount, leaf)
    cpu_stat = leaf / "cpu.stat"
    memory_current = leaf / "memory.current"
    return Cgroup(
        version=2,
        path=path,
        cpu_quota_cores=_tightest(_v2_quota_cores(d) for d in chain),
        memory_limit_bytes=_tightest(_v2_memory_limit(d) for d in chain),
        host_cpus=host_cpus,
        host_memory_bytes=host_mem,
        cpu_usage_file=str(cpu_stat) if cpu_stat.is_file() else None,
        memory_usage_file=str(memory_current) if memory_current.is_file() else None,
    )


# --- cgroup v1 ---------------------------------------------------------------------------------


def _v1_mount(root: Path, controller: str, v1: dict[str, str]) -> Path | None:
    """The mount directory of a v1 controller: its joined hierarchy name, else its own name."""
    joined = next((k for k in v1 if "," in k and controller in k.split(",")), None)
    for name in (joined, controller):
        if name and (root / name).is_dir():
            return root / name
    return None


def _v1_quota_cores(directory: Path) -> float | None:
    quota = _read_text(directory / "cpu.cfs_quota_us")  # -1: no quota
    period = _read_text(directory / "cpu.cfs_period_us")
    if not quota or not period or int(quota) < 0 or int(period) <= 0:
        return None
    return int(quota) / int(period)


def _v1_memory_limit(directory: Path) -> int | None:
    text = _read_text(directory / "memory.limit_in_bytes")
    if not text:
        return None
    value = int(text)
    return None if value >= _V1_UNLIMITED_BYTES else value


def _detect_v1(
    root: Path, v1: dict[str, str], host_cpus: int, host_mem: int | None
) -> Cgroup | None:
    cpu_mount = _v1_mount(root, "cpu", v1) if "cpu" in v1 else None
    acct_mount = _v1_mount(root, "cpuacct", v1) if "cpuacct" in v1 else None
    mem_mount = _v1_mount(root, "memory", v1) if "memory" in v1 else None
    if cpu_mount is None and acct_mount is None and mem_mount is None:
        return None
    quota: float | None = None
    usage_file: str | None = None
    if cpu_mount is not None:
        cpu_leaf = _cgroup_dir(cpu_mount, v1["cpu"])
        quota = _tightest(_v1_quota_cores(d) for d in _chain(cpu_mount, cpu_leaf))
    if acct_mount is not None:
        usage = _cgroup_dir(acct_mount, v1["cpuacct"]) / "cpuacct.usage"
        usage_file = str(usage) if usage.is_file() else None
    memory_limit: int | None = None
    memory_file: str | None = None
    if mem_mount is not None:
        leaf = _cgroup_dir(mem_mount, v1["memory"])
        memory_limit = _tightest(_v1_memory_limit(d) for d in _chain(mem_mount, leaf))
        current = leaf / "memory.usage_in_bytes"
        memory_file = str(current) if current.is_file() else None
    return Cgroup(
        version=1,
        path=v1.get("memory", v1.get("cpu", v1.get("cpuacct", "/"))),
        cpu_quota_cores=quota,
        memory_limit_bytes=memory_limit,
        host_cpus=host_cpus,
        host_memory_bytes=host_mem,
        cpu_usage_file=usage_file,
        memory_usage_file=memory_file,
    )


# --- detection ---------------------------------------------------------------------------------


def detect_cgroup(paths: HostPaths, *, host_cpus: int | None = None) -> Cgroup | None:
    """This process's cgroup with its effective limits, or None when there is none to read.

    ``host_cpus`` defaults to the online CPUs in ``<proc>/stat``; the host's RAM comes from
    ``<proc>/meminfo``. Never raises for a missing or odd cgroup: no cgroup is a valid answer.
    """
    text = _read_text(paths.proc / "self" / "cgroup")
    if text is None:
        return None
    unified, v1 = parse_proc_self_cgroup(text)
    host_mem = _host_memory(paths)
    n_cpus = host_cpus if host_cpus is not None else _host_cpus(paths)
    root = paths.cgroup
    try:
        if unified is not None and (root / "cgroup.controllers").is_file():
            return _detect_v2(root, unified, n_cpus, host_mem)
        if v1:
            return _detect_v1(root, v1, n_cpus, host_mem)
    except (OSError, ValueError):
        return None  # a half-readable cgroup tree: treat as none and model the host
    return None


def _host_memory(paths: HostPaths) -> int | None:
    try:
        return mem_total_bytes(paths)
    except (OSError, ValueError):
        return None


def _host_cpus(paths: HostPaths) -> int:
    try:
        return cpu_times(paths).n_cpus
    except (OSError, ValueError):
        return 1  # unknown: any quota of at least one CPU then counts as no CPU limit
