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

from ._struct import dataclass, field
from .sensors import DeviceInfo, HostPaths

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Mapping, Protocol, Sequence

    from .cluster import Job

__all__ = ["WHOLE", "AllocationScope", "MachineScope", "ProcessScope", "Shares", "make_scope"]


# How a device's per-interval split (see Shares.devices) maps onto a share's basis. NVML's
# "idle-memory" (no SM work in the window: idle power split by memory held) is a convention, not
# a measurement of whose work it was: estimated. An unknown split is never called measured.
_DEVICE_SPLIT_BASIS = {"utilization": "measured", "idle-memory": "estimated",
                       "memory": "estimated", "unattributed": "whole"}


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
    # per-device shares (GPUs) and how each was split: "utilization", "idle-memory", "memory" or
    # "unattributed" (see _DEVICE_SPLIT_BASIS)
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


WHOLE = Shares()  # machine scope: every device counted whole


if TYPE_CHECKING:  # only type checks use the protocol (typing costs milliseconds to import)
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
    """The share of a process tree (a pid and all its descendants).

    The tree's CPU time comes from per-process counters, each process counted once whoever
    reaps it (see :mod:`wattprint.tree_cpu`). When the tree cannot be read, the interval's
    shares say so in ``problems`` and are labelled ``estimated`` (the last shares read) or
    ``whole``; they never silently become the whole machine.
    """

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
        from .tree_cpu import TreeCpuLedger

        self._pid = pid
        self._procfs = procfs
        self._paths = paths
        self._ledger = TreeCpuLedger(psutil.Process(pid))
        self._cgroup = cgroup.detect_cgroup(paths) if "cgroup" in (cpu_coverage, ram_coverage) else None
        self._cpu_coverage = cpu_coverage if self._cgroup else "host"
        self._ram_coverage = ram_coverage if self._cgroup else "host"
        self._attributors = list(attributors)
        self._last_tree_cpu_s = 0.0
        self._last_total_cpu_s = 0.0
        self._last_good: Shares | None = None  # the last interval the whole tree was read
        self._last_pids: frozenset[int] | None = None
        self._root_gone = False

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
        self._last_tree_cpu_s = self._ledger.read().cpu_s
        self._last_total_cpu_s = self._covered_busy_cpu_s()

    def shares(self) -> Shares:
        total_cpu = self._covered_busy_cpu_s()
        d_total = total_cpu - self._last_total_cpu_s
        self._last_total_cpu_s = total_cpu
        try:
            tree = self._ledger.read()
        except Exception as exc:  # psutil.Error, OSError: /proc unreadable
            return self._unread(f"process {self._pid}: its tree cannot be read ({exc!r})")
        d_tree = tree.cpu_s - self._last_tree_cpu_s
        self._last_tree_cpu_s = tree.cpu_s
        cpu = min(1.0, d_tree / d_total) if d_total > 0 else 0.0
        memory = self._covered_memory_bytes()
        ram = min(1.0, tree.rss_bytes / memory) if memory > 0 else 0.0
        devices, problems = self._device_shares(tree.pids)
        basis = "measured"
        if not tree.root_alive:
            basis = "estimated"
            if self._root_gone:
                problems.append(f"process {self._pid} is gone: nothing is attributed to it; "
                                "descendants it left behind are not followed")
            else:
                self._root_gone = True
                # It held its memory for part of this interval: its last reading, an estimate.
                ram = self._last_good.ram if self._last_good is not None else 0.0
                problems.append(f"process {self._pid} exited during this interval: its CPU time "
                                "since the previous interval is not counted; its memory is its "
                                "last reading")
        elif tree.unreadable:
            basis = "estimated"
            problems.append(f"process {self._pid}: {tree.unreadable} process(es) of its tree "
                            "could not be read (permission denied): their CPU time and memory "
                            "since are not counted")
        shares = Shares(cpu=cpu, ram=ram, devices=devices, cpu_basis=basis, ram_basis=basis,
                        problems=tuple(problems))
        if basis == "measured":
            self._last_good, self._last_pids = shares, tree.pids
        return shares

    def _unread(self, why: str) -> Shares:
        last = self._last_good
        if last is None or self._last_pids is None:
            return Shares(problems=(f"{why}; the whole machine is counted",))
        # The GPU driver's accounting does not need /proc: ask it about the pids last seen.
        devices, problems = self._device_shares(self._last_pids)
        return Shares(cpu=last.cpu, ram=last.ram, devices=devices, cpu_basis="estimated",
                      ram_basis="estimated",
                      problems=(f"{why}; CPU and RAM shares of the previous interval are used",
                                *problems))

    def _device_shares(
        self, pids: frozenset[int]
    ) -> tuple[dict[str, tuple[float, str]], list[str]]:
        out: dict[str, tuple[float, str]] = {}
        problems: list[str] = []
        for sensor in self._attributors:
            try:
                out.update(sensor.process_shares(pids))
            except Exception as exc:  # the sensor's GPUs count whole, and this record says so
                names = _device_names(sensor)
                out.update((name, (1.0, "unattributed")) for name in names)
                problems.append(f"{sensor.name}: per-process GPU attribution failed ({exc!r}); "
                                f"{', '.join(names) or 'its GPUs'} counted whole")
        return out, problems


def _device_names(sensor: Any) -> list[str]:
    try:
        return [info.device for info in sensor.devices()]
    except Exception:  # a sensor that cannot even list its devices: the problem names it
        return []


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
