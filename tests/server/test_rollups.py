"""Rollups kept at ingest equal the sums of the stored records, split by UTC hour pro rata of
time, under retried and reordered batches and under real processes racing on one database;
rebuild() recomputes the same from the records table. The detail rollups (rollup_details.py)
are checked through what they serve: each run's summary so far built from the rollups alone
(dashboard/live_summary.py) equals summarize() over its stored records in every field."""

from __future__ import annotations

import math
import multiprocessing
import random

import pytest
from sqlalchemy import select

from wattprint.server import rollups
from wattprint.server.db import make_engine
from wattprint.server.ingest import store_batch
from wattprint.server.models import Base, IntervalRecord, RollupRun, RollupRunHour
from wattprint.server.validate import WireValidator

HOUR_S = 3600
T0_S = 1_767_225_600.0  # 2026-01-01 00:00 UTC
SUMS = ("records", "duration_s", "energy_j", "cpu_energy_j", "gpu_energy_j", "ram_energy_j",
        "other_energy_j", "emissions_g", "cpu_emissions_g", "gpu_emissions_g",
        "ram_emissions_g", "other_emissions_g")


def wire_record(run_id: str, seq: int, start_s: float, duration_s: float, *, cpu_j: float,
                gpu_j: float, ram_j: float = 0.0, grams: float, kind: str | None) -> dict:
    # shares, bases, gaps and work vary with seq (no random draw: the records stay the same)
    components = [{"component": comp, "device": f"fake:{comp}", "method": "measured",
                   "energy_j": energy, "share": 1.0 - (seq % 3) / 4,
                   "share_basis": ("whole", "measured", None)[seq % 3]}
                  for comp, energy in (("cpu", cpu_j), ("gpu", gpu_j), ("ram", ram_j))]
    return {"run_id": run_id, "seq": seq, "start_s": start_s, "duration_s": duration_s,
            "cpu_energy_j": cpu_j, "gpu_energy_j": gpu_j, "ram_energy_j": ram_j,
            "other_energy_j": 0.0, "energy_j": cpu_j + gpu_j + ram_j, "pue": 1.0,
            "emissions_g": grams, "intensity_g_per_kwh": 360.0, "intensity_zone": "XX",
            "intensity_source": "test table", "intensity_year": 2024, "intensity_kind": kind,
            "intensity_live": False, "intensity_basis": "generation",
            "intensity_scope": "lifecycle", "intensity_gases": "CO2e",
            "gaps": [f"gap {seq % 4}"] if seq % 5 == 0 else [], "components": components,
            "work": [{"unit": "step", "count": 1 + seq % 2}], "type": "record",
            "schema_version": 3}


def random_records(rng: random.Random, *, runs: int, per_run: int,
                   span_s: float = 3 * 24 * HOUR_S) -> list[dict]:
    """Records of ``runs`` runs: random starts, lengths from 0 s to 3 h (many crossing an hour
    boundary, some several), random energies, both kinds of intensity and none."""
    out = []
    for n in range(runs):
        start_s = T0_S + rng.uniform(0, span_s)
        kind = rng.choice(("average", "marginal", None))
        for seq in range(per_run):
            duration_s = rng.choice((0.0, rng.uniform(1, 60), rng.uniform(60, 4000),
                                     rng.uniform(4000, 3 * HOUR_S)))
            if rng.random() < 0.1:  # exactly on the hour
                start_s = math.ceil(start_s / HOUR_S) * HOUR_S
            cpu_j, gpu_j = rng.uniform(0, 5e4), rng.choice((0.0, rng.uniform(0, 2e5)))
            grams = (cpu_j + gpu_j) * rng.uniform(1e-5, 1e-4)
            out.append(wire_record(f"run-{n:03d}", seq, start_s, duration_s, cpu_j=cpu_j,
                                   gpu_j=gpu_j, grams=grams,
                                   kind=kind if rng.random() < 0.9 else "average"))
            start_s += duration_s + rng.choice((0.0, 0.0, rng.uniform(0, 2 * HOUR_S)))
    return out


def expected_rollups(records: list[dict]) -> tuple[dict, dict]:
    """The rollups computed plainly: per run (and kind), and per run, hour and kind, a record
    split over the hours it has time in, its count in the hour it starts in."""
    runs: dict = {}
    hours: dict = {}

    def add(table: dict, key: tuple, record: dict, fraction: float, count: int) -> None:
        row = table.setdefault(key, dict.fromkeys(SUMS, 0.0))
        energy = record["energy_j"]
        for name in ("duration_s", "energy_j", "cpu_energy_j", "gpu_energy_j", "ram_energy_j",
                     "other_energy_j", "emissions_g"):
            row[name] += record[name] * fraction
        for comp in ("cpu", "gpu", "ram", "other"):
            share = record[f"{comp}_energy_j"] / energy if energy > 0 else 0.0
            row[f"{comp}_emissions_g"] += record["emissions_g"] * share * fraction
        row["records"] += count

    for record in records:
        kind = record["intensity_kind"] or ""
        add(runs, (record["run_id"], kind), record, 1.0, 1)
        start, duration = record["start_s"], record["duration_s"]
        first_hour = int(start // HOUR_S) * HOUR_S
        if duration == 0 or start + duration <= first_hour + HOUR_S:  # within one hour
            add(hours, (record["run_id"], first_hour, kind), record, 1.0, 1)
            continue
        hour = first_hour
        while hour < start + duration:
            overlap = min(start + duration, hour + HOUR_S) - max(start, hour)
            if overlap > 0:
                add(hours, (record["run_id"], hour, kind), record, overlap / duration,
                    1 if hour == first_hour else 0)
            hour += HOUR_S
    return runs, hours


def stored_rollups(connection) -> tuple[dict, dict]:
    runs = {(row.run_id, row.intensity_kind): {name: getattr(row, name) for name in SUMS}
            for row in connection.execute(select(RollupRun.__table__))}
    hours = {(row.run_id, row.hour_start_s, row.intensity_kind):
             {name: getattr(row, name) for name in SUMS}
             for row in connection.execute(select(RollupRunHour.__table__))}
    return runs, hours


def assert_same(actual: dict, expected: dict) -> None:
    assert set(actual) == set(expected)
    for key, row in expected.items():
        for name, value in row.items():
            assert actual[key][name] == pytest.approx(value, rel=1e-9, abs=1e-6), (key, name)


def assert_summaries_so_far_exact(connection, records: list[dict]) -> None:
    """Each run's summary so far from the rollups equals summarize() over its records."""
    from wattprint.records import Record, RunInfo, summarize
    from wattprint.server.dashboard.live_summary import LIVE_WARNING, summary_so_far

    unique = {(r["run_id"], r["seq"]): r for r in records}
    for run_id in sorted({run for run, _ in unique}):
        info = RunInfo(run_id=run_id, project="p", experiment="e", started_s=T0_S,
                       interval_s=1.0, location={}, pue=1.0, scope="process", host={},
                       devices=(), skipped=())
        mine = [Record.from_row(row) for key, row in sorted(unique.items()) if key[0] == run_id]
        want = summarize(info, mine, status="running").to_json()
        got = summary_so_far(connection, run_id, info, spans=(), status="running",
                             records=lambda: pytest.fail("read the records"),
                             max_records=0).to_json()
        assert list(got.pop("warnings")) == [LIVE_WARNING]
        del want["warnings"]
        _close(got, want, run_id)


def _close(got, want, where) -> None:
    if isinstance(want, float) and isinstance(got, float):
        assert got == pytest.approx(want, rel=1e-9, abs=1e-9), where
    elif isinstance(want, dict):
        assert sorted(got) == sorted(want), where
        for key in want:
            _close(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want), where
        for i, (a, b) in enumerate(zip(got, want, strict=True)):
            _close(a, b, f"{where}[{i}]")
    else:
        assert got == want, (where, got, want)


def store(engine, objects: list[dict], project_id: int) -> None:
    validator = WireValidator()
    checked = [validator.check(index, obj) for index, obj in enumerate(objects)]
    with engine.begin() as connection:
        store_batch(connection, checked, project_id=project_id, now_s=T0_S)


def batches(rng: random.Random, objects: list[dict], size: int) -> list[list[dict]]:
    return [objects[start:start + size] for start in range(0, len(objects), size)]


def test_rollups_equal_the_records_under_retried_and_reordered_batches(engine, org):
    rng = random.Random(10)
    records = random_records(rng, runs=12, per_run=40)
    sent = records + rng.sample(records, 150)  # a retry of part of it, in another order
    rng.shuffle(sent)
    for batch in batches(rng, sent, 97):
        store(engine, batch, org.project_id)
    store(engine, records[:50], org.project_id)  # a whole batch retried

    with engine.connect() as connection:
        stored_runs, stored_hours = stored_rollups(connection)
        assert connection.execute(select(IntervalRecord.run_id)).all().__len__() == len(records)
    runs, hours = expected_rollups(records)
    assert_same(stored_runs, runs)
    assert_same(stored_hours, hours)
    # whole hours add up to whole runs
    per_run: dict = {}
    for (run_id, _hour, kind), row in stored_hours.items():
        per_run[(run_id, kind)] = per_run.get((run_id, kind), 0.0) + row["energy_j"]
    assert per_run == pytest.approx({key: row["energy_j"] for key, row in stored_runs.items()})
    with engine.connect() as connection:
        assert_summaries_so_far_exact(connection, records)


def test_rebuild_recomputes_the_same_rollups_from_the_records(engine, org):
    rng = random.Random(11)
    records = random_records(rng, runs=5, per_run=30)
    store(engine, records, org.project_id)
    with engine.connect() as connection:
        kept = stored_rollups(connection)

    with engine.begin() as connection:
        read = rollups.rebuild(connection)
        rebuilt = stored_rollups(connection)

        detail_tables = [table for table in Base.metadata.sorted_tables
                         if table.name.startswith("rollup_run_") and table.name != "rollup_run_hours"]
        assert len(detail_tables) == 4
        assert all(connection.execute(select(table)).first() for table in detail_tables)
        assert_summaries_so_far_exact(connection, records)

    assert read == len(records)
    assert_same(rebuilt[0], kept[0])
    assert_same(rebuilt[1], kept[1])


def test_a_record_across_hours_is_split_by_its_time_in_each(engine, org):
    # 30 min in hour 0, 60 min in hour 1, 30 min in hour 2: 7,200 J at an even 1 W... x 1
    start = T0_S + 1800.0
    store(engine, [wire_record("long", 0, start, 7200.0, cpu_j=7200.0, gpu_j=0.0, grams=72.0,
                               kind="average")], org.project_id)

    with engine.connect() as connection:
        _, hours = stored_rollups(connection)

    assert {key[1] - T0_S: (row["energy_j"], row["emissions_g"], row["records"], row["duration_s"])
            for key, row in hours.items()} == {
        0.0: (pytest.approx(1800.0), pytest.approx(18.0), 1, pytest.approx(1800.0)),
        3600.0: (pytest.approx(3600.0), pytest.approx(36.0), 0, pytest.approx(3600.0)),
        7200.0: (pytest.approx(1800.0), pytest.approx(18.0), 0, pytest.approx(1800.0))}


def _race(db_url: str, project_id: int, parts: list[list[dict]], start) -> None:
    engine = make_engine(db_url)
    start.wait()  # every process starts sending at once
    try:
        for part in parts:
            for attempt in range(20):
                try:
                    store(engine, part, project_id)
                    break
                except Exception as exc:  # a deadlock or serialisation refusal is retried
                    if "deadlock" not in str(exc).lower() or attempt == 19:
                        raise
    finally:
        engine.dispose()


def test_processes_racing_with_overlapping_batches_count_each_record_once(engine, org, db_url):
    rng = random.Random(12)
    records = random_records(rng, runs=6, per_run=60)
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = []
    for _ in range(4):  # each sends all the records, in its own order and batch sizes
        mine = rng.sample(records, len(records))
        workers.append(context.Process(target=_race, args=(
            db_url, org.project_id, batches(rng, mine, rng.choice((25, 60, 120))), start)))
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]

    with engine.connect() as connection:
        stored_runs, stored_hours = stored_rollups(connection)
        assert_summaries_so_far_exact(connection, records)
    runs, hours = expected_rollups(records)
    assert_same(stored_runs, runs)
    assert_same(stored_hours, hours)


def test_migration_0003_backfills_the_rollups_of_an_existing_database(db_url):
    from sqlalchemy import insert

    from wattprint.server.accounts import bootstrap
    from wattprint.server.migrate import upgrade
    from wattprint.server.models import Run

    engine = make_engine(db_url)
    try:
        upgrade(engine, "0002")
        records = random_records(random.Random(13), runs=3, per_run=20)
        with engine.begin() as connection:
            org = bootstrap(connection, organisation="Old Lab", email="o@old.test",
                            password="correct horse battery", pepper=b"p", now_s=T0_S)
            for run_id in sorted({r["run_id"] for r in records}):
                connection.execute(insert(Run).values(run_id=run_id, project_id=org.project_id,
                                                      info_received=False, first_seen_s=T0_S))
            skip = ("type", "schema_version")
            connection.execute(insert(IntervalRecord), [
                {k: v for k, v in r.items() if k not in skip} for r in records])

        upgrade(engine)  # 0003 backfills the sums, 0007 the details

        with engine.connect() as connection:
            stored_runs, stored_hours = stored_rollups(connection)
            assert_summaries_so_far_exact(connection, records)
    finally:
        engine.dispose()
    runs, hours = expected_rollups(records)
    assert_same(stored_runs, runs)
    assert_same(stored_hours, hours)


def test_server_migrate_rebuild_rollups_recomputes_them(engine, org, db_url, capsys):
    from sqlalchemy import delete, update

    from wattprint.cli import main
    from wattprint.server.models import (
        RollupRunDevice,
        RollupRunGap,
        RollupRunIntensity,
        RollupRunWork,
    )

    records = random_records(random.Random(14), runs=3, per_run=20)
    store(engine, records, org.project_id)
    with engine.begin() as connection:  # rollups lost or wrong, the records intact
        connection.execute(delete(RollupRunHour))
        connection.execute(delete(RollupRun).where(RollupRun.run_id == "run-000"))
        connection.execute(delete(RollupRunDevice))
        connection.execute(delete(RollupRunGap).where(RollupRunGap.run_id == "run-001"))
        connection.execute(update(RollupRunWork).values(count=0.0))
        connection.execute(update(RollupRunIntensity).values(live=1))

    code = main(["server", "migrate", "--db", db_url, "--rebuild-rollups"])

    assert code == 0
    assert f"rollups rebuilt from {len(records)} records" in capsys.readouterr().err
    with engine.connect() as connection:
        stored_runs, stored_hours = stored_rollups(connection)
        assert_summaries_so_far_exact(connection, records)
    runs, hours = expected_rollups(records)
    assert_same(stored_runs, runs)
    assert_same(stored_hours, hours)
