"""The log sink: one JSON line per record (and one for the summary) through the logger
'wattprint.records', at the configured level, adding no handler anywhere."""

from __future__ import annotations

import json
import logging

import pytest

from wattprint.config import load_config
from wattprint.sinks.logs import LOGGER_NAME, LogSink, from_config
from wattprint.sinks.memory import MemorySink


class Capture(logging.Handler):
    def __init__(self, level=logging.NOTSET):
        super().__init__(level)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def captured():
    handler = Capture()
    logger = logging.getLogger(LOGGER_NAME)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def test_one_json_line_per_record_with_units_in_names(make_tracker, clock, captured):
    root_handlers = list(logging.getLogger().handlers)
    memory = MemorySink()
    tracker = make_tracker(LogSink(), memory, pue=1.2)
    tracker.start()
    clock.advance(30.0)
    tracker.flush()
    clock.advance(30.0)
    summary = tracker.stop()
    lines = [json.loads(r.getMessage()) for r in captured.records]
    records = [line for line in lines if line["event"] == "wattprint.record"]
    assert [line["seq"] for line in records] == [r.seq for r in memory.records]
    for line, record in zip(records, memory.records, strict=True):
        assert line["energy_j"] == record.energy_j and line["emissions_g"] == record.emissions_g
        assert line["cpu_energy_j"] == record.cpu_energy_j
        assert line["project"] == "vision" and line["run_id"] == tracker.run_id
        assert {d["device"]: d["method"] for d in line["devices"]} == {
            "fake:cpu": "measured", "fake:gpu": "sampled", "fake:ram": "modelled"}
    assert sum(line["gpu_energy_j"] for line in records) == summary.energy_j["gpu"]
    (last,) = [line for line in lines if line["event"] == "wattprint.summary"]
    assert last["total_energy_j"] == summary.energy_j["total"]
    assert last["emissions_g"] == summary.emissions_g and last["status"] == "finished"
    # the same fields for handlers that build their own JSON
    assert captured.records[0].wattprint == json.loads(captured.records[0].getMessage())
    assert {r.levelno for r in captured.records} == {logging.INFO}
    numbers = {k for line in lines for k, v in line.items()
               if isinstance(v, float) and k not in ("pue",)}
    assert all(k.endswith(("_j", "_s", "_g", "_per_kwh")) for k in numbers), numbers
    assert logging.getLogger().handlers == root_handlers  # nothing added to the root logger


def test_the_level_is_configurable_and_a_retry_logs_nothing_twice(make_tracker, clock, captured):
    memory = MemorySink()
    tracker = make_tracker(memory)
    tracker.start()
    clock.advance(10.0)
    tracker.stop()
    sink = from_config(load_config(overrides={"log_records_level": "debug"}, environ={}))
    batch = [memory.run, *memory.records]
    sink.export(batch)
    sink.export(batch)  # delivered again by the exporter
    assert [r.levelno for r in captured.records] == [logging.DEBUG] * len(memory.records)
    captured.setLevel(logging.INFO)  # a handler at INFO, as most programs have, sees none
    captured.records.clear()
    LogSink(level="debug").export(batch)
    assert captured.records == []


def test_chosen_by_name_in_the_sinks_setting():
    from wattprint.sinks import make_sink

    config = load_config(overrides={"sinks": "log,sqlite"}, environ={})
    assert config.sinks == ("log", "sqlite")
    assert isinstance(make_sink("log", config), LogSink)


def test_a_bad_level_says_what_is_allowed():
    from wattprint.errors import ConfigError

    with pytest.raises(ConfigError, match="debug, info or warning"):
        load_config(overrides={"log_records_level": "loud"}, environ={})
