"""The read API keeps each run's record sums between aggregates (the dashboard's overview asks
for them on every load) and sums a run again whenever its records change: a record added by a
live tracker, or one deleted from another connection. Every answer equals a fresh reader's."""

from __future__ import annotations

import sqlite3

import storekit
from storekit import T0

from wattprint.records import summarize
from wattprint.store import RunFilter, Store, open_repository

BYS = ("project", "component", "region", "host", "day")


def fresh(path):
    repo = open_repository(path, host_id="here", hostname="node-here", clock=lambda: T0 + 9e4)
    try:
        return repo.aggregate_many(BYS)
    finally:
        repo.close()


def test_kept_sums_follow_added_and_deleted_records(tmp_path):
    path = tmp_path / "wattprint.db"
    store = Store(path, host_id="here", hostname="node-here", clock=lambda: T0 + 9e4)
    run = storekit.info("done", started=T0, project="vision")
    records = [storekit.record("done", seq, cpu_j=10.0 * seq, gpu_j=1.0) for seq in (1, 2)]
    store.export([run, *records, summarize(run, records)])
    store.export([storekit.info("live", started=T0 + 60, project="nlp"),
                  storekit.record("live", 1, cpu_j=7.0, start=T0 + 60)])
    reader = open_repository(path, host_id="here", hostname="node-here", clock=lambda: T0 + 9e4)
    try:
        first = reader.aggregate_many(BYS)
        assert first == fresh(path)
        assert reader.aggregate_many(BYS) == first  # kept: the same answer again
        # the live run gains a record through the writer: its sums move, the other's stay
        store.export([storekit.record("live", 2, cpu_j=5.0, gpu_j=3.0, start=T0 + 61)])
        grown = reader.aggregate_many(BYS)
        assert grown == fresh(path) and grown != first
        nlp = {a.key: a.energy_j for a in grown["project"]}["nlp"]
        assert nlp == 7.0 + 8.0
        # a record deleted behind the reader's back (another connection): summed again
        with sqlite3.connect(path) as other:
            other.execute("DELETE FROM records WHERE run_id = 'live' AND seq = 1")
        shrunk = reader.aggregate_many(BYS, RunFilter(project="nlp"))
        assert {a.key: a.energy_j for a in shrunk["project"]} == {"nlp": 8.0}
        assert reader.aggregate_many(BYS) == fresh(path)
    finally:
        reader.close()
        store.close()
