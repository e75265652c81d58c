"""Numbers no real run produces are refused with 400 naming the item and field, on every object
type, and the organisation's totals stay finite: the schema says "number", the database and
JSON answers need finite values of sane size."""

from __future__ import annotations

import copy

import pytest

from wattprint.server.bounds import MAGNITUDE_LIMIT


def _first(items, kind):
    return next(index for index, item in enumerate(items) if item["type"] == kind)


@pytest.mark.parametrize("kind, path, value", [
    ("span", ("count",), 2_722_754_551.0),  # what the fuzzer sent: beyond a 32-bit column
    ("span", ("energy_j",), 1.7976931348623157e308),
    ("span", ("first_start_s",), float("inf")),
    ("summary", ("records",), 2**31),
    ("summary", ("exit_code",), -(2**40)),
    ("summary", ("duration_s",), float("nan")),
    ("heartbeat", ("every_s",), 1e30),
    ("run", ("interval_s",), 1e19),
    ("record", ("energy_j",), 1.7976931348623157e308),
    ("record", ("gpu_energy_j",), -1e19),
])
def test_a_number_out_of_bounds_is_refused_naming_item_and_field(client, auth, engine,
                                                                run_objects, kind, path, value):
    items, _ = run_objects
    items = copy.deepcopy(items)
    if kind == "heartbeat":
        run_id = items[0]["run_id"]
        items.append({"type": "heartbeat", "schema_version": items[0]["schema_version"],
                      "run_id": run_id, "at_s": 1_700_000_000.0, "every_s": 30.0})
    index = _first(items, kind)
    target = items[index]
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    import json

    body = json.dumps({"items": items})  # Python's JSON writes NaN and Infinity, and reads them
    answer = client.post("/api/v1/ingest", content=body,
                         headers={**auth, "Content-Type": "application/json"})

    assert answer.status_code == 400, answer.text
    detail = answer.json()["detail"]
    if value != value or value in (float("inf"), float("-inf")):
        # JSON has no NaN or Infinity: the body is refused as a whole, before any item
        assert "not JSON" in detail["message"] and detail["index"] is None
    else:
        assert detail["index"] == index and detail["field"] == ".".join(path)
    from sqlalchemy import func, select

    from wattprint.server.models import Run
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Run)).scalar() == 0


def test_the_largest_figures_are_accepted_and_totals_stay_answerable(client, auth, run_objects):
    items, _ = run_objects
    items = copy.deepcopy(items)
    for item in items:
        if item["type"] == "record":
            item["energy_j"] = MAGNITUDE_LIMIT
    assert client.post("/api/v1/ingest", json={"items": items}, headers=auth).status_code == 200
    totals = client.get("/api/v1/totals", params={"by": "run"}, headers={
        "Authorization": auth["Authorization"]})
    assert totals.status_code in (200, 403)  # the ingest key may lack read: the point is no 500


def test_out_of_bounds_names_the_first_bad_number_at_any_depth():
    from wattprint.server.bounds import out_of_bounds

    assert out_of_bounds("span", {"count": 3, "energy_j": 1.0}) is None
    assert out_of_bounds("span", {"energy_j": float("nan")})[0] == "energy_j"
    assert out_of_bounds("run", {"host": {"cpus": [1, 2e19]}})[0] == "host.cpus[1]"
    assert out_of_bounds("run", {"job": {"rank": 2**31}})[0] == "job.rank"
    assert out_of_bounds("run", {"job": {"rank": 7, "flag": True}}) is None  # bools are not numbers
