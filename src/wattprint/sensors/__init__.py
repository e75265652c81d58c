"""Sensors turn hardware into :class:`Reading` objects. No timing, no carbon, no output.

Each sensor module exposes ``probe(ctx) -> Sensor`` that either opens the hardware or raises
:class:`~wattprint.errors.SensorUnavailable` with the reason and the fix. :func:`detect` runs the
probes in order (measured counters first, models last) and returns what it opened plus, for
every probe that failed, why; ``wattprint doctor`` prints both.
"""

from __future__ import annotations

import sys

from .._log import get_logger
from .._struct import dataclass, field
from ..errors import SensorUnavailable
from ..host import HostPaths  # re-exported: sensors take their roots from here

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

    from .protocol import Sensor

    Probe = Callable[["ProbeContext"], Sensor]

__all__ = [
    "COMPONENTS",
    "METHODS",
    "Detection",
    "DeviceInfo",
    "HostPaths",
    "ProbeContext",
    "Reading",
    "Sensor",
    "SensorOptions",
    "Skipped",
    "detect",
]

log = get_logger("wattprint.sensors")

#: What a reading measures. "system" (RAPL psys, a wall meter) covers cpu + ram + the rest;
#: "soc" (Apple Silicon) covers cpu + gpu on one die.
COMPONENTS = ("cpu", "gpu", "ram", "soc", "system")
#: How a number was obtained: a hardware energy counter, sampled instantaneous power, or a model.
METHODS = ("measured", "sampled", "modelled")


@dataclass(frozen=True, slots=True)
class Reading:
    """One device at one moment.

    ``energy_j`` is a cumulative counter when the hardware has one (the meter takes deltas and
    handles wraparound at ``wrap_j``); ``power_w`` is instantaneous power when that is all there
    is (the meter integrates it).
    """

    device: str
    component: str
    method: str
    energy_j: float | None = None
    power_w: float | None = None
    wrap_j: float | None = None


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """Static description of one device a sensor reads, for run info and ``doctor``.

    ``coverage`` says what the numbers cover: "host" (the whole machine the kernel sees) or
    "cgroup" (a model of this container's share); process scope divides by the matching total.
    """

    device: str
    component: str
    method: str
    detail: str
    coverage: str = "host"
    attributes: tuple[tuple[str, str], ...] = ()
    warning: str | None = None  # a visible fallback ("unknown CPU model: default TDP used")
    # The most power this device can draw, when the hardware states it (a GPU's power limit);
    # the sampler reads a wrapping counter often enough that it cannot wrap twice at this power.
    max_power_w: float | None = None


@dataclass(frozen=True, slots=True)
class Skipped:
    """A probe that found nothing usable: its name, why, and what would fix it."""

    sensor: str
    reason: str
    fix: str | None = None


@dataclass(frozen=True, slots=True)
class SensorOptions:
    """The sensor settings from config (see :mod:`wattprint.config`)."""

    cpu_tdp_w: float | None = None
    ram_w_per_gib: float | None = None
    rapl_psys: bool = False
    # GPUs to measure (indices or UUIDs); None = every visible GPU, () = none (another rank of
    # a distributed job owns them).
    gpu_ids: tuple[str, ...] | None = None
    # False on the non-leader ranks of a distributed job: the node's machine-wide devices (RAPL,
    # platform counters, CPU and RAM models) are measured once, by local rank 0.
    machine_wide: bool = True
    # The cloud instance type this machine is (the cloud_instance_type setting, else the
    # cloud's instance metadata), its provider, and where the name came from: the CPU model
    # uses the type's watts per vCPU (see sensors.instances).
    cloud_instance_type: str | None = None
    cloud: str | None = None
    cloud_instance_type_from: str | None = None


@dataclass(frozen=True)
class ProbeContext:
    """Everything a probe may look at. Vendor modules (NVML, amdsmi) are injectable here too."""

    paths: HostPaths = field(default_factory=HostPaths)
    options: SensorOptions = field(default_factory=SensorOptions)
    modules: dict[str, object] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Detection:
    sensors: list[Sensor]
    skipped: list[Skipped]

    def devices(self) -> list[DeviceInfo]:
        return [d for s in self.sensors for d in s.devices()]

    def components(self) -> set[str]:
        return {d.component for d in self.devices()}


def __getattr__(name: str) -> object:
    # The protocol needs ``typing`` (a few ms to import); only type checks and isinstance use it.
    if name == "Sensor":
        from .protocol import Sensor

        return Sensor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _covers(found: set[str], component: str) -> bool:
    # A whole-system counter (psys) already includes CPU and RAM; a SoC counter includes the CPU.
    if component in found or "system" in found:
        return True
    return component == "cpu" and "soc" in found


def _try(name: str, probe: Probe, ctx: ProbeContext, detection: Detection) -> None:
    try:
        detection.sensors.append(probe(ctx))
    except SensorUnavailable as exc:
        detection.skipped.append(Skipped(name, exc.reason, exc.fix))
    except Exception as exc:  # a probe bug must not stop detection of the others
        log.warning("sensor probe %s failed unexpectedly: %r", name, exc)
        detection.skipped.append(Skipped(name, f"probe failed unexpectedly: {exc!r}", None))


def detect(ctx: ProbeContext | None = None) -> Detection:
    """Open every sensor this machine offers, counters before models, never double counting."""
    ctx = ctx or ProbeContext()
    detection = Detection(sensors=[], skipped=[])
    for name, probe in _gpu_probes():
        if ctx.options.gpu_ids == ():
            detection.skipped.append(Skipped(name, "GPUs on this node are measured by the rank "
                                                   "of the job that owns them", None))
        else:
            _try(name, probe, ctx, detection)
    for name, probe in _machine_probes():
        if not ctx.options.machine_wide:
            detection.skipped.append(Skipped(name, "machine-wide devices are measured once per "
                                                   "node, by local rank 0 of the job", None))
            continue
        if name == "cpu-model" and _covers(detection.components(), "cpu"):
            continue
        if name == "ram-model" and _covers(detection.components(), "ram"):
            continue
        _try(name, _hwmon_probe(detection) if name == "hwmon" else probe, ctx, detection)
    return detection


# The DRM driver each vendor-library sensor covers: hwmon leaves those GPUs to the library when
# it opened, and reads them itself when it did not, so a GPU is measured once, never zero times.
_VENDOR_DRIVER = {"nvml": "nvidia", "amdsmi": "amdgpu"}


def _hwmon_probe(detection: Detection) -> Probe:
    opened = {s.name for s in detection.sensors}
    covered = frozenset(d for name, d in _VENDOR_DRIVER.items() if name in opened)

    def probe(ctx: ProbeContext) -> Sensor:
        from . import hwmon

        return hwmon.probe(ctx, leave_to_vendor=covered)

    return probe


#: The vendor Python bindings a GPU sensor needs: import name, what is missing, how to get it.
VENDOR_LIBRARIES = {
    "nvml": ("pynvml", "nvidia-ml-py is not installed", "pip install 'wattprint[nvidia]'"),
    "amdsmi": ("amdsmi", "the amdsmi Python package is not installed",
               "pip install 'wattprint[amd]' (needs ROCm)"),
}


def _lazy(module: str, attr: str = "probe") -> Probe:
    """A probe whose module is imported only when it runs (vendor modules are not small), and
    not at all when the vendor's bindings are not installed (most machines have no such GPU)."""

    def probe(ctx: ProbeContext) -> Sensor:
        import importlib

        vendor = VENDOR_LIBRARIES.get(module)
        if vendor is not None and vendor[0] not in ctx.modules:
            import importlib.util

            if importlib.util.find_spec(vendor[0]) is None:
                raise SensorUnavailable(vendor[1], vendor[2])
        found: Probe = getattr(importlib.import_module(f"{__name__}.{module}"), attr)
        return found(ctx)

    return probe


def _macos_only(ctx: ProbeContext) -> Sensor:
    raise SensorUnavailable(f"powermetrics is macOS only (this is {sys.platform})", None)


def _gpu_probes() -> list[tuple[str, Probe]]:
    """Per-GPU sensors, which follow GPU ownership in distributed jobs."""
    return [("nvml", _lazy("nvml")), ("amdsmi", _lazy("amdsmi"))]


def _machine_probes() -> list[tuple[str, Probe]]:
    """Machine-wide sensors in order: measured counters first, models last (used only for a
    component nothing measured)."""
    return [
        ("rapl", _lazy("rapl")),
        ("powermetrics", _lazy("powermetrics") if sys.platform == "darwin" else _macos_only),
        ("hwmon", _lazy("hwmon")),
        ("cpu-model", _lazy("model", "probe_cpu")),
        ("ram-model", _lazy("model", "probe_ram")),
    ]
