"""How each GPU is read: its energy counter, or its power where it has none.

- ``nvmlDeviceGetTotalEnergyConsumption(handle)``: the board's energy in **millijoules since the
  driver was last loaded**, an unsigned 64-bit value; "Volta or newer fully supported devices".
  Read as a cumulative counter, ``method="measured"``. At 1 kW, 2^64 mJ lasts ~585 million years,
  so ``wrap_j`` is None: the counter never wraps in practice.
- ``nvmlDeviceGetPowerUsage(handle)``: the board's power (GPU and memory) in **milliwatts**. NVML
  documents it as a 1 s average on Ampere (except GA100) and newer, and as instantaneous power on
  GA100 and older. It is used only where the energy counter is missing
  (``NVML_ERROR_NOT_SUPPORTED``: pre-Volta GPUs, some vGPUs), i.e. on GPUs that report
  instantaneous power. A read then returns a plain power reading, ``method="sampled"``: one
  NVML call per GPU, cheap enough for the tracker's shared sampler to read it every 0.1 s (its
  default for power-only devices) rather than at the record interval of 1 s or more. That fast
  cadence is what makes the meter's trapezoid integral follow a training step's power swings; the
  sensor itself keeps no thread, no clock and no integral (timing belongs to the sampler).
- ``nvmlDeviceGetMigMode(handle)`` -> ``[current, pending]``; MIG instances have no energy counter
  or power reading of their own, so a MIG-enabled GPU is reported whole, with a warning.

**Counter resets.** The energy counter restarts when the driver is reloaded or the GPU is reset.
A read passes the raw value through with ``wrap_j=None``, so the meter sees it go backwards and
records a reset gap; the sensor adds a note saying so. We do not reconcile it with an offset: an
offset would assume the new counter started from zero at the very moment of the reset, and would
turn unknown energy (between the last read and the reset, and during the reset itself) into an
invented number labelled "measured". A recorded gap is the honest answer.

**Power limit.** The enforced power limit (``nvmlDeviceGetEnforcedPowerLimit``, mW) is read once
at probe time and published as :attr:`DeviceInfo.max_power_w`, the bound the sampler uses for
counters that can wrap (NVML's does not, in practice).
"""

from __future__ import annotations

from ..._struct import dataclass
from .. import DeviceInfo, Reading
from .library import UNSUPPORTED, Errors, ask, error_code, mig_on
from .selection import Found

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable


@dataclass(frozen=True, slots=True)
class Sampling:
    """How GPUs without an energy counter are read.

    The sensor does not time anything: the tracker's sampler reads power-only devices every
    ``interval_s`` (0.1 s by default), and this value only describes that cadence in the device's
    detail and warning, so pass the sampler's own when it is configured otherwise.
    ``force=True`` reads power even where a counter exists, to compare the two on real hardware
    (``benchmarks/gpu_nvml_check.py``).
    """

    interval_s: float = 0.1
    force: bool = False


@dataclass(frozen=True, slots=True)
class Gpu:
    """A selected, readable GPU."""

    index: int
    handle: object
    name: str
    uuid: str
    mode: str  # "counter" | "power"
    mig: bool
    power_limit_w: float | None
    warnings: tuple[str, ...]

    @property
    def device(self) -> str:
        return f"nvml:{self.index}"

    @property
    def method(self) -> str:
        return "measured" if self.mode == "counter" else "sampled"


class Reader:
    """Reads one GPU: one NVML call; NVML's errors propagate to the caller."""

    def __init__(self, lib: Any, note: Callable[[str], None]) -> None:
        self._lib = lib
        self._note = note
        self._last_mj: dict[str, int] = {}

    def read(self, gpu: Gpu) -> Reading:
        if gpu.mode == "counter":
            millijoules = int(self._lib.nvmlDeviceGetTotalEnergyConsumption(gpu.handle))
            self._watch_for_reset(gpu.device, millijoules)
            return Reading(gpu.device, "gpu", "measured", energy_j=millijoules / 1000)
        milliwatts = self._lib.nvmlDeviceGetPowerUsage(gpu.handle)
        return Reading(gpu.device, "gpu", "sampled", power_w=float(milliwatts) / 1000)

    def _watch_for_reset(self, device: str, millijoules: int) -> None:
        before = self._last_mj.get(device)
        self._last_mj[device] = millijoules
        if before is not None and millijoules < before:
            # Not reconciled on purpose (see the module docstring): the meter records the gap.
            self._note(
                f"{device}: energy counter went backwards ({before / 1000:.3f} J -> "
                f"{millijoules / 1000:.3f} J), the driver was reloaded or the GPU reset; the "
                "energy around it is unknown and recorded as a gap"
            )


def open_gpu(
    lib: Any,
    errors: Errors,
    found: Found,
    sampling: Sampling,
    notes: list[str],
    warning: str | None,
) -> Gpu | None:
    if found.handle is None:
        notes.append(f"GPU {found.index} skipped: NVML gives no handle ({found.problem})")
        return None
    mode = _mode(lib, errors, found, sampling, notes)
    if mode is None:
        return None
    mig = mig_on(lib, errors, found.handle)
    warnings = [w for w in (warning, _mig_warning(mig), _sampled_warning(mode, sampling)) if w]
    return Gpu(
        index=found.index,
        handle=found.handle,
        name=found.name,
        uuid=found.uuid,
        mode=mode,
        mig=mig,
        power_limit_w=_power_limit_w(lib, errors, found.handle),
        warnings=tuple(warnings),
    )


def _mode(
    lib: Any,
    errors: Errors,
    found: Found,
    sampling: Sampling,
    notes: list[str],
) -> str | None:
    """Read by the energy counter, by sampled power, or not at all (None, with a note)."""
    if not sampling.force:
        try:
            lib.nvmlDeviceGetTotalEnergyConsumption(found.handle)
            return "counter"
        except errors as exc:
            if error_code(exc) not in UNSUPPORTED:
                notes.append(f"GPU {found.index} skipped: its energy counter failed ({exc})")
                return None
            notes.append(f"GPU {found.index} has no energy counter ({exc}): power is sampled")
    try:
        lib.nvmlDeviceGetPowerUsage(found.handle)
    except errors as exc:
        notes.append(f"GPU {found.index} skipped: no energy counter and no power reading ({exc})")
        return None
    return "power"


def _power_limit_w(
    lib: Any, errors: Errors, handle: object
) -> float | None:
    # The enforced limit is the one in force (the lower of the user's and the board's).
    for function in ("nvmlDeviceGetEnforcedPowerLimit", "nvmlDeviceGetPowerManagementLimit"):
        call = getattr(lib, function, None)
        milliwatts = ask(errors, call, handle) if call is not None else None
        if milliwatts:
            return float(milliwatts) / 1000
    return None


def _mig_warning(mig: bool) -> str | None:
    if not mig:
        return None
    return (
        "MIG is enabled: the energy is the whole GPU's, all its instances together; NVML has no "
        "per-instance energy or power, so it cannot be attributed to one instance"
    )


def _sampled_warning(mode: str, sampling: Sampling) -> str | None:
    if mode != "power":
        return None
    # Forced power mode (a benchmark comparing the two) must not claim the counter is missing.
    why = "power read instead of the energy counter" if sampling.force else (
        "no energy counter on this GPU"
    )
    return (
        f"{why}: power is sampled by the tracker's sampler every "
        f"{sampling.interval_s:g} s and integrated (trapezoid), an estimate between samples"
    )


def device_info(gpu: Gpu, sampling: Sampling) -> DeviceInfo:
    if gpu.mode == "counter":
        how = "NVML total energy counter"
    else:
        how = f"NVML power, sampled by the tracker's sampler every {sampling.interval_s:g} s"
    limit = f", power limit {gpu.power_limit_w:g} W" if gpu.power_limit_w else ""
    return DeviceInfo(
        device=gpu.device,
        component="gpu",
        method=gpu.method,
        detail=f"{gpu.name} ({gpu.uuid}){limit}: {how}",
        attributes=(
            ("name", gpu.name),
            ("uuid", gpu.uuid),
            ("index", str(gpu.index)),
            ("mig", "on" if gpu.mig else "off"),
        ),
        warning="; ".join(gpu.warnings) or None,
        max_power_w=gpu.power_limit_w,
    )
