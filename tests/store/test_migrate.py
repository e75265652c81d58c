"""Schema v3 from v1 and v2 files; idempotent statements; versions newer than we know."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace

import pytest
import storekit

from wattprint.errors import StoreError
from wattprint.store import Store
from wattprint.store.migrate import apply_idempotently, migrate, split_statements
from wattprint.store.schema import MIGRATIONS, SCHEMA_VERSION


def columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]


def test_v3_is_appended_and_shapes_runs_records_and_spans(tmp_path):
    assert SCHEMA_VERSION == len(MIGRATIONS) >= 3
    store = Store(tmp_path / "wattprint.db")
    store.close()
    with sqlite3.connect(tmp_path / "wattprint.db") as db:
        assert {"host_id", "tracker_pid", "heartbeat_s", "heartbeat_every_s", "job_id"} <= set(
            columns(db, "runs"))
        assert "work" in columns(db, "records")
        assert columns(db, "spans") == [
            "run_id", "span_id", "parent_id", "name", "count", "first_start_s", "last_end_s",
            "duration_s", "duration_min_s", "duration_max_s", "cpu_energy_j", "gpu_energy_j",
            "ram_energy_j", "other_energy_j", "energy_j", "energy_min_j", "energy_max_j",
            "emissions_g", "work", "boundary"]
        pk = [row[1] for row in db.execute("PRAGMA table_info(spans)") if row[5]]
        assert pk == ["run_id", "span_id"]


def test_a_v1_file_is_migrated_and_its_run_records_and_span_survive(tmp_path):
    path = tmp_path / "wattprint.db"
    storekit.make_v1_store(path)
    store = Store(path, host_id="x", hostname="x")
    try:
        assert store.schema_version == SCHEMA_VERSION
        (row,) = store.runs().items
        assert (row.run_id, row.status, row.energy_j, row.host_id) == (
            "old-run", "finished", 300.0, None)
        records = store.records("old-run")
        assert [(r.seq, r.energy_j, r.work) for r in records] == [(0, 100.0, ()), (1, 200.0, ())]
        (span,) = store.spans("old-run")
        assert (span.span_id, span.name, span.count, span.first_start_s, span.last_end_s,
                span.duration_s, span.duration_min_s, span.duration_max_s, span.energy_j,
                span.energy_min_j, span.energy_max_j, span.emissions_g, span.work,
                span.boundary) == (
            "1", "epoch", 1, storekit.T0 - 86400, storekit.T0 - 86398, 2.0, 2.0, 2.0, 300.0,
            300.0, 300.0, 0.003, (), "exact")
        # and new runs go into the same file beside it
        store.export(storekit.run_batch("new-run"))
        assert [r.run_id for r in store.runs().items] == ["new-run", "old-run"]
    finally:
        store.close()


def test_a_v2_file_keeps_its_rescores(tmp_path):
    path = tmp_path / "wattprint.db"
    storekit.make_v1_store(path)
    with sqlite3.connect(path) as db:
        db.executescript(MIGRATIONS[1])
        db.execute("PRAGMA user_version=2")
        db.execute("INSERT INTO rescores VALUES ('old-run', 'neso', 5.0, 0.002, 24.0, 'average',"
                   " '{}')")
    store = Store(path)
    try:
        assert store.rescores("old-run") == [{"provider": "neso", "created_s": 5.0,
                                              "emissions_g": 0.002, "intensity_g_per_kwh": 24.0,
                                              "kind": "average"}]
    finally:
        store.close()


def test_statements_are_applied_idempotently(tmp_path):
    db = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    for number in range(SCHEMA_VERSION):
        for statement in split_statements(MIGRATIONS[number]):
            apply_idempotently(db, statement)
    before = db.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
    # everything again: a re-run after a crash, or two migrators, must change nothing
    for number in range(SCHEMA_VERSION):
        for statement in split_statements(MIGRATIONS[number]):
            if statement.upper().startswith("INSERT"):
                continue  # data copies run once, under the lock, with the version bump
            apply_idempotently(db, statement)
    assert db.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall() == before


def test_split_statements_ignores_semicolons_in_comments_and_strings():
    script = "CREATE TABLE a (x TEXT DEFAULT ';'); -- a; comment\nCREATE INDEX i ON a (x);"
    assert split_statements(script) == ["CREATE TABLE a (x TEXT DEFAULT ';')",
                                        "CREATE INDEX i ON a (x)"]


def test_a_newer_schema_is_refused_with_advice_and_left_untouched(tmp_path):
    path = tmp_path / "wattprint.db"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer than this wattprint understands.*upgrade"):
        Store(path)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1


def test_migrate_reads_the_version_again_under_the_lock(tmp_path):
    """A process that saw an old version before another migrated must not migrate twice."""
    path = tmp_path / "wattprint.db"
    storekit.make_v1_store(path)
    slow = sqlite3.connect(path, isolation_level=None, timeout=5)
    Store(path).close()  # another process migrates meanwhile
    assert migrate(slow, path) == SCHEMA_VERSION  # found current: nothing applied
    rows = slow.execute("SELECT info_json FROM runs").fetchall()
    assert json.loads(rows[0][0])["run_id"] == "old-run"


def make_v3_store(path):
    """A real v3 file: a run with an average record, one whose intensity was unavailable (v3
    said "average"), and two rescores by a marginal provider, one of which left a record
    uncovered."""
    storekit.make_v1_store(path)
    with sqlite3.connect(path) as db:
        db.executescript(MIGRATIONS[1] + MIGRATIONS[2])
        db.execute("PRAGMA user_version=3")
        db.execute("INSERT INTO records VALUES ('old-run', 2, ?, 1.0, 50.0, 0, 0, 0, 50.0, 1.0,"
                   " 0.0, 0.0, '', 'unavailable', NULL, 'average', 0,"
                   " '[{\"component\": \"cpu\", \"device\": \"rapl:package-0\","
                   " \"method\": \"measured\", \"energy_j\": 50.0, \"share\": 0.5}]',"
                   " '[\"intensity: unavailable, emissions not counted\"]', '[]')",
                   (storekit.T0 - 86398,))
        partial = json.dumps({"per_record": [{"seq": 0, "source": "watttime"},
                                             {"seq": 1, "source": "original"}]})
        full = json.dumps({"per_record": [{"seq": 0, "source": "watttime"},
                                          {"seq": 1, "source": "watttime"}]})
        db.execute("INSERT INTO rescores VALUES ('old-run', 'watttime', 5.0, 0.01, 300.0,"
                   " 'marginal', ?)", (partial,))
        db.execute("INSERT INTO rescores VALUES ('old-run', 'watttime', 6.0, 0.02, 400.0,"
                   " 'marginal', ?)", (full,))


def test_a_v3_file_gets_honest_defaults_for_what_it_never_said(tmp_path):
    path = tmp_path / "wattprint.db"
    make_v3_store(path)
    store = Store(path, host_id="x", hostname="x")
    try:
        assert store.schema_version == SCHEMA_VERSION
        records = store.records("old-run")
        assert [(r.seq, r.intensity_kind) for r in records] == [
            (0, "average"), (1, "average"), (2, None)]  # "unavailable" was no intensity
        assert {(r.intensity_basis, r.intensity_scope, r.intensity_gases)
                for r in records} == {(None, None, None)}  # unknown, not guessed
        assert records[2].components[0].share == 0.5
        assert records[2].components[0].share_basis is None
        # the rescore that left an average record uncovered mixed kinds; the other did not
        assert [(r["created_s"], r["kind"], r["intensity_g_per_kwh"])
                for r in store.rescores("old-run")] == [(5.0, "mixed", None),
                                                        (6.0, "marginal", 400.0)]
        summary = store.summary("old-run")  # a v1 run's summary is rebuilt from its records
        assert summary.intensity["kind"] == "average"
        assert summary.intensity["g_per_kwh"] == pytest.approx(36.0)  # 50 J unscored stay out
        assert summary.intensity["by_kind"][-1]["kind"] is None
    finally:
        store.close()


def test_v4_records_keep_their_labels_and_a_missing_kind(tmp_path):
    from dataclasses import replace

    store = Store(tmp_path / "wattprint.db")
    try:
        batch = storekit.run_batch("new-run")
        store.export(batch)
        (first, *_) = store.records("new-run")
        labelled = replace(first, seq=first.seq + 100, intensity_basis="consumption",
                           intensity_scope="direct", intensity_gases="CO2")
        unscored = replace(first, seq=first.seq + 101, intensity_kind=None, emissions_g=0.0)
        store.export([labelled, unscored])
        got = {r.seq: r for r in store.records("new-run")}
        assert got[labelled.seq] == labelled and got[unscored.seq] == unscored
    finally:
        store.close()


def test_a_v4_file_gets_the_predictions_table_and_keeps_its_runs(tmp_path):
    # a real v4 file (before predictions): v1 + migrations 2 to 4
    from wattprint.records import Prediction

    path = tmp_path / "wattprint.db"
    make_v3_store(path)
    with sqlite3.connect(path) as db:
        db.executescript(MIGRATIONS[3])
        db.execute("PRAGMA user_version=4")
    store = Store(path, host_id="x", hostname="x")
    try:
        assert store.schema_version == SCHEMA_VERSION == 5
        assert [r.seq for r in store.records("old-run")] == [0, 1, 2]
        assert store.prediction("old-run") is None  # it never made one
        later = Prediction(
            run_id="old-run", seq=1, at_s=storekit.T0, unit="steps", done=30.0, total=100.0,
            level=0.9, duration_s=100.0, duration_low_s=95.0, duration_high_s=105.25,
            energy_j=30_000.0, energy_low_j=28_500.0, energy_high_j=31_575.0,
            emissions_g=3.3333333333333335, emissions_low_g=3.1666666666666665,
            emissions_high_g=3.5083333333333333, end_s=storekit.T0 + 70.0,
            seconds_per_unit=1.0, energy_j_per_unit=300.0, regime_start_s=storekit.T0 - 30.0,
            regime_intervals=3, rebased=1)
        earlier = replace(later, seq=0, done=20.0, energy_j=29_000.0)
        store.export([later, earlier])  # a replayed older batch never wins
        assert store.prediction("old-run") == later
        store.export([replace(later, seq=2, done=40.0)])
        assert store.prediction("old-run") == replace(later, seq=2, done=40.0)
    finally:
        store.close()
    with sqlite3.connect(path) as db:
        assert columns(db, "predictions") == [
            "run_id", "seq", "at_s", "unit", "done", "total", "duration_s", "energy_j",
            "emissions_g", "end_s", "prediction_json"]
