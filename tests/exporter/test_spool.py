"""The on-disk spool: atomic files, claims by rename, crashes, concurrent deliverers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from exporter_helpers import FlakySink, make_info, make_record, make_summary

from wattprint.records import Record, RunInfo
from wattprint.sinks.memory import MemorySink
from wattprint.spool import Spool, spool_dir

WORKER = str(Path(__file__).resolve().parent / "spool_worker.py")


class FakeWall:
    def __init__(self, now_s: float = 1_767_225_600.0) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


def test_write_is_one_run_per_file_info_first_and_delivers_oldest_first(spool_root):
    spool = Spool(spool_root)
    info = make_info()
    first = spool.write("sqlite", info, [make_record(0), make_record(1)])
    second = spool.write("sqlite", info, [make_record(2), make_summary()])
    assert first.parent == spool_root / "sqlite" and first.name < second.name
    lines = [json.loads(line) for line in first.read_text().splitlines()]
    assert [line["type"] for line in lines] == ["run", "record", "record"]
    assert all("schema_version" in line for line in lines)
    listed = spool.pending()
    assert [(f.sink, f.run_id, f.items, f.state) for f in listed] == [
        ("sqlite", info.run_id, 3, "pending"), ("sqlite", info.run_id, 3, "pending")]
    sink = MemorySink()
    report = spool.deliver(lambda name: sink)
    assert report.ok and report.delivered == [first, second] and report.items == 6
    assert [r.seq for r in sink.records] == [0, 1, 2] and sink.summary is not None
    assert sink.run == info and sink.batches == 2 and sink.closed
    assert spool.pending() == [] and list((spool_root / "sqlite").iterdir()) == []


def test_a_failing_sink_gets_its_file_back_and_the_rest_are_not_tried(spool_root):
    spool = Spool(spool_root)
    a = spool.write("csv", make_info(), [make_record(0)])
    b = spool.write("csv", make_info(), [make_record(1)])
    sink = FlakySink("csv", forever=OSError("disk full"))
    report = spool.deliver(lambda name: sink)
    assert not report.ok and report.failed == [(a, "OSError: disk full")]
    assert len(sink.attempts) == 1
    assert [(f.path, f.state) for f in spool.pending()] == [(a, "pending"), (b, "pending")]


def test_a_sink_that_cannot_be_made_leaves_its_files_alone(spool_root):
    spool = Spool(spool_root)
    path = spool.write("postgres", make_info(), [make_record(0)])

    def make(name):
        raise LookupError(f"no sink {name}")

    report = spool.deliver(make)
    assert report.failed == [(path, "sink 'postgres' could not be created: no sink postgres")]
    assert path.exists()


def test_an_unreadable_file_is_moved_aside_never_deleted(spool_root):
    spool = Spool(spool_root)
    good = spool.write("csv", make_info(), [make_record(0)])
    bad = spool_root / "csv" / "0000.0.000001.jsonl"
    bad.write_text('{"type": "run"}\nnot json\n')
    sink = MemorySink()
    report = spool.deliver(lambda name: sink)
    assert report.delivered == [good]
    aside = bad.with_name(bad.name + ".unreadable")
    assert [p for p, _ in report.unreadable] == [aside] and aside.read_text().endswith("not json\n")
    assert "moved aside" in report.unreadable[0][1]
    assert [(f.path, f.state) for f in spool.pending()] == [(aside, "unreadable")]
    assert spool.deliver(lambda name: sink).unreadable == []  # not retried in a loop


def test_a_claim_left_by_a_crashed_deliverer_is_reclaimed_after_the_timeout(spool_root):
    wall = FakeWall()
    crashed = Spool(spool_root, clock=wall, stale_claim_s=600)
    path = crashed.write("csv", make_info(), [make_record(0)])
    claim = next(crashed.claims("csv"))  # ... and the process dies before done() or release()
    assert not path.exists() and claim.path.exists()
    assert [f.state for f in crashed.pending()] == ["claimed"]
    later = Spool(spool_root, clock=wall, stale_claim_s=600)
    sink = MemorySink()
    wall.now_s += 599
    assert later.deliver(lambda name: sink).delivered == []
    wall.now_s += 2
    assert later.deliver(lambda name: sink).delivered == [path]
    assert [r.seq for r in sink.records] == [0] and later.pending() == []
    claim.done()  # the slow original deliverer finishing late must not fail


def test_a_writer_killed_mid_write_leaves_no_visible_file(spool_root, tmp_path):
    marker = tmp_path / "marker"
    child = subprocess.Popen([sys.executable, WORKER, "write-forever", str(spool_root), str(marker)])
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert child.poll() is None and time.monotonic() < deadline
            time.sleep(0.005)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    temps = [p for p in (spool_root / "csv").iterdir()]
    assert len(temps) == 1 and temps[0].name.startswith(".") and ".tmp-" in temps[0].name
    assert temps[0].stat().st_size > 0  # it really died with a half-written file
    spool = Spool(spool_root)
    assert spool.pending() == []
    assert spool.deliver(lambda name: MemorySink()).delivered == []
    assert spool.cleanup() == []  # too fresh: it could be a live writer
    old_s = time.time() - 7200
    os.utime(temps[0], (old_s, old_s))
    assert spool.cleanup() == temps and list((spool_root / "csv").iterdir()) == []


@pytest.mark.slow
def test_concurrent_deliverers_deliver_each_file_exactly_once(spool_root, tmp_path):
    spool = Spool(spool_root)
    expected = set()
    for run in range(40):
        run_id = f"{run:032x}"
        records = [make_record(seq, run_id) for seq in range(3)]
        spool.write("csv", make_info(run_id), records)
        expected |= {f"{run_id}:{seq}" for seq in range(3)}
    log, go = tmp_path / "delivered.log", tmp_path / "go"
    children = [subprocess.Popen([sys.executable, WORKER, "deliver", str(spool_root), str(log),
                                  str(go)]) for _ in range(4)]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("ready-*"))) < 4:  # all imported and waiting
        assert time.monotonic() < deadline and all(c.poll() is None for c in children)
        time.sleep(0.005)
    go.write_text("go")
    assert [child.wait(60) for child in children] == [0, 0, 0, 0]
    lines = log.read_text().splitlines()
    keys = [key for line in lines for key in line.split()[1:]]
    assert len(lines) == 40 and sorted(keys) == sorted(expected)  # each exactly once
    assert len({line.split()[0] for line in lines}) >= 2  # they really did overlap
    assert spool.pending() == []


def test_write_leaves_out_heartbeats_and_extra_infos(spool_root):
    from wattprint.records import Heartbeat

    spool = Spool(spool_root)
    info = make_info()
    path = spool.write("csv", info, [info, Heartbeat(info.run_id, 1.0, 30.0), make_record(0)])
    claim = next(spool.claims("csv"))
    items = claim.items()
    claim.release()
    assert [type(i) for i in items] == [RunInfo, Record] and path.exists()


def test_deliver_max_files_and_names(spool_root):
    spool = Spool(spool_root)
    spool.write("csv", make_info(), [make_record(0)])
    spool.write("csv", make_info(), [make_record(1)])
    spool.write("jsonl", make_info(), [make_record(2)])
    sink = MemorySink()
    assert len(spool.deliver(lambda name: sink, names=["csv"], max_files=1).delivered) == 1
    assert sorted(f.sink for f in spool.pending()) == ["csv", "jsonl"]
    spool.deliver(lambda name: sink, names=["csv"])
    assert [f.sink for f in spool.pending()] == ["jsonl"]
    assert [r.seq for r in sink.records] == [0, 1]


def test_spool_dir_is_under_the_configured_home(tmp_path):
    from wattprint.config import load_config

    config = load_config({"home": str(tmp_path / "h")}, environ={})
    assert spool_dir(config) == tmp_path / "h" / "spool"
    assert spool_dir(load_config(environ={"WATTPRINT_HOME": str(tmp_path / "w")})) == \
        tmp_path / "w" / "spool"


def test_two_threads_spooling_through_one_spool_never_overwrite_each_other(spool_root):
    import threading

    spool = Spool(spool_root)
    info = make_info()

    def write_many(start):
        for seq in range(start, start + 50):
            spool.write("csv", info, [make_record(seq)])

    threads = [threading.Thread(target=write_many, args=(start,)) for start in (0, 1000)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sink = MemorySink()
    assert len(spool.deliver(lambda name: sink).delivered) == 100
    assert sorted(r.seq for r in sink.records) == [*range(50), *range(1000, 1050)]
