"""The published schema: valid 2020-12, in step with the Python types, strict where it is ours."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from dataclasses import fields
from typing import Any

import pytest

from wattprint import cli
from wattprint.cluster import Job
from wattprint.intensity import Intensity, Location
from wattprint.records import (
    ComponentEnergy,
    Heartbeat,
    Prediction,
    Record,
    RunAccumulator,
    RunInfo,
    RunSummary,
    SpanRecord,
)
from wattprint.sensors import DeviceInfo
from wattprint.wire import WIRE_VERSION, schema, to_wire

jsonschema = pytest.importorskip("jsonschema")

TOP_LEVEL = {"run": RunInfo, "record": Record, "span": SpanRecord, "heartbeat": Heartbeat,
             "prediction": Prediction, "summary": RunSummary}


def props(name: str) -> set[str]:
    return set(schema()["$defs"][name]["properties"])


def errors(validator: Any, obj: Any) -> list[str]:
    return [e.message for e in validator.iter_errors(obj)]


def test_schema_is_valid_draft_2020_12() -> None:
    doc = schema()
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(doc)
    # the validator class chosen from $schema is the 2020-12 one
    assert jsonschema.validators.validator_for(doc) is jsonschema.Draft202012Validator


def test_schema_is_versioned_and_discriminated_by_type() -> None:
    doc = schema()
    assert doc["$id"].endswith(f":{WIRE_VERSION}")
    assert doc["$defs"]["schema_version"] == {**doc["$defs"]["schema_version"], "const": WIRE_VERSION}
    assert [branch["$ref"] for branch in doc["oneOf"]] == [f"#/$defs/{t}" for t in TOP_LEVEL]
    assert doc["required"] == ["type", "schema_version"]
    for kind in TOP_LEVEL:
        definition = doc["$defs"][kind]
        assert definition["properties"]["type"]["const"] == kind
        assert {"type", "schema_version"} <= set(definition["required"])


def test_schema_is_a_fresh_copy_each_call() -> None:
    first = schema()
    first["$defs"].clear()
    assert schema()["$defs"]


def test_top_level_objects_declare_exactly_the_dataclass_fields() -> None:
    doc = schema()
    for kind, cls in TOP_LEVEL.items():
        names = {f.name for f in fields(cls)} - {"schema_version"}  # RunInfo's own counter
        if kind == "span":
            declared = set(doc["$defs"]["span_fields"]["properties"])
        else:
            declared = props(kind) - {"type", "schema_version"}
        assert declared == names, kind


def test_nested_objects_declare_exactly_what_their_producers_emit() -> None:
    assert props("location") == set(Location("FR").to_dict())
    assert props("job") == set(Job("1", "slurm").to_dict())
    assert props("device") == {f.name for f in fields(DeviceInfo)}
    assert props("component") == {f.name for f in fields(ComponentEnergy)}
    intensity_labels = {f.name for f in fields(Intensity)} - {"with_note"}
    # g_per_kwh, zone, source, year, kind, live, basis, scope, gases (computed from the
    # records) + note (the lookup's) + varied and by_kind (computed from the records)
    assert props("intensity") == intensity_labels | {"varied", "by_kind"}
    acc = RunAccumulator()
    acc.add(Record(run_id="r", seq=0, start_s=0.0, duration_s=1.0, cpu_energy_j=1.0,
                   gpu_energy_j=0.0, ram_energy_j=0.0, other_energy_j=0.0, energy_j=1.0, pue=1.0,
                   emissions_g=0.0, intensity_g_per_kwh=0.0, intensity_zone="",
                   intensity_source="unavailable", intensity_year=None, intensity_kind=None,
                   intensity_live=False,
                   components=(ComponentEnergy("cpu", "c", "measured", 1.0, 1.0, "whole"),)))
    assert set(acc.intensity()) == intensity_labels - {"note"} | {"varied", "by_kind"}
    assert props("kind_total") == set(acc.by_kind()[0])
    summary = acc.summary(RunInfo(run_id="r", project="p", experiment="e", started_s=0.0,
                                  scope="process", interval_s=1.0, pue=1.0, location={}, host={},
                                  devices=({"device": "c", "detail": "a CPU"},), skipped=()))
    assert props("summary_component") == set(summary.components[0])
    assert props("summary_energy") == {"cpu", "gpu", "ram", "other", "total"}


def test_every_object_is_closed_except_the_declared_maps() -> None:
    """No free-form maps: every object def forbids unknown keys; only tags, device attributes
    and the summary's delivery report map names to text."""
    maps = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            if "properties" in node and path != "$defs/span_fields":  # closed by span, span_row
                closed = node.get("additionalProperties", node.get("unevaluatedProperties"))
                assert closed is False, path
            elif node.get("type") in ("object", ["object", "null"]) and "properties" not in node:
                assert node.get("additionalProperties") == {"type": "string"}, path
                maps.append(path)
            for key, value in node.items():
                walk(value, f"{path}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}/{i}")

    walk(schema()["$defs"], "$defs")
    assert sorted(maps) == ["$defs/device/properties/attributes",
                            "$defs/summary/properties/delivery", "$defs/tags"]
    doc = schema()
    assert doc["$defs"]["span"]["unevaluatedProperties"] is False
    assert doc["$defs"]["span_row"]["unevaluatedProperties"] is False


def test_every_property_is_described() -> None:
    defs = schema()["$defs"]

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for name, sub in node.get("properties", {}).items():
                # described in place, or by the definition it refers to
                target = defs[sub["$ref"].rsplit("/", 1)[1]] if "$ref" in sub else sub
                assert sub.get("description") or target.get("description"), f"{path}/{name}"
            for key, value in node.items():
                walk(value, f"{path}/{key}")

    walk(schema()["$defs"], "$defs")


def test_objects_built_like_the_tracker_builds_them_validate(validator: Any, build: Any) -> None:
    for item in build.all():
        wire = json.loads(json.dumps(to_wire(item)))
        assert errors(validator, wire) == [], type(item).__name__


def test_stable_identities_are_required(validator: Any, build: Any) -> None:
    doc = schema()
    assert "host_id" in doc["$defs"]["host"]["required"]
    assert {"job_id", "rank", "node"} <= set(doc["$defs"]["job"]["required"])
    for kind in TOP_LEVEL:
        required = doc["$defs"]["span_fields" if kind == "span" else kind]["required"]
        assert "run_id" in required, kind


def _violate(wire: dict[str, Any], path: tuple[Any, ...], value: Any = ...) -> dict[str, Any]:
    out = copy.deepcopy(wire)
    target = out
    for key in path[:-1]:
        target = target[key]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return out


@pytest.mark.parametrize("maker, path, value", [
    ("record", ("schema_version",), ...),                   # missing schema_version
    ("run", ("schema_version",), ...),
    ("summary", ("schema_version",), 1),                    # an older version is not this schema
    ("run", ("location", "continent"), "Europe"),           # an unknown key in location
    ("run", ("host", "uptime_s"), 3.0),                     # ... in host
    ("run", ("devices", 0, "serial"), "X"),                 # ... in a device
    ("run", ("job", "queue"), "gpu"),                       # ... in a job
    ("record", ("energy_j",), "12.5"),                      # a string where a number belongs
    ("record", ("seq",), 1.5),                              # a fraction where an integer belongs
    ("record", ("components", 0, "energy_j"), "400"),
    ("record", ("components", 0, "method"), "guessed"),     # an unknown provenance
    ("record", ("work", 0, "count"), -1),
    ("span", ("count",), 0),
    ("span", ("first_start_s",), ...),                      # the v1 shape is not v2
    ("span", ("start_s",), 1.0),
    ("heartbeat", ("at_s",), None),
    ("run", ("host", "host_id"), "not-a-host-id"),
    ("run", ("host", "host_id"), ...),
    ("run", ("tags", "team"), 3),                           # tags map text to text
    ("run", ("devices", 0, "attributes", "index"), 0),
    ("run", ("location", "country"), "France"),
    ("run", ("pue",), 0.8),
    ("summary", ("energy_j", "total"), ...),
    ("summary", ("intensity", "g_per_kwh"), "56"),
    ("summary", ("intensity", "zone"), ...),                # figures come together
    ("summary", ("spans", 0, "type"), "span"),              # embedded spans are rows
    ("summary", ("energy_kwh",), 0.001),                    # presentation units stay off the wire
    ("summary", ("status",), "done"),
    ("summary", ("delivery", "jsonl"), True),
    ("record", ("type",), "interval"),
])
def test_deliberate_violations_fail(validator: Any, build: Any, maker: str,
                                    path: tuple[Any, ...], value: Any) -> None:
    item = {"run": build.run_info, "record": build.record, "span": build.span,
            "heartbeat": build.heartbeat, "summary": build.summary}[maker]()
    wire = to_wire(item)
    assert errors(validator, wire) == []
    # against this type's own definition, so the other branches' mismatches do not count
    doc = schema()
    branch = jsonschema.Draft202012Validator({**{k: v for k, v in doc.items() if k != "oneOf"},
                                              "$ref": f"#/$defs/{wire['type']}"})
    assert list(branch.iter_errors(wire)) == []
    violated = _violate(wire, path, value)
    assert errors(validator, violated)
    found = [tuple(e.absolute_path) for e in _leaves(branch.iter_errors(violated))]
    # reported at the key itself, or at its object (a missing or an unknown key)
    assert any(p == path[:len(p)] and len(p) >= len(path) - 1 for p in found), (path, found)


def _leaves(errs: Any) -> list[Any]:
    """The innermost errors (a oneOf reports its branches' errors as its context)."""
    out = []
    for err in errs:
        out.extend(_leaves(err.context) if err.context else [err])
    return out


def test_cli_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["schema"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out) == schema()
    assert out.startswith("{\n  ")  # pretty-printed


def test_importing_wattprint_does_not_load_a_schema_library() -> None:
    code = ("import sys, wattprint, wattprint.wire, wattprint.sinks.jsonl; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('jsonschema', 'referencing', 'fastjsonschema')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
