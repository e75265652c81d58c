"""The process tree's CPU time on real process trees that fork, reap, exec and orphan.

Every process here is real. Processes stop at checkpoints (a byte on a pipe, then a blocking
read), so at a tick every process of the tree is idle and the kernel's own counters give the
exact reference: the sum, over the live processes, of their own CPU time plus what they reaped
(``children_*``); once the root has exited (kept a zombie so it can still be read), its own
``user + system + children_*`` is the whole tree's total.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from itertools import pairwise

import psutil
import pytest

from fakes.process_tree import (
    Gate,
    burn,
    fork,
    full_s,
    kill_tree,
    own_s,
    reap,
    wait_zombie,
    wait_zombie_of_other,
)
from wattprint.tree_cpu import TreeCpuLedger

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc")

# Readings are in clock ticks (10 ms); a process may tick once more between its checkpoint byte
# and its blocking read.
TOLERANCE_S = 0.021
# CPU a process burns between two checkpoints, so that every tick's true total is higher than
# the last one's (a total that stalls where it should grow is an error the tests must see).
STEP_S = 0.05


class Ticks:
    """Drives the ledger the way the scope does, checking that the total never goes down."""

    def __init__(self, root: int) -> None:
        self.ledger = TreeCpuLedger(psutil.Process(root))
        self.values: list[float] = []

    def tick(self) -> float:
        value = self.ledger.read().cpu_s
        assert not self.values or value >= self.values[-1], self.values + [value]
        # The monotonic rule never had to hold a falling reading back: nothing was uncounted.
        assert self.ledger.max_shortfall_s <= TOLERANCE_S
        self.values.append(value)
        return value


def test_a_grandchild_reaped_by_a_middle_process_is_counted_once_and_never_lost() -> None:
    # The tree: root -> middle -> grandchild; the middle reaps the grandchild, then the
    # root reaps the middle. Counting only the root's children_* read 0.46, 0.91, 1.36, 0.05...
    root_gate, middle_gate, grandchild_gate = Gate(), Gate(), Gate()

    def grandchild() -> None:
        burn(0.15)
        grandchild_gate.arrive()

    def middle() -> None:
        burn(0.05)
        child = fork(grandchild)
        middle_gate.arrive()  # A: the grandchild is alive
        burn(STEP_S)
        os.waitpid(child, 0)
        middle_gate.arrive()  # B: the grandchild is reaped into the middle's children_*
        burn(STEP_S)

    def root() -> None:
        root_gate.arrive()
        os.waitpid(fork(middle), 0)
        burn(STEP_S)
        root_gate.arrive()
        burn(STEP_S)

    pid = fork(root)
    try:
        root_gate.wait()
        ticks = Ticks(pid)
        ticks.tick()
        base = full_s(pid)
        root_gate.release()

        middle_gate.wait()
        grandchild_gate.wait()
        tree = psutil.Process(pid).children(recursive=True)
        assert len(tree) == 2
        expected = full_s(pid) + sum(full_s(p.pid) for p in tree) - base
        assert expected > 0.15
        assert ticks.tick() == pytest.approx(expected, abs=TOLERANCE_S)

        grandchild_gate.release()
        middle_gate.release()
        middle_gate.wait()  # B
        (middle_proc,) = psutil.Process(pid).children()
        expected = full_s(pid) + full_s(middle_proc.pid) - base
        assert ticks.tick() == pytest.approx(expected, abs=TOLERANCE_S)

        middle_gate.release()
        root_gate.wait()  # the middle is reaped into the root's children_*
        assert ticks.tick() == pytest.approx(full_s(pid) - base, abs=TOLERANCE_S)

        root_gate.release()
        wait_zombie(pid)
        total = ticks.tick()
        assert total == pytest.approx(full_s(pid) - base, abs=TOLERANCE_S)
        assert total >= 0.2 + 4 * STEP_S - TOLERANCE_S  # what was burnt, plus the forks' work
        # Every tick saw more than the one before: a flat stretch would be time lost for a while.
        assert all(b - a >= STEP_S - TOLERANCE_S for a, b in pairwise(ticks.values))
    finally:
        reap(pid)


def test_children_too_short_lived_to_be_seen_arrive_once_with_their_reaper() -> None:
    root_gate = Gate()

    def child() -> None:
        burn(0.04)

    def root() -> None:
        root_gate.arrive()
        for _ in range(3):
            os.waitpid(fork(child), 0)
        root_gate.arrive()

    pid = fork(root)
    try:
        root_gate.wait()
        ticks = Ticks(pid)
        ticks.tick()
        base = full_s(pid)
        root_gate.release()
        root_gate.wait()  # three children forked, burnt, exited and reaped between two ticks
        assert ticks.tick() == pytest.approx(full_s(pid) - base, abs=TOLERANCE_S)
        assert ticks.values[-1] >= 0.12 - TOLERANCE_S
        root_gate.release()
        wait_zombie(pid)
        assert ticks.tick() == pytest.approx(full_s(pid) - base, abs=TOLERANCE_S)
    finally:
        reap(pid)


def test_a_child_whose_parent_ignores_sigchld_keeps_its_last_reading() -> None:
    # With SIGCHLD ignored the kernel reaps the child itself and adds its time to nobody's
    # children_*: the tree must keep what was last read of it.
    root_gate, middle_gate, grandchild_gate = Gate(), Gate(), Gate()

    def grandchild() -> None:
        burn(0.1)
        grandchild_gate.arrive()

    def middle() -> None:
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)
        fork(grandchild)
        middle_gate.arrive()
        try:
            os.wait()  # with SIGCHLD ignored: returns once every child is gone
        except ChildProcessError:
            pass
        for _ in range(3):
            burn(STEP_S)
            middle_gate.arrive()

    def root() -> None:
        root_gate.arrive()
        os.waitpid(fork(middle), 0)
        burn(STEP_S)
        root_gate.arrive()

    pid = fork(root)
    try:
        root_gate.wait()
        ticks = Ticks(pid)
        ticks.tick()
        base = full_s(pid)
        root_gate.release()
        middle_gate.wait()
        grandchild_gate.wait()
        (middle_proc,) = psutil.Process(pid).children()
        (grandchild_proc,) = middle_proc.children()
        last_read = full_s(grandchild_proc.pid)
        expected = full_s(pid) + full_s(middle_proc.pid) + last_read - base
        assert ticks.tick() == pytest.approx(expected, abs=TOLERANCE_S)

        grandchild_gate.release()
        middle_gate.release()
        for _ in range(3):  # across the window a reap would have shown in: still counted once
            middle_gate.wait()  # the grandchild is gone; the middle's children_* did not move
            assert full_s(middle_proc.pid) == pytest.approx(own_s(middle_proc.pid))
            expected = full_s(pid) + full_s(middle_proc.pid) + last_read - base
            assert ticks.tick() == pytest.approx(expected, abs=TOLERANCE_S)
            middle_gate.release()
        root_gate.wait()
        root_gate.release()
        wait_zombie(pid)
        assert ticks.tick() == pytest.approx(full_s(pid) + last_read - base, abs=TOLERANCE_S)
    finally:
        reap(pid)


def test_an_orphan_reparented_outside_the_tree_keeps_its_last_reading_only() -> None:
    # The middle exits without waiting: the grandchild is re-parented outside the tree (to init
    # or a subreaper) and whatever it burns from then on is not ours. An outer process, a child
    # subreaper standing for init, reaps it, so nothing is left behind.
    root_gate, middle_gate, grandchild_gate, outer_gate = Gate(), Gate(), Gate(), Gate()
    root_pid_r, root_pid_w = os.pipe()

    def grandchild() -> None:
        burn(0.1)
        grandchild_gate.arrive()
        burn(0.1)  # outside the tree by now
        grandchild_gate.arrive()

    def middle() -> None:
        fork(grandchild)
        middle_gate.arrive()

    def root() -> None:
        root_gate.arrive()
        os.waitpid(fork(middle), 0)
        root_gate.arrive()

    def outer() -> None:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        assert libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
        os.write(root_pid_w, str(fork(root)).encode() + b"\n")
        outer_gate.arrive()  # the root is left a zombie until the test has read it
        while True:
            try:
                os.wait()
            except ChildProcessError:
                return

    outer_pid = fork(outer)
    try:
        pid = int(os.read(root_pid_r, 32))
        root_gate.wait()
        ticks = Ticks(pid)
        ticks.tick()
        base = full_s(pid)
        root_gate.release()
        middle_gate.wait()
        grandchild_gate.wait()
        (middle_proc,) = psutil.Process(pid).children()
        (grandchild_proc,) = middle_proc.children()
        last_read = full_s(grandchild_proc.pid)
        expected = full_s(pid) + full_s(middle_proc.pid) + last_read - base
        assert ticks.tick() == pytest.approx(expected, abs=TOLERANCE_S)

        middle_gate.release()
        root_gate.wait()  # the middle is reaped by the root; the grandchild went to `outer`
        assert grandchild_proc.ppid() == outer_pid
        assert ticks.tick() == pytest.approx(full_s(pid) + last_read - base, abs=TOLERANCE_S)

        grandchild_gate.release()
        grandchild_gate.wait()  # it burnt 0.1 s more, none of it ours
        assert own_s(grandchild_proc.pid) >= last_read + 0.1 - TOLERANCE_S
        assert ticks.tick() == pytest.approx(full_s(pid) + last_read - base, abs=TOLERANCE_S)
        grandchild_gate.release()
        root_gate.release()
        outer_gate.wait()
        wait_zombie_of_other(pid)
        assert ticks.tick() == pytest.approx(full_s(pid) + last_read - base, abs=TOLERANCE_S)
        outer_gate.release()
        os.waitpid(outer_pid, 0)  # it reaps the root and the orphan first
    finally:
        reap(outer_pid)


# A shell starts three workers; each starts two workers of its own and waits for them. Every
# worker is a fresh interpreter (fork + exec). No checkpoints: the ticks land wherever they land.
_BURN = "import time\nend = time.process_time() + {s}\nwhile time.process_time() < end: pass\n"
_MIDDLE = (
    "import subprocess, sys\n"
    "kids = [subprocess.Popen([sys.executable, '-S', '-c', {leaf!r}]) for _ in range(2)]\n"
    + _BURN.format(s=0.03)
    + "for kid in kids: kid.wait()\n"
).format(leaf=_BURN.format(s=0.05))
_SHELL = 'read go\nfor i in 1 2 3; do "$PY" -S -c "$MIDDLE" & done\nwait\n'


def test_a_three_level_tree_of_exec_ed_workers_matches_the_kernels_total() -> None:
    env = {**os.environ, "PY": sys.executable, "MIDDLE": _MIDDLE}
    shell = subprocess.Popen(["/bin/sh", "-c", _SHELL], stdin=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 10.0
        while psutil.Process(shell.pid).status() != psutil.STATUS_SLEEPING:  # blocked in `read`
            assert time.monotonic() < deadline
            time.sleep(0.001)
        ticks = Ticks(shell.pid)
        ticks.tick()
        base = full_s(shell.pid)
        assert shell.stdin is not None
        shell.stdin.write(b"go\n")
        shell.stdin.close()
        seen: set[int] = set()
        while os.waitid(os.P_PID, shell.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is None:
            ticks.tick()
            seen |= ticks.ledger.read().pids
            assert time.monotonic() < deadline + 10.0
        total = ticks.tick()
        assert len(seen) >= 4  # the ticks did see the tree at work
        assert len(ticks.values) >= 4
        truth = full_s(shell.pid) - base
        assert truth >= 3 * 0.03 + 6 * 0.05
        assert total == pytest.approx(truth, abs=TOLERANCE_S)
    finally:
        kill_tree(shell.pid)
        shell.wait()
