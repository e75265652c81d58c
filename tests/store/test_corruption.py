"""Damaged store files are moved aside (never overwritten or deleted) and the user is told."""

from __future__ import annotations

import logging
import re
import sqlite3

import pytest
import storekit

from wattprint.sinks.sqlite import SqliteSink
from wattprint.store import Store, open_repository
from wattprint.store.corruption import looks_corrupt, move_aside, moved_aside

GARBAGE = b"this is not a database, just bytes\n" * 200


def _moved(directory):
    return sorted(p for p in directory.iterdir() if ".corrupt-" in p.name)


def test_garbage_is_moved_aside_and_a_fresh_store_is_written(tmp_path, caplog):
    path = tmp_path / "wattprint.db"
    path.write_bytes(GARBAGE)
    with caplog.at_level(logging.WARNING, logger="wattprint.store"):
        store = Store(path)
    (kept,) = _moved(tmp_path)
    assert re.fullmatch(r"wattprint\.db\.corrupt-\d{8}T\d{6}Z", kept.name)
    assert kept.read_bytes() == GARBAGE  # kept byte for byte
    (notice,) = store.notices
    assert "corrupted" in notice and str(kept) in notice and ".recover" in notice
    assert any("corrupted" in r.getMessage() for r in caplog.records)
    store.export(storekit.run_batch())
    assert [r.run_id for r in store.runs().items] == ["r1"]
    store.close()


def _real_store_truncated(path):
    store = Store(path)
    batch = storekit.run_batch("big", n=400)
    store.export(batch)
    store.close()  # the last connection checkpoints the log into the file
    assert not path.with_name(path.name + "-wal").exists()
    size = path.stat().st_size
    with path.open("r+b") as fh:
        fh.truncate(size // 2)
    return size // 2


def test_a_truncated_database_is_detected_before_use(tmp_path):
    path = tmp_path / "wattprint.db"
    half = _real_store_truncated(path)
    assert "truncated" in (looks_corrupt(path) or "")
    sink = SqliteSink(path, per_node=False)
    sink.export(storekit.run_batch("after"))
    sink.close()
    (kept,) = _moved(tmp_path)
    assert kept.stat().st_size == half
    with sqlite3.connect(path) as db:
        assert [r[0] for r in db.execute("SELECT run_id FROM runs")] == ["after"]


def test_read_commands_say_it_is_corrupted_where_it_went_and_what_to_do(tmp_path):
    path = tmp_path / "wattprint.db"
    _real_store_truncated(path)
    repo = open_repository(path, host_id="x", hostname="x")
    try:
        assert repo.runs().items == []
        (notice,) = repo.notices
        (kept,) = _moved(tmp_path)
        assert "was corrupted (truncated" in notice and f"moved to {kept}" in notice
        assert "sqlite3" in notice and ".recover" in notice
    finally:
        repo.close()
    again = open_repository(path, host_id="x", hostname="x")  # later reads still mention it
    assert any(str(kept) in n for n in again.notices)
    again.close()


def test_moving_aside_never_overwrites_an_earlier_copy(tmp_path):
    path = tmp_path / "wattprint.db"
    now_s = storekit.T0
    first = tmp_path / "wattprint.db.corrupt-20260101T000000Z"
    first.write_bytes(b"earlier damage")
    path.write_bytes(GARBAGE)
    path.with_name("wattprint.db-wal").write_bytes(b"its log")
    target = move_aside(path, now_s=now_s)
    assert target == tmp_path / "wattprint.db.corrupt-20260101T000000Z-1"
    assert first.read_bytes() == b"earlier damage"
    assert target.read_bytes() == GARBAGE
    assert (tmp_path / "wattprint.db.corrupt-20260101T000000Z-1-wal").read_bytes() == b"its log"
    assert not path.exists() and not path.with_name("wattprint.db-wal").exists()
    assert moved_aside(tmp_path) == [first, target]
    assert move_aside(path, now_s=now_s) is None  # already gone: nothing to do


@pytest.mark.parametrize("content, reason", [
    (b"", None),
    (b"SQLite format 3\x00", "only 16 bytes"),
    (b"PK\x03\x04" + b"\x00" * 200, "wrong header"),
])
def test_cheap_checks(tmp_path, content, reason):
    path = tmp_path / "wattprint.db"
    path.write_bytes(content)
    found = looks_corrupt(path)
    assert (found is None) if reason is None else (reason in found)


def test_damage_met_while_writing_reopens_and_moves_the_file_aside(tmp_path, monkeypatch):
    import wattprint.store.writer as writer

    path = tmp_path / "wattprint.db"
    sink = SqliteSink(path, per_node=False)
    sink.export([storekit.info("r1")])

    def malformed(db, batch):
        raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(writer, "apply_batch", malformed)
    with pytest.raises(Exception, match="corrupted.*moved aside"):
        sink.export([storekit.record("r1", 1)])
    monkeypatch.undo()
    path.write_bytes(GARBAGE)  # what the damage looked like on disk
    # the sink carries the run's info again, since the fresh store has never seen it
    sink.export([storekit.record("r1", 2)])
    sink.close()
    assert len(_moved(tmp_path)) == 1
    store = Store(path, host_id="x", hostname="x")
    assert [r.seq for r in store.records("r1")] == [2]
    store.close()


def test_a_file_caught_mid_write_is_not_moved_aside(tmp_path, monkeypatch):
    """The header check reads without SQLite's locks: a verdict must hold on a second look."""
    import wattprint.store as store_module

    path = tmp_path / "wattprint.db"
    Store(path).close()
    verdicts = iter(["not an SQLite database (wrong header)"])
    monkeypatch.setattr(store_module, "looks_corrupt", lambda p: next(verdicts, None))
    store = Store(path)
    assert store.notices == [] and _moved(tmp_path) == []
    store.close()
