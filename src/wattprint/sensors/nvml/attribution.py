"""Per-process attribution of each GPU's energy, for the ``process`` scope.

``nvmlDeviceGetProcessUtilization(handle, lastSeenTimeStamp)`` (samples newer than a CPU
timestamp in µs, with ``pid`` and ``smUtil`` in %; ``NVML_ERROR_NOT_FOUND`` when there are none)
and ``nvmlDeviceGetComputeRunningProcesses(handle)`` (``pid``, ``usedGpuMemory`` in bytes) feed
:meth:`~wattprint.sensors.nvml.NvmlSensor.process_shares`; the rules are in its docstring.
"""

from __future__ import annotations

from pathlib import Path

from ..._log import get_logger
from .library import NO_PERMISSION, NOT_FOUND, SUCCESS, UNSUPPORTED, Errors, error_code
from .sampling import Gpu

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

log = get_logger("wattprint.sensors.nvml")

#: Bases of :meth:`NvmlSensor.process_shares`, strongest first.
BASIS_UTILIZATION = "utilization"  # our SM-utilization share of the GPU's busy time
BASIS_IDLE = "idle-memory"  # no SM activity in the window: idle energy split by memory held
BASIS_MEMORY = "memory"  # fallback: per-process utilization unavailable; memory is not work
BASIS_UNATTRIBUTED = "unattributed"  # nothing to split by: the whole GPU, with a note


class ProcessAttribution:
    """Each GPU's share that belongs to a set of pids, over windows from the previous call."""

    def __init__(self, lib: Any, errors: Errors, proc: Path, note: Callable[[str], None]) -> None:
        self._lib = lib
        self._errors = errors
        self._proc = proc
        self._note = note
        self._last_seen_us: dict[str, int] = {}
        self._no_utilization: set[str] = set()
        self._noted: set[str] = set()

    def _note_once(self, key: str, text: str) -> None:
        if key not in self._noted:
            self._noted.add(key)
            self._note(text)

    def share(self, gpu: Gpu, pids: frozenset[int]) -> tuple[float, str]:
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

    def _sm_activity(self, gpu: Gpu) -> dict[int, float] | None:
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

    def _no_samples(self, gpu: Gpu, exc: BaseException) -> dict[int, float] | None:
        code = error_code(exc)
        # NOT_FOUND: no sample newer than the timestamp, i.e. no process used the GPU. pynvml
        # raises NVMLError(NVML_SUCCESS) when the driver's sizing call succeeds with zero samples
        # (it expects INSUFFICIENT_SIZE there): the same answer.
        if code in (NOT_FOUND, SUCCESS):
            return {}
        if code in UNSUPPORTED or code == NO_PERMISSION:
            self._no_utilization.add(gpu.device)
            self._note(
                f"{gpu.device}: no per-process utilization ({exc}); process shares fall back to "
                "GPU memory held"
            )
        else:
            log.debug("nvml: %s process utilization failed: %s", gpu.device, exc)
        return None

    def _memory_held(self, gpu: Gpu) -> dict[int, float] | None:
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

    def _any_visible(self, gpu: Gpu, by_pid: dict[int, float]) -> bool:
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
