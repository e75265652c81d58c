from __future__ import annotations

import csv
import json

import pytest

from wattprint.records import (
    RECORD_COLUMNS,
    ComponentEnergy,
    Record,
    RunSummary,
    emissions_g,
)
from wattprint.sinks.csv import CsvSink
from wattprint.sinks.jsonl import JsonlSink


def make_record(seq=0):
    return Record(
        run_id="r", seq=seq, start_s=1.5, duration_s=2.0, cpu_energy_j=1.0, gpu_energy_j=2.0,
        ram_energy_j=3.0, other_energy_j=0.0, energy_j=6.0, pue=1.1, emissions_g=0.5,
        intensity_g_per_kwh=300.0, intensity_zone="DE", intensity_source="Ember",
        intensity_year=2025, intensity_kind="average", intensity_live=False,
        components=(ComponentEnergy("cpu", "rapl:package-0", "measured", 1.0),
                    ComponentEnergy("gpu", "nvml:0", "sampled", 2.0, share=0.5)),
        gaps=("nvml:0: read failed",),
    )


def test_emissions_formula():
    # 3.6 MJ = 1 kWh; x 1.5 PUE x 400 g/kWh
    assert emissions_g(3_600_000.0, 400.0, 1.5) == pytest.approx(600.0)


def test_row_round_trip_keeps_every_field():
    original = make_record()
    assert Record.from_row(original.to_row()) == original
    assert list(original.to_row()) == list(RECORD_COLUMNS)


def test_csv_sink_writes_the_shared_schema_and_refuses_a_foreign_header(tmp_path):
    path = tmp_path / "out.csv"
    sink = CsvSink(path)
    sink.export([make_record(0), make_record(1)])
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [Record.from_row(r) for r in rows] == [make_record(0), make_record(1)]
    foreign = tmp_path / "foreign.csv"
    foreign.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="different column layout"):
        CsvSink(foreign).export([make_record(0)])


def test_jsonl_sink_tags_each_line(tmp_path):
    # The sink's own tests are in tests/wire/test_jsonl_sink.py; this pins the tagged lines.
    from wattprint.records import RunInfo
    from wattprint.wire import WIRE_VERSION, from_wire

    path = tmp_path / "out.jsonl"
    sink = JsonlSink(path)
    info = RunInfo(run_id="r", project="p", experiment="e", started_s=0.0, scope="machine",
                   interval_s=5.0, pue=1.1, location={}, host={}, devices=(), skipped=())
    summary = RunSummary(
        run_id="r", project="p", experiment="e", started_s=0.0, duration_s=2.0,
        energy_j={"cpu": 1.0, "gpu": 2.0, "ram": 3.0, "other": 0.0, "total": 6.0},
        emissions_g=0.5, components=(), intensity={}, location={}, pue=1.1, scope="machine",
    )
    sink.export([info, make_record(), summary])
    sink.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["type"] for line in lines] == ["run", "record", "summary"]
    assert {line["schema_version"] for line in lines} == {WIRE_VERSION}
    assert lines[1]["components"][1] == {"component": "gpu", "device": "nvml:0",
                                         "method": "sampled", "energy_j": 2.0, "share": 0.5}
    assert from_wire(lines[2]) == summary
