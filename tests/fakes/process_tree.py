"""Real processes for tests: fork, burn CPU, stop at checkpoints, clean up after a failure.

Not a fake: these are real processes the kernel counts. A process stops at a checkpoint (a byte
on a pipe, then a blocking read), so the test reads its counters while it is idle.
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable

import psutil


class Gate:
    """One process's checkpoints: it says it has arrived, then waits for the test to let go."""

    def __init__(self) -> None:
        self._arrived_r, self._arrived_w = os.pipe()
        self._go_r, self._go_w = os.pipe()

    def __del__(self) -> None:
        for fd in (self._arrived_r, self._arrived_w, self._go_r, self._go_w):
            try:
                os.close(fd)
            except OSError:
                pass

    def arrive(self) -> None:  # in the child
        os.write(self._arrived_w, b".")
        os.read(self._go_r, 1)

    def wait(self) -> None:  # in the test: blocks until the child has arrived
        ready, _, _ = select.select([self._arrived_r], [], [], 10.0)
        assert ready, "a child never reached its checkpoint"
        os.read(self._arrived_r, 1)

    def release(self) -> None:
        os.write(self._go_w, b".")


def fork(body: Callable[[], None]) -> int:
    pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        code = 1
        try:
            body()
            code = 0
        finally:
            os._exit(code)
    return pid


def burn(cpu_s: float) -> None:
    end = time.process_time() + cpu_s
    while time.process_time() < end:
        pass


def wait_zombie(pid: int) -> None:
    """Wait for ``pid`` to exit but leave it unreaped, so its counters can still be read."""
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)


def reap(pid: int) -> None:
    """Kill what is left of a tree (a failed test leaves its processes at a checkpoint) and reap
    its root."""
    kill_tree(pid)
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def kill_tree(pid: int) -> None:
    try:
        tree = psutil.Process(pid)
        procs = [tree, *tree.children(recursive=True)]
    except psutil.NoSuchProcess:
        procs = []
    for proc in procs:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass


def full_s(pid: int) -> float:
    """A process's own CPU time plus everything it has reaped, as the kernel counts it."""
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def own_s(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def wait_zombie_of_other(pid: int) -> None:
    """Wait until a process that is not our child has exited (it stays a zombie)."""
    proc = psutil.Process(pid)
    deadline = time.monotonic() + 10.0
    while proc.status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the process did not exit"
        time.sleep(0.001)
