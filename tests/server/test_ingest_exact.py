"""Ingest counts exactly: accepted + duplicates, partly stored batches, repeats within a batch,
a refusal at the last item, big numbers, and two processes storing the same batch at once."""

from __future__ import annotations

import json
import multiprocessing
import time

import pytest
from ingest_race import store_in_own_process
from sqlalchemy import func, select, text

from wattprint.server.models import IntervalRecord, Run


def count(engine, model) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(model)).scalar_one()


def post(client, auth, items):
    return client.post("/api/v1/ingest", json={"items": items}, headers=auth)


def batch(run_objects, seqs):
    """Records of the run with the given sequence numbers (the real record, renumbered)."""
    items, _ = run_objects
    record = next(item for item in items if item["type"] == "record")
    return [dict(record, seq=seq, start_s=record["start_s"] + seq) for seq in seqs]


def test_a_batch_partly_stored_counts_exactly(client, auth, engine, run_objects):
    assert post(client, auth, batch(run_objects, range(0, 1000, 2))).json() == \
        {"accepted": 500, "duplicates": 0}

    response = post(client, auth, batch(run_objects, range(1000)))

    assert response.json() == {"accepted": 500, "duplicates": 500}
    assert count(engine, IntervalRecord) == 1000
    with engine.connect() as connection:
        seqs = connection.execute(select(IntervalRecord.seq).order_by(IntervalRecord.seq))
        assert list(seqs.scalars()) == list(range(1000))


def test_repeats_within_one_batch_count_as_duplicates_and_the_first_stays(client, auth,
                                                                           engine, run_objects):
    first = batch(run_objects, range(10))
    repeats = [dict(r, energy_j=999.0) for r in first[:5]]

    response = post(client, auth, first + repeats)

    assert response.json() == {"accepted": 10, "duplicates": 5}
    with engine.connect() as connection:
        energies = connection.execute(select(IntervalRecord.energy_j)).scalars().all()
    assert len(energies) == 10 and 999.0 not in energies


def test_a_refusal_at_item_999_stores_nothing(client, auth, engine, run_objects):
    items, _ = run_objects
    records = batch(run_objects, range(999))
    bad = dict(records[-1], seq=999, duration_s=-1.0)

    response = post(client, auth, [items[0], *records[:-1], bad])

    assert response.status_code == 400
    assert response.json()["detail"]["index"] == 999
    assert response.json()["detail"]["field"] == "duration_s"
    assert count(engine, Run) == 0 and count(engine, IntervalRecord) == 0


@pytest.mark.parametrize("raw, field", [
    ('"seq": 100000000000000000000', "seq"),  # over 64 bits: the stdlib parses it, not orjson
    ('"seq": 2147483648', "seq"),  # over the column's 32 bits
    ('"energy_j": 1' + "0" * 400, "energy_j"),  # no 64-bit float holds it
])
def test_a_number_too_large_to_store_is_a_400_naming_the_field(client, auth, engine,
                                                               run_objects, raw, field):
    record = batch(run_objects, [0])[0]
    name = raw.split('"')[1]
    body = json.dumps({"items": [record]}).replace(f'"{name}": {json.dumps(record[name])}', raw)
    assert raw in body

    response = client.post("/api/v1/ingest", content=body.encode(),
                           headers={**auth, "Content-Type": "application/json"})

    assert response.status_code == 400, response.text
    assert response.json()["detail"] == {"index": 0, "field": field,
                                         "message": response.json()["detail"]["message"]}
    assert field in response.json()["detail"]["message"]
    assert count(engine, IntervalRecord) == 0


def _race(db_url, project_id, items, *, hold_first: bool, engine=None):
    """Two processes store ``items``; with ``hold_first`` the first keeps its transaction open
    until the second is seen waiting on its keys (PostgreSQL's pg_stat_activity)."""
    context = multiprocessing.get_context("spawn")
    start, stored, commit = context.Event(), context.Event(), context.Event()
    results = context.Queue()
    first_hold = {"stored": stored, "commit": commit} if hold_first else {}
    first = context.Process(target=store_in_own_process,
                            args=(db_url, project_id, items, "first", start, results),
                            kwargs=first_hold)
    second_start = stored if hold_first else start
    second = context.Process(target=store_in_own_process,
                             args=(db_url, project_id, items, "second", second_start, results))
    first.start()
    second.start()
    try:
        start.set()
        if hold_first:
            assert stored.wait(60), "the first process did not store its batch"
            _wait_until_a_lock_is_awaited(engine)
            commit.set()
        answers = [results.get(timeout=120) for _ in range(2)]
    finally:
        commit.set()
        for process in (first, second):
            process.join(60)
            if process.is_alive():
                process.kill()
    return {name: (accepted, duplicates) for name, accepted, duplicates in answers}


def _wait_until_a_lock_is_awaited(engine) -> None:
    # a real other process: poll with a deadline (no clock to fake)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            if connection.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'")).scalar_one():
                return
        time.sleep(0.02)
    raise AssertionError("the second process never waited on the first one's keys")


def test_two_processes_storing_one_batch_at_once_store_it_once(db_url, engine, client, auth,
                                                               org, run_objects):
    items, _ = run_objects
    assert post(client, auth, [items[0]]).status_code == 200  # the run exists: no placeholder
    records = [dict(r, run_id=items[0]["run_id"]) for r in batch(run_objects, range(1000))]

    answers = _race(db_url, org.project_id, records, hold_first=False)

    assert all(value[0] != "error" for value in answers.values()), answers
    assert sum(a for a, _ in answers.values()) == 1000
    assert sum(d for _, d in answers.values()) == 1000
    assert count(engine, IntervalRecord) == 1000


def test_a_batch_stored_while_the_same_one_is_uncommitted_counts_all_duplicates(
        db_url, engine, client, auth, org, run_objects):
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite lets one writer in at a time: the second would wait before storing")
    items, _ = run_objects
    assert post(client, auth, [items[0]]).status_code == 200
    records = [dict(r, run_id=items[0]["run_id"]) for r in batch(run_objects, range(1000))]

    answers = _race(db_url, org.project_id, records, hold_first=True, engine=engine)

    # the second insert waited for the first transaction's keys, then skipped every one
    assert answers == {"first": (1000, 0), "second": (0, 1000)}
    assert count(engine, IntervalRecord) == 1000
