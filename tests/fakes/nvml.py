"""A hand-written stand-in for the ``pynvml`` module of nvidia-ml-py, scripted per GPU.

It mirrors what the sensor relies on in the real wrapper (checked against nvidia-ml-py 13.615's
``pynvml.py``), not its code:

- ``NVMLError(code)`` returns the subclass generated for that code (``NVMLError(3)`` is an
  ``NVMLError_NotSupported``), each instance carries ``.value``, and the subclasses can be raised
  with no argument (``raise NVMLError_GpuIsLost()``); ``__eq__`` compares codes, as upstream does.
- every device function raises ``NVML_ERROR_UNINITIALIZED`` before ``nvmlInit`` / after the last
  ``nvmlShutdown`` (init and shutdown are reference counted);
- ``nvmlDeviceGetName`` / ``nvmlDeviceGetUUID`` return ``str``; power is in mW, energy in mJ
  (an integer, like the C ``unsigned long long``), power limits in mW;
- ``nvmlDeviceGetProcessUtilization(handle, timeStamp)`` returns samples newer than ``timeStamp``
  (µs) with ``pid``, ``timeStamp``, ``smUtil``, ``memUtil``, ``encUtil``, ``decUtil``, and raises
  ``NVML_ERROR_NOT_FOUND`` when there are none. Upstream's wrapper raises ``NVMLError(NVML_SUCCESS)``
  (a plain ``NVMLError`` with value 0) when the driver answers the sizing call with success and no
  samples; ``FakeGpu.empty_utilization_as_success`` reproduces that quirk;
- ``nvmlDeviceGetComputeRunningProcesses`` returns objects with ``pid``, ``usedGpuMemory`` (bytes,
  ``None`` when not available), ``gpuInstanceId``, ``computeInstanceId``.

Each GPU follows a known power profile over an injected clock: steps (:meth:`FakeGpu.set_power`)
and linear ramps (:meth:`FakeGpu.ramp_power`). ``nvmlDeviceGetPowerUsage`` answers the power at
the clock's current time and the energy counter is the profile's exact integral, so a test moves
time and both follow; :attr:`FakeGpu.energy_mj` is that integral even on a GPU whose counter is
hidden (``energy_counter=False``), the ground truth for sampled power. Counters can also be reset
(driver reload), and any function can be made to fail with a given code.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = [
    "FakeGpu",
    "FakeNvml",
    "FakeProcess",
    "NVMLError",
    "NVMLLibraryMismatchError",
]

NVML_SUCCESS = 0
NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_ALREADY_INITIALIZED = 5
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_INSUFFICIENT_SIZE = 7
NVML_ERROR_INSUFFICIENT_POWER = 8
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_TIMEOUT = 10
NVML_ERROR_IRQ_ISSUE = 11
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_FUNCTION_NOT_FOUND = 13
NVML_ERROR_CORRUPTED_INFOROM = 14
NVML_ERROR_GPU_IS_LOST = 15
NVML_ERROR_RESET_REQUIRED = 16
NVML_ERROR_OPERATING_SYSTEM = 17
NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18
NVML_ERROR_IN_USE = 19
NVML_ERROR_MEMORY = 20
NVML_ERROR_NO_DATA = 21
NVML_ERROR_UNKNOWN = 999

NVML_DEVICE_MIG_DISABLE = 0
NVML_DEVICE_MIG_ENABLE = 1

_CODES = {name: value for name, value in globals().items() if name.startswith("NVML_ERROR_")}

_MESSAGES = {
    NVML_ERROR_UNINITIALIZED: "Uninitialized",
    NVML_ERROR_INVALID_ARGUMENT: "Invalid Argument",
    NVML_ERROR_NOT_SUPPORTED: "Not Supported",
    NVML_ERROR_NO_PERMISSION: "Insufficient Permissions",
    NVML_ERROR_NOT_FOUND: "Not Found",
    NVML_ERROR_DRIVER_NOT_LOADED: "Driver Not Loaded",
    NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
    NVML_ERROR_FUNCTION_NOT_FOUND: "Function Not Found",
    NVML_ERROR_GPU_IS_LOST: "GPU is lost",
    NVML_ERROR_LIB_RM_VERSION_MISMATCH: "RM has detected an NVML/RM version mismatch.",
    NVML_ERROR_UNKNOWN: "Unknown Error",
}


class NVMLError(Exception):
    """Base of every NVML failure; ``NVMLError(code)`` builds the code's own subclass."""

    _by_code: ClassVar[dict[int, type[NVMLError]]] = {}
    _code: ClassVar[int] = NVML_ERROR_UNKNOWN
    value: int

    def __new__(cls, value: int | None = None) -> NVMLError:  # noqa: PYI034 - may build a subclass
        chosen = cls
        if cls is NVMLError and value is not None:
            chosen = NVMLError._by_code.get(value, NVMLError)
        error = Exception.__new__(chosen)
        error.value = chosen._code if value is None else value
        return error

    def __init__(self, value: int | None = None) -> None:
        super().__init__(self.value)

    def __str__(self) -> str:
        return _MESSAGES.get(self.value, f"NVML Error with code {self.value}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NVMLError) and self.value == other.value

    __hash__ = None  # type: ignore[assignment]  # upstream defines __eq__ only, so: unhashable


def _class_name(constant: str) -> str:
    # NVML_ERROR_GPU_IS_LOST -> NVMLError_GpuIsLost, the naming upstream generates.
    words = constant.removeprefix("NVML_ERROR_").split("_")
    return "NVMLError_" + "".join(string.capwords(w) for w in words)


_ERROR_CLASSES: dict[str, type[NVMLError]] = {}
for _constant, _value in _CODES.items():
    _cls = type(_class_name(_constant), (NVMLError,), {"_code": _value, "__module__": __name__})
    NVMLError._by_code[_value] = _cls
    _ERROR_CLASSES[_cls.__name__] = _cls
    globals()[_cls.__name__] = _cls


class NVMLLibraryMismatchError(Exception):
    """Raised upstream (not an NVMLError) when an unversioned function is missing in the driver."""


# --- what the functions return -------------------------------------------------------------------


@dataclass
class ProcessUtilizationSample:
    """Field names of ``c_nvmlProcessUtilizationSample_t``."""

    pid: int
    timeStamp: int
    smUtil: int
    memUtil: int
    encUtil: int = 0
    decUtil: int = 0


@dataclass
class ProcessInfo:
    """Field names of the friendly object built from ``c_nvmlProcessInfo_v3_t``."""

    pid: int
    usedGpuMemory: int | None
    gpuInstanceId: int = 0xFFFFFFFF
    computeInstanceId: int = 0xFFFFFFFF


@dataclass
class FakeProcess:
    pid: int
    used_gpu_memory: int | None


class _Handle:
    """An opaque device handle, like ``c_nvmlDevice_t``; MIG handles know their parent."""

    def __init__(self, gpu: FakeGpu, mig_index: int | None = None) -> None:
        self.gpu = gpu
        self.mig_index = mig_index


# --- one scripted GPU ----------------------------------------------------------------------------


class FakeGpu:
    """A GPU whose energy counter integrates its current power over the fake clock."""

    def __init__(
        self,
        nvml: FakeNvml,
        index: int,
        *,
        name: str,
        uuid: str,
        power_w: float,
        energy_mj: int,
        energy_counter: bool,
        power_limit_w: float | None,
        mig: bool | None,
        mig_uuids: tuple[str, ...],
    ) -> None:
        self._nvml = nvml
        self.index = index
        self.name = name
        self.uuid = uuid
        self.energy_counter = energy_counter
        self.power_limit_w = power_limit_w
        self.mig = mig  # None: the GPU has no MIG support (pre-Ampere)
        self.mig_uuids = list(mig_uuids)
        self.processes: list[FakeProcess] = []
        self.utilization_supported = True
        self.empty_utilization_as_success = False
        self.lost = False
        self._samples: list[ProcessUtilizationSample] = []
        self._failures: dict[str, list[int]] = {}  # function -> codes to raise, one per call
        self._power_w = power_w  # the draw at _at_s
        self._ramp: tuple[float, float] | None = None  # (end time s, power W there), from _at_s
        self._energy_mj = float(energy_mj)
        self._at_s = nvml.clock()
        self.handle = _Handle(self)

    # --- scripting --------------------------------------------------------------------------------

    def set_power(self, watts: float) -> None:
        """Change the draw from now on, as a step (the counter keeps what was spent so far)."""
        self._sync()
        self._power_w = watts
        self._ramp = None

    def ramp_power(self, watts: float, over_s: float) -> None:
        """Change the draw linearly from now to ``watts`` over ``over_s`` seconds, then hold it."""
        if over_s <= 0:
            raise ValueError("a ramp needs a positive duration")
        self._sync()
        self._ramp = (self._at_s + over_s, watts)

    @property
    def power_w(self) -> float:
        """The draw at the clock's current time."""
        self._sync()
        return self._power_w

    @property
    def energy_mj(self) -> int:
        self._sync()
        return int(self._energy_mj)  # the C counter is an integer number of mJ

    def reset_counter(self, energy_mj: int = 0) -> None:
        """What a driver reload or GPU reset does: the counter restarts."""
        self._sync()
        self._energy_mj = float(energy_mj)

    def lose(self) -> None:
        """Fell off the bus (Xid 79): every call raises NVML_ERROR_GPU_IS_LOST."""
        self.lost = True

    def fail(self, function: str, code: int, times: int = 1) -> None:
        """Make the next ``times`` calls of ``function`` on this GPU raise ``code``."""
        self._failures.setdefault(function, []).extend([code] * times)

    def add_utilization(self, pid: int, sm_util: int, mem_util: int = 0) -> None:
        """A process sample stamped with the fake clock (µs, like NVML's CPU timestamps)."""
        stamp = round(self._nvml.clock() * 1e6)
        self._samples.append(ProcessUtilizationSample(pid, stamp, sm_util, mem_util))

    def run_process(self, pid: int, used_gpu_memory: int | None) -> None:
        self.processes.append(FakeProcess(pid, used_gpu_memory))

    # --- what the fake module asks ------------------------------------------------------------------

    def check(self, function: str) -> None:
        if self.lost:
            raise NVMLError(NVML_ERROR_GPU_IS_LOST)
        pending = self._failures.get(function)
        if pending:
            raise NVMLError(pending.pop(0))

    def power_mw(self) -> int:
        return round(self.power_w * 1000)  # an unsigned int of mW, like the C API

    def utilization_since(self, stamp: int) -> list[ProcessUtilizationSample]:
        return [s for s in self._samples if s.timeStamp > stamp]

    def _sync(self) -> None:
        # Integrate the profile exactly from _at_s to now: the ramp's part (a trapezoid, exact
        # for a linear segment), then the held power.
        now = self._nvml.clock()
        if self._ramp is not None:
            end_s, target_w = self._ramp
            upto = min(now, end_s)
            if upto > self._at_s:
                reached = self._power_w + (target_w - self._power_w) * (
                    (upto - self._at_s) / (end_s - self._at_s)
                )
                self._energy_mj += 0.5 * (self._power_w + reached) * 1000 * (upto - self._at_s)
                self._power_w, self._at_s = reached, upto
            if upto >= end_s:
                self._power_w, self._ramp = target_w, None
        self._energy_mj += self._power_w * 1000 * (now - self._at_s)  # mW x s = mJ
        self._at_s = now


# --- the module --------------------------------------------------------------------------------


class FakeNvml:
    """Pass as ``ProbeContext(modules={"pynvml": fake})``. Add GPUs with :meth:`gpu`."""

    NVMLError = NVMLError
    NVMLLibraryMismatchError = NVMLLibraryMismatchError

    def __init__(self, clock: Callable[[], float], *, init_error: int | None = None) -> None:
        self.clock = clock
        self.init_error = init_error
        self.gpus: list[FakeGpu] = []
        self.refcount = 0
        self.init_calls = 0
        self.shutdown_calls = 0
        self.calls: list[str] = []  # every device function called, in order

    def __getattr__(self, name: str) -> Any:
        # Constants and the generated NVMLError_* classes, as module attributes.
        if name in _ERROR_CLASSES:
            return _ERROR_CLASSES[name]
        if name.startswith("NVML_") and name in globals():
            return globals()[name]
        raise AttributeError(name)

    def gpu(
        self,
        *,
        name: str = "NVIDIA A100-SXM4-40GB",
        uuid: str | None = None,
        power_w: float = 60.0,
        energy_mj: int = 0,
        energy_counter: bool = True,
        power_limit_w: float | None = 400.0,
        mig: bool | None = False,
        mig_uuids: tuple[str, ...] = (),
    ) -> FakeGpu:
        index = len(self.gpus)
        gpu = FakeGpu(
            self,
            index,
            name=name,
            uuid=uuid or f"GPU-{index:08x}-1111-2222-3333-444444444444",
            power_w=power_w,
            energy_mj=energy_mj,
            energy_counter=energy_counter,
            power_limit_w=power_limit_w,
            mig=mig,
            mig_uuids=mig_uuids,
        )
        self.gpus.append(gpu)
        return gpu

    # --- init ----------------------------------------------------------------------------------

    def nvmlInit(self) -> None:
        self.init_calls += 1
        if self.init_error is not None:
            raise NVMLError(self.init_error)
        self.refcount += 1

    def nvmlShutdown(self) -> None:
        self.shutdown_calls += 1
        if self.refcount == 0:
            raise NVMLError(NVML_ERROR_UNINITIALIZED)
        self.refcount -= 1

    # --- enumeration -----------------------------------------------------------------------------

    def nvmlDeviceGetCount(self) -> int:
        self._enter("nvmlDeviceGetCount")
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> _Handle:
        self._enter("nvmlDeviceGetHandleByIndex")
        if not 0 <= index < len(self.gpus):
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        gpu = self.gpus[index]
        gpu.check("nvmlDeviceGetHandleByIndex")
        return gpu.handle

    def nvmlDeviceGetHandleByUUID(self, uuid: str) -> _Handle:
        self._enter("nvmlDeviceGetHandleByUUID")
        for gpu in self.gpus:
            if gpu.uuid == uuid:
                return gpu.handle
            if uuid in gpu.mig_uuids:
                return _Handle(gpu, gpu.mig_uuids.index(uuid))
        raise NVMLError(NVML_ERROR_NOT_FOUND)

    def nvmlDeviceGetIndex(self, handle: _Handle) -> int:
        return self._gpu(handle, "nvmlDeviceGetIndex").index

    def nvmlDeviceGetName(self, handle: _Handle) -> str:
        return self._gpu(handle, "nvmlDeviceGetName").name

    def nvmlDeviceGetUUID(self, handle: _Handle) -> str:
        gpu = self._gpu(handle, "nvmlDeviceGetUUID")
        if handle.mig_index is not None:
            return gpu.mig_uuids[handle.mig_index]
        return gpu.uuid

    # --- power and energy -----------------------------------------------------------------------

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: _Handle) -> int:
        gpu = self._gpu(handle, "nvmlDeviceGetTotalEnergyConsumption", parent_only=True)
        if not gpu.energy_counter:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return gpu.energy_mj

    def nvmlDeviceGetPowerUsage(self, handle: _Handle) -> int:
        return self._gpu(handle, "nvmlDeviceGetPowerUsage", parent_only=True).power_mw()

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: _Handle) -> int:
        return self._limit_mw(self._gpu(handle, "nvmlDeviceGetEnforcedPowerLimit"))

    def nvmlDeviceGetPowerManagementLimit(self, handle: _Handle) -> int:
        return self._limit_mw(self._gpu(handle, "nvmlDeviceGetPowerManagementLimit"))

    # --- MIG -------------------------------------------------------------------------------------

    def nvmlDeviceGetMigMode(self, handle: _Handle) -> list[int]:
        gpu = self._gpu(handle, "nvmlDeviceGetMigMode", parent_only=True)
        if gpu.mig is None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        mode = NVML_DEVICE_MIG_ENABLE if gpu.mig else NVML_DEVICE_MIG_DISABLE
        return [mode, mode]  # [current, pending]

    def nvmlDeviceGetMaxMigDeviceCount(self, handle: _Handle) -> int:
        gpu = self._gpu(handle, "nvmlDeviceGetMaxMigDeviceCount", parent_only=True)
        return 7 if gpu.mig else 0

    def nvmlDeviceGetMigDeviceHandleByIndex(self, handle: _Handle, index: int) -> _Handle:
        gpu = self._gpu(handle, "nvmlDeviceGetMigDeviceHandleByIndex", parent_only=True)
        if not gpu.mig or not 0 <= index < len(gpu.mig_uuids):
            raise NVMLError(NVML_ERROR_NOT_FOUND)
        return _Handle(gpu, index)

    def nvmlDeviceGetDeviceHandleFromMigDeviceHandle(self, handle: _Handle) -> _Handle:
        gpu = self._gpu(handle, "nvmlDeviceGetDeviceHandleFromMigDeviceHandle")
        if handle.mig_index is None:
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        return gpu.handle

    # --- processes -------------------------------------------------------------------------------

    def nvmlDeviceGetComputeRunningProcesses(self, handle: _Handle) -> list[ProcessInfo]:
        gpu = self._gpu(handle, "nvmlDeviceGetComputeRunningProcesses")
        return [ProcessInfo(p.pid, p.used_gpu_memory) for p in gpu.processes]

    def nvmlDeviceGetProcessUtilization(
        self, handle: _Handle, timeStamp: int
    ) -> list[ProcessUtilizationSample]:
        gpu = self._gpu(handle, "nvmlDeviceGetProcessUtilization")
        if not gpu.utilization_supported or gpu.mig:
            # NVML has no per-process utilization on a MIG-enabled parent.
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        samples = gpu.utilization_since(timeStamp)
        if not samples:
            if gpu.empty_utilization_as_success:
                raise NVMLError(NVML_SUCCESS)
            raise NVMLError(NVML_ERROR_NOT_FOUND)
        return samples

    # --- helpers ---------------------------------------------------------------------------------

    def _enter(self, function: str) -> None:
        self.calls.append(function)
        if self.refcount == 0:
            raise NVMLError(NVML_ERROR_UNINITIALIZED)

    def _gpu(self, handle: object, function: str, *, parent_only: bool = False) -> FakeGpu:
        self._enter(function)
        if not isinstance(handle, _Handle) or handle.gpu not in self.gpus:
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        if parent_only and handle.mig_index is not None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        handle.gpu.check(function)
        return handle.gpu

    @staticmethod
    def _limit_mw(gpu: FakeGpu) -> int:
        if gpu.power_limit_w is None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return round(gpu.power_limit_w * 1000)
