"""Loading NVML, and the small helpers every part of the NVML sensor shares.

``pynvml`` (nvidia-ml-py) is imported only when a probe runs, or taken from
``ProbeContext.modules`` (tests inject a fake there). Its failures arrive as ``NVMLError``
subclasses carrying an ``nvmlReturn_t`` code in ``.value``; the codes below are stable across
driver versions (``nvml.h``).
"""

from __future__ import annotations

import importlib

from ..._log import get_logger
from ...errors import SensorUnavailable
from .. import VENDOR_LIBRARIES, ProbeContext

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

log = get_logger("wattprint.sensors.nvml")

INSTALL_FIX = VENDOR_LIBRARIES["nvml"][2]

#: What pynvml raises (see :func:`error_classes`).
Errors = tuple[type[BaseException], ...]

# nvmlReturn_t codes (nvml.h); stable across driver versions.
SUCCESS = 0
NOT_SUPPORTED = 3
NO_PERMISSION = 4
NOT_FOUND = 6
DRIVER_NOT_LOADED = 9
LIBRARY_NOT_FOUND = 12
FUNCTION_NOT_FOUND = 13
LIB_RM_VERSION_MISMATCH = 18
# "This GPU cannot do that" (an old driver lacks the symbol: FUNCTION_NOT_FOUND).
UNSUPPORTED = frozenset({NOT_SUPPORTED, FUNCTION_NOT_FOUND})
_MIG_ENABLE = 1


def load(ctx: ProbeContext) -> Any:
    if "pynvml" in ctx.modules:
        module = ctx.modules["pynvml"]
        if module is None:  # tests (and callers) can say "not installed" explicitly
            raise SensorUnavailable(VENDOR_LIBRARIES["nvml"][1], INSTALL_FIX)
        return module
    try:
        return importlib.import_module("pynvml")
    except ImportError:
        raise SensorUnavailable(VENDOR_LIBRARIES["nvml"][1], INSTALL_FIX) from None


def error_classes(lib: Any) -> Errors:
    # NVMLError is the root of what pynvml raises; NVMLLibraryMismatchError (not a subclass) comes
    # from unversioned functions, e.g. nvmlDeviceGetComputeRunningProcesses, on an older driver.
    found: list[type[BaseException]] = []
    for name in ("NVMLError", "NVMLLibraryMismatchError"):
        cls = getattr(lib, name, None)
        if isinstance(cls, type) and issubclass(cls, BaseException):
            found.append(cls)
    return tuple(found)


def error_code(exc: BaseException) -> int | None:
    value = getattr(exc, "value", None)
    return value if isinstance(value, int) else None


def init(lib: Any, errors: Errors) -> None:
    try:
        lib.nvmlInit()
    except errors as exc:
        raise _init_failure(exc) from None
    except OSError as exc:  # some wrappers let the dlopen failure through
        raise _init_failure(exc) from None


def _init_failure(exc: BaseException) -> SensorUnavailable:
    code = error_code(exc)
    if code == LIBRARY_NOT_FOUND or isinstance(exc, OSError):
        return SensorUnavailable(
            "the NVIDIA driver's NVML library (libnvidia-ml.so.1) was not found",
            "install the NVIDIA driver; in a container, run it with the NVIDIA Container Toolkit "
            "(`docker run --gpus all`) so the driver libraries are mounted",
        )
    if code == DRIVER_NOT_LOADED:
        return SensorUnavailable(
            "the NVIDIA kernel driver is not loaded",
            "`sudo modprobe nvidia` (or reboot after a driver install); `nvidia-smi` must work",
        )
    if code == NO_PERMISSION:
        return SensorUnavailable(
            "NVML was denied access to the GPU device files (/dev/nvidia*)",
            "add the user to the group that owns /dev/nvidia* (often `video`); in a container, "
            "pass the GPUs with `--gpus`",
        )
    if code == LIB_RM_VERSION_MISMATCH:
        return SensorUnavailable(
            "the NVML library and the loaded kernel driver are different versions (a driver "
            "update without a reboot)",
            "reboot, or reload the nvidia kernel modules",
        )
    return SensorUnavailable(f"nvmlInit failed: {exc}", "check that `nvidia-smi` works")


def shut_down(lib: Any, errors: Errors) -> None:
    # nvmlInit/nvmlShutdown are reference counted: this releases our share only.
    try:
        lib.nvmlShutdown()
    except errors as exc:
        log.debug("nvmlShutdown failed: %s", exc)


def ask(errors: Errors, call: Callable[..., Any], *args: object) -> Any:
    """``call(*args)``, or None when NVML says no."""
    try:
        return call(*args)
    except errors:
        return None


def mig_on(lib: Any, errors: Errors, handle: object) -> bool:
    # NOT_SUPPORTED on GPUs without MIG (pre-Ampere, consumer parts) means "off".
    modes = ask(errors, lib.nvmlDeviceGetMigMode, handle)
    return bool(modes) and int(modes[0]) == _MIG_ENABLE
