"""The csv and memory sinks on the batch protocol: all-or-nothing, idempotent on retry."""

from __future__ import annotations

import csv
import errno
import os

import pytest
from exporter_helpers import make_info, make_record, make_span, make_summary

from wattprint.records import RECORD_COLUMNS, Heartbeat, Record
from wattprint.sinks import csv as csv_module
from wattprint.sinks.csv import CsvSink, _SeqSet
from wattprint.sinks.memory import MemorySink


def read_rows(path):
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        return header, [Record.from_row(dict(zip(header, row, strict=True))) for row in reader]


def test_csv_writes_the_record_schema_once_per_record(tmp_path):
    path = tmp_path / "out" / "runs.csv"
    sink = CsvSink(path)
    batch = [make_info(), make_record(0), make_span("a", 1), make_record(1), make_summary()]
    sink.export(batch)
    sink.export(batch)  # the exporter retried a batch that had in fact landed
    sink.export([make_record(2)])
    header, rows = read_rows(path)
    assert tuple(header) == RECORD_COLUMNS
    assert rows == [make_record(0), make_record(1), make_record(2)]
    sink.close()
    again = CsvSink(path)  # a second run appends under the same header
    again.export([make_record(0, run_id="f" * 32)])
    assert [r.run_id[0] for r in read_rows(path)[1]] == ["0", "0", "0", "f"]


def test_csv_refuses_a_foreign_header_and_says_what_to_do(tmp_path):
    foreign = tmp_path / "foreign.csv"
    foreign.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="different column layout.*move it away or set csv_path"):
        CsvSink(foreign).export([make_record(0)])
    assert foreign.read_text() == "a,b\n1,2\n"


def test_a_csv_batch_that_fails_half_way_is_undone_then_retried_whole(tmp_path, monkeypatch):
    path = tmp_path / "out.csv"
    sink = CsvSink(path)
    sink.export([make_record(0)])
    size_before = path.stat().st_size
    real_write = os.write
    calls = []

    def disk_full_half_way(fd, data):
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, bytes(data[: len(data) // 2]))  # a torn row reaches the disk
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(csv_module.os, "write", disk_full_half_way)
    with pytest.raises(OSError, match="No space left"):
        sink.export([make_record(1), make_record(2)])
    monkeypatch.undo()
    assert path.stat().st_size == size_before
    sink.export([make_record(1), make_record(2)])
    assert read_rows(path)[1] == [make_record(0), make_record(1), make_record(2)]


def test_seq_set_merges_ranges():
    seqs = _SeqSet()
    for seq in (5, 3, 4, 10, 0, 1, 2, 9):
        seqs.add(seq)
    assert [s for s in range(12) if s in seqs] == [0, 1, 2, 3, 4, 5, 9, 10]
    assert (seqs._lo, seqs._hi) == ([0, 9], [5, 10])


def test_memory_sink_keeps_latest_span_per_id_in_order_and_records_once():
    sink = MemorySink()
    sink.export([make_info(), make_record(0), make_span("a", 1), make_span("b", 1)])
    sink.export([make_info(), make_record(0), make_record(1), make_span("a", 3),
                 Heartbeat(make_info().run_id, 5.0, 30.0), make_summary()])
    assert sink.run == make_info()
    assert [r.seq for r in sink.records] == [0, 1]
    assert [(s.span_id, s.count) for s in sink.spans] == [("a", 3), ("b", 1)]
    assert [h.at_s for h in sink.heartbeats] == [5.0]
    assert sink.summary == make_summary() and sink.batches == 2
    sink.close()
    assert sink.closed
