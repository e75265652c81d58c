"""``wattprint import codecarbon``: CodeCarbon emissions.csv files (written by hand from the
columns each release documents: 1.2, 2.1, 2.8 and 3.3) become runs in a real local store,
marked as imported, exactly converted, idempotent, bad rows skipped by line."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

import wattprint
from fakes.codecarbon_files import HEADER_3_3
from wattprint.cli import main
from wattprint.integrations.codecarbon import (
    CodeCarbonFileError,
    import_emissions_csv,
    read_emissions_csv,
)
from wattprint.sensors.fake import FakeDevice, FakeSensor
from wattprint.sinks.codecarbon_csv import CodeCarbonCsvSink
from wattprint.sinks.sqlite import SqliteSink
from wattprint.store import open_repository
from wattprint.wire import schema, to_wire

ROW_3_3 = (
    "2026-11-20T14:03:11,bert,0b1c9f4e-2a55-4c3d-9d1e-6f1a2b3c4d5e,"
    "5b0fa12a-3dd7-45bb-9766-cc326314d9f1,3600.5,0.0305,8.47e-06,42.5,250.0,10.0,0.0425,0.25,"
    "0.01,0.3025,0.0,France,FRA,île-de-france,,,Linux-6.8.0-x86_64-with-glibc2.39,3.11.9,"
    "3.3.2,16,AMD EPYC 7B13,1,1 x NVIDIA A100-SXM4-40GB,2.3,48.8,64.0,machine,35.2,88.1,20.5,"
    "13.1,N,1.0,0.0"
)
ROW_3_3_CLOUD = (
    "2026-11-21T08:00:00,bert,9d2e-77,exp-2,600,0.004,6.67e-06,30.0,0.0,5.0,0.006,0.0,0.001,"
    "0.007,0.0,United States,USA,virginia,aws,us-east-1,Linux,3.12.1,3.3.2,8,Intel Xeon,0,,"
    ",,32.0,process,,,,,Y,1.135,0.0"
)
HEADER_2_8 = (
    "timestamp,project_name,run_id,experiment_id,duration,emissions,emissions_rate,cpu_power,"
    "gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,country_name,"
    "country_iso_code,region,cloud_provider,cloud_region,os,python_version,codecarbon_version,"
    "cpu_count,cpu_model,gpu_count,gpu_model,longitude,latitude,ram_total_size,tracking_mode,"
    "on_cloud,pue"
)
ROW_2_8 = (
    "2025-03-02T10:00:00,resnet,aa11,e1,120.0,0.0009,7.5e-06,60.0,0.0,4.5,0.003,0.0,0.000225,"
    "0.003225,Germany,DEU,,,,Linux,3.10.12,2.8.4,4,Intel Core i7,0,,13.4,52.5,16.0,machine,N,1.5"
)
HEADER_2_1 = (
    "timestamp,project_name,run_id,duration,emissions,emissions_rate,cpu_power,gpu_power,"
    "ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,country_name,country_iso_code,"
    "region,cloud_provider,cloud_region,os,python_version,cpu_count,cpu_model,gpu_count,"
    "gpu_model,longitude,latitude,ram_total_size,tracking_mode,on_cloud"
)
ROW_2_1 = (
    "2023-01-10T18:30:00,old,bb22,30.0,0.0002,6.7e-06,42.5,0.0,3.0,0.000354,0.0,0.000025,"
    "0.000379,Canada,CAN,quebec,,,Linux,3.9.1,8,Intel,0,,,,8.0,machine,N"
)
HEADER_1_2 = ("timestamp,experiment_id,project_name,duration,emissions,energy_consumed,"
              "country_name,country_iso_code,region,on_cloud,cloud_provider,cloud_region")
ROW_1_2 = "2021-06-01T12:00:00,x1,legacy,10.0,0.00001,0.0002,Sweden,SWE,,N,,"
UTC = timezone.utc
J = 3_600_000.0


def write(path: Path, header: str, *rows: str) -> Path:
    path.write_text("\n".join((header, *rows)) + "\n", encoding="utf-8")
    return path


def wire_validator() -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    return jsonschema.Draft202012Validator(schema())


def stored(store_path: Path) -> dict[str, Any]:
    repo = open_repository(store_path)
    try:
        page = repo.runs(limit=100)
        return {r.run_id: (repo.info(r.run_id), repo.summary(r.run_id),
                           repo.records(r.run_id)) for r in page.items}
    finally:
        repo.close()


def test_a_current_file_becomes_runs_with_exact_figures_marked_as_imported(tmp_path: Path):
    path = write(tmp_path / "emissions.csv", HEADER_3_3, ROW_3_3, ROW_3_3_CLOUD)
    store = tmp_path / "home" / "wattprint.db"
    result = import_emissions_csv(path, store, tz=UTC)
    assert [r.line for r in result.imported] == [2, 3] and not result.problems
    runs = stored(store)
    assert set(runs) == {r.run_id for r in result.imported}
    info, summary, records = runs[result.imported[0].run_id]
    # kWh (PUE 1.0) -> J, kg -> g, exactly
    assert summary.energy_j == {"cpu": 0.0425 * J, "gpu": 0.25 * J, "ram": 0.01 * J,
                                "other": 0.0, "total": (0.0425 * J + 0.25 * J) + 0.01 * J}
    assert summary.emissions_g == 0.0305 * 1000.0
    assert summary.duration_s == 3600.5 and summary.status == "finished"
    # the timestamp is the end, in the zone given
    end = datetime(2026, 11, 20, 14, 3, 11, tzinfo=UTC).timestamp()
    assert info.started_s == end - 3600.5 and len(records) == 1
    assert info.project == "bert" and info.experiment == "5b0fa12a-3dd7-45bb-9766-cc326314d9f1"
    assert info.tags["imported_from"] == "codecarbon 3.3.2 emissions.csv"
    assert info.tags["imported.method"] == "imported"
    assert info.tags["codecarbon.run_id"] == "0b1c9f4e-2a55-4c3d-9d1e-6f1a2b3c4d5e"
    assert (info.tags["imported.line"], info.tags["codecarbon.timestamp_zone"]) == ("2", "UTC")
    assert summary.intensity["source"] == "codecarbon 3.3.2 emissions.csv"
    assert summary.intensity["g_per_kwh"] == pytest.approx(30.5 / 0.3025, rel=1e-12)
    assert {c["device"]: c["method"] for c in summary.components} == {
        "codecarbon:cpu": "modelled", "codecarbon:gpu": "modelled", "codecarbon:ram": "modelled"}
    assert any("CodeCarbon's, not measured by wattprint" in w for w in summary.warnings)
    assert "line 2" in info.devices[1]["detail"] and "A100" in info.devices[1]["detail"]
    assert (info.location["country"], info.location["subdivision"]) == ("FR", "île-de-france")
    assert (info.location["lat"], info.location["lon"]) == (48.8, 2.3)
    # the cloud row: its provider, region, scope and PUE (CodeCarbon's kWh include the PUE)
    info, summary, _ = runs[result.imported[1].run_id]
    assert (info.location["country"], info.location["cloud"], info.location["cloud_region"]) \
        == ("US", "aws", "us-east-1")
    assert info.scope == "process" and summary.pue == 1.135
    assert summary.energy_j["cpu"] == 0.006 * J / 1.135
    assert summary.emissions_g == 4.0


def test_every_imported_object_is_valid_wire_format(tmp_path: Path):
    """What `wattprint push` sends the server is what it accepts."""
    path = write(tmp_path / "emissions.csv", HEADER_3_3, ROW_3_3, ROW_3_3_CLOUD)
    validator = wire_validator()
    for run in read_emissions_csv(path, tz=UTC)[0]:
        for item in run.items:
            assert list(validator.iter_errors(to_wire(item))) == [], item


@pytest.mark.parametrize("header,row,energy_j,pue", [
    (HEADER_2_8, ROW_2_8, {"cpu": 0.003 * J / 1.5, "gpu": 0.0, "ram": 0.000225 * J / 1.5,
                           "other": 0.0}, 1.5),
    (HEADER_2_1, ROW_2_1, {"cpu": 0.000354 * J, "gpu": 0.0, "ram": 0.000025 * J,
                           "other": 0.0}, 1.0),
    # 1.x wrote one total, no run_id and no components: kept as "other" energy
    (HEADER_1_2, ROW_1_2, {"cpu": 0.0, "gpu": 0.0, "ram": 0.0, "other": 0.0002 * J}, 1.0),
], ids=["2.8", "2.1", "1.2"])
def test_older_column_sets(tmp_path: Path, header: str, row: str, energy_j: dict[str, float],
                           pue: float):
    path = write(tmp_path / "emissions.csv", header, row)
    [run], problems = read_emissions_csv(path, tz=UTC)
    assert problems == []
    assert {k: v for k, v in run.summary.energy_j.items() if k != "total"} == energy_j
    assert run.summary.pue == pue
    assert list(wire_validator().iter_errors(to_wire(run.info))) == []
    assert {c["component"] for c in run.summary.components} == {
        "system" if k == "other" else k for k, v in energy_j.items() if v > 0}


def test_a_task_file_is_a_run_per_task(tmp_path: Path):
    # CodeCarbon 3.3's emissions_<experiment>_<run>.csv: task_name first, no experiment_id
    header = "task_name," + HEADER_3_3.replace("experiment_id,", "").replace(",pue,wue", "")
    first = "load," + ROW_3_3.replace("5b0fa12a-3dd7-45bb-9766-cc326314d9f1,", "")[:-8]
    second = "train," + ROW_3_3.replace("5b0fa12a-3dd7-45bb-9766-cc326314d9f1,", "")[:-8]
    path = write(tmp_path / "emissions_exp_run.csv", header, first, second)
    runs, problems = read_emissions_csv(path, tz=UTC)
    assert problems == []
    assert [r.info.tags["codecarbon.task_name"] for r in runs] == ["load", "train"]
    assert runs[0].run_id != runs[1].run_id  # one CodeCarbon run, two tasks, two runs here
    assert runs[0].summary.energy_j["gpu"] == 0.25 * J


def test_importing_twice_adds_nothing_and_a_grown_file_adds_its_new_rows(tmp_path: Path):
    path = write(tmp_path / "emissions.csv", HEADER_3_3, ROW_3_3)
    store = tmp_path / "home" / "wattprint.db"
    first = import_emissions_csv(path, store, tz=UTC)
    again = import_emissions_csv(path, store, tz=UTC)
    assert len(first.imported) == 1 and again.imported == ()
    assert [r.run_id for r in again.already] == [first.imported[0].run_id]
    write(path, HEADER_3_3, ROW_3_3, ROW_3_3_CLOUD)  # CodeCarbon appended a run
    grown = import_emissions_csv(path, store, tz=UTC)
    assert [r.line for r in grown.imported] == [3] and len(grown.already) == 1
    assert len(stored(store)) == 2


def test_the_same_row_twice_in_one_file_is_one_run(tmp_path: Path):
    path = write(tmp_path / "emissions.csv", HEADER_3_3, ROW_3_3, ROW_3_3)
    result = import_emissions_csv(path, tmp_path / "home" / "wattprint.db", tz=UTC)
    assert [r.line for r in result.imported] == [2] and [r.line for r in result.already] == [3]


def test_bad_rows_are_reported_by_line_and_the_good_ones_kept(tmp_path: Path):
    bad_duration = ROW_3_3.replace(",3600.5,", ",soon,", 1)
    bad_stamp = ROW_3_3.replace("2026-11-20T14:03:11", "20/11/2026", 1)
    negative = ROW_3_3_CLOUD.replace(",0.004,", ",-0.004,", 1)
    short = "2026-11-22T08:00:00,bert,cc33"
    path = write(tmp_path / "emissions.csv", HEADER_3_3, bad_duration, ROW_3_3, bad_stamp,
                 negative, short, ROW_3_3_CLOUD)
    result = import_emissions_csv(path, tmp_path / "home" / "wattprint.db", tz=UTC)
    assert [r.line for r in result.imported] == [3, 7]
    assert [(p.line, p.message) for p in result.problems] == [
        (2, "duration 'soon' is not a number"),
        (4, "timestamp '20/11/2026' is not a date and time like 2024-05-01T10:00:00"),
        (5, "emissions '-0.004' is not a finite number of 0 or more"),
        (6, "the row has fewer columns than the header's 38"),
    ]
    assert len(stored(tmp_path / "home" / "wattprint.db")) == 2


def test_a_file_that_is_not_codecarbons_is_refused(tmp_path: Path):
    path = write(tmp_path / "wattprint.csv", "run_id,seq,energy_j", "a,0,1.0")
    with pytest.raises(CodeCarbonFileError, match="lacks timestamp, duration, emissions"):
        read_emissions_csv(path)
    with pytest.raises(CodeCarbonFileError, match="cannot read"):
        read_emissions_csv(tmp_path / "missing.csv")


def test_rows_wattprints_own_sink_wrote_are_not_imported_again(tmp_path: Path):
    own = ROW_3_3.replace(",3.3.2,", ",wattprint 0.1.0,", 1)
    path = write(tmp_path / "emissions.csv", HEADER_3_3, own, ROW_3_3_CLOUD)
    result = import_emissions_csv(path, tmp_path / "home" / "wattprint.db", tz=UTC)
    assert [r.line for r in result.own] == [2] and [r.line for r in result.imported] == [3]
    assert result.problems == ()
    assert result.to_dict()["written_by_wattprint"] == [
        {"line": 2, "run_id": "0b1c9f4e-2a55-4c3d-9d1e-6f1a2b3c4d5e"}]


def test_a_run_the_sink_wrote_into_an_older_layout_is_known_by_its_run_id(tmp_path: Path,
                                                                         clock: Any):
    """An older CodeCarbon layout has no codecarbon_version column: the row's run_id, a run in
    the store, is what tells the importer that wattprint measured it."""
    store = tmp_path / "home" / "wattprint.db"
    path = write(tmp_path / "emissions.csv", HEADER_2_1, ROW_2_1)
    tracker = wattprint.Tracker(
        sensors=[FakeSensor([FakeDevice("fake:cpu", "cpu", 100.0)], clock=clock)],
        sinks=[SqliteSink(store), CodeCarbonCsvSink(path, tz=UTC)], clock=clock,
        wall_clock=clock.wall_clock, country="FR", interval_s=3600)
    tracker.start()
    clock.advance(10.0)
    summary = tracker.stop()
    result = import_emissions_csv(path, store, tz=UTC)
    assert [r.line for r in result.own] == [3]
    assert result.own[0].info.tags["codecarbon.run_id"] == summary.run_id
    assert [r.line for r in result.imported] == [2]  # CodeCarbon's own row
    assert set(stored(store)) == {summary.run_id, result.imported[0].run_id}


def test_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = write(tmp_path / "emissions.csv", HEADER_3_3, ROW_3_3, "2026-11-22,bert")
    code = main(["import", "codecarbon", str(path), "--project", "nlp", "--timezone", "UTC",
                 "--json"])
    out, err = capsys.readouterr()
    assert code == 1  # a row was skipped: something reported wrong
    result = json.loads(out)
    assert [r["line"] for r in result["imported"]] == [2]
    assert result["skipped"] == [{"line": 3, "reason":
                                  "the row has fewer columns than the header's 38"}]
    assert f"{path}, line 3: skipped" in err and "imported 1 run(s)" in err
    code = main(["runs", "--json"])
    [run] = json.loads(capsys.readouterr().out)
    assert run["project"] == "nlp" and code == 0
    # again: nothing new, and a clean file exits 0
    write(path, HEADER_3_3, ROW_3_3)
    assert main(["import", "codecarbon", str(path), "--project", "nlp", "--timezone",
                 "UTC"]) == 0
    out, err = capsys.readouterr()
    assert out == "" and "imported 0 run(s)" in err and "1 already imported" in err


def test_the_command_refuses_a_bad_zone_and_a_foreign_file(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]):
    path = write(tmp_path / "emissions.csv", HEADER_3_3, ROW_3_3)
    assert main(["import", "codecarbon", str(path), "--timezone", "Mars/Olympus"]) == 2
    assert "not a time zone" in capsys.readouterr().err
    other = write(tmp_path / "other.csv", "a,b", "1,2")
    assert main(["import", "codecarbon", str(other)]) == 1
    assert "is not a CodeCarbon emissions.csv" in capsys.readouterr().err
