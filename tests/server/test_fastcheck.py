"""The fast validity check agrees with jsonschema on real wire objects and their mutations."""

from __future__ import annotations

import copy

import pytest
from jsonschema import Draft202012Validator

from wattprint.server.fastcheck import compile_check
from wattprint.server.validate import _inline
from wattprint.wire import schema

REPLACEMENTS = (None, "x", "", -1, 0, 1.5, 2.0, True, False, {}, [], 10**12, -0.5)


def paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, sub in value.items():
            yield from paths(sub, prefix + (key,))
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            yield from paths(sub, prefix + (index,))


def mutations(obj):
    """obj changed in one place, every way REPLACEMENTS allow, plus removals and extra keys."""
    for path in paths(obj):
        if not path:
            continue
        for replacement in REPLACEMENTS:
            changed = copy.deepcopy(obj)
            parent = changed
            for part in path[:-1]:
                parent = parent[part]
            parent[path[-1]] = copy.deepcopy(replacement)
            yield changed
        changed = copy.deepcopy(obj)
        parent = changed
        for part in path[:-1]:
            parent = parent[part]
        if isinstance(parent, dict):
            del parent[path[-1]]
            yield changed
            widened = copy.deepcopy(obj)
            target = widened
            for part in path[:-1]:
                target = target[part]
            target["zz_extra"] = 1
            yield widened


@pytest.fixture(scope="module")
def checkers():
    defs = schema()["$defs"]
    out = {}
    for kind in ("run", "record", "span", "heartbeat", "summary"):
        inlined = _inline(defs[kind], defs)
        out[kind] = (compile_check(inlined), Draft202012Validator(inlined))
    return out


def test_the_hot_types_are_compiled(checkers):
    assert checkers["record"][0] is not None and checkers["heartbeat"][0] is not None
    # types using keywords the fast check does not implement are left to jsonschema
    assert checkers["span"][0] is None


def test_fast_and_jsonschema_agree_on_a_real_run_and_its_mutations(checkers, run_objects):
    items, _ = run_objects
    compared = disagreements = invalid = 0
    for item in items:
        fast, full = checkers[item["type"]]
        if fast is None:
            continue
        assert fast(item) and full.is_valid(item)
        for changed in mutations(item):
            expected = full.is_valid(changed)
            compared += 1
            invalid += not expected
            if fast(changed) != expected:
                disagreements += 1
    assert compared > 1000 and invalid > 500  # the mutations did exercise the checks
    assert disagreements == 0


def nested(depth):
    """An object schema ``depth`` levels deep: {"a": {"a": ... {"n": integer >= 0}}}."""
    node = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 0}},
            "required": ["n"]}
    for _ in range(depth):
        node = {"type": "object", "properties": {"a": node}, "additionalProperties": False}
    return node


def nested_value(depth, n):
    value = {"n": n}
    for _ in range(depth):
        value = {"a": value}
    return value


SCHEMAS = [
    {"anyOf": [{"type": "string", "pattern": "^x"}, {"type": "integer", "maximum": 3}]},
    {"oneOf": [{"type": "number", "minimum": 0}, {"type": "integer"}]},
    {"allOf": [{"type": "object", "required": ["a"]},
               {"properties": {"a": {"enum": [1, "1", True, None, [1]]}}}]},
    {"type": "object", "properties": {"k": {"const": 2}}, "dependentRequired": {"k": ["j"]},
     "additionalProperties": {"type": "array", "items": {"type": "boolean"}, "maxItems": 2}},
    {"type": ["string", "null"], "minLength": 2, "maxLength": 3},
    {"type": "array", "minItems": 1, "items": {"exclusiveMinimum": 0, "exclusiveMaximum": 1}},
    nested(30),
]
VALUES = [None, True, False, 0, 1, 1.0, 2, 2.0, 3, 4, -1, 0.5, "x", "xy", "y", "1", "abcd", [],
          [1], [True], [True, False, True], [0.5, 0.7], [0, 0.5], {}, {"a": 1}, {"a": True},
          {"a": "1"}, {"a": [1]}, {"a": 1.0}, {"k": 2}, {"k": 2, "j": []}, {"k": 2.0, "j": [True]},
          {"z": [True, 1]}, {"k": 3, "j": []}, nested_value(30, 1), nested_value(30, -1),
          nested_value(29, 1), nested_value(30, 1.5)]


@pytest.mark.parametrize("node", SCHEMAS, ids=range(len(SCHEMAS)))
def test_every_compiled_keyword_agrees_with_jsonschema(node):
    fast, full = compile_check(node), Draft202012Validator(node)
    assert fast is not None

    outcomes = {json_text(value): fast(value) for value in VALUES}

    assert outcomes == {json_text(value): full.is_valid(value) for value in VALUES}
    assert True in outcomes.values() and False in outcomes.values()


def json_text(value):
    import json

    return json.dumps(value)


def test_a_schema_with_an_unknown_keyword_is_not_compiled():
    assert compile_check({"type": "object", "unevaluatedProperties": False}) is None
    assert compile_check({"properties": {"a": {"type": "thing"}}}) is None
