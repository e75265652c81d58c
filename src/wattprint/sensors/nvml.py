"""NVIDIA GPUs through NVML (the ``pynvml`` module of nvidia-ml-py), one device per physical GPU.

Where the numbers come from (NVML API reference, https://docs.nvidia.com/deploy/nvml-api/, as
mirrored by cuda-python's ``cuda.bindings.nvml`` pages; wrapper behaviour read in nvidia-ml-py
13.615's ``pynvml.py``):

- ``nvmlDeviceGetTotalEnergyConsumption(handle)``: the board's energy in **millijoules since the
  driver was last loaded**, an unsigned 64-bit value; "Volta or newer fully supported devices".
  Read as a cumulative counter, ``method="measured"``. At 1 kW, 2^64 mJ lasts ~585 million years,
  so ``wrap_j`` is None: the counter never wraps in practice.
- ``nvmlDeviceGetPowerUsage(handle)``: the board's power (GPU and memory) in **milliwatts**. NVML
  documents it as a 1 s average on Ampere (except GA100) and newer, and as instantaneous power on
  GA100 and older. It is used only where the energy counter is missing
  (``NVML_ERROR_NOT_SUPPORTED``: pre-Volta GPUs, some vGPUs), i.e. on GPUs that report
  instantaneous power. ``read()`` then returns a plain power reading, ``method="sampled"``: one
  NVML call per GPU, cheap enough for the tracker's shared sampler to read it every 0.1 s (its
  default for power-only devices) rather than at the record interval of 1 s or more. That fast
  cadence is what makes the meter's trapezoid integral follow a training step's power swings; the
  sensor itself keeps no thread, no clock and no integral (timing belongs to the sampler).
- ``nvmlDeviceGetMigMode(handle)`` -> ``[current, pending]``; MIG instances have no energy counter
  or power reading of their own, so a MIG-enabled GPU is reported whole, with a warning.
- ``nvmlDeviceGetProcessUtilization(handle, lastSeenTimeStamp)`` (samples newer than a CPU
  timestamp in µs, with ``pid`` and ``smUtil`` in %; ``NVML_ERROR_NOT_FOUND`` when there are
  none) and ``nvmlDeviceGetComputeRunningProcesses(handle)`` (``pid``, ``usedGpuMemory`` in bytes)
  feed :meth:`NvmlSensor.process_shares`, the split used by the ``process`` scope.

**Counter resets.** The energy counter restarts when the driver is reloaded or the GPU is reset.
``read()`` passes the raw value through with ``wrap_j=None``, so the meter sees it go backwards
and records a reset gap; the sensor adds a note saying so. We do not reconcile it with an offset:
an offset would assume the new counter started from zero at the very moment of the reset, and
would turn unknown energy (between the last read and the reset, and during the reset itself) into
an invented number labelled "measured". A recorded gap is the honest answer.

**Failures.** A GPU whose NVML call fails (``NVML_ERROR_GPU_IS_LOST`` after an Xid 79, say) is left
out of that read, so the meter records a gap for it alone and the other GPUs keep counting; when
every GPU fails, ``read()`` raises :class:`SensorReadError`. This holds for power readings too:
the meter integrates power only between two consecutive successful readings, so a failed power
call is a gap, never a bridge across time nobody sampled.

**Power limit.** The enforced power limit (``nvmlDeviceGetEnforcedPowerLimit``, mW) is read once
at probe time and published as :attr:`DeviceInfo.max_power_w`, the bound the sampler uses for
counters that can wrap (NVML's does not, in practice).

**Which GPUs.** ``options.gpu_ids`` (NVML indices, as ``nvidia-smi`` shows them, or UUIDs) when
set; else ``CUDA_VISIBLE_DEVICES`` read the way CUDA reads it (indices, ``GPU-`` UUID prefixes, MIG
UUIDs, which select their parent GPU; an empty value hides every GPU; parsing stops at the first
entry that matches nothing); else every GPU.
"""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .._log import get_logger
from .._struct import dataclass
from ..errors import SensorReadError, SensorUnavailable
from . import DeviceInfo, ProbeContext, Reading

__all__ = [
    "BASIS_IDLE",
    "BASIS_MEMORY",
    "BASIS_UNATTRIBUTED",
    "BASIS_UTILIZATION",
    "INSTALL_FIX",
    "NvmlSensor",
    "Sampling",
    "probe",
]

log = get_logger("wattprint.sensors.nvml")

INSTALL_FIX = "pip install 'wattprint[nvidia]'"

#: Bases of :meth:`NvmlSensor.process_shares`, strongest first.
BASIS_UTILIZATION = "utilization"  # our SM-utilization share of the GPU's busy time
BASIS_IDLE = "idle-memory"  # no SM activity in the window: idle energy split by memory held
BASIS_MEMORY = "memory"  # fallback: per-process utilization unavailable; memory is not work
BASIS_UNATTRIBUTED = "unattributed"  # nothing to split by: the whole GPU, with a note

# nvmlReturn_t codes (nvml.h); stable across driver versions.
_SUCCESS = 0
_NOT_SUPPORTED = 3
_NO_PERMISSION = 4
_NOT_FOUND = 6
_DRIVER_NOT_LOADED = 9
_LIBRARY_NOT_FOUND = 12
_FUNCTION_NOT_FOUND = 13
_LIB_RM_VERSION_MISMATCH = 18
# "This GPU cannot do that" (an old driver lacks the symbol: FUNCTION_NOT_FOUND).
_UNSUPPORTED = frozenset({_NOT_SUPPORTED, _FUNCTION_NOT_FOUND})
_MIG_ENABLE = 1

# Notes are for doctor and logs; a counter that resets over and over must not grow them forever.
_MAX_NOTES = 64
_INDEX = re.compile(r"^\d+$")


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
class _Found:
    """A GPU as enumerated by NVML, before selection."""

    index: int
    handle: object | None  # None when NVML would not give a handle (problem says why)
    name: str
    uuid: str
    problem: str | None = None

    def label(self) -> str:
        return f"{self.index}: {self.name} ({self.uuid})"


@dataclass(frozen=True, slots=True)
class _Gpu:
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


class NvmlSensor:
    """Reads each selected GPU's energy counter, or its power where it has none (no thread:
    the tracker's sampler decides when to read)."""

    name = "nvml"

    def __init__(
        self,
        lib: Any,
        errors: tuple[type[BaseException], ...],
        gpus: list[_Gpu],
        notes: list[str],
        *,
        sampling: Sampling,
        proc: Path,
    ) -> None:
        self._lib = lib
        self._errors = errors
        self._gpus = gpus
        self._notes = notes
        self._sampling = sampling
        self._proc = proc
        # Provenance of the sensor as a whole is its weakest device's.
        self.method = "sampled" if any(g.mode == "power" for g in gpus) else "measured"
        self._last_mj: dict[str, int] = {}
        self._failing: set[str] = set()
        self._last_seen_us: dict[str, int] = {}
        self._no_utilization: set[str] = set()
        self._noted: set[str] = set()
        self._close_lock = threading.Lock()
        self._closed = False

    @property
    def notes(self) -> tuple[str, ...]:
        """What was skipped, merged or reset, and why (``wattprint doctor`` prints these)."""
        return tuple(self._notes)

    def devices(self) -> list[DeviceInfo]:
        return [_device_info(g, self._sampling) for g in self._gpus]

    def read(self) -> list[Reading]:
        """One reading per GPU: its energy counter, or its power where it has no counter."""
        if self._closed:
            raise SensorReadError("NVML sensor is closed")
        readings: list[Reading] = []
        failures: list[str] = []
        for gpu in self._gpus:
            try:
                reading = self._read_gpu(gpu)
            except self._errors as exc:
                failures.append(self._failed(gpu.device, str(exc)))
                continue
            self._recovered(gpu.device)
            readings.append(reading)
        if failures and not readings:
            # Every GPU failed: one sensor-level gap says why. Otherwise the failed ones are just
            # missing, which the meter records as a gap for those devices only.
            raise SensorReadError("; ".join(failures))
        return readings

    def process_shares(self, pids: frozenset[int]) -> dict[str, tuple[float, str]]:
        """Each GPU's share (0..1) of its energy that belongs to ``pids``, and the basis used.

        Windows run from the previous call (per GPU), so call it once per metering interval.
        ``pids`` must be as NVML sees them: host PIDs. Rules, per GPU:

        - ``utilization``: SM utilization of ``pids`` / SM utilization of every process, over the
          samples NVML took since the last call (the first call sees NVML's recent buffer).
        - ``idle-memory``: utilization is readable but no process used the SMs in the window, so
          the energy was idle power; it goes to whoever holds the GPU, split by memory held (a
          process holding a context keeps the board awake), 0 when no process holds it.
        - ``memory``: per-process utilization is unavailable (MIG, vGPU, old GPUs); the split is by
          memory held, a fallback, because memory is not work.
        - ``unattributed``: share 1.0, when neither can be read, or when none of the PIDs NVML
          reports exists in our ``/proc`` (a container with its own PID namespace: NVML reports
          host PIDs that we cannot match); a note says which.
        """
        if self._closed:
            raise SensorReadError("NVML sensor is closed")
        return {gpu.device: self._share(gpu, pids) for gpu in self._gpus}

    def close(self) -> None:
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        _shut_down(self._lib, self._errors)

    # --- reading -------------------------------------------------------------------------------

    def _read_gpu(self, gpu: _Gpu) -> Reading:
        """One NVML call for one GPU; NVML's errors propagate to :meth:`read`."""
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

    def _failed(self, device: str, why: str) -> str:
        if device not in self._failing:  # log once per outage, not once per read
            self._failing.add(device)
            log.warning("nvml: %s failed to read (%s); its energy has a gap", device, why)
        return f"{device}: {why}"

    def _recovered(self, device: str) -> None:
        if device in self._failing:
            self._failing.discard(device)
            log.info("nvml: %s is readable again; its energy restarts from here", device)

    def _note(self, text: str) -> None:
        if len(self._notes) < _MAX_NOTES:
            self._notes.append(text)
        log.info("nvml: %s", text)

    def _note_once(self, key: str, text: str) -> None:
        if key not in self._noted:
            self._noted.add(key)
            self._note(text)

    # --- process attribution --------------------------------------------------------------------

    def _share(self, gpu: _Gpu, pids: frozenset[int]) -> tuple[float, str]:
        busy = self._sm_activity(gpu)
        if busy is not None and sum(busy.values()) > 0:
            if not self._any_visible(gpu, busy):
                return 1.0, BASIS_UNATTRIBUTED
            return _fraction(busy, pids), BASIS_UTILIZATION
        held = self._memory_held(gpu)
        if held is None:
            return 1.0, BASIS_UNATTRIBUTED
        if held and not self._any_visible(gpu, held):
            return 1.0, BASIS_UNATTRIBUTED
        return _fraction(held, pids), BASIS_IDLE if busy is not None else BASIS_MEMORY

    def _sm_activity(self, gpu: _Gpu) -> dict[int, float] | None:
        """SM utilization per pid since the last call; {} when idle, None when unavailable."""
        if gpu.device in self._no_utilization:
            return None
        since = self._last_seen_us.get(gpu.device, 0)
        try:
            samples = self._lib.nvmlDeviceGetProcessUtilization(gpu.handle, since)
        except self._errors as exc:
            return self._no_samples(gpu, exc)
        activity: dict[int, float] = {}
        newest = since
        for sample in samples:
            activity[int(sample.pid)] = activity.get(int(sample.pid), 0.0) + float(sample.smUtil)
            newest = max(newest, int(sample.timeStamp))
        self._last_seen_us[gpu.device] = newest
        return activity

    def _no_samples(self, gpu: _Gpu, exc: BaseException) -> dict[int, float] | None:
        code = _code(exc)
        # NOT_FOUND: no sample newer than the timestamp, i.e. no process used the GPU. pynvml
        # raises NVMLError(NVML_SUCCESS) when the driver's sizing call succeeds with zero samples
        # (it expects INSUFFICIENT_SIZE there): the same answer.
        if code in (_NOT_FOUND, _SUCCESS):
            return {}
        if code in _UNSUPPORTED or code == _NO_PERMISSION:
            self._no_utilization.add(gpu.device)
            self._note(
                f"{gpu.device}: no per-process utilization ({exc}); process shares fall back to "
                "GPU memory held"
            )
        else:
            log.debug("nvml: %s process utilization failed: %s", gpu.device, exc)
        return None

    def _memory_held(self, gpu: _Gpu) -> dict[int, float] | None:
        try:
            processes = self._lib.nvmlDeviceGetComputeRunningProcesses(gpu.handle)
        except self._errors as exc:
            # On a MIG parent this needs privileges (NVML returns the aggregate only to them).
            self._note_once(
                f"memory:{gpu.device}",
                f"{gpu.device}: cannot list compute processes ({exc}); its energy is "
                "unattributed in process scope (share 1.0)",
            )
            return None
        held: dict[int, float] = {}
        for process in processes:
            used = process.usedGpuMemory  # None where the driver cannot tell (WDDM)
            held[int(process.pid)] = held.get(int(process.pid), 0.0) + float(used or 0)
        return held

    def _any_visible(self, gpu: _Gpu, by_pid: dict[int, float]) -> bool:
        # NVML reports PIDs of the host's namespace. If not one of them exists here, we are in a
        # container with a private PID namespace and a 0 share would be a quiet lie.
        if any((self._proc / str(pid)).exists() for pid in by_pid):
            return True
        self._note_once(
            f"pidns:{gpu.device}",
            f"{gpu.device}: none of the PIDs NVML reports exists in {self._proc} (a container "
            "with its own PID namespace?); its energy is unattributed in process scope",
        )
        return False


def _fraction(by_pid: dict[int, float], pids: frozenset[int]) -> float:
    if not by_pid:
        return 0.0  # nobody uses or holds the GPU: none of its energy is ours
    total = sum(by_pid.values())
    if total <= 0:  # processes hold it but their memory is unknown: split by head count
        return sum(1 for p in by_pid if p in pids) / len(by_pid)
    return sum(v for p, v in by_pid.items() if p in pids) / total


# --- probe ---------------------------------------------------------------------------------------


def probe(ctx: ProbeContext, *, sampling: Sampling | None = None) -> NvmlSensor:
    """Open the NVIDIA GPUs this process should measure, or raise :class:`SensorUnavailable`."""
    lib = _import(ctx)
    errors = _error_classes(lib)
    _init(lib, errors)
    try:
        return _open(lib, errors, ctx, sampling or Sampling())
    except BaseException:
        _shut_down(lib, errors)
        raise


def _open(
    lib: Any, errors: tuple[type[BaseException], ...], ctx: ProbeContext, sampling: Sampling
) -> NvmlSensor:
    notes: list[str] = []
    present = _discover(lib, errors)
    chosen, warning = _select(lib, errors, present, ctx, notes)
    gpus = []
    for found in chosen:
        gpu = _open_gpu(lib, errors, found, sampling, notes, warning)
        if gpu is not None:
            gpus.append(gpu)
    if not gpus:
        raise SensorUnavailable(
            "no selected NVIDIA GPU reports energy or power (" + "; ".join(notes) + ")",
            "check `nvidia-smi -q -d POWER`; some vGPU profiles expose no power readings",
        )
    for note in notes:
        log.debug("nvml: %s", note)
    return NvmlSensor(lib, errors, gpus, notes, sampling=sampling, proc=ctx.paths.proc)


def _import(ctx: ProbeContext) -> Any:
    if "pynvml" in ctx.modules:
        module = ctx.modules["pynvml"]
        if module is None:  # tests (and callers) can say "not installed" explicitly
            raise SensorUnavailable("nvidia-ml-py is not installed", INSTALL_FIX)
        return module
    try:
        return importlib.import_module("pynvml")
    except ImportError:
        raise SensorUnavailable("nvidia-ml-py is not installed", INSTALL_FIX) from None


def _error_classes(lib: Any) -> tuple[type[BaseException], ...]:
    # NVMLError is the root of what pynvml raises; NVMLLibraryMismatchError (not a subclass) comes
    # from unversioned functions, e.g. nvmlDeviceGetComputeRunningProcesses, on an older driver.
    found: list[type[BaseException]] = []
    for name in ("NVMLError", "NVMLLibraryMismatchError"):
        cls = getattr(lib, name, None)
        if isinstance(cls, type) and issubclass(cls, BaseException):
            found.append(cls)
    return tuple(found)


def _code(exc: BaseException) -> int | None:
    value = getattr(exc, "value", None)
    return value if isinstance(value, int) else None


def _init(lib: Any, errors: tuple[type[BaseException], ...]) -> None:
    try:
        lib.nvmlInit()
    except errors as exc:
        raise _init_failure(exc) from None
    except OSError as exc:  # some wrappers let the dlopen failure through
        raise _init_failure(exc) from None


def _init_failure(exc: BaseException) -> SensorUnavailable:
    code = _code(exc)
    if code == _LIBRARY_NOT_FOUND or isinstance(exc, OSError):
        return SensorUnavailable(
            "the NVIDIA driver's NVML library (libnvidia-ml.so.1) was not found",
            "install the NVIDIA driver; in a container, run it with the NVIDIA Container Toolkit "
            "(`docker run --gpus all`) so the driver libraries are mounted",
        )
    if code == _DRIVER_NOT_LOADED:
        return SensorUnavailable(
            "the NVIDIA kernel driver is not loaded",
            "`sudo modprobe nvidia` (or reboot after a driver install); `nvidia-smi` must work",
        )
    if code == _NO_PERMISSION:
        return SensorUnavailable(
            "NVML was denied access to the GPU device files (/dev/nvidia*)",
            "add the user to the group that owns /dev/nvidia* (often `video`); in a container, "
            "pass the GPUs with `--gpus`",
        )
    if code == _LIB_RM_VERSION_MISMATCH:
        return SensorUnavailable(
            "the NVML library and the loaded kernel driver are different versions (a driver "
            "update without a reboot)",
            "reboot, or reload the nvidia kernel modules",
        )
    return SensorUnavailable(f"nvmlInit failed: {exc}", "check that `nvidia-smi` works")


def _shut_down(lib: Any, errors: tuple[type[BaseException], ...]) -> None:
    # nvmlInit/nvmlShutdown are reference counted: this releases our share only.
    try:
        lib.nvmlShutdown()
    except errors as exc:
        log.debug("nvmlShutdown failed: %s", exc)


# --- discovery and selection ---------------------------------------------------------------------


def _discover(lib: Any, errors: tuple[type[BaseException], ...]) -> list[_Found]:
    try:
        count = int(lib.nvmlDeviceGetCount())
    except errors as exc:
        raise SensorUnavailable(f"NVML could not count GPUs: {exc}", "check `nvidia-smi`") from None
    if count == 0:
        raise SensorUnavailable("NVML found no NVIDIA GPU", None)
    return [_describe(lib, errors, index) for index in range(count)]


def _describe(lib: Any, errors: tuple[type[BaseException], ...], index: int) -> _Found:
    try:
        handle = lib.nvmlDeviceGetHandleByIndex(index)
    except errors as exc:
        return _Found(index, None, "?", "?", problem=str(exc))
    name = _ask(errors, lib.nvmlDeviceGetName, handle) or "NVIDIA GPU"
    uuid = _ask(errors, lib.nvmlDeviceGetUUID, handle) or "?"
    return _Found(index, handle, str(name), str(uuid))


def _ask(errors: tuple[type[BaseException], ...], call: Callable[..., Any], *args: object) -> Any:
    """``call(*args)``, or None when NVML says no."""
    try:
        return call(*args)
    except errors:
        return None


def _select(
    lib: Any,
    errors: tuple[type[BaseException], ...],
    present: list[_Found],
    ctx: ProbeContext,
    notes: list[str],
) -> tuple[list[_Found], str | None]:
    """The GPUs to measure, and a warning that applies to all of them (or None)."""
    resolver = _Resolver(lib, errors, present)
    if ctx.options.gpu_ids is not None:
        return _select_configured(ctx.options.gpu_ids, resolver, present, notes), None
    raw = ctx.env.get("CUDA_VISIBLE_DEVICES")
    if raw is None:
        return present, None
    chosen = _select_cuda_visible(raw, resolver, present, notes)
    return chosen, _order_warning(raw, ctx.env, present, notes)


def _select_configured(
    ids: Iterable[str], resolver: _Resolver, present: list[_Found], notes: list[str]
) -> list[_Found]:
    chosen: list[_Found] = []
    ids = list(ids)
    for entry in ids:
        text = entry.strip()
        if text.lower().startswith("nvml:"):
            text = text[len("nvml:") :]
        elif ":" in text:
            continue  # another sensor's device name ("amdsmi:1", "hwmon:card0"), not ours
        found = resolver.resolve(text)
        if found is None:
            raise SensorUnavailable(
                f"gpu_ids entry {entry!r} matches no NVIDIA GPU (present: {_listing(present)})",
                "set gpu_ids to indices or UUIDs as `nvidia-smi -L` lists them",
            )
        _add_once(chosen, found)
    if not chosen:
        raise SensorUnavailable(
            f"gpu_ids {ids} name no NVIDIA GPU" if ids else "gpu_ids is empty: no GPU is selected",
            "remove gpu_ids to measure every GPU",
        )
    notes.append("GPUs chosen by gpu_ids: " + ", ".join(str(f.index) for f in chosen))
    return chosen


def _select_cuda_visible(
    raw: str, resolver: _Resolver, present: list[_Found], notes: list[str]
) -> list[_Found]:
    # "NoDevFiles" is what HTCondor sets when a job was given no GPU.
    if raw.strip() in ("", "NoDevFiles"):
        raise SensorUnavailable(
            f"CUDA_VISIBLE_DEVICES={raw!r} hides every GPU from this program",
            "unset CUDA_VISIBLE_DEVICES, or set gpu_ids to measure GPUs the program cannot see",
        )
    chosen: list[_Found] = []
    for entry in raw.split(","):
        found = resolver.resolve(entry)
        if found is None:
            # CUDA's rule: only the devices listed before an invalid entry are visible.
            notes.append(
                f"CUDA_VISIBLE_DEVICES entry {entry.strip()!r} matches no GPU; as in CUDA, it and "
                "the entries after it are ignored"
            )
            break
        _add_once(chosen, found)
    if not chosen:
        raise SensorUnavailable(
            f"CUDA_VISIBLE_DEVICES={raw!r} selects no NVIDIA GPU on this host "
            f"(present: {_listing(present)})",
            "set CUDA_VISIBLE_DEVICES to indices or UUIDs as `nvidia-smi -L` lists them",
        )
    notes.append(
        "GPUs visible through CUDA_VISIBLE_DEVICES: " + ", ".join(str(f.index) for f in chosen)
    )
    return chosen


def _order_warning(
    raw: str, env: dict[str, str], present: list[_Found], notes: list[str]
) -> str | None:
    # CUDA numbers devices fastest first (compute capability, then PCI bus) unless
    # CUDA_DEVICE_ORDER=PCI_BUS_ID; NVML and nvidia-smi use PCI order. The two agree when every GPU
    # is the same model, so only a mixed host makes an index ambiguous.
    uses_index = any(_INDEX.match(e.strip()) for e in raw.split(","))
    mixed = len({f.name for f in present}) > 1
    if not uses_index or not mixed or env.get("CUDA_DEVICE_ORDER") == "PCI_BUS_ID":
        return None
    warning = (
        "CUDA_VISIBLE_DEVICES uses indices on a host of mixed GPU models without "
        "CUDA_DEVICE_ORDER=PCI_BUS_ID: CUDA's index N may not be nvidia-smi's GPU N; set "
        "CUDA_DEVICE_ORDER=PCI_BUS_ID or use UUIDs"
    )
    notes.append(warning)
    return warning


def _add_once(chosen: list[_Found], found: _Found) -> None:
    if all(f.index != found.index for f in chosen):
        chosen.append(found)


def _listing(present: list[_Found]) -> str:
    return "; ".join(f.label() for f in present)


class _Resolver:
    """Maps one CUDA-style id (index, UUID prefix, MIG UUID) to the physical GPU it names."""

    def __init__(
        self, lib: Any, errors: tuple[type[BaseException], ...], present: list[_Found]
    ) -> None:
        self._lib = lib
        self._errors = errors
        self._present = present
        self._mig: dict[str, _Found] | None = None  # MIG UUID -> parent, built when first asked

    def resolve(self, entry: str) -> _Found | None:
        text = entry.strip()
        lowered = text.lower()
        if _INDEX.match(text):
            index = int(text)
            return self._present[index] if index < len(self._present) else None
        if lowered.startswith("mig-gpu-"):
            # The CUDA 11.0-11.x MIG form: MIG-GPU-<parent uuid>/<gpu instance>/<compute instance>.
            return self._unique(
                text[len("mig-") :].split("/")[0], {f.uuid: f for f in self._present}
            )
        if lowered.startswith("gpu-"):
            return self._unique(text, {f.uuid: f for f in self._present})
        if lowered.startswith("mig-"):
            return self._unique(text, self._mig_parents())
        return None

    @staticmethod
    def _unique(prefix: str, by_uuid: dict[str, _Found]) -> _Found | None:
        # CUDA accepts any prefix that names exactly one device.
        matches = {f.index: f for u, f in by_uuid.items() if u.lower().startswith(prefix.lower())}
        return next(iter(matches.values())) if len(matches) == 1 else None

    def _mig_parents(self) -> dict[str, _Found]:
        if self._mig is None:
            self._mig = {}
            for found in self._present:
                if found.handle is not None and _mig_on(self._lib, self._errors, found.handle):
                    for uuid in self._mig_uuids(found.handle):
                        self._mig[uuid] = found
        return self._mig

    def _mig_uuids(self, handle: object) -> list[str]:
        lib, errors = self._lib, self._errors
        slots = _ask(errors, lib.nvmlDeviceGetMaxMigDeviceCount, handle) or 0
        uuids = []
        for slot in range(int(slots)):
            # Empty slots answer NVML_ERROR_NOT_FOUND.
            mig = _ask(errors, lib.nvmlDeviceGetMigDeviceHandleByIndex, handle, slot)
            uuid = None if mig is None else _ask(errors, lib.nvmlDeviceGetUUID, mig)
            if uuid:
                uuids.append(str(uuid))
        return uuids


# --- opening one GPU -----------------------------------------------------------------------------


def _open_gpu(
    lib: Any,
    errors: tuple[type[BaseException], ...],
    found: _Found,
    sampling: Sampling,
    notes: list[str],
    warning: str | None,
) -> _Gpu | None:
    if found.handle is None:
        notes.append(f"GPU {found.index} skipped: NVML gives no handle ({found.problem})")
        return None
    mode = _mode(lib, errors, found, sampling, notes)
    if mode is None:
        return None
    mig = _mig_on(lib, errors, found.handle)
    warnings = [w for w in (warning, _mig_warning(mig), _sampled_warning(mode, sampling)) if w]
    return _Gpu(
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
    errors: tuple[type[BaseException], ...],
    found: _Found,
    sampling: Sampling,
    notes: list[str],
) -> str | None:
    """Read by the energy counter, by sampled power, or not at all (None, with a note)."""
    if not sampling.force:
        try:
            lib.nvmlDeviceGetTotalEnergyConsumption(found.handle)
            return "counter"
        except errors as exc:
            if _code(exc) not in _UNSUPPORTED:
                notes.append(f"GPU {found.index} skipped: its energy counter failed ({exc})")
                return None
            notes.append(f"GPU {found.index} has no energy counter ({exc}): power is sampled")
    try:
        lib.nvmlDeviceGetPowerUsage(found.handle)
    except errors as exc:
        notes.append(f"GPU {found.index} skipped: no energy counter and no power reading ({exc})")
        return None
    return "power"


def _mig_on(lib: Any, errors: tuple[type[BaseException], ...], handle: object) -> bool:
    # NOT_SUPPORTED on GPUs without MIG (pre-Ampere, consumer parts) means "off".
    modes = _ask(errors, lib.nvmlDeviceGetMigMode, handle)
    return bool(modes) and int(modes[0]) == _MIG_ENABLE


def _power_limit_w(
    lib: Any, errors: tuple[type[BaseException], ...], handle: object
) -> float | None:
    # The enforced limit is the one in force (the lower of the user's and the board's).
    for function in ("nvmlDeviceGetEnforcedPowerLimit", "nvmlDeviceGetPowerManagementLimit"):
        call = getattr(lib, function, None)
        milliwatts = _ask(errors, call, handle) if call is not None else None
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


def _device_info(gpu: _Gpu, sampling: Sampling) -> DeviceInfo:
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
