"""Predictions on the team server (wire format 4): a real tracker's predictions are ingested,
the latest one reads back exactly from the query API on SQLite and PostgreSQL, an older one sent
late never replaces it, another organisation never sees it, version 3 senders still get in, and
a bad prediction is a 400 naming the field."""

from __future__ import annotations

import pytest
from other_org import key_of, other_organisation
from sqlalchemy import select

import wattprint
from wattprint.sensors.fake import FakeDevice, FakeSensor
from wattprint.server.models import Prediction
from wattprint.sinks.memory import MemorySink
from wattprint.wire import to_wire


def predicted_run(clock, records: int = 5):
    """(wire objects in send order, the tracker's last prediction) of a run that expects 100
    steps and does 10 of 1 s each per record, 250 W on a GPU."""
    sink = MemorySink()
    sensor = FakeSensor([FakeDevice("fake:gpu", "gpu", 250.0)], clock=clock)
    tracker = wattprint.Tracker(sensors=[sensor], sinks=[sink], clock=clock,
                                wall_clock=clock.wall_clock, country="FR", interval_s=3600,
                                project="vision", experiment="resnet", budget_kwh=0.001)
    tracker.start()
    tracker.expect(total=100, unit="steps")
    for _ in range(records):
        for _ in range(10):
            clock.advance(1.0)
            tracker.step(1, unit="steps")
        tracker.flush()
    summary = tracker.stop()
    items = [to_wire(sink.run), *[to_wire(r) for r in sink.records],
             *[to_wire(p) for p in sink.predictions], to_wire(summary)]
    assert sink.predictions and summary.prediction == sink.predictions[-1].to_dict()
    return items, sink.predictions


def ingest(client, org, items):
    response = client.post("/api/v1/ingest", json={"items": items},
                           headers={"Authorization": f"Bearer {org.api_key}"})
    return response


@pytest.fixture
def read(make_key) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_key(scopes=('read',))}"}


def test_the_latest_prediction_reads_back_exactly(client, engine, org, read, clock):
    items, predictions = predicted_run(clock)
    last = predictions[-1]
    answer = ingest(client, org, items)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"accepted": len(items), "duplicates": 0}
    url = f"/api/v1/runs/{last.run_id}/prediction"
    got = client.get(url, headers=read)
    assert got.status_code == 200, got.text
    assert got.json() == {"run_id": last.run_id, "prediction": to_wire(last)}
    in_org = client.get(f"/api/v1/orgs/{org.organisation_id}/runs/{last.run_id}/prediction",
                        headers=read)
    assert in_org.json() == got.json()
    # the figures, not just the shape: 250 W, 1 s a step, 100 steps
    body = got.json()["prediction"]
    assert (body["seq"], body["done"], body["total"]) == (last.seq, 50.0, 100.0)
    assert body["energy_j"] == pytest.approx(25_000.0)
    assert body["duration_s"] == pytest.approx(100.0)
    # the summary carries the same prediction and the budget's alert
    run = client.get(f"/api/v1/runs/{last.run_id}", headers=read).json()
    assert run["summary"]["prediction"] == {k: v for k, v in to_wire(last).items()
                                            if k not in ("type", "schema_version")}
    assert [a["kind"] for a in run["summary"]["budget"]["alerts"]] == ["energy"]
    with engine.connect() as connection:
        (row,) = connection.execute(select(Prediction.__table__)).all()
        assert (row.run_id, row.seq, row.unit, row.done, row.total, row.energy_j,
                row.emissions_g, row.end_s) == (
            last.run_id, last.seq, "steps", 50.0, 100.0, last.energy_j, last.emissions_g,
            last.end_s)


def test_an_older_prediction_sent_late_never_replaces_a_newer_one(client, org, read, clock):
    items, predictions = predicted_run(clock)
    assert ingest(client, org, items).status_code == 200
    first, last = predictions[0], predictions[-1]
    again = ingest(client, org, [to_wire(first)])  # a spooled batch delivered late
    assert again.status_code == 200, again.text
    got = client.get(f"/api/v1/runs/{last.run_id}/prediction", headers=read).json()
    assert got["prediction"]["seq"] == last.seq
    # within one batch too: the highest seq wins whatever the order
    assert ingest(client, org, [to_wire(last), to_wire(first)]).status_code == 200
    got = client.get(f"/api/v1/runs/{last.run_id}/prediction", headers=read).json()
    assert got["prediction"] == to_wire(last)


def test_a_run_without_prediction_and_runs_not_ours(client, engine, org, read, clock,
                                                    run_objects):
    items, summary = run_objects  # a run that never called expect()
    assert ingest(client, org, items).status_code == 200
    got = client.get(f"/api/v1/runs/{summary.run_id}/prediction", headers=read)
    assert got.status_code == 200 and got.json() == {"run_id": summary.run_id,
                                                     "prediction": None}
    missing = client.get("/api/v1/runs/never-sent/prediction", headers=read)
    assert missing.status_code == 404 and missing.json()["detail"]["field"] == "run_id"
    predicted, predictions = predicted_run(clock)
    assert ingest(client, org, predicted).status_code == 200
    other_org, other_project = other_organisation(engine)
    their_read = {"Authorization": f"Bearer {key_of(engine, other_project)}"}
    run_id = predictions[-1].run_id
    assert client.get(f"/api/v1/runs/{run_id}/prediction", headers=their_read).status_code == 404
    assert client.get(f"/api/v1/orgs/{other_org}/runs/{run_id}/prediction",
                      headers=their_read).status_code == 404


def test_a_version_3_sender_still_gets_in(client, org, read, run_objects):
    # what a tracker of wire version 3 sends: no prediction or budget in its summary
    items, summary = run_objects
    old = []
    for item in items:
        item = {**item, "schema_version": 3}
        if item["type"] == "summary":
            del item["prediction"], item["budget"]
        old.append(item)
    answer = ingest(client, org, old)
    assert answer.status_code == 200, answer.text
    run = client.get(f"/api/v1/runs/{summary.run_id}", headers=read).json()
    assert run["summary"]["schema_version"] == 4
    assert run["summary"]["prediction"] is None and run["summary"]["budget"] is None
    assert run["summary"]["emissions_g"] == pytest.approx(summary.emissions_g)


@pytest.mark.parametrize(("change", "field"), [
    ({"level": 90}, "level"),
    ({"energy_j": -1.0}, "energy_j"),
    ({"total": 0}, "total"),
    ({"seq": 2**40}, "seq"),
    ({"energy_high_j": 1e300}, "energy_high_j"),
    ({"schema_version": 3}, "schema_version"),
])
def test_a_bad_prediction_is_refused_naming_the_field(client, org, clock, change, field):
    items, predictions = predicted_run(clock)
    bad = {**to_wire(predictions[-1]), **change}
    answer = ingest(client, org, [*items[:1], bad])
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"]["index"] == 1
    assert answer.json()["detail"]["field"] == field


def test_the_fast_check_agrees_with_jsonschema_on_predictions_and_their_mutations(clock):
    # the prediction (compiled: it is sent at every record) changed every way test_fastcheck's
    # mutations change objects; summaries stay with jsonschema alone (their spans use
    # unevaluatedProperties)
    from jsonschema import Draft202012Validator
    from test_fastcheck import mutations

    from wattprint.server.fastcheck import compile_check
    from wattprint.server.validate import _inline
    from wattprint.wire import schema

    defs = schema()["$defs"]
    items, _ = predicted_run(clock)
    compared = invalid = 0
    for item in items:
        if item["type"] not in ("prediction", "summary"):
            continue
        inlined = _inline(defs[item["type"]], defs)
        fast, full = compile_check(inlined), Draft202012Validator(inlined)
        if fast is None:
            assert item["type"] == "summary"
            continue
        assert fast(item) and full.is_valid(item)
        for changed in mutations(item):
            expected = full.is_valid(changed)
            compared += 1
            invalid += not expected
            assert fast(changed) == expected, changed
    assert compared > 1000 and invalid > 500
