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
