"""Running or interrupted: the tracker's pid on this host, the heartbeat from any host."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest
import storekit

from wattprint.store import open_repository
from wattprint.store.liveness import GRACE_S, Liveness, effective_status, stale_after_s

NOW = 10_000.0
HERE = "host-here"


def status(row: Liveness, *, dead: tuple[int, ...] = (), now: float = NOW) -> str:
    return effective_status(row, now_s=now, host_id=HERE, hostname="here",
                            pid_alive=lambda pid: pid not in dead)


def test_finished_and_failed_runs_keep_their_status():
    for stored in ("finished", "failed"):
        assert status(Liveness(stored, host_id=HERE, tracker_pid=1), dead=(1,)) == stored


def test_dead_tracker_on_this_host_is_interrupted_even_if_the_measured_child_lives():
    row = Liveness("running", host_id=HERE, tracker_pid=100, pid=200)
    assert status(row, dead=(100,)) == "interrupted"
    assert status(row, dead=(200,)) == "running"  # the child died, the wrapper still reports


def test_rows_without_tracker_pid_fall_back_to_pid_and_hostname():
    row = Liveness("running", hostname="here", pid=200)
    assert status(row, dead=(200,)) == "interrupted"
    assert status(Liveness("running", hostname="elsewhere", pid=200), dead=(200,)) == "running"


def test_a_pid_on_another_host_is_never_checked_here():
    row = Liveness("running", host_id="other", hostname="here", tracker_pid=100)
    assert status(row, dead=(100,)) == "running"  # host id beats a shared host name


def test_a_stale_heartbeat_interrupts_a_run_from_any_host():
    every = 5.0
    limit = stale_after_s(every)
    assert limit == 3 * every + GRACE_S
    fresh = Liveness("running", host_id="other", heartbeat_s=NOW - limit, heartbeat_every_s=every)
    stale = Liveness("running", host_id="other", heartbeat_s=NOW - limit - 0.001,
                     heartbeat_every_s=every)
    assert status(fresh) == "running"
    assert status(stale) == "interrupted"
    # a live pid on this host does not save a run whose heartbeat stopped (pid reused)
    reused = Liveness("running", host_id=HERE, tracker_pid=1, heartbeat_s=0.0,
                      heartbeat_every_s=every)
    assert status(reused) == "interrupted"


def test_rows_without_heartbeat_data_keep_the_old_rule():
    assert status(Liveness("running", host_id="other", heartbeat_s=0.0)) == "running"
    assert status(Liveness("running", host_id="other")) == "running"


_WRITER = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {kit!r})
    import storekit
    from wattprint.records import Heartbeat
    from wattprint.sinks.sqlite import SqliteSink
    sink = SqliteSink(__import__("pathlib").Path({path!r}), per_node=False)
    run = storekit.info("victim", hostname="here", host_id="host-here", pid=1,
                        tracker_pid=os.getpid(), started=time.time())
    sink.export([run, storekit.record("victim", 1, start=time.time()),
                 Heartbeat("victim", time.time(), 60.0)])
    print("written", flush=True)
    time.sleep(60)
""")


@pytest.mark.slow
def test_a_sigkilled_tracker_shows_as_interrupted(tmp_path):
    path = tmp_path / "wattprint.db"
    code = _WRITER.format(kit=os.path.dirname(storekit.__file__), path=str(path))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "written\n"

        def listed() -> str:
            repo = open_repository(path, host_id="host-here", hostname="here")
            try:
                (row,) = repo.runs().items
                return row.status
            finally:
                repo.close()

        assert listed() == "running"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert listed() == "interrupted"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
