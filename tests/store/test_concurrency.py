"""Many real processes opening, migrating and writing one store at the same instant."""

from __future__ import annotations

import multiprocessing
import sqlite3
import traceback
from pathlib import Path
from typing import Any

import pytest
import storekit

from wattprint.errors import StoreError
from wattprint.sinks.sqlite import SqliteSink
from wattprint.store import Store, open_repository
from wattprint.store.schema import SCHEMA_VERSION

RANKS = 16
TRIALS = 6
RECORDS = 4

_ctx = multiprocessing.get_context("fork")


def _rank(rank: int, paths: list[str], barrier: Any, errors: Any) -> None:
    """One rank: for each trial, wait for all ranks, then open the store and write a run."""
    for trial, path in enumerate(paths):
        barrier.wait()
        sink = SqliteSink(Path(path), per_node=False)
        try:
            sink.export(storekit.run_batch(f"t{trial}-rank{rank:02d}", n=RECORDS))
        except BaseException:
            errors.put(f"trial {trial} rank {rank}: {traceback.format_exc()}")
        finally:
            sink.close()


def _race(paths: list[Path]) -> list[str]:
    barrier = _ctx.Barrier(RANKS)
    errors = _ctx.Queue()
    procs = [_ctx.Process(target=_rank, args=(rank, [str(p) for p in paths], barrier, errors))
             for rank in range(RANKS)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=60)
    found = []
    while not errors.empty():
        found.append(errors.get())
    assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]
    return found


def _check_trial(path: Path, trial: int) -> None:
    repo = open_repository(path, host_id="x", hostname="x")
    try:
        runs = repo.runs(limit=1000).items
        mine = sorted(r.run_id for r in runs if r.run_id.startswith(f"t{trial}-"))
        assert mine == [f"t{trial}-rank{rank:02d}" for rank in range(RANKS)]
        assert {r.status for r in runs if r.run_id in mine} == {"finished"}
        for run_id in mine:
            assert [r.seq for r in repo.records(run_id)] == list(range(1, RECORDS + 1))
            assert [s.count for s in repo.spans(run_id)] == [3]
    finally:
        repo.close()
    assert not [p for p in path.parent.iterdir() if ".corrupt-" in p.name]  # none moved aside
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.slow
def test_sixteen_ranks_racing_on_a_fresh_store_lose_nothing(tmp_path):
    paths = [tmp_path / f"trial{t}" / "wattprint.db" for t in range(TRIALS)]
    assert _race(paths) == []
    for trial, path in enumerate(paths):
        _check_trial(path, trial)


@pytest.mark.slow
def test_sixteen_ranks_racing_on_a_v1_store_migrate_it_once_and_keep_its_run(tmp_path):
    paths = [tmp_path / f"trial{t}" / "wattprint.db" for t in range(TRIALS)]
    for path in paths:
        storekit.make_v1_store(path)
    assert _race(paths) == []
    for trial, path in enumerate(paths):
        _check_trial(path, trial)
        store = Store(path, host_id="x", hostname="x")
        try:
            old = store.summary("old-run")  # finished before: rebuilt from its stored summary?
            assert old.run_id == "old-run"
            assert [r.seq for r in store.records("old-run")] == [0, 1]
            assert [r.energy_j for r in store.records("old-run")] == [100.0, 200.0]
            assert store.runs().items[-1].run_id == "old-run"
            (epoch,) = store.spans("old-run")
            assert (epoch.count, epoch.energy_j, epoch.energy_min_j, epoch.boundary) == (
                1, 300.0, 300.0, "exact")
        finally:
            store.close()


def _hold_lock(path: str, held: Any, release: Any) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    held.set()
    release.wait(30)
    db.execute("COMMIT")
    db.close()


@pytest.mark.slow
def test_export_while_another_process_holds_the_lock_fails_whole_then_retries_exactly(tmp_path):
    path = tmp_path / "wattprint.db"
    Store(path).close()  # created and migrated: the holder only takes the write lock
    held, release = _ctx.Event(), _ctx.Event()
    holder = _ctx.Process(target=_hold_lock, args=(str(path), held, release))
    holder.start()
    try:
        assert held.wait(10)
        sink = SqliteSink(path, per_node=False, busy_timeout_s=0.2)
        batch = storekit.run_batch("locked", n=5)
        with pytest.raises(StoreError, match="locked by another process.*retry"):
            sink.export(batch)
        with sqlite3.connect(path) as db:  # nothing half-written
            assert db.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
    finally:
        release.set()
        holder.join(10)
    sink.export(batch)  # the exporter's retry
    sink.export(batch)  # and a duplicate delivery (from the spool, say)
    sink.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
        assert db.execute("SELECT count(*) FROM records").fetchone()[0] == 5
        assert db.execute("SELECT count(*) FROM spans").fetchone()[0] == 1
