"""NVIDIA GPUs through NVML (the ``pynvml`` module of nvidia-ml-py), one device per physical GPU.

Where the numbers come from: the NVML API reference (https://docs.nvidia.com/deploy/nvml-api/, as
mirrored by cuda-python's ``cuda.bindings.nvml`` pages); wrapper behaviour read in nvidia-ml-py
13.615's ``pynvml.py``. The sensor is split along its seams:

- :mod:`.selection`: which GPUs (``gpu_ids``, ``CUDA_VISIBLE_DEVICES``, UUIDs, MIG);
- :mod:`.sampling`: how each is read (energy counter, or sampled power where there is none;
  counter resets; the power limit);
- :mod:`.attribution`: each GPU's share per process, for the ``process`` scope;
- :mod:`.library`: loading NVML and the error codes the others share.

**Failures.** A GPU whose NVML call fails (``NVML_ERROR_GPU_IS_LOST`` after an Xid 79, say) is left
out of that read, so the meter records a gap for it alone and the other GPUs keep counting; when
every GPU fails, ``read()`` raises :class:`SensorReadError`. This holds for power readings too:
the meter integrates power only between two consecutive successful readings, so a failed power
call is a gap, never a bridge across time nobody sampled.
"""

from __future__ import annotations

import threading
from pathlib import Path

from ..._log import get_logger
from ...errors import SensorReadError, SensorUnavailable
from .. import DeviceInfo, ProbeContext, Reading
from .attribution import (
    BASIS_IDLE,
    BASIS_MEMORY,
    BASIS_UNATTRIBUTED,
    BASIS_UTILIZATION,
    ProcessAttribution,
)
from .library import INSTALL_FIX, Errors, error_classes, init, load, shut_down
from .sampling import Gpu, Reader, Sampling, device_info, open_gpu
from .selection import discover, select_gpus

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

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

# Notes are for doctor and logs; a counter that resets over and over must not grow them forever.
_MAX_NOTES = 64


class NvmlSensor:
    """Reads each selected GPU's energy counter, or its power where it has none (no thread:
    the tracker's sampler decides when to read)."""

    name = "nvml"

    def __init__(
        self,
        lib: Any,
        errors: Errors,
        gpus: list[Gpu],
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
        # Provenance of the sensor as a whole is its weakest device's.
        self.method = "sampled" if any(g.mode == "power" for g in gpus) else "measured"
        self._reader = Reader(lib, self._note)
        self._attribution = ProcessAttribution(lib, errors, proc, self._note)
        self._failing: set[str] = set()
        self._close_lock = threading.Lock()
        self._closed = False

    @property
    def notes(self) -> tuple[str, ...]:
        """What was skipped, merged or reset, and why (``wattprint doctor`` prints these)."""
        return tuple(self._notes)

    def devices(self) -> list[DeviceInfo]:
        return [device_info(g, self._sampling) for g in self._gpus]

    def read(self) -> list[Reading]:
        """One reading per GPU: its energy counter, or its power where it has no counter."""
        if self._closed:
            raise SensorReadError("NVML sensor is closed")
        readings: list[Reading] = []
        failures: list[str] = []
        for gpu in self._gpus:
            try:
                reading = self._reader.read(gpu)
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
        return {gpu.device: self._attribution.share(gpu, pids) for gpu in self._gpus}

    def close(self) -> None:
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        shut_down(self._lib, self._errors)

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


def probe(ctx: ProbeContext, *, sampling: Sampling | None = None) -> NvmlSensor:
    """Open the NVIDIA GPUs this process should measure, or raise :class:`SensorUnavailable`."""
    lib = load(ctx)
    errors = error_classes(lib)
    init(lib, errors)
    try:
        return _open(lib, errors, ctx, sampling or Sampling())
    except BaseException:
        shut_down(lib, errors)
        raise


def _open(lib: Any, errors: Errors, ctx: ProbeContext, sampling: Sampling) -> NvmlSensor:
    notes: list[str] = []
    present = discover(lib, errors)
    chosen, warning = select_gpus(lib, errors, present, ctx, notes)
    gpus = []
    for found in chosen:
        gpu = open_gpu(lib, errors, found, sampling, notes, warning)
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
