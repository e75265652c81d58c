"""The exporter: own worker thread, per-sink backlog and backoff, heartbeats, overflow, close."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from exporter_helpers import (
    RUN_ID,
    FlakySink,
    HangingSink,
    make_info,
    make_record,
    make_span,
    make_summary,
)

from wattprint.exporter import Exporter
from wattprint.records import Heartbeat, Record, RunInfo, RunSummary, SpanRecord
from wattprint.sinks.memory import MemorySink
from wattprint.spool import Spool
from wattprint.wire import from_wire


def make_exporter(sinks, clock, spool=None, **kw):
    kw.setdefault("flush_s", 10.0)
    kw.setdefault("heartbeat_s", 30.0)
    return Exporter(sinks, run_id=RUN_ID, spool=spool, clock=clock, wall_clock=clock.wall_clock, **kw)


def read_spool_file(path):
    return [from_wire(json.loads(line)) for line in path.read_text().splitlines()]


def wait_until(predicate, timeout_s=5.0):
    """Wait for the worker thread to get somewhere (it runs on real time)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "the exporter's worker did not get there in time"
        time.sleep(0.002)


def records_of(items):
    return [i.seq for i in items if isinstance(i, Record)]


def test_sinks_run_on_the_exporter_thread_never_the_callers(clock, tmp_path):
    sink = FlakySink("probe")
    exporter = make_exporter([sink], clock, spool=Spool(tmp_path / "spool"))
    exporter.start(make_info())
    for seq in range(3):
        exporter.submit(make_record(seq))
    assert exporter.flush(timeout_s=5)
    assert exporter.close(make_summary(), timeout_s=5) == {"probe": "delivered"}
    threads = {name for _, name, _ in sink.attempts}
    assert threads == {f"wattprint-exporter-{RUN_ID[:8]}"}
    assert threading.current_thread().name not in threads
    assert sink.closed
    assert records_of(sink.items) == [0, 1, 2]
    assert isinstance(sink.items[0], RunInfo) and isinstance(sink.items[-1], RunSummary)


def test_a_sink_failing_for_a_while_loses_nothing_keeps_order_and_backs_off(clock, tmp_path):
    flaky = FlakySink("sqlite", errors=(OSError("disk full"), OSError("disk full"),
                                        RuntimeError("database is locked")), clock=clock)
    healthy = MemorySink()
    exporter = make_exporter([flaky, healthy], clock, spool=Spool(tmp_path / "spool"),
                             backoff_s=(0.5, 60.0))
    exporter.start(make_info())
    exporter.submit(make_record(0))
    assert exporter.flush() is False  # attempt 1 fails at t=0; the other sink is not held up
    assert records_of(healthy.records) == [0]
    exporter.submit(make_record(1))
    clock.advance(0.2)
    assert exporter.flush() is False  # still backing off: no attempt
    assert len(flaky.attempts) == 1 and records_of(healthy.records) == [0, 1]
    clock.advance(0.3)  # t=0.5: attempt 2 fails, next in 1 s
    exporter.submit(make_record(2))
    assert exporter.flush() is False
    clock.advance(1.0)  # t=1.5: attempt 3 fails, next in 2 s
    assert exporter.flush() is False
    clock.advance(1.9)
    assert exporter.flush() is False and len(flaky.attempts) == 3
    clock.advance(0.1)  # t=3.5: attempt 4 succeeds
    exporter.submit(make_record(3))
    assert exporter.flush() is True
    starts = [t - 1000.0 for t, _, _ in flaky.attempts]
    assert starts == pytest.approx([0.0, 0.5, 1.5, 3.5])
    # every batch before the first success starts with the RunInfo; none after
    assert all(isinstance(batch[0], RunInfo) for _, _, batch in flaky.attempts)
    exporter.submit(make_record(4))
    assert exporter.flush() is True
    assert not isinstance(flaky.accepted[-1][0], RunInfo)
    delivery = exporter.close(make_summary(records=5))
    assert delivery == {"sqlite": "delivered", "memory": "delivered"}
    assert records_of(flaky.items) == [0, 1, 2, 3, 4]
    assert [type(i) for i in flaky.items].count(RunInfo) == 1
    assert isinstance(flaky.items[-1], RunSummary)
    assert exporter.warnings == ["sink sqlite failed 3 time(s) (last: RuntimeError: database is "
                                 "locked) and recovered; its data was kept and delivered"]


def test_a_sink_that_never_recovers_leaves_everything_in_the_spool(clock, tmp_path):
    spool = Spool(tmp_path / "spool")
    broken = FlakySink("sqlite", forever=OSError("disk full"))
    memory = MemorySink()
    exporter = make_exporter([broken, memory], clock, spool=spool)
    exporter.start(make_info())
    for seq in range(5):
        exporter.submit(make_record(seq))
    exporter.submit(make_span("train/step", 1))
    exporter.submit(make_span("train/step", 7))
    assert exporter.flush() is False
    delivery = exporter.close(make_summary(records=5), timeout_s=0.3)
    assert delivery["memory"] == "delivered"
    assert delivery["sqlite"].startswith("spooled: ")
    path = Path(delivery["sqlite"].removeprefix("spooled: "))
    assert path.parent == tmp_path / "spool" / "sqlite"
    items = read_spool_file(path)
    assert isinstance(items[0], RunInfo) and isinstance(items[-1], RunSummary)
    assert records_of(items) == [0, 1, 2, 3, 4]
    assert [s.count for s in items if isinstance(s, SpanRecord)] == [7]  # superseded span
    assert not any(isinstance(i, Heartbeat) for i in items)
    assert any(str(path) in w for w in exporter.warnings)
    assert any("disk full" in w for w in exporter.warnings)
    # once the sink works again, delivering the spool gives it everything exactly once
    fixed = MemorySink()
    report = spool.deliver(lambda name: fixed)
    assert report.ok and report.delivered == [path] and not path.exists()
    assert records_of(fixed.records) == [0, 1, 2, 3, 4] and fixed.summary is not None


def test_a_hung_sink_cannot_hang_close(clock, tmp_path):
    hung, memory = HangingSink(), MemorySink()
    exporter = make_exporter([memory, hung], clock, spool=Spool(tmp_path / "spool"))
    exporter.start(make_info())
    assert hung.entered.wait(5)  # the worker is now stuck inside the hung sink's export
    exporter.submit(make_record(0))
    began = time.monotonic()
    delivery = exporter.close(make_summary(), timeout_s=0.5)
    took_s = time.monotonic() - began
    hung.release.set()
    assert took_s < 1.5
    assert delivery["hung"].startswith("spooled: ")
    # the worker never got back to the memory sink, so its part was spooled too: honestly said
    assert delivery["memory"].startswith("spooled: ")
    assert any("close timeout" in w for w in exporter.warnings)
    files = sorted((tmp_path / "spool" / "hung").glob("*.jsonl"))
    assert len(files) == 1 and records_of(read_spool_file(files[0])) == [0]


def test_close_spools_a_hung_sinks_in_flight_batch_and_delivers_the_others(clock, tmp_path):
    hung, memory = HangingSink(), MemorySink()
    exporter = make_exporter([memory, hung], clock, spool=Spool(tmp_path / "spool"))
    exporter.submit(make_record(0))  # queued before start: part of every sink's first batch
    exporter.start(make_info())
    assert hung.entered.wait(5)
    delivery = exporter.close(None, timeout_s=0.3)
    hung.release.set()
    assert delivery["memory"] == "delivered" and records_of(memory.records) == [0]
    assert delivery["hung"].startswith("spooled: ")
    items = read_spool_file(Path(delivery["hung"].removeprefix("spooled: ")))
    assert isinstance(items[0], RunInfo) and records_of(items) == [0]
    wait_until(lambda: memory.closed)  # the worker closes the sinks once the hung one returns


def test_close_retries_a_sink_that_just_failed_within_its_timeout(clock, tmp_path):
    sink = FlakySink("sqlite")
    exporter = make_exporter([sink], clock, spool=Spool(tmp_path / "spool"), backoff_s=(0.05, 60.0))
    exporter.submit(make_record(0))
    exporter.start(make_info())
    assert exporter.flush() and len(sink.attempts) == 1  # [info, record 0]
    sink.fail_next(RuntimeError("database is locked"), RuntimeError("database is locked"))
    assert exporter.close(make_summary(), timeout_s=5) == {"sqlite": "delivered"}
    assert len(sink.attempts) == 4  # the summary's batch: failed, failed 50 ms later, accepted
    assert records_of(sink.items) == [0] and isinstance(sink.items[-1], RunSummary)


def test_a_sink_failing_for_long_adds_no_retries_to_the_programs_exit(clock, tmp_path):
    broken = FlakySink("sqlite", forever=OSError("disk full"))
    exporter = make_exporter([broken], clock, spool=Spool(tmp_path / "spool"), backoff_s=(10.0, 60.0))
    exporter.start(make_info())
    exporter.submit(make_record(0))
    exporter.flush()
    began = time.monotonic()
    delivery = exporter.close(make_summary(), timeout_s=5)
    assert time.monotonic() - began < 1.0  # its next retry (10 s on) would not fit: spool now
    assert delivery["sqlite"].startswith("spooled: ")


def test_an_item_after_an_idle_spell_waits_no_longer_than_flush_s(clock, tmp_path):
    sink = MemorySink()
    exporter = make_exporter([sink], clock, spool=Spool(tmp_path / "spool"), flush_s=10.0,
                             heartbeat_s=3600.0)
    exporter.start(make_info())
    assert exporter.flush()
    clock.advance(25.0)  # the worker sleeps toward the heartbeat, an hour away
    exporter.submit(make_record(0))  # ... but re-plans: flush_s has long passed, export now
    wait_until(lambda: len(sink.records) == 1)
    exporter.close(None)


def test_heartbeats_follow_the_fake_clock(clock, tmp_path):
    sink = MemorySink()
    exporter = make_exporter([sink], clock, spool=Spool(tmp_path / "spool"), heartbeat_s=30.0)
    exporter.start(make_info())
    assert exporter.flush()
    # the first goes with the run info, so a run has a heartbeat period from its first write
    assert sink.heartbeats == [Heartbeat(run_id=RUN_ID, at_s=clock.wall, every_s=30.0)]
    clock.advance(29.0)
    assert exporter.flush() and len(sink.heartbeats) == 1
    clock.advance(1.0)
    assert exporter.flush()
    assert sink.heartbeats[-1] == Heartbeat(run_id=RUN_ID, at_s=clock.wall, every_s=30.0)
    clock.advance(30.0)
    assert exporter.flush()
    assert [h.at_s for h in sink.heartbeats] == [clock.wall - 60.0, clock.wall - 30.0, clock.wall]
    exporter.close(make_summary())


def test_a_failing_sink_gets_only_the_latest_heartbeat_once_it_recovers(clock, tmp_path):
    flaky = FlakySink("s", errors=(OSError("down"),) * 3, clock=clock)
    exporter = make_exporter([flaky], clock, spool=Spool(tmp_path / "spool"), heartbeat_s=30.0,
                             backoff_s=(1.0, 1.0))
    exporter.start(make_info())
    exporter.flush()  # attempt 1 (at start or at this flush, whichever the worker sees first)
    for _ in range(3):
        clock.advance(30.0)
        exporter.flush()
    assert len(flaky.attempts) == 4 and len(flaky.accepted) == 1
    beats = [i for i in flaky.items if isinstance(i, Heartbeat)]
    assert beats == [Heartbeat(run_id=RUN_ID, at_s=clock.wall, every_s=30.0)]
    exporter.close(None)


def test_spans_with_one_id_are_superseded_within_a_batch(clock, tmp_path):
    sink = FlakySink("s")
    exporter = make_exporter([sink], clock, spool=Spool(tmp_path / "spool"))
    exporter.start(make_info())
    assert exporter.flush()
    exporter.submit(make_span("train/step", 1))
    exporter.submit(make_record(0))
    exporter.submit(make_span("train/eval", 1))
    exporter.submit(make_span("train/step", 2))
    assert exporter.flush()
    batch = sink.accepted[-1]
    assert [(type(i).__name__, getattr(i, "count", None)) for i in batch] == [
        ("Record", None), ("SpanRecord", 1), ("SpanRecord", 2)]
    assert [i.span_id for i in batch if isinstance(i, SpanRecord)] == ["train/eval", "train/step"]
    exporter.close(None)


def test_the_info_is_sent_at_start_and_records_wait_for_the_flush_period(clock, tmp_path):
    sink = MemorySink()
    exporter = make_exporter([sink], clock, spool=Spool(tmp_path / "spool"), flush_s=10.0)
    exporter.start(make_info())
    wait_until(lambda: sink.run is not None)
    assert sink.batches == 1
    exporter.close(make_summary())
    assert sink.summary is not None and sink.closed


def test_queue_overflow_never_blocks_and_spills_to_the_spool(clock, tmp_path):
    hung = HangingSink()
    exporter = make_exporter([hung], clock, spool=Spool(tmp_path / "spool"), max_queue=5)
    exporter.start(make_info())
    assert hung.entered.wait(5)  # the worker is stuck: nothing drains the queue
    began = time.monotonic()
    for seq in range(12):
        exporter.submit(make_record(seq))
    assert time.monotonic() - began < 1.0
    files = sorted((tmp_path / "spool" / "hung").glob("*.jsonl"))
    assert [records_of(read_spool_file(f)) for f in files] == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
    assert any("queue was full" in w and "10 items were spooled" in w for w in exporter.warnings)
    delivery = exporter.close(make_summary(), timeout_s=0.2)
    hung.release.set()
    files = sorted((tmp_path / "spool" / "hung").glob("*.jsonl"))
    assert [records_of(read_spool_file(f)) for f in files] == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9],
                                                                [10, 11]]
    assert delivery["hung"].startswith(f"spooled: {files[0]} (+2 more in ")


def test_a_failing_sinks_backlog_is_bounded_by_spilling_to_the_spool(clock, tmp_path):
    broken = FlakySink("s", forever=OSError("disk full"))
    memory = MemorySink()
    exporter = make_exporter([broken, memory], clock, spool=Spool(tmp_path / "spool"),
                             max_queue=4, backoff_s=(1.0, 1.0), heartbeat_s=0)
    exporter.start(make_info())
    for seq in range(6):
        exporter.submit(make_record(seq))
        clock.advance(1.0)
        exporter.flush()
    files = sorted((tmp_path / "spool" / "s").glob("*.jsonl"))
    assert [records_of(read_spool_file(f)) for f in files] == [[0, 1, 2, 3]]
    assert records_of(memory.records) == [0, 1, 2, 3, 4, 5]
    delivery = exporter.close(None, timeout_s=0.2)
    files = sorted((tmp_path / "spool" / "s").glob("*.jsonl"))
    assert [records_of(read_spool_file(f)) for f in files] == [[0, 1, 2, 3], [4, 5]]
    assert delivery == {"s": f"spooled: {files[0]} (+1 more in {files[0].parent})",
                        "memory": "delivered"}


def test_without_a_usable_spool_the_loss_is_said_and_nothing_raises(clock, tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    broken = FlakySink("s", forever=OSError("disk full"))
    exporter = make_exporter([broken], clock, spool=Spool(not_a_dir))
    exporter.start(make_info())
    exporter.submit(make_record(0))
    delivery = exporter.close(make_summary(), timeout_s=0.1)
    assert delivery["s"].startswith("lost: 2 items (sink s had not accepted them")
    assert "the spool could not be written" in delivery["s"]
    exporter.submit(make_record(1))  # after close: ignored, never raises
    assert exporter.close(None) == delivery


def test_the_next_run_delivers_earlier_spool_files_in_the_background(clock, tmp_path):
    spool = Spool(tmp_path / "spool")
    old = make_info("feedfacefeedfacefeedfacefeedface")
    spool.write("memory", old, [make_record(0, old.run_id), make_record(1, old.run_id)])
    sink = MemorySink()
    exporter = make_exporter([sink], clock, spool=Spool(tmp_path / "spool"))
    exporter.start(make_info())
    wait_until(lambda: len(sink.records) == 2)
    assert [(r.run_id, r.seq) for r in sink.records] == [(old.run_id, 0), (old.run_id, 1)]
    wait_until(lambda: spool.pending() == [])
    assert exporter.close(None) == {"memory": "delivered"}


def test_flush_before_start_and_close_without_start_are_harmless(clock):
    exporter = make_exporter([MemorySink()], clock)
    assert exporter.flush() is True
    assert exporter.close(None) == {"memory": "delivered"}


def test_two_sinks_of_one_name_keep_apart(clock, tmp_path):
    a, b = MemorySink(), MemorySink()
    exporter = make_exporter([a, b], clock, spool=Spool(tmp_path / "spool"))
    assert exporter.sink_names == ["memory", "memory-2"]
    exporter.start(make_info())
    exporter.submit(make_record(0))
    assert exporter.close(None) == {"memory": "delivered", "memory-2": "delivered"}
    assert records_of(a.records) == records_of(b.records) == [0]
