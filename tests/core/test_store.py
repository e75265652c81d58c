from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from wattprint.errors import StoreError
from wattprint.records import ComponentEnergy, Record, RunInfo, SpanRecord, summarize
from wattprint.store import Store
from wattprint.store.schema import SCHEMA_VERSION


def info(run_id="r1", pid=None, hostname=None, project="p", experiment="e", started=100.0):
    import os
    import socket

    return RunInfo(
        run_id=run_id, project=project, experiment=experiment, started_s=started,
        scope="machine", interval_s=5.0, pue=1.0,
        location={"country": "FR", "subdivision": None, "resolved_by": "config"},
        host={"hostname": hostname or socket.gethostname(), "pid": pid or os.getpid()},
        devices=({"device": "rapl:package-0", "component": "cpu", "method": "measured",
                  "detail": "RAPL package-0"},),
        skipped=(),
    )


def record(run_id="r1", seq=0, energy=100.0):
    return Record(
        run_id=run_id, seq=seq, start_s=100.0 + seq, duration_s=1.0, cpu_energy_j=energy,
        gpu_energy_j=0.0, ram_energy_j=0.0, other_energy_j=0.0, energy_j=energy, pue=1.0,
        emissions_g=energy / 3.6e6 * 50.0, intensity_g_per_kwh=50.0, intensity_zone="FR",
        intensity_source="Ember", intensity_year=2024, intensity_kind="average",
        intensity_live=False,
        components=(ComponentEnergy("cpu", "rapl:package-0", "measured", energy),),
        gaps=("x: gap",) if seq == 1 else (),
    )


def test_fresh_store_is_migrated_and_in_wal_mode(tmp_path):
    store = Store(tmp_path / "s" / "wattprint.db")
    assert store.schema_version == SCHEMA_VERSION
    mode = sqlite3.connect(store.path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    store.close()
    again = Store(store.path)  # re-opening does not re-run migrations
    assert again.schema_version == SCHEMA_VERSION


def test_newer_schema_is_refused_with_advice(tmp_path):
    path = tmp_path / "wattprint.db"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreError, match="upgrade wattprint"):
        Store(path)


def test_records_round_trip_exactly(tmp_path):
    store = Store(tmp_path / "wattprint.db")
    store.begin_run(info())
    written = [record(seq=i, energy=10.0 * (i + 1)) for i in range(3)]
    for r in written:
        store.add_record(r)
    assert store.records("r1") == written
    span = SpanRecord("r1", "1", None, "epoch", 100.0, 101.0, 1.0, 10.0, 0, 0, 0, 10.0, 0.1)
    store.add_span(span)
    assert store.spans("r1") == [span]


def test_running_run_summary_is_rebuilt_from_records_and_finished_one_is_stored(tmp_path):
    store = Store(tmp_path / "wattprint.db")
    store.begin_run(info())
    store.add_record(record(seq=0, energy=100.0))
    store.add_record(record(seq=1, energy=50.0))
    rebuilt = store.summary("r1")
    assert rebuilt.energy_j["total"] == pytest.approx(150.0)
    assert rebuilt.status == "running"
    assert rebuilt.gaps == ("x: gap",)
    final = summarize(info(), store.records("r1"), status="finished", exit_code=3)
    store.finish_run(final, ended_s=200.0)
    assert store.summary("r1") == final
    row = store.runs()[0]
    assert (row.status, row.exit_code, row.energy_j) == ("finished", 3, pytest.approx(150.0))


def test_run_of_a_dead_process_shows_as_interrupted(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    store = Store(tmp_path / "wattprint.db")
    store.begin_run(info(run_id="dead", pid=int(dead.stdout)))
    store.begin_run(info(run_id="alive", started=200.0))
    store.begin_run(info(run_id="elsewhere", pid=1234567, hostname="other-host", started=300.0))
    status = {r.run_id: r.status for r in store.runs()}
    assert status == {"dead": "interrupted", "alive": "running", "elsewhere": "running"}


def test_runs_filter_order_and_prefix_resolution(tmp_path):
    store = Store(tmp_path / "wattprint.db")
    store.begin_run(info(run_id="abc123", project="a", started=1.0))
    store.begin_run(info(run_id="abd456", project="b", started=2.0))
    store.begin_run(info(run_id="x_y", project="a", started=3.0))
    assert [r.run_id for r in store.runs()] == ["x_y", "abd456", "abc123"]
    assert [r.run_id for r in store.runs(project="a")] == ["x_y", "abc123"]
    assert store.resolve_id("abc") == "abc123"
    with pytest.raises(StoreError, match="several runs"):
        store.resolve_id("ab")
    with pytest.raises(StoreError, match="no run matches"):
        store.resolve_id("zzz")
    with pytest.raises(StoreError, match="no run matches"):
        store.resolve_id("x%")  # LIKE wildcards are literal


def test_unopenable_store_raises_store_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot open the store"):
        Store(blocker / "wattprint.db")
