"""Modelled CPU and RAM energy for machines without an energy counter (VMs, containers, ARM).

Both sensors expose a **cumulative energy counter** built from cumulative OS counters (CPU time
and uptime), so they need no clock and every interval the meter takes is exact however rarely
it samples: the energy between two readings is a linear function of the counter advances.

CPU, whole host (CPU time from ``/proc/stat``, ``n`` CPUs)::

    E = P_idle * wall_s + (P_max - P_idle) * busy_cpu_s / n        wall_s = total_cpu_s / n

With ``P_idle = f_idle * P_max`` this is ``P_max * (f_idle * wall_s + (1 - f_idle) * busy/n)``:
a line from active-idle power to full-load power, the usual server curve approximation (SPECpower
results are close to linear in load; ``f_idle`` is their average idle share).

CPU, a container's share (a cgroup CPU quota ``q`` below ``n``; wall time from ``/proc/uptime``)::

    E = (P_idle / n) * q * wall_s + ((P_max - P_idle) / n) * cgroup_cpu_s

RAM (``S`` = host MemTotal, or the cgroup memory limit when it is lower)::

    E = w_per_GiB * S / 2**30 * wall_s

``P_max`` comes from, in order: ``cpu_tdp_w`` in config (per socket); a known cloud instance
type's watts per vCPU at idle and full load times its vCPUs (:mod:`.instances`; then ``P_idle``
is the instance's own idle figure); the TDP table (per socket; per thread times the CPUs it
sees on a VM, and wherever those CPUs are not whole chips: an ARM guest, which has no hypervisor
flag, or an ARM host with several chips, whose kernel prints no socket ids); on a VM with no
usable table entry, the cloud-average watts per vCPU; else a default TDP per socket. Every
step below "config", a known instance type or an exact table match sets ``DeviceInfo.warning``
so the fallback is visible; ``DeviceInfo.detail`` says which path was taken.
"""

from __future__ import annotations

import sys

from .._struct import dataclass
from ..errors import SensorReadError, SensorUnavailable
from . import DeviceInfo, ProbeContext, Reading, SensorOptions
from .cgroup import Cgroup, detect_cgroup
from .procfs import (
    CpuInfo,
    ProcFile,
    clock_ticks_per_s,
    cpu_info,
    cpu_times,
    mem_total_bytes,
    read_uptime_s,
)

__all__ = [
    "CpuModelSensor",
    "CpuPower",
    "RamModelSensor",
    "probe_cpu",
    "probe_ram",
    "resolve_cpu_power",
]

CPU_DEVICE = "model:cpu"
RAM_DEVICE = "model:ram"
TYPE_CHECKING = False

_FIX = "set cpu_tdp_w = <W> in wattprint.toml or WATTPRINT_CPU_TDP_W"
# DIMMs sold as "8 GB" hold 8 GiB, and the W/GB figures are per such DIMM size, so RAM sizes are
# converted to binary gigabytes before multiplying.
_BYTES_PER_GIB = 2**30


# --- the reference data this module needs (structural, so tests can pass plain fakes) -----------


if TYPE_CHECKING:  # typing costs milliseconds to import; these only serve type checks
    from collections.abc import Callable, Mapping
    from typing import Protocol

    class ReferenceLike(Protocol):
        """A sourced constant (``wattprint._reference.ReferenceValue`` fits)."""

        @property
        def value(self) -> float: ...
        @property
        def unit(self) -> str: ...
        @property
        def source(self) -> str: ...
        @property
        def year(self) -> int: ...


    class CpuMatchLike(Protocol):
        """A TDP-table match (``wattprint.sensors.hardware_data.CpuMatch`` fits)."""

        @property
        def matched_name(self) -> str: ...
        @property
        def tdp_w(self) -> float: ...
        @property
        def cores(self) -> int | None: ...
        @property
        def threads(self) -> int | None: ...
        @property
        def confidence(self) -> str: ...
        @property
        def source(self) -> str: ...
        @property
        def year(self) -> int: ...


    CpuLookup = Callable[[str], CpuMatchLike | None]
    PowerModel = Mapping[str, ReferenceLike]


def _cite(ref: ReferenceLike | CpuMatchLike) -> str:
    return f"{ref.source}, {ref.year}"


# --- resolving the CPU's power ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CpuPower:
    """Power of the CPUs this machine sees, at active idle and at full load, and where from."""

    idle_w: float
    max_w: float
    unit_w: float  # the figure taken from the source: per-socket TDP, or per-vCPU full load
    scaling: str  # "per-socket" | "per-thread" | "per-vcpu"
    source: str
    confidence: str  # "config" | "instance-type" | "exact" | "close" | "vcpu-average" | "default"
    idle_fraction: float
    idle_source: str
    basis: str  # one phrase for DeviceInfo.detail
    warning: str | None = None
    attributes: tuple[tuple[str, str], ...] = ()  # extra DeviceInfo attributes (instance type)


def resolve_cpu_power(
    info: CpuInfo, options: SensorOptions, *, lookup: CpuLookup, model: PowerModel
) -> CpuPower:
    """Pick the CPU's full-load power in the documented order and say how sure it is."""
    f_idle = model["cpu_idle_fraction"]
    if options.cpu_tdp_w is not None:
        return _per_socket(info, options.cpu_tdp_w, "config (cpu_tdp_w)", "config", f_idle)
    if options.cloud_instance_type:  # a known cloud instance type comes before the host CPU
        from .instances import instance_choice, instance_cpu_power, with_instance_warning

        choice = instance_choice(options)
        if choice is not None and choice.row is not None and choice.row.has_watts:
            return instance_cpu_power(info, choice, model)
        return with_instance_warning(_from_host_cpu(info, lookup, model, f_idle), choice)
    power = _from_host_cpu(info, lookup, model, f_idle)
    if power.confidence == "vcpu-average":  # a VM whose instance type nobody named
        from .instances import with_instance_warning

        return with_instance_warning(power, None)
    return power


def _from_host_cpu(
    info: CpuInfo, lookup: CpuLookup, model: PowerModel, f_idle: ReferenceLike
) -> CpuPower:
    match = lookup(info.model_name) if info.model_name else None
    if info.hypervisor and (match is None or not match.threads):
        return _vcpu_average(info, model, match)
    if match is not None:
        warning = _close_warning(info, match) if match.confidence != "exact" else None
        share = _share_of_chip(info, match)
        if share is not None:
            return _per_thread(info, match, f_idle, warning, share)
        return _per_socket(
            info, match.tdp_w, _match_source(match), match.confidence, f_idle, warning
        )
    default = model["default_cpu_tdp_w"]
    warning = (
        f"Unknown CPU model {info.model_name or '(unnamed)'!r}: it is not in the TDP table, so "
        f"{default.value:g} W per socket is assumed and CPU energy may be far off. "
        f"To fix it, {_FIX} (your CPU's TDP per socket, from its datasheet)."
    )
    return _per_socket(info, default.value, _cite(default), "default", f_idle, warning)


def _match_source(match: CpuMatchLike) -> str:
    return f"TDP table: {match.matched_name!r} ({_cite(match)})"


def _close_warning(info: CpuInfo, match: CpuMatchLike) -> str:
    return (
        f"CPU {info.model_name!r} has no exact entry in the TDP table; the closest, "
        f"{match.matched_name!r} ({match.tdp_w:g} W), is used. If that is not your CPU, {_FIX} "
        "(its TDP per socket, from its datasheet)."
    )


def _per_socket(
    info: CpuInfo,
    tdp_w: float,
    source: str,
    confidence: str,
    f_idle: ReferenceLike,
    warning: str | None = None,
) -> CpuPower:
    max_w = tdp_w * info.sockets
    plural = "s" if info.sockets != 1 else ""
    return CpuPower(
        idle_w=f_idle.value * max_w,
        max_w=max_w,
        unit_w=tdp_w,
        scaling="per-socket",
        source=source,
        confidence=confidence,
        idle_fraction=f_idle.value,
        idle_source=_cite(f_idle),
        basis=f"{info.sockets} socket{plural} x {tdp_w:g} W TDP from {source}",
        warning=warning,
    )


def _share_of_chip(info: CpuInfo, match: CpuMatchLike) -> str | None:
    """Why the CPUs seen are charged per thread of the chip rather than per socket, or None.

    Per thread on a VM (x86 guests say so), when fewer CPUs are seen than one chip has cores (a
    guest without the flag, as on ARM; SMT switched off never hides cores), or, where the kernel
    prints no socket ids (ARM), when more are seen than one chip holds.
    """
    if not match.threads:
        return None
    if info.hypervisor:
        return "virtual machine"
    if info.logical_cpus < (match.cores or match.threads) * info.sockets:
        return "fewer CPUs seen than the chip has cores (a VM or a partial chip)"
    if not info.sockets_counted and info.logical_cpus > match.threads:
        return "more CPUs seen than one chip holds, and no socket ids to count chips by"
    return None


def _per_thread(
    info: CpuInfo, match: CpuMatchLike, f_idle: ReferenceLike, warning: str | None, why: str
) -> CpuPower:
    # A guest with 4 vCPUs on a 64-thread part runs on about 4/64 of the socket: charging the
    # whole socket's TDP would bill the guest for its neighbours.
    threads = match.threads or 1
    max_w = match.tdp_w / threads * info.logical_cpus
    return CpuPower(
        idle_w=f_idle.value * max_w,
        max_w=max_w,
        unit_w=match.tdp_w,
        scaling="per-thread",
        source=_match_source(match),
        confidence=match.confidence,
        idle_fraction=f_idle.value,
        idle_source=_cite(f_idle),
        basis=(
            f"{why}: {match.tdp_w:g} W TDP from {_match_source(match)} shared by "
            f"{threads} threads, times the {info.logical_cpus} CPUs seen = {max_w:.4g} W"
        ),
        warning=warning,
    )


def _vcpu_average(info: CpuInfo, model: PowerModel, match: CpuMatchLike | None) -> CpuPower:
    vmin, vmax = model["vcpu_min_w"], model["vcpu_max_w"]
    n = info.logical_cpus
    why = "is not in the TDP table" if match is None else "has no known thread count"
    per_socket = n / info.sockets
    warning = (
        f"Virtual machine whose CPU {info.model_name or '(unnamed)'!r} {why}, so cloud-average "
        f"power per vCPU is used ({vmin.value:g} W idle to {vmax.value:g} W at full load, "
        f"{_cite(vmax)}). If you know the host CPU, {_FIX}, with W = host TDP / host threads "
        f"x {per_socket:g} (this VM's vCPUs per socket)."
    )
    return CpuPower(
        idle_w=vmin.value * n,
        max_w=vmax.value * n,
        unit_w=vmax.value,
        scaling="per-vcpu",
        source=_cite(vmax),
        confidence="vcpu-average",
        idle_fraction=vmin.value / vmax.value,
        idle_source=_cite(vmin),
        basis=f"virtual machine: {n} vCPUs x {vmin.value:g}-{vmax.value:g} W ({_cite(vmax)})",
        warning=warning,
    )


# --- sensors ---------------------------------------------------------------------------------


class _ModelSensor:
    """One modelled device with a cumulative energy counter; subclasses only name things."""

    method = "modelled"

    def __init__(self, *, name: str, device: DeviceInfo, energy_j: Callable[[], float]) -> None:
        self.name = name
        self._device = device
        self._energy_j = energy_j
        self._last_j = 0.0

    def devices(self) -> list[DeviceInfo]:
        return [self._device]

    def read(self) -> list[Reading]:
        try:
            energy_j = self._energy_j()
        except (OSError, ValueError) as exc:
            raise SensorReadError(f"{self.name}: {exc}") from exc
        # A model's counter must never run backwards, but /proc/stat's iowait can decrease
        # (proc.rst: "iowait ... will decrease in certain conditions") and it is part of the
        # total; hold the last value so the meter never mistakes a dip for a wraparound.
        energy_j = max(energy_j, self._last_j)
        self._last_j = energy_j
        return [Reading(self._device.device, self._device.component, self.method, energy_j)]

    def close(self) -> None:
        """Nothing to release: the model holds no file descriptors between reads."""


class CpuModelSensor(_ModelSensor):
    """Modelled CPU energy: TDP x load, for the whole host or this container's CPU share."""

    def __init__(
        self, *, device: DeviceInfo, power: CpuPower, energy_j: Callable[[], float]
    ) -> None:
        super().__init__(name="cpu-model", device=device, energy_j=energy_j)
        self.power = power


class RamModelSensor:
    """Modelled RAM power: watts per GiB times the RAM size, constant over time.

    It reports power, not a counter: the meter integrates a constant exactly, and a tick then
    costs no file read at all.
    """

    name = "ram-model"
    method = "modelled"

    def __init__(self, *, device: DeviceInfo, power_w: float) -> None:
        self._device = device
        self.power_w = power_w
        self._reading = Reading(device.device, device.component, self.method, power_w=power_w)

    def devices(self) -> list[DeviceInfo]:
        return [self._device]

    def read(self) -> list[Reading]:
        return [self._reading]

    def close(self) -> None:
        """Nothing to release."""


# --- probes ----------------------------------------------------------------------------------


def _no_proc(exc: Exception, what: str, platform: str) -> SensorUnavailable:
    if platform == "darwin":
        return SensorUnavailable(
            f"the {what} model reads Linux /proc, which macOS does not have",
            "macOS is not supported by the model yet; a later release adds it",
        )
    return SensorUnavailable(
        f"cannot read /proc for the {what} model: {exc}",
        "run where /proc is mounted (a container's default /proc is enough)",
    )


def _reference_defaults(
    lookup: CpuLookup | None, model: PowerModel | None
) -> tuple[CpuLookup, PowerModel]:
    if lookup is not None and model is not None:
        return lookup, model
    from . import hardware_data  # the bundled tables load only when a model is probed

    return lookup or hardware_data.lookup_cpu, model or hardware_data.power_model()


def probe_cpu(
    ctx: ProbeContext,
    *,
    lookup: CpuLookup | None = None,
    model: PowerModel | None = None,
    platform: str | None = None,
) -> CpuModelSensor:
    """Open the modelled CPU sensor, or raise :class:`SensorUnavailable` saying why not."""
    platform = platform or sys.platform
    try:
        info = cpu_info(ctx.paths)
        times = cpu_times(ctx.paths)
    except (OSError, ValueError) as exc:
        raise _no_proc(exc, "CPU", platform) from exc
    lookup, model = _reference_defaults(lookup, model)
    power = resolve_cpu_power(info, ctx.options, lookup=lookup, model=model)
    cgroup = detect_cgroup(ctx.paths, host_cpus=times.n_cpus)
    share, warning = _cpu_share(ctx, cgroup)
    warning = " ".join(w for w in (power.warning, warning) if w) or None
    if share is not None and cgroup is not None:
        device = _cpu_device(info, power, times.n_cpus, cgroup, share, warning)
        energy = _cgroup_cpu_energy(ctx, cgroup, share, times.n_cpus, power)
    else:
        device = _cpu_device(info, power, times.n_cpus, None, None, warning)
        energy = _host_cpu_energy(ctx, times.n_cpus, power)
    return CpuModelSensor(device=device, power=power, energy_j=energy)


def _cpu_share(ctx: ProbeContext, cgroup: Cgroup | None) -> tuple[float | None, str | None]:
    """The cgroup's CPU quota when it is a real share whose counters read, else None (+ why)."""
    if cgroup is None or not cgroup.cpu_limited or cgroup.cpu_quota_cores is None:
        return None, None
    try:
        cgroup.cpu_usage_s()
        read_uptime_s(str(ctx.paths.proc / "uptime"))
    except (OSError, ValueError) as exc:
        return None, (
            f"This cgroup has a CPU quota of {cgroup.cpu_quota_cores:g} CPUs but its CPU usage "
            f"cannot be read ({exc}), so the whole host's CPUs are modelled instead."
        )
    return cgroup.cpu_quota_cores, None


def _host_cpu_energy(ctx: ProbeContext, n_cpus: int, power: CpuPower) -> Callable[[], float]:
    stat, clk_tck = ProcFile(str(ctx.paths.proc / "stat")), clock_ticks_per_s()
    idle_w, dynamic_w = power.idle_w, power.max_w - power.idle_w

    def energy_j() -> float:
        busy_s, total_s = stat.busy_total_s(clk_tck)
        # wall_s = total_s / n; busy_s / n is the average load times wall time.
        return (idle_w * total_s + dynamic_w * busy_s) / n_cpus

    return energy_j


def _cgroup_cpu_energy(
    ctx: ProbeContext, cgroup: Cgroup, quota_cores: float, n_cpus: int, power: CpuPower
) -> Callable[[], float]:
    uptime = ProcFile(str(ctx.paths.proc / "uptime"))
    # Per host CPU: the container's quota of CPUs idles at their share of idle power, and each
    # CPU-second it uses adds one CPU's share of the dynamic range.
    idle_w = power.idle_w / n_cpus * quota_cores
    dynamic_w_per_cpu = (power.max_w - power.idle_w) / n_cpus
    usage_s = cgroup.cpu_usage_s

    def energy_j() -> float:
        return idle_w * uptime.uptime_s() + dynamic_w_per_cpu * usage_s()

    return energy_j


def _cpu_device(
    info: CpuInfo,
    power: CpuPower,
    n_cpus: int,
    cgroup: Cgroup | None,
    share: float | None,
    warning: str | None,
) -> DeviceInfo:
    name = info.model_name or "unnamed CPU"
    curve = (
        f"power linear in load from {power.idle_w:.4g} W at idle ({power.idle_fraction:.0%} of "
        f"full load, {power.idle_source}) to {power.max_w:.4g} W at full load"
    )
    if cgroup is not None and share is not None:
        scope = (
            f"modelled for this container's share: a cgroup v{cgroup.version} CPU quota of "
            f"{share:g} of {n_cpus} CPUs at idle plus the cgroup's own CPU time"
        )
        coverage = "cgroup"
    else:
        scope = f"modelled for the whole host: {n_cpus} CPUs' time from /proc/stat"
        coverage = "host"
    attributes = [
        ("model_name", info.model_name),
        ("tdp_w", f"{power.unit_w:g}"),
        ("tdp_source", power.source),
        ("confidence", power.confidence),
        ("idle_fraction", f"{power.idle_fraction:.4g}"),
        ("scaling", power.scaling),
        ("sockets", str(info.sockets)),
        ("idle_w", f"{power.idle_w:.4g}"),
        ("max_w", f"{power.max_w:.4g}"),
        *power.attributes,
    ]
    if share is not None:
        attributes.append(("cgroup_cpus", f"{share:g}"))
    return DeviceInfo(
        device=CPU_DEVICE,
        component="cpu",
        method="modelled",
        detail=f"{name}: {power.basis}; {curve}; {scope}",
        coverage=coverage,
        attributes=tuple(attributes),
        warning=warning,
    )


def probe_ram(
    ctx: ProbeContext, *, model: PowerModel | None = None, platform: str | None = None
) -> RamModelSensor:
    """Open the modelled RAM sensor, or raise :class:`SensorUnavailable` saying why not."""
    platform = platform or sys.platform
    try:
        host_bytes = mem_total_bytes(ctx.paths)
    except (OSError, ValueError) as exc:
        raise _no_proc(exc, "RAM", platform) from exc
    w_per_gib, source = _ram_w_per_gib(ctx.options, model)
    cgroup = detect_cgroup(ctx.paths)
    if cgroup is not None and cgroup.memory_limited and cgroup.memory_limit_bytes is not None:
        size_bytes, coverage = cgroup.memory_limit_bytes, "cgroup"
        what = f"this container's cgroup v{cgroup.version} memory limit"
    else:
        size_bytes, coverage, what = host_bytes, "host", "the host's MemTotal"
    gib = size_bytes / _BYTES_PER_GIB
    power_w = w_per_gib * gib
    device = DeviceInfo(
        device=RAM_DEVICE,
        component="ram",
        method="modelled",
        detail=(
            f"{gib:.3g} GiB ({what}) x {w_per_gib:g} W per GiB ({source}) = {power_w:.3g} W, "
            "constant over time: the model does not follow memory traffic"
        ),
        coverage=coverage,
        attributes=(
            ("w_per_gib", f"{w_per_gib:g}"),
            ("w_per_gib_source", source),
            ("size_bytes", str(size_bytes)),
            ("power_w", f"{power_w:.4g}"),
        ),
    )
    return RamModelSensor(device=device, power_w=power_w)


def _ram_w_per_gib(options: SensorOptions, model: PowerModel | None) -> tuple[float, str]:
    if options.ram_w_per_gib is not None:
        return options.ram_w_per_gib, "config (ram_w_per_gib)"
    if model is None:
        from . import hardware_data

        model = hardware_data.power_model()
    # The table keeps the source's label (Green Algorithms states W per GB); the model applies
    # the figure per GiB (2**30 bytes): 6.9 % less power than applying it per 10**9 bytes.
    ref = model["ram_w_per_gb"]
    return ref.value, _cite(ref)
