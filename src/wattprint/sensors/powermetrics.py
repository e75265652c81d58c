"""Apple Silicon CPU, GPU and Neural Engine energy from ``powermetrics`` (macOS).

One long-lived child runs ``powermetrics --samplers cpu_power,gpu_power,ane_power -i <ms>
-f plist`` (through ``sudo -n`` unless we are root: powermetrics needs root). With ``-f plist``
it writes one XML property list per sample and a NUL byte before each following one (cubestat's
reader notes the NUL comes *before* a sample, so a document is complete at ``</plist>``).
A daemon thread parses the stream as it arrives, whatever the chunking, and keeps one cumulative
energy per domain; :meth:`PowermetricsSensor.read` only copies those totals, so reads are cheap.

Each sample carries ``elapsed_ns`` and, in its ``processor`` dict, ``cpu_power``,
``gpu_power`` and ``ane_power`` in mW (averages over the sample) plus ``cpu_energy``,
``gpu_energy`` and ``ane_energy`` in mJ and ``combined_power`` (their sum); field names as
parsed by the alumet and cubestat powermetrics readers. A sample adds ``power x elapsed`` per
domain (the mJ field when a power field is absent). These are Apple's energy-model estimates
taken per sample, hence ``method="sampled"``; DRAM is not included.

Component mapping: CPU -> ``cpu``, GPU -> ``gpu``, Neural Engine -> ``gpu`` (as device
``powermetrics:ane``): it is an ML accelerator, the record schema has no accelerator component,
and ``soc`` would claim to contain the CPU, which the ``cpu`` device already reports.

Energy is credited when a sample ends, so an interval can lag by one sample period; over a run
the totals are exact except the last partial sample. A child that exits, or no sample for
``stale_after_s``, is a read error (a gap), never a silent zero. ``close()`` terminates the
child (``sudo`` relays SIGTERM), kills it if it lingers, reaps it and joins the reader threads,
all with timeouts; the threads are daemons so they never hold up interpreter shutdown.
"""

from __future__ import annotations

import os
import platform as platform_module
import plistlib
import shutil
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Protocol, cast
from xml.parsers.expat import ExpatError

from .._log import get_logger
from ..errors import SensorReadError, SensorUnavailable
from . import DeviceInfo, ProbeContext, Reading

__all__ = [
    "ROOT_FIX",
    "SAMPLERS",
    "PlistStream",
    "PowermetricsSensor",
    "Process",
    "probe",
    "sample_energy_j",
    "spawn_process",
]

log = get_logger("wattprint.sensors.powermetrics")

SAMPLERS = "cpu_power,gpu_power,ane_power"
ROOT_FIX = (
    "run wattprint as root (`sudo wattprint ...`), or allow just this command without a "
    "password: `sudo visudo -f /etc/sudoers.d/wattprint` and add the line "
    "`youruser ALL=(root) NOPASSWD: /usr/bin/powermetrics` (visudo checks the syntax before "
    "saving, so a typo cannot lock you out of sudo)"
)

#: (domain, component): the domain names the powermetrics fields and the device.
DOMAINS = (("cpu", "cpu"), ("gpu", "gpu"), ("ane", "gpu"))
_WHAT = {"cpu": "CPU", "gpu": "GPU", "ane": "Neural Engine (ANE)"}

_END = b"</plist>"
_MAX_BUFFER = 8 * 1024 * 1024  # a sample is a few KiB; more than this without an end is junk
_READ_SIZE = 64 * 1024
_STDERR_LINES = 20
_STOP_TIMEOUT_S = 2.0


class Pipe(Protocol):
    def read1(self, size: int = ..., /) -> bytes: ...

    def close(self) -> None: ...


class Process(Protocol):
    """What the sensor needs of ``subprocess.Popen`` (tests pass a fake)."""

    @property
    def stdout(self) -> Pipe | None: ...

    @property
    def stderr(self) -> Pipe | None: ...

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def terminate(self) -> None: ...

    def kill(self) -> None: ...


Spawn = Callable[[list[str]], Process]


def spawn_process(argv: list[str]) -> Process:
    # A session of its own: a Ctrl-C meant for the training script must not kill the meter's
    # child mid-run; close() stops it, and if we die first its next write gets SIGPIPE.
    process = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        close_fds=True,
        start_new_session=True,
    )
    return cast(Process, process)  # its pipes are BufferedReaders, which have read1


# --- parsing -------------------------------------------------------------------------------------


class PlistStream:
    """Splits powermetrics' plist output into sample dicts as bytes arrive, in any chunking."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.errors = 0  # documents that did not parse (counted, then skipped)

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        self._buffer += chunk
        samples = []
        while (end := self._buffer.find(_END)) >= 0:
            document = bytes(self._buffer[: end + len(_END)])
            del self._buffer[: end + len(_END)]
            sample = self._parse(document)
            if sample is not None:
                samples.append(sample)
        if len(self._buffer) > _MAX_BUFFER:
            self._buffer.clear()
            self.errors += 1
        return samples

    def _parse(self, document: bytes) -> dict[str, Any] | None:
        try:
            sample = plistlib.loads(document.strip(b"\x00 \t\r\n"))
        # plistlib raises ExpatError for broken XML and ValueError (InvalidFileException) or
        # lookup errors for malformed values; none of them may stop the stream.
        except (ExpatError, ValueError, TypeError, KeyError, IndexError, AttributeError):
            self.errors += 1
            return None
        if not isinstance(sample, dict):
            self.errors += 1
            return None
        return sample


def sample_energy_j(sample: Mapping[str, Any]) -> dict[str, float]:
    """Joules per domain in one sample; a domain without usable fields is left out."""
    processor = sample.get("processor")
    if not isinstance(processor, Mapping):
        return {}
    elapsed_ns = _number(sample.get("elapsed_ns"))
    energies = {}
    for domain, _component in DOMAINS:
        power_mw = _number(processor.get(f"{domain}_power"))
        energy_mj = _number(processor.get(f"{domain}_energy"))
        if power_mw is not None and elapsed_ns is not None and elapsed_ns > 0:
            energies[domain] = power_mw * elapsed_ns / 1e12  # mW x ns = 1e-12 J
        elif energy_mj is not None:
            energies[domain] = energy_mj / 1e3
    return energies


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None


# --- the sensor ----------------------------------------------------------------------------------


class PowermetricsSensor:
    """Cumulative per-domain energy, kept current by a reader thread on the child's output."""

    name = "powermetrics"

    def __init__(
        self,
        process: Process,
        argv: list[str],
        *,
        interval_s: float,
        clock: Callable[[], float] = time.monotonic,
        stale_after_s: float | None = None,
    ) -> None:
        self._process = process
        self._argv = argv
        self._interval_s = interval_s
        self._clock = clock
        self._stale_after_s = stale_after_s or max(10.0, 5 * interval_s)
        self._lock = threading.Lock()
        self._energy_j = {domain: 0.0 for domain, _ in DOMAINS}
        self._present = {domain for domain, _ in DOMAINS}
        self._samples = 0
        self._last_sample_s = clock()
        self._stream_error: str | None = None
        self._stderr: deque[str] = deque(maxlen=_STDERR_LINES)
        self._closed = False
        self._notes = [
            "Neural Engine energy is reported as component gpu (an ML accelerator)",
            "powermetrics energy is Apple's model estimate per sample; DRAM is not included",
        ]
        self._threads = [
            threading.Thread(target=self._pump, name="wattprint-powermetrics", daemon=True),
            threading.Thread(target=self._drain_stderr, name="wattprint-pm-stderr", daemon=True),
        ]

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(self._notes)

    @property
    def samples(self) -> int:
        """How many samples have been parsed so far."""
        with self._lock:
            return self._samples

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def devices(self) -> list[DeviceInfo]:
        every = f"every {self._interval_s * 1000:.0f} ms"
        return [
            DeviceInfo(
                device=f"powermetrics:{domain}",
                component=component,
                method="sampled",
                detail=f"Apple Silicon {_WHAT[domain]} energy from powermetrics ({every})",
                attributes=(("samplers", SAMPLERS), ("field", f"{domain}_power")),
            )
            for domain, component in DOMAINS
        ]

    def read(self) -> list[Reading]:
        if self._closed:
            raise SensorReadError("powermetrics sensor is closed")
        self._check_alive()
        with self._lock:
            stale_s = self._clock() - self._last_sample_s
            energy = dict(self._energy_j)
            present = set(self._present)
        if stale_s > self._stale_after_s:
            raise SensorReadError(f"no powermetrics sample for {stale_s:.0f} s")
        return [
            Reading(f"powermetrics:{domain}", component, "sampled", energy_j=energy[domain])
            for domain, component in DOMAINS
            if domain in present  # a domain missing from the last sample is a gap, not 0 W
        ]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        _stop(self._process)
        for thread in self._threads:
            if thread.is_alive():
                thread.join(_STOP_TIMEOUT_S)
            if thread.is_alive():
                log.warning("powermetrics: %s did not finish; left as a daemon", thread.name)
        for pipe in (self._process.stdout, self._process.stderr):
            if pipe is not None:
                _close_pipe(pipe)

    # --- the reader threads ---------------------------------------------------------------------

    def _pump(self) -> None:
        stdout = self._process.stdout
        if stdout is None:
            self._stream_error = "powermetrics has no output pipe"
            return
        stream = PlistStream()
        try:
            while chunk := stdout.read1(_READ_SIZE):
                for sample in stream.feed(chunk):
                    self._add(sample)
                if stream.errors:
                    log.warning("powermetrics: %d unreadable sample(s) skipped", stream.errors)
                    stream.errors = 0
        except (OSError, ValueError) as exc:  # ValueError: the pipe was closed under us
            if not self._closed:
                self._stream_error = f"reading powermetrics output failed: {exc}"
            return
        if not self._closed:
            self._stream_error = "powermetrics output ended"

    def _add(self, sample: Mapping[str, Any]) -> None:
        energies = sample_energy_j(sample)
        now = self._clock()
        with self._lock:
            for domain, joules in energies.items():
                self._energy_j[domain] += joules
            self._present = set(energies)
            self._samples += 1
            self._last_sample_s = now

    def _drain_stderr(self) -> None:
        # Keep the pipe empty (a full stderr pipe would block the child) and its last lines.
        stderr = self._process.stderr
        if stderr is None:
            return
        try:
            while chunk := stderr.read1(4096):
                text = chunk.decode("utf-8", "replace")
                self._stderr.extend(line for line in text.splitlines() if line.strip())
        except (OSError, ValueError):
            pass  # closed by close(): nothing more to keep

    def _check_alive(self) -> None:
        code = self._process.poll()
        if code is not None:
            said = "; ".join(self._stderr) or "no message"
            raise SensorReadError(f"powermetrics exited with status {code} ({said})")
        if self._stream_error is not None:
            raise SensorReadError(self._stream_error)


def _stop(process: Process) -> None:
    """Terminate, then kill if needed, and always reap: no zombie, no unbounded wait."""
    try:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=_STOP_TIMEOUT_S)
        return
    except subprocess.TimeoutExpired:
        pass
    except OSError:
        return  # already gone
    try:
        process.kill()
        process.wait(timeout=_STOP_TIMEOUT_S)
    except (subprocess.TimeoutExpired, OSError) as exc:
        log.warning("powermetrics did not exit after SIGKILL: %s", exc)


def _close_pipe(pipe: Pipe) -> None:
    try:
        pipe.close()
    except OSError:
        pass  # already closed


# --- probe ---------------------------------------------------------------------------------------


def probe(
    ctx: ProbeContext,
    *,
    interval_ms: int = 1000,
    platform: str | None = None,
    machine: str | None = None,
    which: Callable[[str], str | None] = shutil.which,
    geteuid: Callable[[], int] | None = None,
    spawn: Spawn = spawn_process,
    clock: Callable[[], float] = time.monotonic,
    startup_s: float = 0.5,
) -> PowermetricsSensor:
    """Start powermetrics and its reader, or raise :class:`SensorUnavailable` saying why not.

    Waits up to ``startup_s`` for the child to fail fast (``sudo -n`` refusing, an unknown
    sampler); a child still running then is taken as working.
    """
    platform = platform or sys.platform
    if platform != "darwin":
        raise SensorUnavailable(f"powermetrics is macOS only (this is {platform})", None)
    machine = machine or platform_module.machine()
    if machine != "arm64":
        raise SensorUnavailable(
            f"not Apple Silicon ({machine}): powermetrics has no CPU/GPU/ANE energy samplers "
            "here; CPU energy falls back to the CPU model",
            None,
        )
    path = which("powermetrics")
    if path is None:
        raise SensorUnavailable(
            "powermetrics was not found on PATH (macOS ships it as /usr/bin/powermetrics)", None
        )
    argv = [path, "--samplers", SAMPLERS, "-i", str(interval_ms), "-f", "plist", "-b", "0"]
    as_root = (geteuid or os.geteuid)() == 0
    if not as_root:
        argv = ["sudo", "-n", *argv]  # -n: fail at once instead of prompting for a password
    try:
        process = spawn(argv)
    except OSError as exc:
        raise SensorUnavailable(f"cannot start {argv[0]}: {exc}", None) from None
    code = _early_exit(process, startup_s)
    if code is not None:
        raise _start_failure(code, _stderr_text(process), as_root)
    sensor = PowermetricsSensor(process, argv, interval_s=interval_ms / 1000, clock=clock)
    sensor.start()
    return sensor


def _early_exit(process: Process, startup_s: float) -> int | None:
    try:
        return process.wait(timeout=startup_s)
    except subprocess.TimeoutExpired:
        return None


def _stderr_text(process: Process) -> str:
    # The child has exited, so this read ends at EOF.
    stderr = process.stderr
    if stderr is None:
        return ""
    parts = []
    try:
        while chunk := stderr.read1(4096):
            parts.append(chunk)
    except (OSError, ValueError):
        pass
    finally:
        _close_pipe(stderr)
    return b"".join(parts).decode("utf-8", "replace").strip()


def _start_failure(code: int, stderr: str, as_root: bool) -> SensorUnavailable:
    said = stderr or "no message"
    lowered = stderr.lower()
    if not as_root and any(
        words in lowered
        for words in ("password is required", "terminal is required", "not allowed", "sudoers")
    ):
        return SensorUnavailable(
            f"powermetrics needs root, and `sudo -n` may not run it without a password ({said})",
            ROOT_FIX,
        )
    if "superuser" in lowered or "root" in lowered:
        return SensorUnavailable(f"powermetrics needs root ({said})", ROOT_FIX)
    if "sampler" in lowered:
        return SensorUnavailable(
            f"this macOS's powermetrics lacks the {SAMPLERS} samplers ({said})", None
        )
    return SensorUnavailable(f"powermetrics exited at start with status {code} ({said})", None)
