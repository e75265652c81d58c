"""The codecarbon-csv sink: CodeCarbon 3.3.2's emissions.csv, one row per run at stop, in
CodeCarbon's units (kWh, kg, W, with PUE applied as CodeCarbon applies it)."""

from __future__ import annotations

import csv
from datetime import timezone
from pathlib import Path
from typing import Any

import pytest

import wattprint
from fakes.codecarbon_files import HEADER_3_3  # by hand: the sink's constant is not the spec
from fakes.intensity import FixedIntensity
from wattprint.config import load_config
from wattprint.sensors.fake import FakeDevice, FakeSensor
from wattprint.sinks import Sink
from wattprint.sinks.codecarbon_csv import CodeCarbonCsvSink, from_config
from wattprint.sinks.memory import MemorySink
from wattprint.sinks.registry import make_sink

# CodeCarbon 2.1.4's header: an older file keeps its own layout.
HEADER_2_1 = (
    "timestamp,project_name,run_id,duration,emissions,emissions_rate,cpu_power,gpu_power,"
    "ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,country_name,country_iso_code,"
    "region,cloud_provider,cloud_region,os,python_version,cpu_count,cpu_model,gpu_count,"
    "gpu_model,longitude,latitude,ram_total_size,tracking_mode,on_cloud"
)
G_PER_KWH = 360.0


def track(clock: Any, sink: Any, seconds: float, **settings: Any) -> wattprint.RunSummary:
    devices = [FakeDevice("fake:cpu", "cpu", 100.0), FakeDevice("fake:gpu", "gpu", 200.0),
               FakeDevice("fake:ram", "ram", 10.0)]
    memory = MemorySink()
    tracker = wattprint.Tracker(
        sensors=[FakeSensor(devices, clock=clock)], intensity=FixedIntensity(G_PER_KWH),
        sinks=[sink, memory], clock=clock, wall_clock=clock.wall_clock, interval_s=3600,
        **{"country": "FR", "pue": 1.2, "project": "bert", "experiment": "lr-3e-4", **settings})
    tracker.start()
    clock.advance(seconds)
    tracker.stop()
    assert memory.summary is not None
    return memory.summary


def rows(path: Path) -> tuple[str, list[dict[str, str]]]:
    text = path.read_text(encoding="utf-8")
    return text.splitlines()[0], list(csv.DictReader(text.splitlines()))


def test_is_a_sink_registered_by_name(tmp_path: Path) -> None:
    config = load_config({"sinks": "codecarbon-csv",
                          "codecarbon_csv_path": str(tmp_path / "cc" / "emissions.csv")})
    sink = make_sink("codecarbon-csv", config)
    assert isinstance(sink, Sink) and isinstance(sink, CodeCarbonCsvSink)
    assert sink.path == tmp_path / "cc" / "emissions.csv"
    assert from_config(load_config({})).path == Path("emissions.csv")  # in the working dir


def test_one_row_per_run_at_stop_in_codecarbons_columns_and_units(tmp_path: Path,
                                                                  clock: Any) -> None:
    path = tmp_path / "emissions.csv"
    sink = CodeCarbonCsvSink(path, tz=timezone.utc)
    summary = track(clock, sink, 10.0)
    header, [row] = rows(path)
    assert header == HEADER_3_3
    pue = 1.2
    assert row["run_id"] == summary.run_id
    assert row["project_name"] == "bert" and row["experiment_id"] == "lr-3e-4"
    # the fake clock's wall time starts at 2026-01-01T00:00:00Z; the row is stamped at the end
    assert row["timestamp"] == "2026-01-01T00:00:10"
    assert float(row["duration"]) == 10.0
    # kWh with PUE, as CodeCarbon's energies: 100 W x 10 s x 1.2 / 3.6e6
    assert float(row["cpu_energy"]) == 1000.0 * pue / 3_600_000
    assert float(row["gpu_energy"]) == 2000.0 * pue / 3_600_000
    assert float(row["ram_energy"]) == 100.0 * pue / 3_600_000
    assert float(row["energy_consumed"]) == 3100.0 * pue / 3_600_000
    assert float(row["cpu_power"]) == 120.0 and float(row["gpu_power"]) == 240.0
    assert float(row["ram_power"]) == 12.0
    # kg: 3100 J x 1.2 x 360 g/kWh = 0.372 g
    assert float(row["emissions"]) == pytest.approx(3100.0 * pue * G_PER_KWH / 3.6e9, rel=1e-12)
    assert float(row["emissions"]) == summary.emissions_g / 1000
    assert float(row["emissions_rate"]) == summary.emissions_g / 1000 / 10.0
    assert (row["country_name"], row["country_iso_code"], row["on_cloud"]) == ("France", "FRA",
                                                                              "N")
    assert row["tracking_mode"] == "machine" and float(row["pue"]) == pue
    assert row["gpu_count"] == "1" and row["gpu_model"] == "1 x fake gpu drawing 200.0 W"
    assert row["codecarbon_version"] == f"wattprint {wattprint.__version__}"
    # unknown to wattprint: empty, not guessed
    assert row["cpu_count"] == row["ram_total_size"] == row["cpu_utilization_percent"] == ""


def test_runs_append_under_one_header(tmp_path: Path, clock: Any) -> None:
    path = tmp_path / "emissions.csv"
    first = track(clock, CodeCarbonCsvSink(path, tz=timezone.utc), 10.0)
    second = track(clock, CodeCarbonCsvSink(path, tz=timezone.utc), 20.0, project="gpt")
    text = path.read_text(encoding="utf-8")
    assert text.count("timestamp,") == 1
    _, written = rows(path)
    assert [r["run_id"] for r in written] == [first.run_id, second.run_id]
    assert [r["project_name"] for r in written] == ["bert", "gpt"]


def test_a_summary_exported_twice_is_one_row(tmp_path: Path, clock: Any) -> None:
    path = tmp_path / "emissions.csv"
    memory = MemorySink()
    track(clock, memory, 5.0)
    sink = CodeCarbonCsvSink(path)
    assert memory.run is not None and memory.summary is not None
    sink.export([memory.run])
    sink.export([memory.summary])
    sink.export([memory.summary])  # the exporter's retry
    assert len(rows(path)[1]) == 1
    # the spool delivering it again from another process: a new sink, the same file
    again = CodeCarbonCsvSink(path)
    again.export([memory.run, memory.summary])
    assert len(rows(path)[1]) == 1


def test_an_older_codecarbon_file_keeps_its_layout(tmp_path: Path, clock: Any) -> None:
    path = tmp_path / "emissions.csv"
    old_row = ("2024-05-01T10:00:00,old,7e0a,60.0,0.001,1.6e-05,10.0,0.0,3.0,0.0001,0.0,"
               "0.00003,0.00013,France,FRA,,,,Linux,3.10.0,8,Intel,0,,2.3,48.8,16.0,machine,N")
    path.write_text(HEADER_2_1 + "\n" + old_row + "\n", encoding="utf-8")
    summary = track(clock, CodeCarbonCsvSink(path, tz=timezone.utc), 10.0)
    header, written = rows(path)
    assert header == HEADER_2_1
    assert written[0]["project_name"] == "old"
    assert written[1]["run_id"] == summary.run_id
    assert float(written[1]["cpu_energy"]) == 1000.0 * 1.2 / 3_600_000
    assert list(written[1]) == HEADER_2_1.split(",")


def test_a_file_a_spreadsheet_saved_with_a_byte_order_mark_is_appended_to(tmp_path: Path,
                                                                           clock: Any) -> None:
    path = tmp_path / "emissions.csv"
    path.write_bytes("\ufeff".encode() + (HEADER_3_3 + "\n").encode())
    summary = track(clock, CodeCarbonCsvSink(path, tz=timezone.utc), 10.0)
    [row] = list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))
    assert row["run_id"] == summary.run_id


def test_a_file_with_other_columns_is_refused_and_left_as_it_was(tmp_path: Path,
                                                                 clock: Any) -> None:
    path = tmp_path / "emissions.csv"
    path.write_text("run_id,seq,energy_j\nabc,0,1.0\n", encoding="utf-8")
    memory = MemorySink()
    track(clock, memory, 5.0)
    sink = CodeCarbonCsvSink(path)
    assert memory.run is not None and memory.summary is not None
    with pytest.raises(ValueError, match="seq, energy_j.*codecarbon_csv_path"):
        sink.export([memory.run, memory.summary])
    assert path.read_text(encoding="utf-8") == "run_id,seq,energy_j\nabc,0,1.0\n"


def test_a_summary_without_its_run_info_is_an_error(tmp_path: Path, clock: Any) -> None:
    memory = MemorySink()
    track(clock, memory, 5.0)
    assert memory.summary is not None
    with pytest.raises(ValueError, match="without its run info"):
        CodeCarbonCsvSink(tmp_path / "e.csv").export([memory.summary])
    assert not (tmp_path / "e.csv").exists()
