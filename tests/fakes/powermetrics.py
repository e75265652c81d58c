"""Recorded-style ``powermetrics -f plist`` output and a fake child process to stream it.

:func:`sample` writes one sample the way ``powermetrics --samplers cpu_power,gpu_power,ane_power
-f plist`` does on an M2 MacBook Air: an XML property list with ``elapsed_ns``, a
``processor`` dict (CPU clusters, then ``*_energy`` in mJ and ``*_power`` in mW for the CPU,
GPU and ANE, and ``combined_power``) and a ``gpu`` dict. :func:`stream` joins samples the way
the tool writes them: a NUL byte before every sample after the first.

:class:`FakeProcess` stands for ``subprocess.Popen``: ``stdout``/``stderr`` are
:class:`FakePipe` objects whose ``read1`` blocks until the test feeds bytes (or the process
ends), and ``wait``/``poll``/``terminate``/``kill`` behave like Popen's, without ever sleeping.
:meth:`FakePipe.wait_consumed` lets a test wait, deterministically, until the reader thread has
handled everything fed so far.
"""

from __future__ import annotations

import subprocess
import threading
from collections import deque

__all__ = ["FakePipe", "FakeProcess", "FakeSpawner", "sample", "stream"]

_SAMPLE = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
<key>is_delta</key><true/>
<key>elapsed_ns</key><integer>{elapsed_ns}</integer>
<key>hw_model</key><string>Mac14,2</string>
<key>kern_osversion</key><string>23F79</string>
<key>kern_bootargs</key><string></string>
<key>kern_boottime</key><integer>1718000000</integer>
<key>timestamp</key><date>2024-06-14T09:30:{second:02d}Z</date>
<key>processor</key>
<dict>
<key>clusters</key>
<array>
<dict>
<key>name</key><string>E-Cluster</string>
<key>freq_hz</key><real>1.02e+09</real>
<key>idle_ratio</key><real>0.71</real>
<key>cpus</key><array>
<dict><key>cpu</key><integer>0</integer><key>freq_hz</key><real>1.1e+09</real><key>idle_ratio</key><real>0.68</real></dict>
</array>
</dict>
<dict>
<key>name</key><string>P-Cluster</string>
<key>freq_hz</key><real>3.2e+09</real>
<key>idle_ratio</key><real>0.12</real>
<key>cpus</key><array>
<dict><key>cpu</key><integer>4</integer><key>freq_hz</key><real>3.4e+09</real><key>idle_ratio</key><real>0.09</real></dict>
</array>
</dict>
</array>
{processor_fields}</dict>
<key>gpu</key>
<dict>
<key>freq_hz</key><real>1.3e+09</real>
<key>idle_ratio</key><real>0.4</real>
</dict>
<key>thermal_pressure</key><string>Nominal</string>
</dict>
</plist>
"""


def sample(
    *,
    elapsed_ns: int = 1_000_000_000,
    cpu_mw: float | None = 1250.0,
    gpu_mw: float | None = 500.0,
    ane_mw: float | None = 125.0,
    energy_fields: bool = True,
    second: int = 0,
) -> bytes:
    """One plist sample; a ``*_mw`` of None leaves that domain's power field out."""
    fields = []
    powers = {"cpu": cpu_mw, "gpu": gpu_mw, "ane": ane_mw}
    for domain, mw in powers.items():
        if mw is None:
            continue
        if energy_fields:  # powermetrics prints the sample's energy as a whole number of mJ
            mj = round(mw * elapsed_ns / 1e9)
            fields.append(f"<key>{domain}_energy</key><integer>{mj}</integer>")
        fields.append(f"<key>{domain}_power</key><real>{mw}</real>")
    combined = sum(mw for mw in powers.values() if mw is not None)
    fields.append(f"<key>combined_power</key><real>{combined}</real>")
    text = _SAMPLE.format(
        elapsed_ns=elapsed_ns, second=second, processor_fields="\n".join(fields) + "\n"
    )
    return text.encode()


def stream(*samples: bytes) -> bytes:
    """Samples as the tool writes them: a NUL before each one after the first."""
    return b"\x00".join(samples)


class FakePipe:
    """A pipe end the child writes into; ``read1`` blocks like a real pipe read."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._chunks: deque[bytes] = deque()
        self._eof = False
        self._fed = 0
        self._taken = 0
        self._consumed = 0
        self.closed = False

    def feed(self, data: bytes) -> None:
        with self._cond:
            self._chunks.append(data)
            self._fed += 1
            self._cond.notify_all()

    def end(self) -> None:
        """The writer is gone: reads drain what is left, then return b"" (EOF)."""
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def read1(self, size: int = -1, /) -> bytes:
        with self._cond:
            # Coming back for more means everything taken before has been handled.
            self._consumed = self._taken
            self._cond.notify_all()
            self._cond.wait_for(lambda: bool(self._chunks) or self._eof or self.closed, 10.0)
            if self.closed:
                raise ValueError("read of closed file")
            if not self._chunks:
                return b""
            self._taken += 1
            return self._chunks.popleft()

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def wait_consumed(self, timeout: float = 10.0) -> bool:
        """Block until the reader has handled every chunk fed so far (no sleeping)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._consumed == self._fed, timeout)


class FakeProcess:
    """Stands for ``subprocess.Popen``: never sleeps, never really runs anything."""

    def __init__(
        self,
        argv: list[str],
        *,
        exit_code: int | None = None,
        stderr: bytes = b"",
        ignores_terminate: bool = False,
    ) -> None:
        self.argv = argv
        self.stdout = FakePipe()
        self.stderr = FakePipe()
        self.returncode: int | None = None
        self.ignores_terminate = ignores_terminate
        self.terminated = 0
        self.killed = 0
        self.reaped = False
        if stderr:
            self.stderr.feed(stderr)
        if exit_code is not None:
            self.exit(exit_code)

    def poll(self) -> int | None:
        if self.returncode is not None:
            self.reaped = True
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            # A running child outlives any timeout here: the fake answers at once.
            raise subprocess.TimeoutExpired(self.argv, timeout or 0.0)
        self.reaped = True
        return self.returncode

    def terminate(self) -> None:
        self.terminated += 1
        if not self.ignores_terminate:
            self.exit(-15)

    def kill(self) -> None:
        self.killed += 1
        self.exit(-9)

    def exit(self, code: int, message: bytes = b"") -> None:
        """The child ends: its pipes reach EOF once drained."""
        if message:
            self.stderr.feed(message)
        self.returncode = code
        self.stdout.end()
        self.stderr.end()


class FakeSpawner:
    """A process factory that records the command line and hands out one FakeProcess."""

    def __init__(self, **process_options: object) -> None:
        self.options = process_options
        self.argv: list[str] | None = None
        self.process: FakeProcess | None = None

    def __call__(self, argv: list[str]) -> FakeProcess:
        self.argv = argv
        self.process = FakeProcess(argv, **self.options)  # type: ignore[arg-type]
        return self.process
