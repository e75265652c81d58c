"""A fake Linux powercap (RAPL) sysfs tree under a temporary directory.

Laid out like the kernel's: zone directories nest under ``devices/virtual/powercap/<family>/``
and ``class/powercap/`` holds one flat symlink per zone, so a sensor reading
``HostPaths(sys=root).powercap`` sees what it would on a real host. Counters are rewritten in
place (same inode), so a file descriptor opened before a change reads the new value, as with
sysfs.

Tests run as root here, and root reads any file whatever its mode; :meth:`FakePowercap.open_as_user`
is an opener that applies the mode bits the way the kernel would for an unprivileged user, so
"root-only since 5.10" can be tested for real.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from wattprint.sensors import HostPaths

__all__ = ["DEFAULT_RANGE_UJ", "FakePowercap", "FakeZone", "close_fds_to"]

#: A typical package max_energy_range_uj (2^32 units of 61 µJ): wraps every ~262 kJ.
DEFAULT_RANGE_UJ = 262_143_328_850

_ZONE_RE = re.compile(r"^(intel-rapl(?:-mmio)?):(\d+)(?::(\d+))?$")
_READABLE = 0o644  # as before Linux 5.10, or after `wattprint setup-rapl`
_ROOT_ONLY = 0o600  # energy_uj since 5.10 (0400 there; the owner write bit lets the fake update it)


@dataclass
class FakeZone:
    """One zone. ``true_energy_uj`` is the energy really spent, unaffected by wraparound."""

    zone_id: str
    name: str
    dir: Path
    max_energy_range_uj: int
    true_energy_uj: int = 0
    mirrors: list[FakeZone] = field(default_factory=list)

    @property
    def energy_uj(self) -> int:
        return int((self.dir / "energy_uj").read_text())

    def file(self, name: str) -> Path:
        return self.dir / name


class FakePowercap:
    """Builds zones, moves their counters, and simulates permissions and failures."""

    def __init__(self, sys_root: Path) -> None:
        self.sys = sys_root
        self.powercap = sys_root / "class" / "powercap"
        self.devices = sys_root / "devices" / "virtual" / "powercap"
        self.proc = sys_root.parent / "proc"
        self.zones: dict[str, FakeZone] = {}
        #: gids the simulated unprivileged user belongs to (see open_as_user).
        self.user_groups: set[int] = set()
        self.powercap.mkdir(parents=True, exist_ok=True)

    @property
    def paths(self) -> HostPaths:
        return HostPaths(sys=self.sys, proc=self.proc, etc=self.sys.parent / "etc")

    # --- building -------------------------------------------------------------------------------

    def zone(
        self,
        zone_id: str,
        name: str,
        *,
        energy_uj: int = 0,
        max_energy_range_uj: int = DEFAULT_RANGE_UJ,
        enabled: bool = True,
        root_only: bool = False,
    ) -> FakeZone:
        """Add zone ``zone_id`` ("intel-rapl:0", "intel-rapl:0:2", "intel-rapl-mmio:0")."""
        match = _ZONE_RE.match(zone_id)
        if match is None:
            raise ValueError(f"not a RAPL zone id: {zone_id}")
        family, top, sub = match.groups()
        directory = self._control_type(family) / f"{family}:{top}"
        if sub is not None:
            directory = directory / zone_id
        directory.mkdir(parents=True, exist_ok=False)
        (directory / "name").write_text(name + "\n")
        (directory / "enabled").write_text("1\n" if enabled else "0\n")
        (directory / "max_energy_range_uj").write_text(f"{max_energy_range_uj}\n")
        (directory / "energy_uj").write_text(f"{energy_uj}\n")
        for attribute in ("name", "enabled", "max_energy_range_uj"):
            (directory / attribute).chmod(_READABLE)
        (directory / "energy_uj").chmod(_ROOT_ONLY if root_only else _READABLE)
        (self.powercap / zone_id).symlink_to(os.path.relpath(directory, self.powercap))
        zone = FakeZone(zone_id, name, directory, max_energy_range_uj)
        self.zones[zone_id] = zone
        return zone

    def package(
        self,
        index: int,
        *,
        name: str | None = None,
        subzones: tuple[str, ...] = ("core", "uncore", "dram"),
        family: str = "intel-rapl",
        energy_uj: int = 0,
        max_energy_range_uj: int = DEFAULT_RANGE_UJ,
        root_only: bool = False,
    ) -> FakeZone:
        """Add ``<family>:<index>`` named ``package-<index>`` (or ``name``) and its sub-zones."""
        package = self.zone(
            f"{family}:{index}",
            name or f"package-{index}",
            energy_uj=energy_uj,
            max_energy_range_uj=max_energy_range_uj,
            root_only=root_only,
        )
        for position, subname in enumerate(subzones):
            self.zone(
                f"{family}:{index}:{position}",
                subname,
                max_energy_range_uj=max_energy_range_uj,
                root_only=root_only,
            )
        return package

    def mirror(self, source: FakeZone, copy: FakeZone) -> None:
        """Make ``copy`` expose ``source``'s counter from now on (both move together)."""
        source.mirrors.append(copy)
        self.set(source, source.energy_uj)

    def _control_type(self, family: str) -> Path:
        directory = self.devices / family
        if not directory.exists():
            directory.mkdir(parents=True)
            (directory / "enabled").write_text("1\n")
            (self.powercap / family).symlink_to(os.path.relpath(directory, self.powercap))
        return directory

    # --- counters -------------------------------------------------------------------------------

    def set(self, zone: FakeZone | str, energy_uj: int) -> None:
        """Write the counter as the kernel would show it (and its mirrors')."""
        zone = self._zone(zone)
        for target in (zone, *zone.mirrors):
            # write_text truncates and rewrites the same inode: open fds see the new value.
            (target.dir / "energy_uj").write_text(f"{energy_uj}\n")

    def advance(self, zone: FakeZone | str, delta_uj: int) -> int:
        """Spend ``delta_uj``; the counter wraps to 0 past max_energy_range_uj. Returns the new value."""
        zone = self._zone(zone)
        zone.true_energy_uj += delta_uj
        value = (zone.energy_uj + delta_uj) % (zone.max_energy_range_uj + 1)
        self.set(zone, value)
        return value

    def set_near_wrap(self, zone: FakeZone | str, below_uj: int) -> int:
        """Put the counter ``below_uj`` under its wrap point; the next big advance wraps it."""
        zone = self._zone(zone)
        value = zone.max_energy_range_uj - below_uj
        self.set(zone, value)
        return value

    def wrap(self, zone: FakeZone | str, *, before_uj: int, after_uj: int) -> tuple[int, int]:
        """:meth:`set_near_wrap` then spend ``before_uj + after_uj``: returns both counter values.

        The second is ``after_uj - 1``, well below the first: the counter runs from 0 to
        max_energy_range_uj inclusive, so crossing the top costs one extra µJ.
        """
        start = self.set_near_wrap(zone, before_uj)
        return start, self.advance(zone, before_uj + after_uj)

    # --- permissions and failures --------------------------------------------------------------

    def make_root_only(self, zone: FakeZone | str, attribute: str = "energy_uj") -> Path:
        path = self._zone(zone).dir / attribute
        path.chmod(_ROOT_ONLY)
        return path

    def open_as_user(self, path: str) -> int:
        """An opener that enforces file modes as for a user who is not the owner (not root)."""
        mode = os.stat(path)
        readable = bool(mode.st_mode & stat.S_IROTH) or (
            bool(mode.st_mode & stat.S_IRGRP) and mode.st_gid in self.user_groups
        )
        if not readable:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)

    def remove(self, zone: FakeZone | str) -> None:
        """The zone disappears, as when the driver is unloaded."""
        zone = self._zone(zone)
        shutil.rmtree(zone.dir)
        (self.powercap / zone.zone_id).unlink()
        del self.zones[zone.zone_id]

    def mask(self) -> None:
        """Hide the zone files the way container runtimes mask /sys/devices/virtual/powercap."""
        shutil.rmtree(self.devices)
        self.devices.mkdir()

    def energy_files(self) -> list[Path]:
        return sorted(self.powercap / z / "energy_uj" for z in self.zones)

    def _zone(self, zone: FakeZone | str) -> FakeZone:
        return self.zones[zone] if isinstance(zone, str) else zone


def close_fds_to(path: Path) -> int:
    """Close every fd of this process open on ``path`` (makes a sensor's fd go bad)."""
    target = os.path.realpath(path)
    closed = 0
    for entry in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{entry}")
        except OSError:
            continue
        if link == target or link == f"{target} (deleted)":
            os.close(int(entry))
            closed += 1
    return closed
