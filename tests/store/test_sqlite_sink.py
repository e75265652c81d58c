"""The sqlite sink on the batch protocol: lazy, one transaction a batch, replay-safe."""

from __future__ import annotations

import sqlite3

import storekit

from wattprint.config import load_config
from wattprint.records import summarize
from wattprint.sinks import Sink
from wattprint.sinks.sqlite import SqliteSink, from_config
from wattprint.store import Store


def counts(path):
    with sqlite3.connect(path) as db:
        return tuple(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                     for t in ("runs", "records", "spans"))


def test_it_is_a_sink_and_opens_nothing_until_the_first_export(tmp_path):
    path = tmp_path / "fresh" / "wattprint.db"
    sink = SqliteSink(path, per_node=False)
    assert isinstance(sink, Sink) and sink.name == "sqlite"
    sink.export([])
    assert not path.parent.exists()
    sink.export([storekit.info()])
    assert path.exists() and sink.write_path == path
    sink.close()
    sink.close()  # twice is harmless


def test_from_config_uses_the_configured_store(tmp_path):
    config = load_config({"home": str(tmp_path / "h")})
    sink = from_config(config)
    assert sink.path == config.store_path and sink.per_node
    sink.export([storekit.info()])
    sink.close()
    assert sink.write_path == config.store_path  # a local disk: the one file


def test_a_run_arrives_over_several_batches(tmp_path):
    path = tmp_path / "wattprint.db"
    sink = SqliteSink(path, per_node=False)
    run = storekit.info("r1")
    records = [storekit.record("r1", seq) for seq in range(1, 5)]
    sink.export([run, records[0], storekit.heartbeat("r1", at=storekit.T0 + 1, every=5.0)])
    sink.export(records[1:3])  # later batches do not repeat the run info
    sink.export([records[3], storekit.span(count=4), summarize(run, records, exit_code=0)])
    sink.close()
    assert counts(path) == (1, 4, 1)
    store = Store(path, host_id="x", hostname="x")
    (row,) = store.runs().items
    assert (row.status, row.energy_j, row.ended_s) == ("finished", 400.0, storekit.T0 + 4.0)
    store.close()


def test_exporting_the_same_batch_again_changes_nothing(tmp_path):
    path = tmp_path / "wattprint.db"
    batch = storekit.run_batch("r1", n=6)
    sink = SqliteSink(path, per_node=False)
    sink.export(batch)
    before = sqlite3.connect(path).execute("SELECT * FROM runs").fetchall()
    sink.export(batch)
    sink.close()
    again = SqliteSink(path, per_node=False)  # a later process delivering the spool
    again.export(batch)
    again.close()
    assert counts(path) == (1, 6, 1)
    assert sqlite3.connect(path).execute("SELECT * FROM runs").fetchall() == before


def test_run_info_carries_host_id_tracker_pid_and_a_first_sighting(tmp_path):
    path = tmp_path / "wattprint.db"
    sink = SqliteSink(path, per_node=False)
    sink.export([storekit.info("r1", tracker_pid=777, pid=888, job_id="j9")])
    sink.close()
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT host_id, tracker_pid, pid, job_id, status, heartbeat_s,"
                         " heartbeat_every_s FROM runs").fetchone()
    assert row == (storekit.HOST_ID, 777, 888, "j9", "running", storekit.T0, None)
