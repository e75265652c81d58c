"""Which share of each device's energy belongs to what we track.

``machine`` scope keeps everything. ``process`` scope attributes to a process tree, per
interval, its share of CPU time and of memory, following the convention Scaphandre documents
for per-process power (a process gets the part of CPU energy its CPU time is of all busy CPU
time):

- CPU share = process-tree CPU seconds / busy CPU seconds of what the CPU sensor covers
  (the host from ``/proc/stat``, or the container from its cgroup when the CPU model covers
  the cgroup only);
- RAM share = process-tree resident memory / memory the RAM sensor covers (host total, or the
  cgroup limit).

GPUs are split by the GPU driver's per-process accounting: sensors that can
(``process_shares``, e.g. NVML's per-process SM utilization, with memory held as a labelled
fallback) are asked once per interval for the tree's pids. Whole-system and SoC counters, and
GPUs whose sensor cannot attribute, are kept whole and say so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Protocol, Sequence

from .sensors import DeviceInfo, HostPaths

if TYPE_CHECKING:
    from .cluster import Job

__all__ = ["MachineScope", "ProcessScope", "Scope", "Shares", "make_scope"]

log = logging.getLogger("wattprint.scope")


# How a device's per-interval split (see Shares.devices) maps onto a share's basis.
_DEVICE_SPLIT_BASIS = {"utilization": "measured", "memory": "estimated", "unattributed": "whole"}


@dataclass(frozen=True, slots=True)
class Shares:
    """One interval's shares, each with the basis it rests on.

    Basis values: ``whole`` (nothing split: machine scope, or attribution failed),
    ``measured`` (split from per-process counters: CPU time, RSS, the GPU driver's per-process
    utilization), ``allocated`` (a scheduler allocation), ``estimated`` (a fallback guess, e.g.
    GPU memory held instead of utilization). ``problems`` are this interval's attribution
    failures, as messages for a human; the recorder turns each into a gap of that record.
    """

    cpu: float = 1.0
    ram: float = 1.0
    # per-device shares (GPUs), with how each was split: "utilization" | "memory" | "unattributed"
    devices: Mapping[str, tuple[float, str]] = field(default_factory=dict)
    cpu_basis: str = "whole"
    ram_basis: str = "whole"
    problems: tuple[str, ...] = ()

    def for_device(self, device: str, component: str) -> float:
        found = self.devices.get(device)
        if found is not None:
            return found[0]
        if component == "cpu":
            return self.cpu
        if component == "ram":
            return self.ram
        return 1.0

    def basis_for(self, device: str, component: str) -> str:
        """The basis of ``for_device(device, component)``."""
        found = self.devices.get(device)
        if found is not None:
            return _DEVICE_SPLIT_BASIS.get(found[1], "estimated")
        if component == "cpu":
            return self.cpu_basis
        if component == "ram":
            return self.ram_basis
        return "whole"


class Scope(Protocol):
    name: str

    def start(self) -> None: ...

    def shares(self) -> Shares: ...


class MachineScope:
    name = "machine"

    def start(self) -> None:
        pass

    def shares(self) -> Shares:
        return Shares()


class ProcessScope:
    """The share of a process tree (a pid and all its descendants)."""

    name = "process"

    def __init__(
        self,
        pid: int,
        *,
        paths: HostPaths,
        cpu_coverage: str = "host",
        ram_coverage: str = "host",
        attributors: Sequence[Any] = (),
    ) -> None:
        import psutil

        from .sensors import cgroup, procfs

        self._psutil = psutil
        self._procfs = procfs
        self._paths = paths
        self._root = psutil.Process(pid)
        self._cgroup = cgroup.detect_cgroup(paths) if "cgroup" in (cpu_coverage, ram_coverage) else None
        self._cpu_coverage = cpu_coverage if self._cgroup else "host"
        self._ram_coverage = ram_coverage if self._cgroup else "host"
        self._attributors = list(attributors)
        self._last_tree_cpu_s = 0.0
        self._last_total_cpu_s = 0.0
        self._gone = False

    def _tree(self) -> list[object]:
        try:
            return [self._root, *self._root.children(recursive=True)]
        except self._psutil.Error:
            return []

    def _tree_cpu_s(self, procs: list[object]) -> float:
        total = 0.0
        for index, proc in enumerate(procs):
            try:
                times = proc.cpu_times()  # type: ignore[attr-defined]
            except self._psutil.Error:
                continue  # exited between listing and reading: its time moves to its parent
            total += times.user + times.system
            if index == 0:  # reaped children's time is folded into the root's counters
                total += times.children_user + times.children_system
        return total

    def _covered_busy_cpu_s(self) -> float:
        if self._cpu_coverage == "cgroup" and self._cgroup is not None:
            return self._cgroup.cpu_usage_s()
        return self._procfs.cpu_times(self._paths).busy_s

    def _covered_memory_bytes(self) -> float:
        if self._ram_coverage == "cgroup" and self._cgroup is not None:
            limit = self._cgroup.memory_limit_bytes
            if limit:
                return float(limit)
        return float(self._procfs.mem_total_bytes(self._paths))

    def start(self) -> None:
        self._last_tree_cpu_s = self._tree_cpu_s(self._tree())
        self._last_total_cpu_s = self._covered_busy_cpu_s()

    def shares(self) -> Shares:
        procs = self._tree()
        tree_cpu = self._tree_cpu_s(procs)
        total_cpu = self._covered_busy_cpu_s()
        d_tree = max(0.0, tree_cpu - self._last_tree_cpu_s)
        d_total = total_cpu - self._last_total_cpu_s
        self._last_tree_cpu_s, self._last_total_cpu_s = tree_cpu, total_cpu
        cpu = min(1.0, d_tree / d_total) if d_total > 0 else 0.0
        rss = 0
        for proc in procs:
            try:
                rss += proc.memory_info().rss  # type: ignore[attr-defined]
            except self._psutil.Error:
                continue
        memory = self._covered_memory_bytes()
        ram = min(1.0, rss / memory) if memory > 0 else 0.0
        return Shares(cpu=cpu, ram=ram, devices=self._device_shares(procs),
                      cpu_basis="measured", ram_basis="measured")

    def _device_shares(self, procs: list[object]) -> dict[str, tuple[float, str]]:
        if not self._attributors:
            return {}
        pids = frozenset(p.pid for p in procs)  # type: ignore[attr-defined]
        out: dict[str, tuple[float, str]] = {}
        for sensor in self._attributors:
            try:
                out.update(sensor.process_shares(pids))
            except Exception as exc:  # the device then counts whole, and the run says so
                log.warning("wattprint: %s cannot attribute per process: %r", sensor.name, exc)
        return out


class AllocationScope:
    """A batch job's share of a node: what the scheduler allocated to it (SLURM CPUs and memory
    on this node) over what the node has. Allocated resources are held for the job whether it
    uses them or not, so the job answers for their share of the node's energy."""

    name = "allocation"

    def __init__(self, *, cpu_share: float, ram_share: float) -> None:
        self._shares = Shares(cpu=min(1.0, cpu_share), ram=min(1.0, ram_share),
                              cpu_basis="allocated", ram_basis="allocated")

    def start(self) -> None:
        pass

    def shares(self) -> Shares:
        return self._shares


def make_scope(
    name: str,
    *,
    pid: int,
    devices: list[DeviceInfo],
    paths: HostPaths,
    job: Job | None = None,
    sensors: Sequence[Any] = (),
) -> Scope:
    """The scope for a run. In a distributed job, ``process`` means the job's share of the node
    (its SLURM allocation, or the launcher's process tree holding every local rank)."""
    if name == "machine":
        return MachineScope()
    if job is not None and job.allocated_cpus:
        from .sensors import procfs

        host = procfs.cpu_times(paths)
        memory = procfs.mem_total_bytes(paths)
        ram = (job.allocated_memory_bytes / memory) if job.allocated_memory_bytes else (
            job.allocated_cpus / host.n_cpus)
        return AllocationScope(cpu_share=job.allocated_cpus / host.n_cpus, ram_share=ram)
    if job is not None and job.launcher_pid is not None:
        # The launcher on this node (torchrun's agent, an MPI proxy, Lightning's rank 0, ...):
        # its tree holds every local rank, which the node leader answers for.
        pid = job.launcher_pid
    coverage = {d.component: d.coverage for d in devices}
    return ProcessScope(
        pid,
        paths=paths,
        cpu_coverage=coverage.get("cpu", "host"),
        ram_coverage=coverage.get("ram", "host"),
        attributors=[s for s in sensors if hasattr(s, "process_shares")],
    )
