"""The ingest body in /openapi.json is the published wire schema: same verdicts, object by object."""

from __future__ import annotations

import copy

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from wattprint.server.app import create_app
from wattprint.server.settings import Settings
from wattprint.wire import schema

_BODY = "#/paths/~1api~1v1~1ingest/post/requestBody/content/application~1json/schema"


@pytest.fixture
def documented(tmp_path):
    app = create_app(Settings(db_url=f"sqlite:///{tmp_path / 'server.db'}", pepper="x"))
    document = app.openapi()
    app.state.engine.dispose()
    registry = Registry().with_resource(
        "urn:openapi", Resource.from_contents(document, default_specification=DRAFT202012))
    return document, Draft202012Validator({"$ref": "urn:openapi" + _BODY}, registry=registry)


def _variants(objects):
    """The run's real objects, and broken copies of each kind."""
    yield from objects
    for item in objects:
        for field, value in (("schema_version", "3"), ("run_id", 7), ("type", "nonsense")):
            broken = copy.deepcopy(item)
            broken[field] = value
            yield broken
        broken = copy.deepcopy(item)
        broken.pop("run_id", None)
        yield broken
        if item["type"] == "record":
            broken = copy.deepcopy(item)
            broken["energy_j"] = "a lot"
            yield broken
            broken = copy.deepcopy(item)
            broken["components"] = [{"component": "cpu"}]
            yield broken


def test_the_documented_ingest_body_is_the_wire_schema(documented, run_objects):
    document, body = documented
    wire = Draft202012Validator(schema())
    objects, _ = run_objects
    assert {item["type"] for item in objects} >= {"run", "record", "span", "summary"}
    verdicts = []
    for item in _variants(objects):
        verdict = wire.is_valid(item)
        assert body.is_valid({"items": [item]}) == verdict, item
        verdicts.append(verdict)
    assert True in verdicts and False in verdicts  # both kinds were tried
    assert not body.is_valid({"items": objects, "extra": 1})
    assert document["components"]["schemas"]["WireObject"]["oneOf"]
    assert not any(ref.startswith("#/$defs/")
                   for ref in _refs(document["components"]["schemas"]))


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)
