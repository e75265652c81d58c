"""to_wire / from_wire: exact inverses, JSON-native output, version 1 read and upgraded."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from wattprint.records import Heartbeat, Record, RunInfo, RunSummary, SpanRecord
from wattprint.wire import WIRE_VERSION, from_wire, to_wire, upgrade


def _json_native(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_native(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_json_native(v) for v in value)
    return value is None or isinstance(value, (str, int, float, bool))


def test_every_type_round_trips(build: Any) -> None:
    kinds = set()
    for item in build.all():
        wire = to_wire(item)
        kinds.add(wire["type"])
        assert wire["schema_version"] == WIRE_VERSION
        assert _json_native(wire), type(item).__name__
        assert from_wire(wire) == item
        assert from_wire(json.loads(json.dumps(wire))) == item
    assert kinds == {"run", "record", "span", "heartbeat", "prediction", "summary"}


def test_wire_objects_carry_the_documented_values(build: Any) -> None:
    record = to_wire(build.record(0))
    assert record["type"] == "record"
    assert record["components"][0] == {"component": "cpu", "device": "rapl:package-0",
                                       "method": "measured", "energy_j": 400.0, "share": 0.5,
                                       "share_basis": "measured"}
    assert (record["intensity_kind"], record["intensity_basis"], record["intensity_scope"],
            record["intensity_gases"]) == ("average", "generation", "lifecycle", "CO2e")
    assert record["work"] == [{"unit": "samples", "count": 64.0}]
    assert record["energy_j"] == 1920.0
    run = to_wire(build.run_info())
    assert run["location"]["country"] == "FR" and run["location"]["notes"] == ["no cloud metadata"]
    assert run["devices"][0]["attributes"] == {"zone": "intel-rapl:0", "wrap_j": "262143.328850"}
    assert run["job"]["rank"] == 3 and run["job"]["node"] == "node-7"
    assert len(run["host"]["host_id"]) == 16
    summary = to_wire(build.summary())
    assert "energy_kwh" not in summary  # presentation units stay off the wire
    assert summary["work"] == [{"unit": "samples", "count": 192.0,
                                "energy_j_per_unit": pytest.approx(5760.0 / 192.0),
                                "emissions_g_per_unit": pytest.approx(
                                    5760.0 * 1.2 * 56.0 / 3.6e6 / 192.0)}]
    assert summary["spans"][1]["span_id"] == "train/step" and "type" not in summary["spans"][1]


def test_run_info_schema_version_is_not_the_wire_version(build: Any) -> None:
    wire = to_wire(build.run_info())
    assert wire["schema_version"] == WIRE_VERSION
    assert list(wire).count("schema_version") == 1


def test_to_wire_returns_a_copy(build: Any) -> None:
    info = build.run_info()
    wire = to_wire(info)
    wire["location"]["country"] = "DE"
    wire["tags"]["team"] = "other"
    assert info.location["country"] == "FR" and info.tags["team"] == "vision"


def test_unknown_types_and_versions_are_refused(build: Any) -> None:
    with pytest.raises(TypeError, match="not a wire item"):
        to_wire({"run_id": "x"})  # type: ignore[arg-type]
    wire = to_wire(build.heartbeat())
    with pytest.raises(ValueError, match="unknown wire object type 'pulse'"):
        from_wire({**wire, "type": "pulse"})
    with pytest.raises(ValueError, match=f"schema_version {WIRE_VERSION + 1}.*upgrade wattprint"):
        from_wire({**wire, "schema_version": WIRE_VERSION + 1})
    with pytest.raises(ValueError, match="malformed heartbeat"):
        from_wire({k: v for k, v in wire.items() if k != "at_s"})
    with pytest.raises(ValueError, match="malformed record"):
        from_wire({**to_wire(build.record()), "energy_j": "lots"})


# What wattprint 0.1.0's JSON Lines sink wrote: {"type": ..., **to_dict()}; only the run line had
# a schema_version (RunInfo's own field, 1).
V1_RUN = {
    "type": "run", "schema_version": 1, "run_id": "r1", "project": "p", "experiment": "e",
    "started_s": 1700000000.0, "scope": "machine", "interval_s": 5.0, "pue": 1.0,
    "location": {"country": "FR", "subdivision": None, "resolved_by": "config", "detail": "",
                 "zone": "FR", "cloud": None, "cloud_region": None, "lat": None, "lon": None,
                 "postcode": None, "notes": []},
    "host": {"hostname": "h", "os": "Linux 6.1", "machine": "x86_64", "python": "3.11.4",
             "pid": 12, "command": "python x.py", "cpu": "Xeon"},
    "devices": [], "skipped": [], "warnings": [], "wattprint_version": "0.1.0", "tags": {},
    "job": None,
}
V1_RECORD = {
    "type": "record", "run_id": "r1", "seq": 0, "start_s": 1700000000.0, "duration_s": 5.0,
    "cpu_energy_j": 100.0, "gpu_energy_j": 0.0, "ram_energy_j": 5.0, "other_energy_j": 0.0,
    "energy_j": 105.0, "pue": 1.0, "emissions_g": 0.0016, "intensity_g_per_kwh": 56.0,
    "intensity_zone": "FR", "intensity_source": "Ember", "intensity_year": 2023,
    "intensity_kind": "average", "intensity_live": False,
    "components": [{"component": "cpu", "device": "rapl:package-0", "method": "measured",
                    "energy_j": 100.0, "share": 1.0}],
    "gaps": [],
}
V1_SPAN = {
    "type": "span", "run_id": "r1", "span_id": "s1", "parent_id": None, "name": "load",
    "start_s": 1700000001.0, "end_s": 1700000003.5, "duration_s": 2.5, "cpu_energy_j": 40.0,
    "gpu_energy_j": 0.0, "ram_energy_j": 2.0, "other_energy_j": 0.0, "energy_j": 42.0,
    "emissions_g": 0.00065,
}


def test_version_1_objects_are_read_and_upgraded() -> None:
    run = from_wire(V1_RUN)
    assert isinstance(run, RunInfo) and run.run_id == "r1" and run.host["pid"] == 12
    record = from_wire(V1_RECORD)
    assert isinstance(record, Record) and record.work == () and record.energy_j == 105.0
    span = from_wire(V1_SPAN)
    assert span == SpanRecord(
        run_id="r1", span_id="s1", parent_id=None, name="load", count=1,
        first_start_s=1700000001.0, last_end_s=1700000003.5, duration_s=2.5, duration_min_s=2.5,
        duration_max_s=2.5, cpu_energy_j=40.0, gpu_energy_j=0.0, ram_energy_j=2.0,
        other_energy_j=0.0, energy_j=42.0, energy_min_j=42.0, energy_max_j=42.0,
        emissions_g=0.00065, work=(), boundary="exact")
    # an upgraded v1 record is a valid v2 record
    assert to_wire(record)["schema_version"] == WIRE_VERSION


def test_version_1_summary_drops_energy_kwh(build: Any) -> None:
    summary = replace(build.summary(), work=(), delivery=None)
    v1 = {k: v for k, v in to_wire(summary).items() if k not in ("work", "delivery",
                                                                  "schema_version")}
    v1["energy_kwh"] = summary.energy_j["total"] / 3.6e6
    assert from_wire(v1) == summary
    assert isinstance(from_wire(v1), RunSummary)


def test_version_1_summary_spans_are_upgraded(build: Any, validator: Any) -> None:
    v1 = {k: v for k, v in to_wire(build.summary()).items()
          if k not in ("work", "delivery", "schema_version")}
    v1["spans"] = [{k: v for k, v in V1_SPAN.items() if k != "type"}]
    summary = from_wire(v1)
    assert isinstance(summary, RunSummary)
    assert summary.spans[0]["count"] == 1 and summary.spans[0]["boundary"] == "exact"
    assert summary.spans[0]["first_start_s"] == V1_SPAN["start_s"]
    assert list(validator.iter_errors(to_wire(summary))) == []


def test_upgraded_v1_objects_validate_except_the_run(validator: Any) -> None:
    assert list(validator.iter_errors(to_wire(from_wire(V1_RECORD)))) == []
    assert list(validator.iter_errors(to_wire(from_wire(V1_SPAN)))) == []
    # v1 never recorded host_id / tracker_pid, and they are not made up
    errors = list(validator.iter_errors(to_wire(from_wire(V1_RUN))))
    messages = [sub.message for e in errors for sub in e.context]  # inside the oneOf branches
    assert "'host_id' is a required property" in messages
    assert "'tracker_pid' is a required property" in messages


def test_heartbeat_round_trip_exact() -> None:
    beat = Heartbeat(run_id="r", at_s=1.5, every_s=15.0)
    assert to_wire(beat) == {"type": "heartbeat", "schema_version": WIRE_VERSION, "run_id": "r",
                             "at_s": 1.5, "every_s": 15.0}
    assert from_wire(to_wire(beat)) == beat


# What version 2 wrote: no intensity labels or share basis; "average" for no intensity.
V2_RECORD = {**V1_RECORD, "schema_version": 2, "work": []}
V2_UNSCORED = {**V2_RECORD, "seq": 1, "emissions_g": 0.0, "intensity_g_per_kwh": 0.0,
               "intensity_zone": "", "intensity_source": "unavailable", "intensity_year": None,
               "gaps": ["intensity: unavailable, emissions not counted"]}


def test_version_2_records_are_upgraded_with_unknowns_not_guesses(validator: Any) -> None:
    record = from_wire(V2_RECORD)
    assert isinstance(record, Record)
    assert (record.intensity_kind, record.intensity_basis, record.intensity_scope,
            record.intensity_gases) == ("average", None, None, None)
    assert record.components[0].share == 1.0 and record.components[0].share_basis is None
    unscored = from_wire(V2_UNSCORED)
    assert isinstance(unscored, Record)
    assert unscored.intensity_kind is None and not unscored.scored  # v2's "average" was none
    for item in (record, unscored):
        assert list(validator.iter_errors(to_wire(item))) == []
    # a v1 record goes through both upgrades
    assert from_wire(V1_RECORD) == record


def test_version_2_summaries_are_upgraded_and_validate(build: Any, validator: Any) -> None:
    v3 = to_wire(build.summary())
    v2 = {**v3, "schema_version": 2,
          "components": [{k: v for k, v in c.items() if k not in ("share", "share_basis")}
                         for c in v3["components"]],
          "intensity": {k: v for k, v in v3["intensity"].items() if k != "by_kind"}}
    summary = from_wire(v2)
    assert isinstance(summary, RunSummary)
    assert {(c["share"], c["share_basis"]) for c in summary.components} == {(None, None)}
    assert summary.intensity["by_kind"] is None
    assert summary.intensity["g_per_kwh"] == v3["intensity"]["g_per_kwh"]
    assert list(validator.iter_errors(to_wire(summary))) == []


def test_run_level_figures_on_the_wire_are_the_records_own(build: Any, validator: Any) -> None:
    wire = to_wire(build.mixed_summary())
    assert list(validator.iter_errors(wire)) == []
    intensity = wire["intensity"]
    assert (intensity["kind"], intensity["g_per_kwh"]) == ("mixed", None)
    records = [build.record(0), build.marginal_record(1), build.unscored_record(2)]
    assert [row["kind"] for row in intensity["by_kind"]] == ["average", "marginal", None]
    assert [row["emissions_g"] for row in intensity["by_kind"]] == [
        pytest.approx(r.emissions_g) for r in records]
    assert wire["emissions_g"] == pytest.approx(sum(r.emissions_g for r in records))
    cpu = next(c for c in wire["components"] if c["device"] == "rapl:package-0")
    assert (cpu["share"], cpu["share_basis"], cpu["method"]) == (0.5, "measured", "measured")


def test_the_schema_refuses_a_kind_that_is_not_one(build: Any, validator: Any) -> None:
    record = to_wire(build.record(0))
    assert list(validator.iter_errors({**record, "intensity_kind": "mixed"}))  # runs only
    assert list(validator.iter_errors({**record, "intensity_gases": "N2O"}))
    component = {**record["components"][0], "share_basis": "guessed"}
    assert list(validator.iter_errors({**record, "components": [component]}))
    summary = to_wire(build.mixed_summary())
    del summary["components"][0]["share_basis"]
    assert list(validator.iter_errors(summary))


def test_prediction_round_trip_exact(build: Any, validator: Any) -> None:
    prediction = build.prediction()
    wire = to_wire(prediction)
    assert wire == {
        "type": "prediction", "schema_version": WIRE_VERSION, "run_id": build.run_id, "seq": 2,
        "at_s": 1_767_225_615.0, "unit": "samples", "done": 192.0, "total": 640.0,
        "level": 0.9, "duration_s": 50.0, "duration_low_s": 46.5, "duration_high_s": 53.5,
        "energy_j": 19_200.0, "energy_low_j": 17_900.0, "energy_high_j": 20_500.0,
        "emissions_g": 0.3584, "emissions_low_g": 0.334133, "emissions_high_g": 0.382667,
        "end_s": 1_767_225_650.0, "seconds_per_unit": 0.078125, "energy_j_per_unit": 30.0,
        "regime_start_s": 1_767_225_600.0, "regime_intervals": 3, "rebased": 0}
    assert list(validator.iter_errors(wire)) == []
    assert from_wire(json.loads(json.dumps(wire))) == prediction


def test_the_schema_refuses_a_prediction_that_is_not_one(build: Any, validator: Any) -> None:
    wire = to_wire(build.prediction())
    assert list(validator.iter_errors({**wire, "level": 90}))  # a share, not a percentage
    assert list(validator.iter_errors({**wire, "total": 0}))
    assert list(validator.iter_errors({**wire, "energy_j": -1.0}))
    assert list(validator.iter_errors({**wire, "kwh": 2.0}))  # closed object
    assert list(validator.iter_errors({k: v for k, v in wire.items() if k != "energy_high_j"}))
    summary = to_wire(build.summary())
    assert list(validator.iter_errors({**summary, "prediction": wire}))  # no type in a summary
    budget = {**summary["budget"], "alerts": [{**summary["budget"]["alerts"][0], "kind": "cost"}]}
    assert list(validator.iter_errors({**summary, "budget": budget}))


def test_version_3_objects_are_upgraded(build: Any, validator: Any) -> None:
    # version 3 had no prediction object and no summary prediction or budget
    v4 = to_wire(build.summary())
    v3 = {k: v for k, v in v4.items() if k not in ("prediction", "budget")}
    v3["schema_version"] = 3
    summary = from_wire(v3)
    assert isinstance(summary, RunSummary)
    assert summary.prediction is None and summary.budget is None
    assert summary == replace(build.summary(), prediction=None, budget=None)
    assert list(validator.iter_errors(to_wire(summary))) == []
    record = to_wire(build.record(0))
    assert from_wire({**record, "schema_version": 3}) == build.record(0)
    assert upgrade({**record, "schema_version": 3}) == record
    with pytest.raises(ValueError, match="schema_version 5: this wattprint reads versions 1 to 4"):
        from_wire({**to_wire(build.prediction()), "schema_version": 5})
