"""A record's row built straight from the wire equals the row of the Record it stands for."""

from __future__ import annotations

import copy

import pytest
from jsonschema import Draft202012Validator

from wattprint.server.record_rows import RowError, record_row
from wattprint.server.validate import _inline
from wattprint.wire import from_wire, schema, to_wire


def via_record(obj):
    """What the server stored before: the wire object read as a Record and written again."""
    wire = to_wire(from_wire(obj))
    return {k: v for k, v in wire.items() if k not in ("type", "schema_version")}


@pytest.fixture(scope="module")
def record_schema():
    defs = schema()["$defs"]
    return Draft202012Validator(_inline(defs["record"], defs))


def variants(record):
    """Schema-valid ways of writing the same record that a sender may use."""
    yield record
    yield dict(record, seq=float(record["seq"]), pue=1, energy_j=int(record["energy_j"]),
               intensity_year=2024.0, start_s=int(record["start_s"]))
    yield dict(record, work=[{"unit": "tokens", "count": 7}, {"unit": "samples", "count": 2.5}])
    yield dict(record, gaps=["a read failed", "reset"], intensity_kind=None,
               intensity_year=None, intensity_basis=None, intensity_scope=None,
               intensity_gases=None)
    changed = copy.deepcopy(record)
    for component in changed["components"]:
        component.update(share=1, energy_j=3, share_basis=None)
    changed["components"].reverse()
    yield changed
    yield dict(record, components=[], work=[])


def test_rows_equal_the_records_rows_values_and_types(run_objects, record_schema):
    items, _ = run_objects
    records = [item for item in items if item["type"] == "record"]
    compared = 0
    for record in records:
        for variant in variants(record):
            assert record_schema.is_valid(variant)
            fast, slow = record_row(variant), via_record(variant)
            assert fast == slow
            # equal and of the same types: 2 == 2.0 would hide an int stored as a float
            assert {k: type(v) for k, v in fast.items()} == {k: type(v) for k, v in slow.items()}
            assert [[type(x) for x in c.values()] for c in fast["components"]] == \
                [[type(x) for x in c.values()] for c in slow["components"]]
            assert [list(c) for c in fast["components"]] == [list(c) for c in slow["components"]]
            compared += 1
    assert compared == len(records) * 6 >= 18


@pytest.mark.parametrize("change, field", [
    ({"seq": 2**31}, "seq"),
    ({"seq": 1e300}, "seq"),
    ({"intensity_year": 10**12}, "intensity_year"),
    ({"energy_j": 10**400}, "energy_j"),
    ({"work": [{"unit": "tokens", "count": 10**400}]}, "work"),
    ({"components": "huge"}, "components"),
    ({"energy_j": 1.7976931348623157e308}, "energy_j"),  # a float, but its sums overflow
    ({"emissions_g": float("nan")}, "emissions_g"),
    ({"cpu_energy_j": float("-inf")}, "cpu_energy_j"),
    ({"work": [{"unit": "tokens", "count": 2e18}]}, "work"),
])
def test_a_number_the_database_cannot_hold_is_a_row_error(run_objects, change, field):
    items, _ = run_objects
    record = next(item for item in items if item["type"] == "record")
    if change.get("components") == "huge":
        change = {"components": [dict(record["components"][0], energy_j=10**400)]}

    with pytest.raises(RowError) as caught:
        record_row(dict(record, **change))

    assert caught.value.field == field


def test_the_largest_stored_seq_is_accepted(run_objects):
    items, _ = run_objects
    record = next(item for item in items if item["type"] == "record")

    assert record_row(dict(record, seq=2**31 - 1))["seq"] == 2**31 - 1
