"""The http sink against a real local server that implements the ingest CONTRACT
(tests/fakes/ingest_server.py), alone and under a tracker."""

from __future__ import annotations

import json
import logging
import time

import pytest
from run_items import real_run

from fakes.ingest_server import GOOD_KEY, FakeIngestServer
from wattprint.errors import ExportRejected
from wattprint.sinks.http import HttpSink, HttpSinkError
from wattprint.wire import to_wire


@pytest.fixture
def server():
    with FakeIngestServer() as running:
        yield running


def _batch(records: int = 3) -> list:
    """A real tracker's run info, records, a span and summary (valid wire objects)."""
    return real_run(records)


def test_a_batch_reaches_the_server_as_wire_objects_and_a_resend_is_harmless(server):
    sink = HttpSink(server.url, GOOD_KEY)
    batch = _batch()
    sink.export(batch)
    sink.export(batch)  # the exporter may deliver a batch twice
    sink.close()
    run_id = batch[0].run_id
    assert server.runs[run_id] == to_wire(batch[0])
    assert sorted(server.records) == [(run_id, 0), (run_id, 1), (run_id, 2)]
    assert server.records[(run_id, 2)] == to_wire(batch[3])
    assert server.spans[(run_id, "train")] == to_wire(batch[4])
    assert server.summaries[run_id] == to_wire(batch[-1])
    assert server.requests[0]["status"] == 200
    second = server.requests[-1]
    assert second["status"] == 200 and len(second["items"]) == len(batch)
    assert second["headers"]["authorization"] == f"Bearer {GOOD_KEY}"


def test_big_batches_go_in_parts_each_carrying_the_run(server):
    sink = HttpSink(server.url, GOOD_KEY, max_items=4)
    sink.export(_batch(10)[:11])  # the run and its 10 records
    assert len(server.records) == 10
    parts = [r["items"] for r in server.requests]
    assert [len(p) for p in parts] == [5, 5, 3]
    assert all(p[0]["type"] == "run" for p in parts)


def test_a_413_splits_the_batch_until_it_fits(server):
    batch = _batch(16)
    one_record_bytes = len(json.dumps(to_wire(batch[1])))
    server.max_body_bytes = len(json.dumps(to_wire(batch[0]))) + 4 * one_record_bytes
    sink = HttpSink(server.url, GOOD_KEY)
    sink.export(batch)
    assert len(server.records) == 16
    assert 413 in [r["status"] for r in server.requests]


def test_a_single_item_too_large_is_rejected_for_good(server):
    server.max_body_bytes = 10
    with pytest.raises(ExportRejected, match="too large"):
        HttpSink(server.url, GOOD_KEY).export(_batch(1)[1:2])


@pytest.mark.parametrize(("mode", "message"), [
    ("error", "answered 500"),
    ("garbage", "not with {accepted, duplicates} JSON"),
])
def test_a_broken_server_is_a_retryable_error(server, mode, message):
    server.mode = mode
    with pytest.raises(HttpSinkError, match=message):
        HttpSink(server.url, GOOD_KEY).export(_batch())


def test_a_slow_server_times_out_quickly(server):
    server.mode, server.delay_s = "slow", 0.5
    sink = HttpSink(server.url, GOOD_KEY, read_timeout_s=0.1)
    started = time.monotonic()
    with pytest.raises(HttpSinkError, match="no answer .* in time"):
        sink.export(_batch())
    assert time.monotonic() - started < 0.45


def test_a_server_that_is_down_is_a_retryable_error(server):
    server.down()
    with pytest.raises(HttpSinkError, match="cannot reach"):
        HttpSink(server.url, GOOD_KEY).export(_batch())


def test_an_invalid_batch_is_rejected_for_good_with_the_servers_reason(server):
    sink = HttpSink(server.url, GOOD_KEY)
    run = _batch(1)
    bad = to_wire(run[1])
    bad["energy_j"] = "lots"
    with pytest.raises(ExportRejected, match=r"rejected the batch \(400\).*item 1, field energy_j"):
        sink.send([to_wire(run[0]), bad])
    assert server.records == {}  # all or nothing
    server.mode = "reject"
    with pytest.raises(ExportRejected, match="rejected by the test"):
        sink.export(_batch())


def test_the_api_key_is_in_no_message_log_or_repr(server, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "wp_zzzz9999_" + "k" * 43
    sink = HttpSink(server.url, wrong)
    with pytest.raises(HttpSinkError, match="401.*wattprint login") as caught:
        sink.export(_batch())
    assert wrong not in str(caught.value) and wrong not in repr(sink)
    assert wrong not in caplog.text
    server.keys[wrong] = {"read"}
    with pytest.raises(HttpSinkError, match="403.*ingest scope"):
        sink.export(_batch())
