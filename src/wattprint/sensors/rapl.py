"""RAPL energy counters through the Linux powercap sysfs tree (Intel, and AMD Zen).

The kernel lists every zone flat under ``/sys/class/powercap``::

    intel-rapl:N          package-N, package-N-die-M (multi-die parts), psys, or dram (some servers)
    intel-rapl:N:M        core, uncore, dram            (sub-zones of package N)
    intel-rapl-mmio:N     package-N again, read through MMIO instead of MSRs (Intel client parts)

AMD Zen parts use the same ``intel-rapl`` names (the driver is shared). Each zone has ``name``,
``energy_uj`` (a cumulative counter in µJ), ``max_energy_range_uj`` (where it wraps to 0) and
``enabled``.

What is counted, so that no joule is counted twice or silently dropped:

- one ``cpu`` device per package (socket or die) and one ``ram`` device per DRAM domain;
- never ``core`` or ``uncore``: both are inside their package;
- ``psys`` (the whole platform, which contains package and DRAM) *instead of* those, and only when
  ``options.rapl_psys`` asks for it or when it is the only domain there is;
- an ``intel-rapl-mmio`` zone only for a domain the MSR family does not already provide;
- two zones that read one counter ("mirrors", seen on some multi-die parts) once.

A component is reported whole or not at all: if one of its zones cannot be read, its other zones
are dropped too, so :func:`wattprint.sensors.detect` falls back to a model for it instead of
reporting half a machine as measured.

``read()`` returns raw counters; deltas and wraparound are the meter's job (``wrap_j``).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from .._lazy_re import lazy_re
from .._log import get_logger
from .._struct import dataclass
from ..errors import SensorReadError, SensorUnavailable
from . import DeviceInfo, ProbeContext, Reading
from ._files import KeptFile, Opener, close_quietly, open_readonly

__all__ = ["PERMISSION_FIX", "Opener", "RaplSensor", "open_readonly", "probe"]

log = get_logger("wattprint.sensors.rapl")

PERMISSION_FIX = (
    "run `sudo wattprint setup-rapl --apply` (adds a udev rule giving group `powercap` read "
    "access) or run as root"
)

_ZONE_RE = lazy_re(r"^(intel-rapl(?:-mmio)?):(\d+)(?::(\d+))?$")
_MSR_FAMILY = "intel-rapl"
# A sysfs attribute holds at most a 20-digit u64 and a newline.
_READ_SIZE = 32
# Reads on which a dropped mirror is still compared with the counter it was taken to mirror.
_CONFIRM_READS = 3
_COMPONENT_OF_KIND = {"package": "cpu", "dram": "ram", "psys": "system"}


@dataclass(frozen=True, slots=True)
class _Zone:
    """One powercap zone as discovered in sysfs."""

    zone_id: str  # "intel-rapl:0:2"
    family: str  # "intel-rapl" | "intel-rapl-mmio"
    path: Path
    name: str  # the zone's ``name`` file: "package-0", "dram", "psys", ...
    parent_name: str | None  # the package's name for a sub-zone
    enabled: str | None  # raw ``enabled`` file, kept for ``devices()`` only
    order: tuple[int, ...]

    @property
    def kind(self) -> str | None:
        """The domain: package, dram or psys; None for what is never counted (core, uncore...)."""
        if self.parent_name is not None:
            return "dram" if self.name == "dram" else None
        if self.name.startswith("package"):
            return "package"
        return self.name if self.name in ("dram", "psys") else None

    @property
    def domain_key(self) -> tuple[str, str]:
        # The same domain carries the same names in both families (MSR and MMIO).
        return (self.parent_name or "", self.name)


class _Counter(KeptFile):
    """An open ``energy_uj`` file and what its readings are labelled with."""

    __slots__ = ("component", "device", "kind", "wrap_j", "wrap_uj", "zone")

    def __init__(
        self, zone: _Zone, kind: str, device: str, fd: int, wrap_uj: int, opener: Opener
    ) -> None:
        super().__init__(str(zone.path / "energy_uj"), fd=fd, opener=opener)
        self.zone = zone
        self.kind = kind
        self.component = _COMPONENT_OF_KIND[kind]
        self.device = device
        self.wrap_uj = wrap_uj
        self.wrap_j = wrap_uj / 1e6


@dataclass(slots=True)
class _Mirror:
    """A zone dropped because it reads the same counter as ``primary``."""

    primary: _Counter
    shadow: _Counter
    checks_left: int = _CONFIRM_READS


class RaplSensor:
    """Reads the chosen RAPL ``energy_uj`` files through fds kept open for the sensor's life."""

    name = "rapl"
    method = "measured"

    def __init__(self, counters: list[_Counter], mirrors: list[_Mirror], notes: list[str]) -> None:
        self._counters = counters
        self._mirrors = mirrors  # still being confirmed; emptied after _CONFIRM_READS reads
        self._mirrored: dict[int, list[_Zone]] = {}  # id(primary counter) -> zones it stands for
        for mirror in mirrors:
            self._mirrored.setdefault(id(mirror.primary), []).append(mirror.shadow.zone)
        self._promoted: dict[str, str] = {}
        self._notes = notes
        self._closed = False

    @property
    def notes(self) -> tuple[str, ...]:
        """What the probe left out and why (duplicates, mirrors, unreadable zones)."""
        return tuple(self._notes)

    def devices(self) -> list[DeviceInfo]:
        return [self._device_info(c) for c in self._counters]

    def read(self) -> list[Reading]:
        if self._closed:
            raise SensorReadError("RAPL sensor is closed")
        if self._mirrors:
            return self._read_confirming()
        # The hot path: one pread per counter, no allocation beyond the Readings.
        return [
            Reading(c.device, c.component, "measured", energy_j=self._uj(c) / 1e6, wrap_j=c.wrap_j)
            for c in self._counters
        ]

    def close(self) -> None:
        self._closed = True
        for counter in self._counters + [m.shadow for m in self._mirrors]:
            counter.close()
        self._mirrors = []

    def _uj(self, counter: _Counter) -> int:
        # One pread of the kept-open fd; a bad fd (EBADF, or ENODEV after the driver was
        # unloaded) is reopened once before a gap is reported (see _files.KeptFile).
        try:
            raw = counter.read(_READ_SIZE)
        except OSError as exc:
            if self._closed:  # close() ran in another thread
                raise SensorReadError("RAPL sensor is closed") from None
            raise SensorReadError(f"cannot read {counter.path}: {exc}") from exc
        try:
            return int(raw)
        except ValueError:
            raise SensorReadError(f"{counter.path}: not a counter: {raw!r}") from None

    def _read_confirming(self) -> list[Reading]:
        values = {id(c): self._uj(c) for c in self._counters}
        for mirror in list(self._mirrors):
            self._confirm(mirror, values)
        return [
            Reading(
                c.device, c.component, "measured", energy_j=values[id(c)] / 1e6, wrap_j=c.wrap_j
            )
            for c in self._counters
        ]

    def _confirm(self, mirror: _Mirror, values: dict[int, int]) -> None:
        before = values[id(mirror.primary)]
        try:
            shadow = int(os.pread(mirror.shadow.fd, _READ_SIZE, 0))
        except (OSError, ValueError):
            # Cannot compare any more; it stays dropped as the probe decided.
            self._retire(mirror)
            return
        after = self._uj(mirror.primary)
        if not _between(before, shadow, after):
            self._promote(mirror, shadow, values)
            return
        mirror.checks_left -= 1
        if mirror.checks_left == 0:
            self._retire(mirror)

    def _promote(self, mirror: _Mirror, shadow_uj: int, values: dict[int, int]) -> None:
        # The counters diverged: two distinct domains that merely matched at probe time.
        shadow = mirror.shadow
        self._mirrors.remove(mirror)
        self._mirrored[id(mirror.primary)].remove(shadow.zone)
        self._counters.append(shadow)
        values[id(shadow)] = shadow_uj
        self._promoted[shadow.device] = (
            f"taken at probe for a mirror of {mirror.primary.zone.zone_id} but it diverged on a "
            f"later read: counted from then on, its energy before that is missing"
        )
        self._notes.append(
            f"{shadow.zone.zone_id} ({shadow.zone.name}) {self._promoted[shadow.device]}"
        )
        log.warning("RAPL %s is not a mirror after all; now counted", shadow.zone.zone_id)

    def _retire(self, mirror: _Mirror) -> None:
        mirror.shadow.close()
        self._mirrors.remove(mirror)

    def _device_info(self, counter: _Counter) -> DeviceInfo:
        zone = counter.zone
        detail = f"RAPL {zone.name} ({zone.zone_id}), wraps at {counter.wrap_j:.0f} J"
        attributes = [("zone", zone.zone_id), ("wrap_j", f"{counter.wrap_j:.6f}")]
        for mirrored in self._mirrored.get(id(counter), ()):
            detail += f"; {mirrored.name} ({mirrored.zone_id}) mirrors this counter, counted once"
            attributes.append(("mirror", mirrored.zone_id))
        if zone.enabled is not None:
            attributes.append(("capping_enabled", zone.enabled))
        return DeviceInfo(
            device=counter.device,
            component=counter.component,
            method="measured",
            detail=detail,
            attributes=tuple(attributes),
            warning=self._promoted.get(counter.device),
        )


def probe(ctx: ProbeContext, *, opener: Opener = open_readonly) -> RaplSensor:
    """Open the RAPL counters this host offers, or raise :class:`SensorUnavailable` saying why."""
    root = ctx.paths.powercap
    if not root.is_dir():
        raise SensorUnavailable(
            f"no {root} (not Linux, or the intel_rapl/rapl driver is not loaded: "
            "`sudo modprobe intel_rapl_msr`)",
            _no_powercap_fix(ctx),
        )
    notes: list[str] = []
    zones = _discover(root, notes)
    if not zones:
        raise _no_zones(ctx, root, notes)
    chosen = _select(zones, psys=ctx.options.rapl_psys, notes=notes)
    counters = _open_counters(chosen, opener, notes)
    counters, mirrors = _split_mirrors(counters, notes)
    for note in notes:
        log.debug("rapl: %s", note)
    return RaplSensor(counters, mirrors, notes)


# --- discovery ---------------------------------------------------------------------------------


def _discover(root: Path, notes: list[str]) -> list[_Zone]:
    """Every RAPL zone under ``root`` whose name can be read, sorted by family and index."""
    entries = []
    for entry in os.listdir(root):
        match = _ZONE_RE.match(entry)
        if match:
            family, top, sub = match.groups()
            order = (0 if family == _MSR_FAMILY else 1, int(top), -1 if sub is None else int(sub))
            entries.append((order, entry, family, top, sub))
    entries.sort()
    names = {entry: _read_text(root / entry / "name") for _, entry, *_ in entries}
    zones = []
    for order, entry, family, top, sub in entries:
        name = names[entry]
        if name is None:
            notes.append(f"{entry}: no readable name file, skipped")
            continue
        parent_name = None if sub is None else names.get(f"{family}:{top}")
        if sub is not None and parent_name is None:
            notes.append(f"{entry} ({name}): its package zone is unreadable, skipped")
            continue
        enabled = _read_text(root / entry / "enabled")
        zones.append(_Zone(entry, family, root / entry, name, parent_name, enabled, order))
    return zones


def _select(zones: list[_Zone], *, psys: bool, notes: list[str]) -> list[_Zone]:
    """The zones to count: no core/uncore, no MMIO duplicate, psys XOR (package + dram)."""
    msr_keys = {z.domain_key for z in zones if z.family == _MSR_FAMILY}
    counted: list[_Zone] = []
    for zone in zones:
        if zone.kind is None:
            if zone.parent_name is None:  # core/uncore are expected; an unknown top-level is not
                notes.append(f"{zone.zone_id} ({zone.name}): unknown RAPL domain, skipped")
            continue
        if zone.family != _MSR_FAMILY and zone.domain_key in msr_keys:
            notes.append(
                f"{zone.zone_id} ({zone.name}): same domain as the MSR zone, counted there once"
            )
            continue
        counted.append(zone)
    return _choose_psys_or_parts(counted, psys=psys, notes=notes)


def _choose_psys_or_parts(zones: list[_Zone], *, psys: bool, notes: list[str]) -> list[_Zone]:
    # psys covers the whole SoC platform, package and DRAM included: reporting it next to them
    # would count the CPU twice.
    platform = [z for z in zones if z.kind == "psys"]
    parts = [z for z in zones if z.kind != "psys"]
    if platform and (psys or not parts):
        if parts:
            notes.append(
                "psys chosen (rapl_psys = true): package and dram zones are inside it, not counted"
            )
        return platform
    if platform:
        notes.append(
            "psys (whole platform) available but not counted; set rapl_psys = true to use it"
        )
    elif psys:
        notes.append("rapl_psys = true but this host has no psys zone: package and dram counted")
    return parts


# --- opening -----------------------------------------------------------------------------------


class _Denied(Exception):
    """A counter file exists but this user may not read it."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def _open_counters(zones: list[_Zone], opener: Opener, notes: list[str]) -> list[_Counter]:
    names = _DeviceNames()
    opened: list[_Counter] = []
    failed: dict[str, str] = {}  # component -> why its first failing zone failed
    denied: list[str] = []
    for zone in zones:
        kind = zone.kind
        if kind is None:  # _select never passes these on
            continue
        try:
            opened.append(_open_counter(zone, kind, names.claim(zone), opener))
        except _Denied as exc:
            denied.append(exc.path)
            failed.setdefault(_COMPONENT_OF_KIND[kind], f"{exc.path} is not readable")
        except (OSError, ValueError) as exc:
            failed.setdefault(_COMPONENT_OF_KIND[kind], f"{zone.zone_id}: {exc}")
    kept = _drop_incomplete_components(opened, failed, notes)
    if not kept:
        raise _unavailable(denied, failed, zones)
    return kept


def _open_counter(zone: _Zone, kind: str, device: str, opener: Opener) -> _Counter:
    # energy_uj first: it is the file the 5.10 mitigation made root-only, so the one to name.
    fd = _open_or_denied(str(zone.path / "energy_uj"), opener)
    try:
        _parse_uj(os.pread(fd, _READ_SIZE, 0))  # open is not enough: sysfs may fail on read
        # Some distribution kernels made every powercap attribute root-only, this one included.
        wrap_uj = _parse_uj(_read_once(str(zone.path / "max_energy_range_uj"), opener))
        if wrap_uj <= 0:
            raise ValueError(f"max_energy_range_uj is {wrap_uj}: wraparound cannot be handled")
    except BaseException:
        close_quietly(fd)
        raise
    return _Counter(zone, kind, device, fd, wrap_uj, opener)


def _drop_incomplete_components(
    opened: list[_Counter], failed: dict[str, str], notes: list[str]
) -> list[_Counter]:
    # Half the sockets labelled "measured" would be a quiet lie; a whole component dropped lets
    # detect() fall back to a model that says it is one.
    kept = []
    for counter in opened:
        why = failed.get(counter.component)
        if why is None:
            kept.append(counter)
            continue
        counter.close()
        notes.append(f"{counter.zone.zone_id} ({counter.zone.name}) not counted: {why}")
    for component, why in failed.items():
        notes.append(f"no measured {component}: {why}")
    return kept


def _unavailable(
    denied: list[str], failed: dict[str, str], zones: list[_Zone]
) -> SensorUnavailable:
    if denied:
        return SensorUnavailable(
            f"{denied[0]} is not readable by this user: energy counters are root-only since "
            "Linux 5.10, the mitigation for the CVE-2020-8694 ('Platypus') power side channel",
            PERMISSION_FIX,
        )
    if failed:
        return SensorUnavailable("no RAPL counter could be read: " + "; ".join(failed.values()))
    listed = ", ".join(f"{z.zone_id} ({z.name})" for z in zones) or "none"
    return SensorUnavailable(f"no countable RAPL domain (zones: {listed})")


class _DeviceNames:
    """Stable, unique device ids: ``rapl:package-0``, ``rapl:dram-0``, ``rapl:psys``."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def claim(self, zone: _Zone) -> str:
        base = "rapl:" + _device_stem(zone)
        device = base if base not in self._taken else f"{base}@{zone.zone_id}"
        self._taken.add(device)
        return device


def _device_stem(zone: _Zone) -> str:
    if zone.parent_name is None:
        return zone.name
    # A sub-zone is named "dram" under every package; borrow the package's index ("-0", "-0-die-1").
    if zone.parent_name.startswith("package"):
        return zone.name + zone.parent_name[len("package") :]
    return f"{zone.parent_name}-{zone.name}"


# --- mirrors -----------------------------------------------------------------------------------


def _split_mirrors(
    counters: list[_Counter], notes: list[str]
) -> tuple[list[_Counter], list[_Mirror]]:
    """Separate zones that read one counter already counted (kept open to confirm on reads)."""
    primaries: list[_Counter] = []
    mirrors: list[_Mirror] = []
    for counter in counters:
        twin = next((p for p in primaries if _is_mirror(p, counter)), None)
        if twin is None:
            primaries.append(counter)
            continue
        mirrors.append(_Mirror(primary=twin, shadow=counter))
        notes.append(
            f"{counter.zone.zone_id} ({counter.zone.name}) reads the same counter as "
            f"{twin.zone.zone_id} ({twin.zone.name}): counted once"
        )
    return primaries, mirrors


def _is_mirror(primary: _Counter, other: _Counter) -> bool:
    if primary.kind != other.kind or primary.wrap_uj != other.wrap_uj:
        return False
    # Read primary, other, primary: a mirror's value lies between the two primary reads even when
    # the counter ticks (every ~1 ms) in between; distinct counters almost never do.
    before = _parse_uj(os.pread(primary.fd, _READ_SIZE, 0))
    value = _parse_uj(os.pread(other.fd, _READ_SIZE, 0))
    after = _parse_uj(os.pread(primary.fd, _READ_SIZE, 0))
    if before == value == after == 0:
        # Two idle or unsupported domains (DRAM on some parts reads 0 until used) prove nothing;
        # merging them would drop a real domain's first intervals if it later moves.
        return False
    return _between(before, value, after)


def _between(before: int, value: int, after: int) -> bool:
    if before <= after:
        return before <= value <= after
    # The counter wrapped between the two primary reads.
    return value >= before or value <= after


# --- small helpers -----------------------------------------------------------------------------


def _open_or_denied(path: str, opener: Opener) -> int:
    try:
        return opener(path)
    except PermissionError:
        raise _Denied(path) from None
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise _Denied(path) from None
        raise


def _read_once(path: str, opener: Opener) -> bytes:
    fd = _open_or_denied(path, opener)
    try:
        return os.pread(fd, _READ_SIZE, 0)
    finally:
        os.close(fd)


def _parse_uj(raw: bytes) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"not a counter value: {raw!r}") from None


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


# --- explanations ------------------------------------------------------------------------------


def _in_container(ctx: ProbeContext) -> bool:
    # podman and systemd-nspawn set $container; Kubernetes sets its service host in every pod;
    # Docker and containerd show in PID 1's cgroup path on cgroup v1.
    if "container" in ctx.env or "KUBERNETES_SERVICE_HOST" in ctx.env:
        return True
    cgroup = _read_text(ctx.paths.proc / "1" / "cgroup") or ""
    return any(word in cgroup for word in ("docker", "kubepods", "containerd", "libpod", "lxc"))


def _no_powercap_fix(ctx: ProbeContext) -> str:
    fix = "on Linux with an Intel or AMD CPU: `sudo modprobe intel_rapl_msr`"
    if _in_container(ctx):
        fix += (
            "; in a container, the host's /sys/class/powercap must be mounted (and readable) "
            "inside it"
        )
    return fix


def _no_zones(ctx: ProbeContext, root: Path, notes: list[str]) -> SensorUnavailable:
    if notes:
        # Zones are listed but their files are not there: container runtimes (Docker, podman,
        # Kubernetes) mask /sys/devices/virtual/powercap, where the class symlinks point, since
        # the Platypus disclosure.
        return SensorUnavailable(
            f"RAPL zones are listed in {root} but their files are hidden ({notes[0]})",
            "run on the host, or unmask the path: `docker run --security-opt systempaths=unconfined` "
            "/ `podman run --security-opt unmask=/sys/devices/virtual/powercap`",
        )
    present = ", ".join(sorted(os.listdir(root))) or "nothing"
    fix = "`sudo modprobe intel_rapl_msr`; virtual machines usually expose no RAPL"
    if _in_container(ctx):
        fix += "; in a container, the host's /sys/class/powercap must be mounted inside it"
    return SensorUnavailable(f"no RAPL zones in {root} (found: {present})", fix)
