"""AMD GPUs through the ``amdsmi`` library (ROCm), one device per physical package.

Where the numbers come from (amdsmi Python API reference, ``docs/reference/amdsmi-py-api.md`` in
https://github.com/ROCm/amdsmi):

- ``amdsmi_get_energy_count(handle)`` returns a dict: ``energy_accumulator`` (ROCm >= 6.2;
  before that the same counter was called ``power``, which 6.4 still returns as a deprecated
  alias), ``counter_resolution`` (µJ per tick, ~15.3) and ``timestamp``; energy in µJ is
  ``accumulator x resolution``. It is "not supported on virtual machine guest".
- ``amdsmi_get_power_info(handle)`` returns watts under ``average_socket_power`` (Navi, MI200 and
  older), ``current_socket_power`` (MI300 and newer) and ``socket_power`` (ROCm >= 6.4, whichever
  the ASIC has); an unsupported field holds the string ``"N/A"``. Used when there is no counter:
  ``method="sampled"`` power readings (one library call per package, no thread of our own)
  that the tracker's sampler reads every 0.1 s by default and the meter integrates. The same dict's
  ``power_limit`` (W) becomes :attr:`DeviceInfo.max_power_w`, the bound the sampler uses to read
  a wrapping counter often enough.

**Packages, not dies** (the rule that keeps every joule counted exactly once):

- *MI250 / MI250X*: each card carries two GCDs, and amdsmi lists each as its own GPU. Only the
  primary die (die id 0) reports power and energy, and its numbers are the whole package's; the
  secondary die reads 0 by design. Sources: Linux commit 076f55a45e9e ("drm/amd/pm: Only primary
  die supports power data", ``aldebaran_ppt.c``), ROCm/rocm_smi_lib#160 ("Primary die ... shows
  total (primary + secondary) socket power"), LLNL/variorum#553, ml-energy/zeus#203. The two
  GCDs of one card are paired by their shared board serial (``amdsmi_get_gpu_board_info``), else
  as consecutive indices (0-1, 2-3, ...: the secondary sits next to its primary, per the issue
  above), and the pair becomes one device read from the die whose counter is non-zero.
- *MI300X partitions* (CPX, DPX...): one physical GPU is listed once per partition, all with the
  same PCI bus and device number (the partition id lives in the function bits or in
  BDFID[31:28], per the ``amdsmi_get_gpu_device_bdf`` documentation). Energy and power are
  socket quantities of the one SMU, so the partitions of one bus:device are one package, read
  once, from the first partition whose counter is non-zero.
- A package is reported when any of its dies is visible to this process (``options.gpu_ids``,
  else ``ROCR_VISIBLE_DEVICES`` then ``HIP_VISIBLE_DEVICES``); when only some are, the device
  says so in its warning: the package counter includes its invisible dies too.

**Wraparound.** The API value is a uint64 (the kernel's ``gpu_metrics.energy_accumulator``), but
on MI100 (``gfx908``) the kernel widens a 32-bit firmware counter (``arcturus_ppt.c``:
``(uint64_t)metrics.EnergyAccumulator``), so it wraps at 2^32 ticks (~66 kJ, minutes at full
load): ``wrap_j`` is set for it. MI200 builds a real 64-bit counter (``EnergyAcc64bitHigh/Low``)
that never wraps in practice; for every other ASIC the width is not documented and ``wrap_j``
stays None, so a backwards step is a recorded reset gap (ROCm/amdsmi#115 reports counters going
backwards) rather than invented energy.

Known limits: some MI100 setups return a frozen counter (ROCm/amdsmi#22, #38); a probe cannot
tell without sleeping, so ``probe(ctx, prefer_power=True)`` is offered to read power instead.
Device indices are amdsmi's (PCI order), which is also ROCm's default enumeration order.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Mapping

from .._lazy_re import lazy_re
from .._log import get_logger
from .._struct import dataclass, field
from ..errors import SensorReadError, SensorUnavailable
from . import VENDOR_LIBRARIES, DeviceInfo, ProbeContext, Reading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["INSTALL_FIX", "AmdSmiSensor", "probe"]

log = get_logger("wattprint.sensors.amdsmi")

INSTALL_FIX = VENDOR_LIBRARIES["amdsmi"][2]

#: Power fields in the order we trust them: the firmware's ~1 s average integrates best over
#: multi-second intervals; the newer unified field next; the instantaneous value last.
POWER_KEYS = ("average_socket_power", "socket_power", "current_socket_power")

# amdsmi status codes (amdsmi.h, amdsmi_status_t) that deserve their own explanation.
_STATUS_NO_PERM = 10
_STATUS_NOT_FOUND = 31
_STATUS_DRIVER_NOT_LOADED = 34

# Counter width in bits by graphics target, where a source documents it (see module docstring).
_COUNTER_BITS = {"gfx908": 32}

_DUAL_DIE = lazy_re(r"MI250", re.IGNORECASE)
_BDF = lazy_re(r"^(?:([0-9a-fA-F]{4}):)?([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])$")


# --- what the probe learns about each die --------------------------------------------------------


@dataclass(slots=True)
class _Die:
    index: int
    handle: object
    name: str
    bdf: str | None
    uuid: str | None
    serial: str | None  # board product serial (FRU), shared by the GCDs of one card
    asic_serial: str | None
    gfx: str | None
    energy_raw: int | None  # counter ticks at probe time; None when unsupported
    power_w: float | None
    power_limit_w: float | None = None  # the socket power cap, where amdsmi states one


@dataclass(slots=True)
class _Package:
    """Dies that share one power/energy counter, and the die that carries it."""

    kind: str  # "single" | "dual-die" | "partitions"
    dies: list[_Die]
    carrier: _Die | None = None
    mode: str = "energy"  # "energy" | "power"
    visible: list[int] = field(default_factory=list)

    @property
    def indices(self) -> list[int]:
        return [d.index for d in self.dies]


class AmdSmiSensor:
    """Reads one counter (or power value) per visible AMD GPU package."""

    name = "amdsmi"

    def __init__(
        self,
        lib: Any,
        packages: list[_Package],
        notes: list[str],
        errors: tuple[type[BaseException], ...],
    ) -> None:
        self._lib = lib
        self._packages = packages
        self._notes = notes
        self._errors = errors
        self._failing: set[str] = set()
        self._closed = False

    @property
    def notes(self) -> tuple[str, ...]:
        """What the probe left out or merged, and why."""
        return tuple(self._notes)

    def devices(self) -> list[DeviceInfo]:
        return [_device_info(p) for p in self._packages]

    def read(self) -> list[Reading]:
        if self._closed:
            raise SensorReadError("amdsmi sensor is closed")
        readings: list[Reading] = []
        failures: list[str] = []
        for package in self._packages:
            try:
                readings.append(self._read_package(package))
            except SensorReadError as exc:
                failures.append(str(exc))
                self._report_failure(_device_name(package), exc)
                continue
            self._failing.discard(_device_name(package))
        if failures and not readings:
            # Every package failed: one sensor-level gap says why; otherwise the failed ones are
            # simply missing, which the meter records as a gap for those devices only.
            raise SensorReadError("; ".join(failures))
        return readings

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        _shut_down(self._lib, self._errors)

    def _read_package(self, package: _Package) -> Reading:
        carrier = package.carrier
        assert carrier is not None  # the probe keeps only packages with a carrier
        device = _device_name(package)
        try:
            if package.mode == "power":
                watts = _power_w(self._lib.amdsmi_get_power_info(carrier.handle))
                if watts is None:
                    raise SensorReadError(f"{device}: no power value (all fields N/A)")
                return Reading(device, "gpu", "sampled", power_w=watts)
            ticks, resolution_uj = _energy(self._lib.amdsmi_get_energy_count(carrier.handle))
        except self._errors as exc:
            raise SensorReadError(f"{device}: {exc}") from exc
        return Reading(
            device,
            "gpu",
            "measured",
            energy_j=ticks * resolution_uj / 1e6,
            wrap_j=_wrap_j(carrier, resolution_uj),
        )

    def _report_failure(self, device: str, exc: Exception) -> None:
        if device not in self._failing:  # log once per outage, not once per read
            self._failing.add(device)
            log.warning("amdsmi: %s failed to read (%s); its energy has a gap", device, exc)


# --- probe ---------------------------------------------------------------------------------------


def probe(ctx: ProbeContext, *, prefer_power: bool = False) -> AmdSmiSensor:
    """Open the AMD GPUs visible to this process, or raise :class:`SensorUnavailable` saying why.

    ``prefer_power`` reads sampled power even where an energy counter exists (for GPUs whose
    counter is known to be frozen, ROCm/amdsmi#38).
    """
    lib = _import(ctx)
    errors = _error_classes(lib)
    _init(lib, errors)
    try:
        return _open(lib, errors, ctx, prefer_power)
    except BaseException:
        _shut_down(lib, errors)
        raise


def _open(
    lib: Any, errors: tuple[type[BaseException], ...], ctx: ProbeContext, prefer_power: bool
) -> AmdSmiSensor:
    notes: list[str] = []
    dies = _discover(lib, errors)
    visible = _visible(dies, ctx, notes)
    packages = []
    for package in _group(dies, notes):
        package.visible = [i for i in package.indices if i in visible]
        if not package.visible:
            continue
        if _choose_carrier(package, prefer_power, notes):
            packages.append(package)
    if not packages:
        raise SensorUnavailable(
            "no visible AMD GPU reports energy or power"
            + (f" ({'; '.join(notes)})" if notes else ""),
            "amdsmi energy and power are not available in virtual machine guests; on bare "
            "metal, check `amd-smi metric --power --energy`",
        )
    for note in notes:
        log.debug("amdsmi: %s", note)
    return AmdSmiSensor(lib, packages, notes, errors)


def _import(ctx: ProbeContext) -> Any:
    if "amdsmi" in ctx.modules:
        module = ctx.modules["amdsmi"]
        if module is None:
            raise SensorUnavailable(VENDOR_LIBRARIES["amdsmi"][1], INSTALL_FIX)
        return module
    try:
        return importlib.import_module("amdsmi")
    except ImportError:
        raise SensorUnavailable(VENDOR_LIBRARIES["amdsmi"][1], INSTALL_FIX) from None
    except OSError as exc:  # the package is there but libamd_smi.so is not (zeus notes the same)
        raise SensorUnavailable(
            f"amdsmi is installed but its library could not be loaded ({exc})",
            "install ROCm (the amd-smi-lib package) and set ROCM_PATH if it is not in /opt/rocm",
        ) from None
    except (AttributeError, KeyError) as exc:  # the Python package and ROCm versions differ
        raise SensorUnavailable(
            f"amdsmi failed to import ({exc!r}): the Python package does not match the "
            "installed ROCm",
            "install the amdsmi version that matches ROCm (the copy under /opt/rocm/share/amd_smi)",
        ) from None


def _error_classes(lib: Any) -> tuple[type[BaseException], ...]:
    # AmdSmiException is the root of everything amdsmi raises; KeyError/TypeError/ValueError
    # cover a result dict that lacks a field or holds "N/A" where a number was expected.
    base = getattr(lib, "AmdSmiException", None)
    found: tuple[type[BaseException], ...] = ()
    if isinstance(base, type) and issubclass(base, BaseException):
        found = (base,)
    return found + (KeyError, TypeError, ValueError)


def _init(lib: Any, errors: tuple[type[BaseException], ...]) -> None:
    flags = getattr(lib, "AmdSmiInitFlags", None)
    # INIT_AMD_GPUS since ROCm 6.0; AMD_GPUS before (amdsmi_interface.py).
    flag = getattr(flags, "INIT_AMD_GPUS", None) or getattr(flags, "AMD_GPUS", None)
    try:
        if flag is None:
            lib.amdsmi_init()
        else:
            lib.amdsmi_init(flag)
    except errors as exc:
        raise _init_failure(exc) from None


def _init_failure(exc: BaseException) -> SensorUnavailable:
    code = _status(exc)
    if code == _STATUS_DRIVER_NOT_LOADED:
        return SensorUnavailable(
            "the amdgpu kernel driver is not loaded",
            "install the ROCm kernel driver (amdgpu-dkms) and `sudo modprobe amdgpu`",
        )
    if code == _STATUS_NO_PERM:
        return SensorUnavailable(
            "amdsmi was denied access to /dev/kfd or /dev/dri/renderD*",
            "add your user to the render and video groups (`sudo usermod -aG render,video "
            "$USER`, then log in again); in a container pass `--device /dev/kfd --device "
            "/dev/dri`",
        )
    if code == _STATUS_NOT_FOUND:
        return SensorUnavailable("amdsmi found no AMD GPU", None)
    return SensorUnavailable(f"amdsmi_init failed: {exc}", "check that `amd-smi list` works")


def _status(exc: BaseException) -> int | None:
    getter = getattr(exc, "get_error_code", None)
    code = getter() if callable(getter) else getattr(exc, "err_code", None)
    return abs(code) if isinstance(code, int) else None


def _shut_down(lib: Any, errors: tuple[type[BaseException], ...]) -> None:
    # amdsmi reference-counts init/shut_down, so this releases only our share.
    try:
        lib.amdsmi_shut_down()
    except errors as exc:
        log.debug("amdsmi_shut_down failed: %s", exc)


# --- discovery -----------------------------------------------------------------------------------


def _discover(lib: Any, errors: tuple[type[BaseException], ...]) -> list[_Die]:
    try:
        handles = list(lib.amdsmi_get_processor_handles())
    except errors as exc:
        raise SensorUnavailable(f"amdsmi could not list GPUs: {exc}", None) from None
    if not handles:
        raise SensorUnavailable("amdsmi found no AMD GPU", None)
    return [_describe(lib, errors, index, handle) for index, handle in enumerate(handles)]


def _describe(
    lib: Any, errors: tuple[type[BaseException], ...], index: int, handle: object
) -> _Die:
    def ask(function: str) -> Any:
        # Every field but the handle is optional: older amdsmi lacks some calls, and a missing
        # detail only weakens the grouping, it never stops the GPU from being read.
        call: Callable[[object], Any] | None = getattr(lib, function, None)
        if call is None:
            return None
        try:
            return call(handle)
        except errors:
            return None

    asic = _mapping(ask("amdsmi_get_gpu_asic_info"))
    board = _mapping(ask("amdsmi_get_gpu_board_info"))
    energy = ask("amdsmi_get_energy_count")
    power = ask("amdsmi_get_power_info")
    return _Die(
        index=index,
        handle=handle,
        name=_text(asic.get("market_name")) or _text(board.get("product_name")) or "AMD GPU",
        bdf=_text(ask("amdsmi_get_gpu_device_bdf")),
        uuid=_text(ask("amdsmi_get_gpu_device_uuid")),
        serial=_text(board.get("product_serial")),
        asic_serial=_text(asic.get("asic_serial")),
        gfx=_text(asic.get("target_graphics_version")),
        energy_raw=_ticks_or_none(energy),
        power_w=_power_w(power),
        power_limit_w=_power_limit_w(power),
    )


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if value and value.upper() != "N/A" else None


def _energy(result: Any) -> tuple[int, float]:
    """(ticks, µJ per tick) from an ``amdsmi_get_energy_count`` result, old or new key names."""
    if not isinstance(result, Mapping):
        raise TypeError(f"energy count is not a dict: {result!r}")
    ticks = result.get("energy_accumulator", result.get("power"))
    resolution = result.get("counter_resolution")
    if not isinstance(ticks, int) or isinstance(ticks, bool) or ticks < 0:
        raise ValueError(f"energy accumulator is not a counter: {ticks!r}")
    if not isinstance(resolution, (int, float)) or resolution <= 0:
        raise ValueError(f"counter resolution is not usable: {resolution!r}")
    return ticks, float(resolution)


def _ticks_or_none(result: Any) -> int | None:
    try:
        return _energy(result)[0]
    except (TypeError, ValueError):
        return None


def _power_w(result: Any) -> float | None:
    info = _mapping(result)
    for key in POWER_KEYS:
        value = info.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


# No GPU package draws this much; a larger power_limit is a sentinel (amdsmi fills unreadable
# fields with UINT_MAX) or another unit, and is dropped rather than published as a bound.
_MAX_PLAUSIBLE_LIMIT_W = 5000.0


def _power_limit_w(result: Any) -> float | None:
    value = _mapping(result).get("power_limit")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if 0 < value <= _MAX_PLAUSIBLE_LIMIT_W:
            return float(value)
    return None


def _wrap_j(die: _Die, resolution_uj: float) -> float | None:
    bits = _COUNTER_BITS.get(die.gfx or "")
    return None if bits is None else (2**bits) * resolution_uj / 1e6


# --- visibility ----------------------------------------------------------------------------------


def _visible(dies: list[_Die], ctx: ProbeContext, notes: list[str]) -> set[int]:
    """Physical indices this process may use: ``gpu_ids``, else the ROCm isolation variables."""
    every = [d.index for d in dies]
    if ctx.options.gpu_ids is not None:
        chosen = {i for entry in ctx.options.gpu_ids for i in _match(entry, dies, prefixed=True)}
        if not chosen:
            raise SensorUnavailable(
                f"options.gpu_ids {list(ctx.options.gpu_ids)} names no AMD GPU "
                f"(amdsmi sees {len(dies)})",
                "name AMD GPUs as amdsmi:<index>, a bare index, their UUID or PCI address",
            )
        return chosen
    visible = every
    # ROCR_VISIBLE_DEVICES filters in the runtime first; HIP_VISIBLE_DEVICES then indexes what
    # ROCr exposes (ROCm "GPU isolation techniques"; pytorch#142292 tests ROCR=1,2,3 + HIP=0).
    rocr = ctx.env.get("ROCR_VISIBLE_DEVICES")
    if rocr is not None:
        visible = _filter(visible, rocr, "ROCR_VISIBLE_DEVICES", dies, notes, uuids=True)
    hip = ctx.env.get("HIP_VISIBLE_DEVICES")
    if hip is not None:
        visible = _filter(visible, hip, "HIP_VISIBLE_DEVICES", dies, notes, uuids=False)
    if not visible:
        raise SensorUnavailable(
            "the ROCm visibility variables (ROCR_VISIBLE_DEVICES / HIP_VISIBLE_DEVICES) leave "
            "no AMD GPU visible to this process",
            None,
        )
    if rocr is not None or hip is not None:
        notes.append(f"visible GPUs (from the environment): {', '.join(map(str, visible))}")
    return set(visible)


def _filter(
    current: list[int],
    value: str,
    variable: str,
    dies: list[_Die],
    notes: list[str],
    *,
    uuids: bool,
) -> list[int]:
    chosen: list[int] = []
    for entry in (e.strip() for e in value.split(",") if e.strip()):
        if entry.lstrip("-").isdigit():
            position = int(entry)
            if 0 <= position < len(current):
                chosen.append(current[position])
            else:
                notes.append(f"{variable} entry {entry} is out of range, ignored")
            continue
        matched = (
            _match(entry, [d for d in dies if d.index in current], prefixed=False) if uuids else []
        )
        if not matched:
            notes.append(f"{variable} entry {entry!r} matches no AMD GPU, ignored")
        chosen.extend(i for i in matched if i not in chosen)
    return chosen


def _match(entry: str, dies: Iterable[_Die], *, prefixed: bool) -> list[int]:
    entry = entry.strip()
    if prefixed and entry.startswith("amdsmi:"):
        entry = entry[len("amdsmi:") :]
    elif prefixed and ":" in entry and not _BDF.match(entry):
        return []  # another sensor's device name ("nvml:0", "hwmon:card0")
    key = _normal_id(entry)
    found = []
    for die in dies:
        ids = {_normal_id(x) for x in (die.uuid, die.asic_serial, die.bdf) if x}
        if (entry.isdigit() and int(entry) == die.index) or (key and key in ids):
            found.append(die.index)
    return found


def _normal_id(value: str) -> str:
    # ROCr writes a UUID as "GPU-<hex of the ASIC serial>"; amdsmi as a dashed UUID or "0x..."
    value = value.strip().lower()
    for prefix in ("gpu-", "0x"):
        value = value.removeprefix(prefix)
    return value.replace("-", "").lstrip("0")


# --- packages ------------------------------------------------------------------------------------


def _group(dies: list[_Die], notes: list[str]) -> list[_Package]:
    """Dies that share one counter, first by PCI bus:device (partitions), then MI250 pairs."""
    by_slot: dict[str, list[_Die]] = {}
    singles: list[_Die] = []
    for die in dies:
        slot = _pci_slot(die.bdf)
        if slot is None:
            singles.append(die)
        else:
            by_slot.setdefault(slot, []).append(die)
    packages = [_Package("single", [d]) for d in singles]
    for members in by_slot.values():
        kind = "partitions" if len(members) > 1 else "single"
        packages.append(_Package(kind, members))
    packages = _pair_dual_die(packages, notes)
    packages.sort(key=lambda p: p.indices[0])
    return packages


def _pci_slot(bdf: str | None) -> str | None:
    match = _BDF.match(bdf or "")
    if match is None:
        return None
    domain, bus, device, _function = match.groups()
    # The partition id sits in the function bits or in BDFID[31:28], the top hex digit of the
    # domain (amdsmi_get_gpu_device_bdf docs): drop both, keep the physical bus:device.
    physical_domain = int(domain or "0", 16) & 0x0FFF
    return f"{physical_domain:04x}:{bus.lower()}:{device.lower()}"


def _pair_dual_die(packages: list[_Package], notes: list[str]) -> list[_Package]:
    gcds = [p for p in packages if p.kind == "single" and _DUAL_DIE.search(p.dies[0].name)]
    rest = [p for p in packages if p not in gcds]
    dies = sorted((p.dies[0] for p in gcds), key=lambda d: d.index)
    paired: list[_Package] = []
    by_serial: dict[str, list[_Die]] = {}
    for die in dies:
        if die.serial:
            by_serial.setdefault(die.serial, []).append(die)
    taken: set[int] = set()
    for members in by_serial.values():
        if len(members) == 2:
            paired.append(_Package("dual-die", members))
            taken.update(d.index for d in members)
    leftover = [d for d in dies if d.index not in taken]
    if leftover and paired:
        notes.append("some MI250 GCDs have no shared board serial: paired by adjacent index")
    for first, second in zip(leftover[0::2], leftover[1::2], strict=False):  # odd one: below
        paired.append(_Package("dual-die", [first, second]))
    if len(leftover) % 2:
        lone = leftover[-1]
        notes.append(f"MI250 GCD {lone.index} has no partner die listed: read on its own")
        paired.append(_Package("single", [lone]))
    return rest + paired


def _choose_carrier(package: _Package, prefer_power: bool, notes: list[str]) -> bool:
    """Pick the die whose counter (or power) stands for the package; False if none can."""
    counting = [d for d in package.dies if d.energy_raw]  # non-zero: the die that reports
    powered = [d for d in package.dies if d.power_w is not None]
    zeroed = [d for d in package.dies if d.energy_raw == 0]
    if counting and not prefer_power:
        package.carrier, package.mode = counting[0], "energy"
        _note_extra_counters(package, counting[1:], notes)
    elif powered:
        package.carrier = next((d for d in powered if d.power_w), powered[0])
        package.mode = "power"
        if not prefer_power:
            notes.append(f"{_label(package)}: no energy counter, power is sampled instead")
    elif zeroed:  # a counter that reads 0 right after a reset still counts from here
        package.carrier, package.mode = zeroed[0], "energy"
    else:
        notes.append(f"{_label(package)}: neither energy nor power is readable, not counted")
        return False
    return True


def _note_extra_counters(package: _Package, others: list[_Die], notes: list[str]) -> None:
    if not others:
        return
    carrier = package.carrier
    assert carrier is not None
    listed = ", ".join(f"{d.index} ({d.energy_raw} ticks)" for d in others)
    notes.append(
        f"{_label(package)}: dies {listed} also report a counter; energy is a socket-level "
        f"quantity, so the package is counted once, from die {carrier.index} "
        f"({carrier.energy_raw} ticks)"
    )


def _label(package: _Package) -> str:
    return f"{package.dies[0].name} (amdsmi dies {', '.join(map(str, package.indices))})"


def _device_name(package: _Package) -> str:
    assert package.carrier is not None
    return f"amdsmi:{package.carrier.index}"


def _device_info(package: _Package) -> DeviceInfo:
    carrier = package.carrier
    assert carrier is not None
    others = [d.index for d in package.dies if d is not carrier]
    source = "energy counter" if package.mode == "energy" else "sampled socket power"
    detail = f"{carrier.name}, GPU {carrier.index}: {source}"
    if package.kind == "dual-die" and others:
        detail += (
            f"; one package with GCD {others[0]}, whose energy is inside this counter "
            "(only the primary die reports, the other reads 0)"
        )
    elif package.kind == "partitions":
        detail += f"; partitions {', '.join(map(str, others))} share this socket, counted once"
    attributes = [
        ("dies", ",".join(map(str, package.indices))),
        ("visible_dies", ",".join(map(str, package.visible))),
        ("package", package.kind),
    ]
    attributes += [(k, v) for k, v in (("bdf", carrier.bdf), ("uuid", carrier.uuid)) if v]
    if carrier.gfx:
        attributes.append(("gfx", carrier.gfx))
    bits = _COUNTER_BITS.get(carrier.gfx or "")
    if package.mode == "energy" and bits:
        attributes.append(("counter_bits", str(bits)))
    hidden = [i for i in package.indices if i not in package.visible]
    warning = None
    if hidden:
        warning = (
            f"this package's counter also covers GPU {', '.join(map(str, hidden))}, which this "
            "process cannot see: work running there is included"
        )
    # The carrier's cap is the package's (socket quantities live on the die that reports them);
    # another die's stands in when the carrier states none.
    limits = [d.power_limit_w for d in [carrier, *package.dies] if d.power_limit_w is not None]
    return DeviceInfo(
        device=_device_name(package),
        component="gpu",
        method="measured" if package.mode == "energy" else "sampled",
        detail=detail,
        attributes=tuple(attributes),
        warning=warning,
        max_power_w=limits[0] if limits else None,
    )
