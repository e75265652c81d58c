"""Build fake ``/proc`` and ``/sys/fs/cgroup`` trees in a temporary directory.

Tests import this with ``sys.path`` pointing at ``tests/`` (pytest runs with
``--import-mode=importlib`` and there are no ``__init__.py`` files), then point a
:class:`~wattprint.sensors.HostPaths` at :attr:`FakeHost.paths`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wattprint.sensors import HostPaths
from wattprint.sensors.procfs import clock_ticks_per_s


@dataclass
class FakeHost:
    root: Path

    @property
    def paths(self) -> HostPaths:
        return HostPaths(sys=self.root / "sys", proc=self.root / "proc", etc=self.root / "etc")

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    # --- /proc ----------------------------------------------------------------------------

    def stat(
        self,
        *,
        n_cpus: int,
        user_s: float = 0.0,
        nice_s: float = 0.0,
        system_s: float = 0.0,
        idle_s: float = 0.0,
        iowait_s: float = 0.0,
        irq_s: float = 0.0,
        softirq_s: float = 0.0,
        steal_s: float = 0.0,
        guest_s: float = 0.0,
        guest_nice_s: float = 0.0,
    ) -> None:
        """A /proc/stat whose aggregate line holds these seconds (in USER_HZ ticks)."""
        hz = clock_ticks_per_s()
        seconds = (
            user_s,
            nice_s,
            system_s,
            idle_s,
            iowait_s,
            irq_s,
            softirq_s,
            steal_s,
            guest_s,
            guest_nice_s,
        )
        ticks = " ".join(str(round(s * hz)) for s in seconds)
        per_cpu = " ".join(str(round(s * hz / n_cpus)) for s in seconds)
        lines = [f"cpu  {ticks}"]
        lines += [f"cpu{i} {per_cpu}" for i in range(n_cpus)]
        lines += [
            "intr 4016153 9 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0",
            "ctxt 7371218",
            "btime 1718000000",
            "processes 12034",
            "procs_running 2",
            "procs_blocked 0",
            "softirq 1855380 0 213006 3 2561 0 0 61 1106553 0 533196",
        ]
        self.write("proc/stat", "\n".join(lines) + "\n")

    def load(self, *, n_cpus: int, wall_s: float, busy_fraction: float) -> None:
        """/proc/stat after ``wall_s`` seconds on ``n_cpus`` CPUs at ``busy_fraction`` load."""
        total = wall_s * n_cpus
        self.stat(n_cpus=n_cpus, user_s=total * busy_fraction, idle_s=total * (1 - busy_fraction))

    def cpuinfo(self, text: str) -> None:
        self.write("proc/cpuinfo", text)

    def x86_cpuinfo(
        self,
        model_name: str,
        *,
        sockets: int = 1,
        cpus_per_socket: int = 4,
        hypervisor: bool = False,
    ) -> None:
        flags = "fpu vme de pse tsc msr pae mce cx8 apic sep sse sse2 ht syscall nx lm"
        if hypervisor:
            flags += " hypervisor"
        flags += " avx avx2"
        blocks = []
        for socket in range(sockets):
            for core in range(cpus_per_socket):
                blocks.append(
                    f"processor\t: {socket * cpus_per_socket + core}\n"
                    "vendor_id\t: GenuineIntel\n"
                    "cpu family\t: 6\n"
                    "model\t\t: 85\n"
                    f"model name\t: {model_name}\n"
                    "cpu MHz\t\t: 2500.000\n"
                    f"physical id\t: {socket}\n"
                    f"siblings\t: {cpus_per_socket}\n"
                    f"core id\t\t: {core}\n"
                    f"cpu cores\t: {cpus_per_socket}\n"
                    f"flags\t\t: {flags}\n"
                    "bogomips\t: 5000.00\n"
                )
        self.cpuinfo("\n".join(blocks) + "\n")

    def arm64_cpuinfo(
        self, implementer: str, part: str, *, cpus: int = 2, variant: str = "0x1"
    ) -> None:
        """An arm64 /proc/cpuinfo: MIDR fields only, no model name and no physical id."""
        self.cpuinfo(
            "".join(
                f"processor\t: {i}\n"
                "BogoMIPS\t: 2100.00\n"
                "Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp "
                "cpuid asimdrdm lrcpc dcpop asimddp ssbs\n"
                f"CPU implementer\t: {implementer}\n"
                "CPU architecture: 8\n"
                f"CPU variant\t: {variant}\n"
                f"CPU part\t: {part}\n"
                "CPU revision\t: 1\n\n"
                for i in range(cpus)
            )
        )

    def dmi(self, sys_vendor: str) -> None:
        """<sys>/class/dmi/id/sys_vendor, as the firmware reports the machine's maker."""
        self.write("sys/class/dmi/id/sys_vendor", sys_vendor + "\n")

    def meminfo(self, total_kib: int) -> None:
        self.write(
            "proc/meminfo",
            f"MemTotal:       {total_kib} kB\n"
            f"MemFree:        {total_kib // 2} kB\n"
            f"MemAvailable:   {total_kib // 2 + 1000} kB\n"
            "Buffers:          123456 kB\n",
        )

    def uptime(self, seconds: float) -> None:
        self.write("proc/uptime", f"{seconds:.2f} {seconds * 3.5:.2f}\n")

    def self_cgroup(self, text: str) -> None:
        self.write("proc/self/cgroup", text)

    # --- /sys/fs/cgroup -------------------------------------------------------------------

    def cgroup_file(self, relative: str, text: str) -> Path:
        return self.write(f"sys/fs/cgroup/{relative}", text)

    def cgroup_v2(
        self,
        directory: str = "",
        *,
        cpu_max: str | None = "max 100000",
        memory_max: str | None = "max",
        usage_usec: int = 0,
        memory_current: int = 0,
    ) -> None:
        """A v2 cgroup at ``directory`` under the unified mount (``""``: the mount root)."""
        self.cgroup_file("cgroup.controllers", "cpuset cpu io memory pids\n")
        prefix = f"{directory.strip('/')}/" if directory.strip("/") else ""
        if cpu_max is not None:
            self.cgroup_file(f"{prefix}cpu.max", f"{cpu_max}\n")
        if memory_max is not None:
            self.cgroup_file(f"{prefix}memory.max", f"{memory_max}\n")
        self.cgroup_file(
            f"{prefix}cpu.stat",
            f"usage_usec {usage_usec}\nuser_usec {usage_usec // 2}\n"
            f"system_usec {usage_usec - usage_usec // 2}\nnr_periods 0\n",
        )
        self.cgroup_file(f"{prefix}memory.current", f"{memory_current}\n")
