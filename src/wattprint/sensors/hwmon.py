"""GPU energy and power from Linux hwmon: Intel discrete GPUs, and DRM GPUs no vendor library reads.

The kernel's hwmon sysfs ABI (``Documentation/hwmon/sysfs-interface.rst``) gives cumulative
energy as ``energy[N]_input`` in µJ and power as ``power[N]_average`` / ``power[N]_input`` in
µW. A GPU driver registers its hwmon device under its PCI device, so every GPU is found through
``/sys/class/drm/cardN/device/hwmon/hwmonM/`` with the driver named by ``cardN/device/driver``
(and the hwmon ``name`` file).

Which GPUs this sensor reads, so that no GPU is counted twice:

- **Intel** (``i915``, ``xe``): always. Both drivers register hwmon on discrete GPUs only, so an
  integrated GPU (already inside the RAPL package) never appears here. ``i915``:
  ``energy1_input`` of the device-level hwmon (``name`` = ``i915``) is the whole device; the
  ``i915_gtN`` hwmons are per-GT parts of it and are not added
  (``Documentation/ABI/testing/sysfs-driver-intel-i915-hwmon``). ``xe``: ``energy1_input`` is
  the card, ``energy2_input`` the package inside it; the card is counted, the package only when
  it is all there is (``sysfs-driver-intel-xe-hwmon``).
- **GPUs a vendor library covers** (``amdgpu`` via amdsmi, ``nvidia`` via NVML; the
  ``leave_to_vendor`` parameter): skipped, because amdgpu's ``power1_average`` is the very
  number amdsmi reads. :func:`wattprint.sensors.detect` passes an empty set when the vendor
  sensor could not open, so the GPU is still counted, from hwmon.
- **Other DRM GPUs** (nouveau, and the ones above when released): ``energy1_input`` when there
  is one, else channel 1 power (``power1_average``, then ``power1_input``) as sampled power.
  Only channel 1: amdgpu APUs expose ``power2`` as a second limit (fastPPT) of the same rail.

Outside the DRM tree, ``/sys/class/hwmon`` energy counters are listed in :attr:`notes` but not
counted: ``amd_energy`` reads the same RAPL MSRs as the rapl sensor
(``Documentation/hwmon/amd_energy.rst``), and a counter whose component cannot be established
from a documented source is left out rather than guessed.

**Power cap.** Where the chosen hwmon has ``power1_cap`` (µW; amdgpu's package power limit, for
one), it is read once at probe time and published as :attr:`DeviceInfo.max_power_w`, the bound
the sampler uses for counters that can wrap. Power-only cards return plain power readings (no
thread of ours): the tracker's sampler reads them every 0.1 s by default.

**Wraparound.** hwmon values are C ``long`` (64-bit) µJ, and i915 / xe extend their 32-bit
hardware register in software (``i915_hwmon.h``: ``energy_counter_overflow``), so the counters
do not wrap in practice: ``wrap_j`` stays None and a backwards step (a driver reload) is a
recorded reset gap. Reading an Intel counter may resume a runtime-suspended GPU for a moment.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Collection
from pathlib import Path

from .._lazy_re import lazy_re
from .._log import get_logger
from .._struct import dataclass, replace
from ..errors import SensorReadError, SensorUnavailable
from . import DeviceInfo, ProbeContext, Reading
from ._files import KeptFile, Opener, close_quietly, open_readonly

__all__ = ["INTEL_DRIVERS", "VENDOR_DRIVERS", "HwmonSensor", "Opener", "open_readonly", "probe"]

log = get_logger("wattprint.sensors.hwmon")

#: DRM drivers whose GPUs a vendor library sensor reads (amdsmi, NVML).
VENDOR_DRIVERS = frozenset({"amdgpu", "nvidia"})
#: Intel GPU drivers with hwmon energy counters.
INTEL_DRIVERS = frozenset({"i915", "xe"})

_CARD_RE = lazy_re(r"^card(\d+)$")
_HWMON_RE = lazy_re(r"^hwmon(\d+)$")
_ENERGY_RE = lazy_re(r"^energy\d+_input$")
_READ_SIZE = 32  # a sysfs long and a newline
_POWER_ATTRIBUTES = ("power1_average", "power1_input")

#: hwmon drivers outside the DRM tree whose energy counters are known and deliberately not counted.
_NOT_COUNTED = {
    "amd_energy": (
        "reads the same RAPL MSRs as the rapl sensor (Documentation/hwmon/amd_energy.rst): "
        "counting it would count the CPU twice"
    ),
}


@dataclass(frozen=True, slots=True)
class _Hwmon:
    path: Path  # .../cardN/device/hwmon/hwmonM
    name: str  # its ``name`` file
    attributes: frozenset[str]

    def label(self, attribute: str) -> str | None:
        prefix = attribute.split("_", 1)[0]  # energy1_input -> energy1
        return _read_text(self.path / f"{prefix}_label")


@dataclass(frozen=True, slots=True)
class _Card:
    card: str  # "card0"
    device: Path  # /sys/class/drm/card0/device
    driver: str | None
    hwmons: tuple[_Hwmon, ...]

    @property
    def driver_name(self) -> str:
        return self.driver or (self.hwmons[0].name if self.hwmons else "unknown")


@dataclass(frozen=True, slots=True)
class _Source:
    """The one attribute chosen to stand for a card."""

    card: _Card
    hwmon: _Hwmon
    attribute: str
    kind: str  # "energy" | "power"
    what: str  # "card energy", "package energy", "average power"...
    warning: str | None = None
    max_power_w: float | None = None  # power1_cap, read at probe time

    @property
    def device(self) -> str:
        return f"hwmon:{self.card.card}"

    @property
    def method(self) -> str:
        return "measured" if self.kind == "energy" else "sampled"


class _Channel(KeptFile):
    """The open attribute file of one source."""

    __slots__ = ("source",)

    def __init__(self, source: _Source, fd: int, opener: Opener) -> None:
        super().__init__(str(source.hwmon.path / source.attribute), fd=fd, opener=opener)
        self.source = source

    def locate(self) -> str:
        # The fd went stale: the driver was reloaded (ENODEV) and may have come back under a new
        # hwmonM directory, so look the attribute up again through the card.
        return _find_again(self.source) or self.path


class HwmonSensor:
    """Reads one hwmon attribute per GPU through fds kept open for the sensor's life."""

    name = "hwmon"

    def __init__(self, channels: list[_Channel], notes: list[str]) -> None:
        self._channels = channels
        self._notes = notes
        self._failing: set[str] = set()
        self._closed = False

    @property
    def notes(self) -> tuple[str, ...]:
        """What the probe left out and why (vendor-covered cards, parts, unclassified counters)."""
        return tuple(self._notes)

    def devices(self) -> list[DeviceInfo]:
        return [_device_info(c.source) for c in self._channels]

    def read(self) -> list[Reading]:
        if self._closed:
            raise SensorReadError("hwmon sensor is closed")
        readings: list[Reading] = []
        failures: list[str] = []
        for channel in self._channels:
            try:
                readings.append(_reading(channel.source, self._value(channel)))
            except SensorReadError as exc:
                failures.append(str(exc))
                self._report_failure(channel.source.device, exc)
                continue
            self._failing.discard(channel.source.device)
        if failures and not readings:
            raise SensorReadError("; ".join(failures))
        # A card that failed is simply missing: the meter records a gap for it alone.
        return readings

    def close(self) -> None:
        self._closed = True
        for channel in self._channels:
            channel.close()

    def _value(self, channel: _Channel) -> int:
        # One pread of the kept-open fd, reopened once at _Channel.locate() if it went stale.
        try:
            return channel.read_int(_READ_SIZE)
        except OSError as exc:
            if self._closed:  # close() ran in another thread
                raise SensorReadError("hwmon sensor is closed") from None
            raise SensorReadError(f"cannot read {channel.path}: {exc}") from exc
        except ValueError as exc:  # "<path>: not a number: <what was read>"
            raise SensorReadError(str(exc)) from None

    def _report_failure(self, device: str, exc: Exception) -> None:
        if device not in self._failing:
            self._failing.add(device)
            log.warning("hwmon: %s failed to read (%s); its energy has a gap", device, exc)


def _reading(source: _Source, value: int) -> Reading:
    if source.kind == "energy":
        return Reading(source.device, "gpu", "measured", energy_j=value / 1e6)
    return Reading(source.device, "gpu", "sampled", power_w=value / 1e6)


# --- probe ---------------------------------------------------------------------------------------


def probe(
    ctx: ProbeContext,
    *,
    leave_to_vendor: Collection[str] = VENDOR_DRIVERS,
    opener: Opener = open_readonly,
) -> HwmonSensor:
    """Open the GPU hwmon counters this host offers, or raise :class:`SensorUnavailable`.

    ``leave_to_vendor`` names the DRM drivers whose GPUs are left to a vendor library sensor;
    pass a smaller set for the drivers whose vendor sensor could not open.
    """
    drm = ctx.paths.sys / "class" / "drm"
    if not drm.is_dir():
        raise SensorUnavailable(f"no {drm} (not Linux, or no GPU driver is loaded)", None)
    notes: list[str] = []
    cards = _cards(drm)
    sources = [s for card in cards if (s := _choose(card, frozenset(leave_to_vendor), notes))]
    claimed = {str(h.path.resolve()) for card in cards for h in card.hwmons}
    _note_other_counters(ctx.paths.sys / "class" / "hwmon", claimed, notes)
    sources = _selected(sources, ctx.options.gpu_ids, notes)
    if not sources:
        raise _nothing(cards, notes)
    sources = [replace(s, max_power_w=_cap_w(s.hwmon)) for s in sources]
    channels = _open(sources, opener, notes)
    for note in notes:
        log.debug("hwmon: %s", note)
    return HwmonSensor(channels, notes)


def _cards(drm: Path) -> list[_Card]:
    entries = sorted(
        (int(m.group(1)), entry) for entry in os.listdir(drm) if (m := _CARD_RE.match(entry))
    )
    cards: list[_Card] = []
    seen: set[str] = set()
    for _, entry in entries:
        device = drm / entry / "device"
        real = str(device.resolve())
        if real in seen:  # two nodes for one device: count it once
            continue
        seen.add(real)
        cards.append(_Card(entry, device, _driver(device), _hwmons(device / "hwmon")))
    return cards


def _driver(device: Path) -> str | None:
    try:
        return os.path.basename(os.readlink(device / "driver"))
    except OSError:
        return None


def _hwmons(root: Path) -> tuple[_Hwmon, ...]:
    try:
        entries = sorted(
            (int(m.group(1)), e) for e in os.listdir(root) if (m := _HWMON_RE.match(e))
        )
    except OSError:
        return ()
    found = []
    for _, entry in entries:
        path = root / entry
        try:
            attributes = frozenset(os.listdir(path))
        except OSError:
            continue
        found.append(_Hwmon(path, _read_text(path / "name") or "", attributes))
    return tuple(found)


def _choose(card: _Card, leave_to_vendor: frozenset[str], notes: list[str]) -> _Source | None:
    driver = card.driver_name
    if not card.hwmons:
        return None  # no hwmon at all (the proprietary nvidia driver, display-only cards)
    if driver in leave_to_vendor or card.hwmons[0].name in leave_to_vendor:
        notes.append(f"{card.card} ({driver}): left to its vendor library sensor, not read here")
        return None
    if driver in INTEL_DRIVERS or card.hwmons[0].name.startswith(tuple(INTEL_DRIVERS)):
        return _choose_intel(card, notes)
    return _choose_other(card, notes)


def _choose_intel(card: _Card, notes: list[str]) -> _Source | None:
    driver = card.driver if card.driver in INTEL_DRIVERS else card.hwmons[0].name.split("_")[0]
    device_level = [h for h in card.hwmons if h.name == driver]
    for part in (h for h in card.hwmons if h.name != driver):
        notes.append(
            f"{card.card}: {part.name} ({part.path.name}) is a per-GT part of the device "
            "counter, not added"
        )
    if not device_level:
        notes.append(f"{card.card} ({driver}): no device-level hwmon, not counted")
        return None
    hwmon = device_level[0]
    if "energy1_input" in hwmon.attributes:
        if "energy2_input" in hwmon.attributes:
            notes.append(
                f"{card.card}: energy2_input (package) is inside energy1_input (card), not added"
            )
        return _Source(card, hwmon, "energy1_input", "energy", "card energy")
    if "energy2_input" in hwmon.attributes:
        return _Source(
            card,
            hwmon,
            "energy2_input",
            "energy",
            "package energy",
            warning="only the GPU package is metered: board power outside it (memory, "
            "voltage regulators, fans) is missing",
        )
    return _power_source(card, hwmon, notes)


def _choose_other(card: _Card, notes: list[str]) -> _Source | None:
    for hwmon in card.hwmons:
        if "energy1_input" in hwmon.attributes:
            return _Source(card, hwmon, "energy1_input", "energy", "energy")
    return _power_source(card, card.hwmons[0], notes)


def _power_source(card: _Card, hwmon: _Hwmon, notes: list[str]) -> _Source | None:
    for attribute in _POWER_ATTRIBUTES:
        if attribute in hwmon.attributes:
            what = "average power" if attribute.endswith("average") else "instantaneous power"
            return _Source(card, hwmon, attribute, "power", what)
    notes.append(f"{card.card} ({card.driver_name}): no energy or power attribute in hwmon")
    return None


def _note_other_counters(root: Path, claimed: set[str], notes: list[str]) -> None:
    """List energy counters outside the GPU tree, and why they are not counted."""
    for hwmon in _hwmons(root):
        if str(hwmon.path.resolve()) in claimed:
            continue
        counters = sorted(a for a in hwmon.attributes if _ENERGY_RE.match(a))
        if not counters:
            continue
        why = _NOT_COUNTED.get(hwmon.name) or (
            "the component it meters is not established by a documented source, so it is not "
            "counted"
        )
        notes.append(f"{hwmon.path.name} ({hwmon.name or 'no name'}): {', '.join(counters)}: {why}")


def _selected(
    sources: list[_Source], gpu_ids: tuple[str, ...] | None, notes: list[str]
) -> list[_Source]:
    # gpu_ids entries in this sensor's form ("hwmon:card1", "card1") select cards; entries
    # meant for other sensors ("nvml:0", "0") do not restrict this one.
    wanted = {
        e.removeprefix("hwmon:") for e in gpu_ids or () if _CARD_RE.match(e.removeprefix("hwmon:"))
    }
    if not wanted:
        return sources
    kept = [s for s in sources if s.card.card in wanted]
    for source in sources:
        if source not in kept:
            notes.append(f"{source.card.card}: not in options.gpu_ids, not read")
    return kept


def _nothing(cards: list[_Card], notes: list[str]) -> SensorUnavailable:
    if not cards:
        return SensorUnavailable("no GPU in /sys/class/drm", None)
    listed = ", ".join(f"{c.card} ({c.driver_name})" for c in cards)
    detail = f"; {'; '.join(notes)}" if notes else ""
    return SensorUnavailable(
        f"no GPU energy or power for hwmon to read (cards: {listed}{detail})", None
    )


# --- opening -------------------------------------------------------------------------------------


def _open(sources: list[_Source], opener: Opener, notes: list[str]) -> list[_Channel]:
    channels: list[_Channel] = []
    denied: list[str] = []
    for source in sources:
        path = str(source.hwmon.path / source.attribute)
        try:
            fd = opener(path)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EPERM):
                denied.append(path)
            notes.append(f"{source.card.card}: cannot open {path}: {exc.strerror or exc}")
            continue
        try:
            int(os.pread(fd, _READ_SIZE, 0))  # open is not enough: sysfs may fail on read
        except (OSError, ValueError) as exc:
            close_quietly(fd)
            notes.append(f"{source.card.card}: cannot read {path}: {exc}")
            continue
        channels.append(_Channel(source, fd, opener))
    if not channels:
        if denied:
            raise SensorUnavailable(
                f"{denied[0]} is not readable by this user", "run as root, or make it readable"
            )
        raise SensorUnavailable("no GPU hwmon attribute could be read: " + "; ".join(notes), None)
    return channels


def _cap_w(hwmon: _Hwmon) -> float | None:
    """``power1_cap`` in W, or None where there is none, it is unreadable, or 0 (no cap set)."""
    if "power1_cap" not in hwmon.attributes:
        return None
    text = _read_text(hwmon.path / "power1_cap")
    try:
        microwatts = int(text or "")
    except ValueError:
        return None
    return microwatts / 1e6 if microwatts > 0 else None


def _find_again(source: _Source) -> str | None:
    for hwmon in _hwmons(source.card.device / "hwmon"):
        if hwmon.name == source.hwmon.name and source.attribute in hwmon.attributes:
            return str(hwmon.path / source.attribute)
    return None


# --- small helpers -------------------------------------------------------------------------------


def _device_info(source: _Source) -> DeviceInfo:
    label = source.hwmon.label(source.attribute)
    where = f"{source.card.card}, {source.hwmon.path.name}/{source.attribute}"
    detail = f"{source.card.driver_name} {source.what} ({where}"
    detail += f", label {label!r})" if label else ")"
    attributes = [
        ("driver", source.card.driver_name),
        ("hwmon", source.hwmon.path.name),
        ("attribute", source.attribute),
        ("pci", source.card.device.resolve().name),
    ]
    if label:
        attributes.append(("label", label))
    return DeviceInfo(
        device=source.device,
        component="gpu",
        method=source.method,
        detail=detail,
        attributes=tuple(attributes),
        warning=source.warning,
        max_power_w=source.max_power_w,
    )


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
