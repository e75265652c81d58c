"""The Store facade: open, migrate, write batches, read back (details in tests/store/)."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys

import pytest

from wattprint.errors import StoreError
from wattprint.records import ComponentEnergy, Record, RunInfo, summarize
from wattprint.store import RunFilter, Store
from wattprint.store.schema import SCHEMA_VERSION


def info(run_id="r1", pid=None, hostname=None, project="p", experiment="e", started=100.0,
         tracker_pid=None):
    host = {"hostname": hostname or socket.gethostname(), "pid": pid or os.getpid()}
    if tracker_pid is not None:
        host["tracker_pid"] = tracker_pid
    return RunInfo(
        run_id=run_id, project=project, experiment=experiment, started_s=started,
        scope="machine", interval_s=5.0, pue=1.0,
        location={"country": "FR", "subdivision": None, "resolved_by": "config"},
        host=host,
        devices=({"device": "rapl:package-0", "component": "cpu", "method": "measured",
                  "detail": "RAPL package-0"},),
        skipped=(),
    )


def record(run_id="r1", seq=1, energy=100.0):
    return Record(
        run_id=run_id, seq=seq, start_s=100.0 + seq, duration_s=1.0, cpu_energy_j=energy,
        gpu_energy_j=0.0, ram_energy_j=0.0, other_energy_j=0.0, energy_j=energy, pue=1.0,
        emissions_g=energy / 3.6e6 * 50.0, intensity_g_per_kwh=50.0, intensity_zone="FR",
        intensity_source="Ember", intensity_year=2024, intensity_kind="average",
        intensity_live=False,
        components=(ComponentEnergy("cpu", "rapl:package-0", "measured", energy),),
        gaps=("x: gap",) if seq == 2 else (),
    )


def test_fresh_store_is_migrated_and_in_wal_mode(tmp_path):
    store = Store(tmp_path / "s" / "wattprint.db")
    assert store.schema_version == SCHEMA_VERSION
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()
    again = Store(store.path)  # re-opening does not re-run migrations
    assert again.schema_version == SCHEMA_VERSION
    again.close()


def test_running_summary_is_rebuilt_from_records_and_a_finished_one_is_stored(tmp_path):
    store = Store(tmp_path / "wattprint.db")
    store.begin_run(info())
    store.add_records([record(seq=1, energy=100.0), record(seq=2, energy=50.0)])
    rebuilt = store.summary("r1")
    assert rebuilt.energy_j["total"] == pytest.approx(150.0)
    assert (rebuilt.status, rebuilt.gaps) == ("running", ("x: gap",))
    final = summarize(info(), store.records("r1"), status="finished", exit_code=3)
    store.finish_run(final, ended_s=200.0)
    assert store.summary("r1") == final
    (row,) = store.runs().items
    assert (row.status, row.exit_code, row.energy_j, row.ended_s) == (
        "finished", 3, pytest.approx(150.0), 200.0)
    store.close()


def test_run_whose_tracker_died_shows_as_interrupted(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    store = Store(tmp_path / "wattprint.db")
    store.begin_run(info(run_id="dead", tracker_pid=int(dead.stdout), started=100.0))
    # the wrapper (tracker) lives on while the measured child's pid is gone: still running
    store.begin_run(info(run_id="alive", pid=int(dead.stdout), tracker_pid=os.getpid(),
                         started=200.0))
    store.begin_run(info(run_id="elsewhere", pid=1234567, hostname="other-host", started=300.0))
    status = {r.run_id: r.status for r in store.runs().items}
    assert status == {"dead": "interrupted", "alive": "running", "elsewhere": "running"}
    assert [r.run_id for r in store.runs(RunFilter(status="interrupted")).items] == ["dead"]
    store.close()


def test_unwritable_location_says_to_choose_a_writable_directory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot write the store.*writable"):
        Store(blocker / "wattprint.db")


def test_a_locked_store_says_it_is_locked_not_unwritable(tmp_path):
    path = tmp_path / "wattprint.db"
    Store(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=DELETE")  # a mode change needs every reader out
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="locked by another process") as caught:
            Store(path, busy_timeout_s=0.2)
        assert "writable" not in str(caught.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
