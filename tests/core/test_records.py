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
                    ComponentEnergy("gpu", "nvml:0", "sampled", 2.0, share=0.5,
                                    share_basis="estimated")),
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
                                         "method": "sampled", "energy_j": 2.0, "share": 0.5,
                                         "share_basis": "estimated"}
    assert from_wire(lines[2]) == summary


# -- run-level figures, recomputed from hand-built records --------------------------------
def interval(seq, energy_j, g_per_kwh, kind, *, pue=1.0, duration_s=10.0, source="Ember",
             scope="lifecycle", gases="CO2e", share=1.0, share_basis="whole"):
    """One record as the recorder builds it: no intensity when ``kind`` is None."""
    from wattprint.records import Record

    scored = kind is not None
    return Record(
        run_id="r", seq=seq, start_s=100.0 + 10 * seq, duration_s=duration_s,
        cpu_energy_j=energy_j, gpu_energy_j=0.0, ram_energy_j=0.0, other_energy_j=0.0,
        energy_j=energy_j, pue=pue,
        emissions_g=emissions_g(energy_j, g_per_kwh, pue) if scored else 0.0,
        intensity_g_per_kwh=g_per_kwh if scored else 0.0,
        intensity_zone="FR" if scored else "", intensity_source=source if scored else "unavailable",
        intensity_year=2024 if scored else None, intensity_kind=kind, intensity_live=False,
        intensity_basis="generation" if scored else None,
        intensity_scope=scope if scored else None, intensity_gases=gases if scored else None,
        components=(ComponentEnergy("cpu", "rapl:package-0", "measured", energy_j, share,
                                    share_basis),),
        gaps=() if scored else ("intensity: unavailable, emissions not counted",),
    )


def summary_of(*records):
    from wattprint.records import RunInfo, summarize

    info = RunInfo(run_id="r", project="p", experiment="e", started_s=100.0, scope="process",
                   interval_s=10.0, pue=1.0, location={}, host={},
                   devices=({"device": "rapl:package-0", "detail": "package 0"},), skipped=())
    return summarize(info, records)


def test_the_mean_intensity_is_over_intervals_that_had_one():
    # 0.18 kWh at 400 g/kWh, then 0.0036 kWh whose lookup failed: 72 g over 0.18 kWh is 400,
    # not 72 g over 0.1836 kWh (392.2) as when unscored energy sat in the denominator
    summary = summary_of(interval(0, 648_000.0, 400.0, "average"),
                         interval(1, 12_960.0, 0.0, None))
    assert summary.emissions_g == pytest.approx(72.0)
    assert summary.energy_j["total"] == pytest.approx(660_960.0)  # the energy still counts
    assert summary.intensity["g_per_kwh"] == pytest.approx(400.0)
    assert summary.intensity["kind"] == "average"
    assert (summary.intensity["source"], summary.intensity["zone"]) == ("Ember", "FR")
    assert summary.intensity["by_kind"] == [
        {"kind": "average", "records": 1, "duration_s": 10.0, "energy_j": 648_000.0,
         "emissions_g": pytest.approx(72.0), "g_per_kwh": pytest.approx(400.0)},
        {"kind": None, "records": 1, "duration_s": 10.0, "energy_j": 12_960.0,
         "emissions_g": 0.0, "g_per_kwh": None}]
    assert "intensity: unavailable, emissions not counted" in summary.gaps


def test_a_marginal_run_whose_last_tick_had_no_intensity_stays_marginal():
    summary = summary_of(interval(0, 3_600_000.0, 500.0, "marginal", source="watttime",
                                  scope="direct", gases="CO2"),
                         interval(1, 3_600_000.0, 520.0, "marginal", source="watttime",
                                  scope="direct", gases="CO2"),
                         interval(2, 1_000.0, 0.0, None))
    intensity = summary.intensity
    assert intensity["kind"] == "marginal"  # the kind of every counted interval, not the last's
    assert intensity["g_per_kwh"] == pytest.approx(510.0)  # (500 + 520) g / 2 kWh
    assert (intensity["scope"], intensity["gases"], intensity["basis"]) == (
        "direct", "CO2", "generation")
    assert intensity["varied"] is True


def test_a_run_of_mixed_kinds_says_so_and_lists_each_kind_apart():
    summary = summary_of(interval(0, 3_600_000.0, 200.0, "average", pue=1.5),
                         interval(1, 1_800_000.0, 600.0, "marginal", scope="direct", gases="CO2"),
                         interval(2, 360_000.0, 0.0, None))
    intensity = summary.intensity
    assert intensity["kind"] == "mixed"
    assert intensity["g_per_kwh"] is None  # 200 average and 600 marginal are not averaged
    # 1 kWh x 1.5 x 200 = 300 g average; 0.5 kWh x 600 = 300 g marginal
    assert [(r["kind"], r["emissions_g"], r["g_per_kwh"]) for r in intensity["by_kind"]] == [
        ("average", pytest.approx(300.0), pytest.approx(200.0)),
        ("marginal", pytest.approx(300.0), pytest.approx(600.0)), (None, 0.0, None)]
    assert summary.emissions_g == pytest.approx(600.0)  # the sum, and the note says it is one
    assert "emissions_g adds 300 g average + 300 g marginal" in intensity["note"]
    assert (intensity["scope"], intensity["gases"], intensity["basis"]) == (
        "mixed", "mixed", "generation")


def test_a_run_without_any_intensity_has_no_kind_and_no_mean():
    summary = summary_of(interval(0, 1_000.0, 0.0, None), interval(1, 2_000.0, 0.0, None))
    intensity = summary.intensity
    assert (intensity["kind"], intensity["g_per_kwh"], intensity["source"]) == (
        None, None, "unavailable")
    assert (intensity["basis"], intensity["scope"], intensity["gases"]) == (None, None, None)
    assert intensity["by_kind"] == [{"kind": None, "records": 2, "duration_s": 20.0,
                                     "energy_j": 3_000.0, "emissions_g": 0.0, "g_per_kwh": None}]


def test_each_component_carries_its_duration_weighted_share_and_basis():
    summary = summary_of(interval(0, 100.0, 400.0, "average", duration_s=30.0, share=0.5,
                                  share_basis="measured"),
                         interval(1, 100.0, 400.0, "average", duration_s=10.0, share=0.1,
                                  share_basis="measured"))
    (cpu,) = summary.components
    # (0.5 x 30 + 0.1 x 10) / 40 s
    assert cpu["share"] == pytest.approx(0.4)
    assert (cpu["share_basis"], cpu["method"], cpu["detail"]) == (
        "measured", "measured", "package 0")
    fallback = summary_of(interval(0, 100.0, 400.0, "average", share=0.5, share_basis="measured"),
                          interval(1, 100.0, 400.0, "average", share=1.0, share_basis="whole"))
    assert fallback.components[0]["share_basis"] == "mixed"
    assert fallback.components[0]["share"] == pytest.approx(0.75)


def test_the_summary_text_shows_share_basis_and_each_kind():
    from wattprint.report import format_summary

    text = format_summary(summary_of(
        interval(0, 3_600_000.0, 200.0, "average", share=0.5, share_basis="estimated"),
        interval(1, 1_800_000.0, 600.0, "marginal", share=0.5, share_basis="estimated")))
    assert "measured  50% estimated" in text
    assert "no single gCO2e/kWh (kinds mixed)" in text
    assert "average: 200.00 g CO2e, 1.000 kWh at 200 gCO2e/kWh" in text
    assert "marginal: 300.00 g CO2e, 500.00 Wh at 600 gCO2e/kWh" in text


def test_combining_ranks_recomputes_kind_and_mean_from_their_kinds():
    from wattprint.records import combine

    average = summary_of(interval(0, 3_600_000.0, 200.0, "average"))
    more = summary_of(interval(0, 1_800_000.0, 500.0, "average"), interval(1, 900.0, 0.0, None))
    job = combine([average, more], run_id="job")
    # (200 + 250) g over 1.5 kWh that had an intensity; the unscored 900 J stay out
    assert job.intensity["kind"] == "average"
    assert job.intensity["g_per_kwh"] == pytest.approx(300.0)
    assert [r["kind"] for r in job.intensity["by_kind"]] == ["average", None]
    marginal = summary_of(interval(0, 3_600_000.0, 700.0, "marginal"))
    mixed = combine([average, marginal], run_id="job")
    assert (mixed.intensity["kind"], mixed.intensity["g_per_kwh"]) == ("mixed", None)
    assert mixed.emissions_g == pytest.approx(900.0)
    assert "200 g average + 700 g marginal" in mixed.intensity["note"]


def test_a_record_without_intensity_round_trips_through_csv_and_rows(tmp_path):
    record = interval(0, 10.0, 0.0, None)
    assert Record.from_row(record.to_row()) == record
    path = tmp_path / "out.csv"
    CsvSink(path).export([record, make_record(1)])
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["intensity_kind"] == ""  # CSV's empty cell is null
    assert [Record.from_row(r) for r in rows] == [record, make_record(1)]


def test_summaries_from_before_version_3_read_with_unknown_defaults():
    old = {"run_id": "r", "project": "p", "experiment": "e", "started_s": 0.0, "duration_s": 1.0,
           "energy_j": {"total": 1.0}, "emissions_g": 0.1, "location": {}, "pue": 1.0,
           "scope": "machine",
           "components": [{"component": "cpu", "device": "c", "method": "measured",
                           "energy_j": 1.0}],
           "intensity": {"g_per_kwh": 360.0, "zone": "FR", "source": "s", "year": 2024,
                         "kind": "average", "live": False, "varied": False}}
    summary = RunSummary.from_json(old)
    assert summary.components[0]["share"] is None and summary.components[0]["share_basis"] is None
    assert summary.intensity["by_kind"] is None and summary.intensity["basis"] is None
    assert summary.intensity["g_per_kwh"] == 360.0  # kept as it was computed then
