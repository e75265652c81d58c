"""POST /api/v1/ingest: a real run's objects round-trip; retries and reorderings store once."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from wattprint.server.models import Experiment, IntervalRecord, Run, Span, Summary
from wattprint.wire import from_wire


def count(engine, model) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(model)).scalar_one()


def post(client, auth, items, **kwargs):
    return client.post("/api/v1/ingest", json={"items": items}, headers=auth, **kwargs)


def test_a_real_runs_objects_are_stored_with_their_numbers(client, auth, engine, run_objects, org):
    items, summary = run_objects
    kinds = [item["type"] for item in items]
    records_sent = kinds.count("record")
    assert records_sent >= 3 and kinds.count("span") == 1

    response = post(client, auth, items)

    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": len(items), "duplicates": 0}
    with engine.connect() as connection:
        run = connection.execute(select(Run)).one()
        records = connection.execute(
            select(IntervalRecord).order_by(IntervalRecord.seq)).all()
        stored_summary = connection.execute(select(Summary)).one()
        experiment = connection.execute(select(Experiment)).one()
        span = connection.execute(select(Span)).one()
    assert run.run_id == summary.run_id and run.info_received
    assert run.project_id == org.project_id  # the key's project decides
    assert (run.reported_project, run.reported_experiment) == ("vision", "resnet")
    assert experiment.name == "resnet" and run.experiment_id == experiment.id
    assert run.country == "FR" and run.scope == summary.scope
    assert [r.seq for r in records] == list(range(records_sent))
    # the stored intervals add up to exactly what the tracker's summary said
    assert sum(r.energy_j for r in records) == pytest.approx(summary.energy_j["total"])
    assert sum(r.gpu_energy_j for r in records) == pytest.approx(summary.energy_j["gpu"])
    assert sum(r.emissions_g for r in records) == pytest.approx(summary.emissions_g)
    assert stored_summary.energy_j == pytest.approx(summary.energy_j["total"])
    assert stored_summary.records == records_sent and stored_summary.status == "finished"
    assert span.name == "epoch" and span.energy_j == pytest.approx(3000.0)  # 300 W x 10 s
    # the whole objects are kept: they read back as the same items
    record_wire = next(item for item in items if item["type"] == "record")
    assert from_wire(run.wire) == from_wire(items[0])
    assert records[0].components == record_wire["components"]


def test_the_same_batch_twice_is_stored_once(client, auth, engine, run_objects):
    items, _ = run_objects
    assert post(client, auth, items).status_code == 200

    again = post(client, auth, items)

    assert again.status_code == 200
    records = sum(1 for item in items if item["type"] == "record")
    beats = sum(1 for item in items if item["type"] == "heartbeat")
    assert again.json() == {"accepted": len(items) - records - beats,
                            "duplicates": records + beats}
    assert count(engine, IntervalRecord) == records
    assert count(engine, Run) == 1 and count(engine, Span) == 1 and count(engine, Summary) == 1


def test_reordered_and_split_batches_store_the_same_rows(client, auth, engine, run_objects):
    items, summary = run_objects
    # the summary first, the records backwards, the run info last, split in two requests
    shuffled = [items[-1]] + list(reversed(items[1:-1])) + [items[0]]
    first, second = shuffled[:3], shuffled[2:]  # one object in both

    assert post(client, auth, first).status_code == 200
    response = post(client, auth, second)

    assert response.status_code == 200
    with engine.connect() as connection:
        run = connection.execute(select(Run)).one()
        energy = connection.execute(select(func.sum(IntervalRecord.energy_j))).scalar_one()
    assert run.info_received and run.experiment_id is not None
    assert energy == pytest.approx(summary.energy_j["total"])
    assert count(engine, IntervalRecord) == sum(1 for i in items if i["type"] == "record")


def test_records_before_their_run_info_make_a_placeholder_run(client, auth, engine, run_objects):
    items, _ = run_objects
    records = [item for item in items if item["type"] == "record"]

    assert post(client, auth, records).json() == {"accepted": len(records), "duplicates": 0}
    with engine.connect() as connection:
        run = connection.execute(select(Run)).one()
    assert not run.info_received and run.started_s is None

    assert post(client, auth, [items[0]]).status_code == 200
    with engine.connect() as connection:
        run = connection.execute(select(Run)).one()
    assert run.info_received and run.started_s == items[0]["started_s"]


def test_a_newer_span_replaces_the_stored_one(client, auth, engine, run_objects):
    items, _ = run_objects
    span = next(item for item in items if item["type"] == "span")
    older = dict(span, count=1, energy_j=1.0)
    assert post(client, auth, [older]).status_code == 200

    assert post(client, auth, [span]).status_code == 200

    with engine.connect() as connection:
        stored = connection.execute(select(Span)).one()
    assert stored.energy_j == pytest.approx(span["energy_j"]) and stored.count == span["count"]


def test_a_repeated_record_within_one_batch_counts_as_a_duplicate(client, auth, engine,
                                                                   run_objects):
    items, _ = run_objects
    record = next(item for item in items if item["type"] == "record")

    response = post(client, auth, [record, dict(record, energy_j=999.0)])

    assert response.json() == {"accepted": 1, "duplicates": 1}
    with engine.connect() as connection:
        assert connection.execute(select(IntervalRecord.energy_j)).scalar_one() == \
            pytest.approx(record["energy_j"])  # the first one stored stays


@pytest.mark.parametrize("mutate, field", [
    (lambda o: o.pop("seq"), "seq"),
    (lambda o: o.update(seq=-1), "seq"),
    (lambda o: o.update(energy_j="lots"), "energy_j"),
    (lambda o: o["components"][0].update(energy_j=None), "components[0].energy_j"),
    (lambda o: o.update(surprise=1), None),
    (lambda o: o.update(type="bogus"), "type"),
    (lambda o: o.update(schema_version=2), "schema_version"),
])
def test_an_invalid_item_is_refused_naming_its_index_and_field(client, auth, run_objects,
                                                               mutate, field):
    items, _ = run_objects
    bad = json.loads(json.dumps(items[2]))
    assert bad["type"] == "record"
    mutate(bad)

    response = post(client, auth, [items[0], items[1], bad])

    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail["index"] == 2
    assert detail["field"] == field
    assert detail["message"]
    if field is None:  # additional property: the message names it
        assert "surprise" in detail["message"]


def test_a_refused_batch_stores_nothing(client, auth, engine, run_objects):
    items, _ = run_objects
    bad = dict(items[-1], duration_s="long")

    response = post(client, auth, items[:-1] + [bad])

    assert response.status_code == 400 and response.json()["detail"]["index"] == len(items) - 1
    assert count(engine, Run) == 0 and count(engine, IntervalRecord) == 0


@pytest.mark.parametrize("body, field", [
    (b"not json", None), (b"[]", "items"), (b'{"items": 3}', "items"),
    (b'{"items": [NaN]}', None),
])
def test_a_malformed_body_is_refused(client, auth, body, field):
    response = client.post("/api/v1/ingest", content=body,
                           headers={**auth, "Content-Type": "application/json"})

    assert response.status_code == 400
    assert response.json()["detail"]["field"] == field
    assert response.json()["detail"]["index"] is None


def test_too_many_items_or_bytes_is_413(settings, engine, org, run_objects):
    from dataclasses import replace

    from fastapi.testclient import TestClient

    from wattprint.server.app import create_app

    items, _ = run_objects
    auth = {"Authorization": f"Bearer {org.api_key}"}
    small = replace(settings, max_items=2, max_body_bytes=50_000)
    with TestClient(create_app(small)) as client:
        too_many = post(client, auth, items[:3])
        too_big = post(client, auth, [items[1]] * 2 + [{"pad": "x" * 60_000}])
        fits = post(client, auth, items[:2])
    assert too_many.status_code == 413 and too_many.json()["detail"]["field"] == "items"
    assert "at most 2" in too_many.json()["detail"]["message"]
    assert too_big.status_code == 413 and "50000 bytes" in too_big.json()["detail"]["message"]
    assert fits.status_code == 200


def test_an_empty_batch_checks_the_key_and_stores_nothing(client, auth, engine):
    # `wattprint login` checks a key this way
    response = post(client, auth, [])

    assert response.status_code == 200 and response.json() == {"accepted": 0, "duplicates": 0}
    assert post(client, {"Authorization": "Bearer nope"}, []).status_code == 401
    assert count(engine, Run) == 0


def test_long_free_text_is_stored_whole(client, auth, engine, run_objects):
    # the schema sets no lengths; a bounded column would make PostgreSQL fail the batch
    items, _ = run_objects
    run_id = "r" * 300
    long_items = [dict(item, run_id=run_id) for item in items]
    long_items[0] = dict(long_items[0], experiment="e" * 500,
                         host=dict(long_items[0]["host"], hostname="h" * 400))

    response = post(client, auth, long_items)

    assert response.status_code == 200, response.text
    with engine.connect() as connection:
        run = connection.execute(select(Run)).one()
        experiment = connection.execute(select(Experiment)).one()
    assert run.run_id == run_id and run.hostname == "h" * 400
    assert experiment.name == "e" * 500
