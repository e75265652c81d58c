"""A fake sysfs DRM + hwmon tree under a temporary directory.

Laid out like the kernel's: a GPU is a PCI device directory under ``devices/`` with a ``driver``
symlink into ``bus/pci/drivers/``, a DRM node ``drm/cardN`` whose ``device`` links back to it,
and its hwmon devices under ``hwmon/hwmonM``; ``class/drm/cardN`` and ``class/hwmon/hwmonM``
are symlinks into that tree, as on a real host. Attribute files are rewritten in place (same
inode), so an fd opened earlier reads the new value, as with sysfs.

:meth:`FakeSysfs.fail` makes an open fd fail the way a vanished sysfs attribute does (the read
raises ``OSError``), and :meth:`FakeSysfs.reload` replaces a card's hwmon directory with a new
``hwmonM`` whose counters restart at 0, as a driver reload does.
"""

from __future__ import annotations

import errno
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from wattprint.sensors import HostPaths

__all__ = ["FakeCard", "FakeSysfs"]

Attributes = dict[str, int | str]


@dataclass
class FakeCard:
    card: str  # "card1"
    device: Path  # the PCI device directory
    hwmons: list[Path] = field(default_factory=list)

    def attribute(self, name: str, hwmon: int = 0) -> Path:
        return self.hwmons[hwmon] / name


class FakeSysfs:
    def __init__(self, sys_root: Path) -> None:
        self.sys = sys_root
        self.drm = sys_root / "class" / "drm"
        self.class_hwmon = sys_root / "class" / "hwmon"
        self.pci = sys_root / "devices" / "pci0000:00"
        self.drivers = sys_root / "bus" / "pci" / "drivers"
        for directory in (self.drm, self.class_hwmon, self.pci, self.drivers):
            directory.mkdir(parents=True, exist_ok=True)
        self.cards: dict[str, FakeCard] = {}
        self.denied: set[str] = set()
        self.opened: dict[str, list[int]] = {}
        self._next_hwmon = 0

    @property
    def paths(self) -> HostPaths:
        return HostPaths(sys=self.sys, proc=self.sys.parent / "proc", etc=self.sys.parent / "etc")

    # --- building -------------------------------------------------------------------------------

    def gpu(
        self, index: int, *, driver: str, hwmons: list[tuple[str, Attributes]] | None = None
    ) -> FakeCard:
        """Add ``cardN`` for a PCI GPU driven by ``driver`` with the given hwmon devices."""
        device = self.pci / f"0000:{index + 3:02x}:00.0"
        device.mkdir(parents=True)
        (self.drivers / driver).mkdir(exist_ok=True)
        (device / "driver").symlink_to(os.path.relpath(self.drivers / driver, device))
        node = device / "drm" / f"card{index}"
        node.mkdir(parents=True)
        (node / "device").symlink_to("../..")
        (self.drm / f"card{index}").symlink_to(os.path.relpath(node, self.drm))
        card = FakeCard(f"card{index}", device)
        for name, attributes in hwmons or []:
            card.hwmons.append(self.hwmon(device, name, attributes))
        self.cards[card.card] = card
        return card

    def connector(self, card: str, connector: str) -> None:
        """A display connector node (``card0-DP-1``): listed in class/drm, never a GPU."""
        (self.drm / f"{card}-{connector}").mkdir()

    def hwmon(self, parent: Path, name: str, attributes: Attributes) -> Path:
        path = parent / "hwmon" / f"hwmon{self._next_hwmon}"
        self._next_hwmon += 1
        path.mkdir(parents=True)
        (path / "name").write_text(name + "\n")
        for attribute, value in attributes.items():
            (path / attribute).write_text(f"{value}\n")
        (self.class_hwmon / path.name).symlink_to(os.path.relpath(path, self.class_hwmon))
        return path

    def platform_hwmon(self, driver: str, attributes: Attributes) -> Path:
        """An hwmon device outside the GPU tree (``amd_energy``, a power monitor chip)."""
        parent = self.sys / "devices" / "platform" / f"{driver}.0"
        parent.mkdir(parents=True, exist_ok=True)
        return self.hwmon(parent, driver, attributes)

    # --- changing values ------------------------------------------------------------------------

    def set(self, path: Path, value: int) -> None:
        with open(path, "r+") as f:  # same inode: open fds see the new value
            f.truncate(0)
            f.write(f"{value}\n")

    def advance(self, path: Path, delta: int) -> None:
        self.set(path, int(path.read_text()) + delta)

    def fail(self, path: Path) -> None:
        """Make every fd open on ``path`` fail its next read, as a vanished attribute does."""
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            for fd in self.opened.get(os.path.realpath(path), []):
                os.dup2(directory, fd)  # pread on a directory fd raises EISDIR
        finally:
            os.close(directory)

    def remove_hwmon(self, card: str, hwmon: int = 0) -> Path:
        path = self.cards[card].hwmons[hwmon]
        for attribute in os.listdir(path):
            self.fail(path / attribute)
        (self.class_hwmon / path.name).unlink()
        shutil.rmtree(path)
        return path

    def reload(self, card: str, hwmon: int = 0) -> Path:
        """The driver is reloaded: the hwmon device comes back as a new hwmonM, counters at 0."""
        old = self.cards[card].hwmons[hwmon]
        name = (old / "name").read_text().strip()
        attributes: Attributes = {
            a: (0 if a.startswith("energy") else (old / a).read_text().strip())
            for a in os.listdir(old)
            if a != "name"
        }
        self.remove_hwmon(card, hwmon)
        new = self.hwmon(self.cards[card].device, name, attributes)
        self.cards[card].hwmons[hwmon] = new
        return new

    # --- opening --------------------------------------------------------------------------------

    def opener(self, path: str) -> int:
        """Open like the sensor does, remembering the fd, refusing paths marked denied.

        Both are keyed by the real path: the sensor opens through the class/drm symlinks.
        """
        real = os.path.realpath(path)
        if real in {os.path.realpath(p) for p in self.denied}:
            raise PermissionError(errno.EACCES, "Permission denied", path)
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self.opened.setdefault(real, []).append(fd)
        return fd
