"""The query API: a real run, sent through the real ingest endpoint, reads back with the numbers
of the tracker's own summary; a read key sees its organisation only."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from other_org import key_of, other_organisation

from wattprint.server.app import create_app
from wattprint.store.liveness import stale_after_s
from wattprint.wire import from_wire


def ingest(client, org, items) -> None:
    response = client.post("/api/v1/ingest", json={"items": items},
                           headers={"Authorization": f"Bearer {org.api_key}"})
    assert response.status_code == 200, response.text


@pytest.fixture
def read(make_key) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_key(scopes=('read',))}"}


def renamed(items, run_id: str, shift_s: float = 0.0) -> list[dict]:
    """The same run's objects under another run id, started ``shift_s`` later."""
    out = json.loads(json.dumps(items))
    for item in out:
        item["run_id"] = run_id
        for name in ("started_s", "start_s", "at_s", "first_start_s", "last_end_s"):
            if isinstance(item.get(name), float | int) and not isinstance(item.get(name), bool):
                item[name] += shift_s
    return out


def test_a_run_reads_back_with_its_summarys_numbers(client, org, read, run_objects):
    items, summary = run_objects
    ingest(client, org, items)

    listed = client.get("/api/v1/runs", headers=read)
    one = client.get(f"/api/v1/runs/{summary.run_id}", headers=read)

    assert listed.status_code == 200, listed.text
    [run] = listed.json()["runs"]
    assert listed.json()["next_cursor"] is None
    assert run["run_id"] == summary.run_id and run["status"] == "finished"
    assert run["organisation"] == "acme-research" and run["experiment"] == "resnet"
    assert run["energy_j"] == pytest.approx(summary.energy_j["total"])
    assert run["emissions_g"] == pytest.approx(summary.emissions_g)
    assert run["region"] == "FR"
    body = one.json()
    assert from_wire(body["info"]) == from_wire(items[0])
    assert from_wire(body["summary"]) == from_wire(items[-1])
    assert body["status"] == "finished"


def test_records_since_a_sequence_number_page_in_order(client, org, read, run_objects):
    items, summary = run_objects
    ingest(client, org, items)
    sent = [item for item in items if item["type"] == "record"]
    url = f"/api/v1/runs/{summary.run_id}/records"

    first = client.get(url, params={"since_seq": 1, "limit": 1}, headers=read).json()
    rest = client.get(url, params={"since_seq": first["next_seq"]}, headers=read).json()
    everything = client.get(url, headers=read).json()["records"]

    assert [r["seq"] for r in first["records"]] == [1] and first["next_seq"] == 2
    assert [r["seq"] for r in rest["records"]] == list(range(2, len(sent)))
    assert rest["next_seq"] is None
    assert sum(r["energy_j"] for r in everything) == pytest.approx(summary.energy_j["total"])
    assert everything[0]["components"] == sent[0]["components"]


def test_spans_read_back_as_sent(client, org, read, run_objects):
    items, summary = run_objects
    ingest(client, org, items)

    spans = client.get(f"/api/v1/runs/{summary.run_id}/spans", headers=read).json()["spans"]

    assert [from_wire(s) for s in spans] == [from_wire(i) for i in items if i["type"] == "span"]
    assert spans[0]["energy_j"] == pytest.approx(3000.0)  # 300 W x 10 s


@pytest.mark.parametrize("by, key", [("organisation", "acme-research"), ("project", None),
                                     ("experiment", "resnet"), ("run", None), ("region", "FR"),
                                     ("day", "2026-01-01")])
def test_totals_equal_the_summary_with_grams_by_kind(client, org, read, run_objects, by, key):
    items, summary = run_objects
    ingest(client, org, items)

    response = client.get("/api/v1/totals", params={"by": by}, headers=read)

    assert response.status_code == 200, response.text
    [group] = response.json()["groups"]
    if key is not None:
        assert group["key"] == key
    assert group["runs"] == 1
    assert group["energy_j"] == pytest.approx(summary.energy_j["total"])
    assert group["emissions_g"] == pytest.approx(summary.emissions_g)
    assert group["emissions_by_kind"] == {"average": pytest.approx(summary.emissions_g)}


def test_totals_by_component_split_energy_and_grams(client, org, read, run_objects):
    items, summary = run_objects
    ingest(client, org, items)

    groups = client.get("/api/v1/totals", params={"by": "component"}, headers=read).json()

    by_key = {g["key"]: g for g in groups["groups"]}
    assert set(by_key) == {"cpu", "gpu"}
    assert by_key["gpu"]["energy_j"] == pytest.approx(summary.energy_j["gpu"])
    assert by_key["cpu"]["energy_j"] == pytest.approx(summary.energy_j["cpu"])
    assert by_key["cpu"]["emissions_g"] + by_key["gpu"]["emissions_g"] == \
        pytest.approx(summary.emissions_g)
    assert by_key["gpu"]["emissions_g"] == pytest.approx(summary.emissions_g * 250 / 300)


def test_marginal_and_average_grams_stay_apart(client, org, read, run_objects):
    items, summary = run_objects
    marginal = renamed(items, "marginal-run")
    for item in marginal:
        if item["type"] == "record":
            item["intensity_kind"] = "marginal"
    ingest(client, org, items + marginal)

    [group] = client.get("/api/v1/totals", params={"by": "project"}, headers=read).json()["groups"]

    assert group["runs"] == 2
    assert group["emissions_by_kind"] == {"average": pytest.approx(summary.emissions_g),
                                          "marginal": pytest.approx(summary.emissions_g)}


def test_runs_page_with_a_cursor_and_filter(client, org, read, run_objects):
    items, _ = run_objects
    for n in range(5):
        ingest(client, org, renamed(items, f"run-{n}", shift_s=100.0 * n))
    started = items[0]["started_s"]

    seen, cursor = [], None
    while True:
        page = client.get("/api/v1/runs", params={"limit": 2, **({"cursor": cursor} if cursor
                                                                  else {})}, headers=read).json()
        seen += [r["run_id"] for r in page["runs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    windowed = client.get("/api/v1/runs", params={"since": started + 100, "until": started + 300},
                          headers=read).json()["runs"]
    none = client.get("/api/v1/runs", params={"experiment": "other"}, headers=read).json()

    assert seen == [f"run-{n}" for n in reversed(range(5))]  # newest first, each once
    assert [r["run_id"] for r in windowed] == ["run-2", "run-1"]
    assert none["runs"] == []


def test_a_run_without_summary_is_running_until_its_heartbeat_goes_stale(settings, engine, org,
                                                                         make_key, run_objects):
    items, _ = run_objects
    unfinished = [item for item in items if item["type"] != "summary"]
    beats = [item for item in items if item["type"] == "heartbeat"]
    assert beats, "the run sent heartbeats"
    last = max(b["at_s"] for b in beats)
    every = next(b for b in beats if b["at_s"] == last)["every_s"]
    read = {"Authorization": f"Bearer {make_key(scopes=('read',))}"}
    now = {"s": last + 1.0}
    app = create_app(settings, wall_clock=lambda: now["s"])
    with TestClient(app) as client:
        ingest(client, org, unfinished)
        fresh = client.get("/api/v1/runs", params={"status": "running"}, headers=read).json()
        now["s"] = last + stale_after_s(every) + 1.0
        stale = client.get("/api/v1/runs", headers=read).json()
        still_running = client.get("/api/v1/runs", params={"status": "running"},
                                   headers=read).json()
        finished = client.get("/api/v1/runs", params={"status": "finished"}, headers=read).json()
    app.state.engine.dispose()

    assert [r["status"] for r in fresh["runs"]] == ["running"]
    assert [r["status"] for r in stale["runs"]] == ["interrupted"]
    assert still_running["runs"] == [] and finished["runs"] == []


def test_the_series_sums_into_at_most_n_buckets(client, org, read, run_objects):
    items, summary = run_objects
    ingest(client, org, items)
    records = [item for item in items if item["type"] == "record"]
    since = min(r["start_s"] for r in records)
    until = max(r["start_s"] for r in records) + 1.0

    one = client.get("/api/v1/series", params={"since": since, "until": until, "points": 1},
                     headers=read).json()
    many = client.get("/api/v1/series", params={"since": since, "until": until, "points": 500},
                      headers=read).json()

    [bucket] = one["points"]
    assert bucket["energy_j"] == pytest.approx(summary.energy_j["total"])
    assert bucket["emissions_g"] == pytest.approx(summary.emissions_g)
    assert bucket["records"] == len(records)
    assert len(many["points"]) == len(records) <= 500
    assert sum(p["energy_j"] for p in many["points"]) == pytest.approx(summary.energy_j["total"])


def test_a_read_key_never_sees_another_organisation(client, engine, org, read, run_objects):
    items, summary = run_objects
    ingest(client, org, items)
    _, other_project = other_organisation(engine)
    theirs = {"Authorization": f"Bearer {key_of(engine, other_project)}"}
    run_url = f"/api/v1/runs/{summary.run_id}"

    assert client.get("/api/v1/runs", headers=theirs).json()["runs"] == []
    assert client.get(run_url, headers=theirs).status_code == 404
    assert client.get(run_url + "/records", headers=theirs).status_code == 404
    assert client.get(run_url + "/spans", headers=theirs).status_code == 404
    assert client.get("/api/v1/totals", params={"by": "run"}, headers=theirs).json()["groups"] == []
    series = client.get("/api/v1/series", params={"since": 0, "until": 2e9}, headers=theirs)
    assert series.json()["points"] == []
    assert len(client.get("/api/v1/runs", headers=read).json()["runs"]) == 1  # ours still there


def test_reading_needs_a_key_with_the_read_scope(client, auth):
    assert client.get("/api/v1/runs").status_code == 401
    refused = client.get("/api/v1/runs", headers=auth)  # the bootstrap key: ingest only
    assert refused.status_code == 403 and "'read'" in refused.json()["detail"]["message"]


@pytest.mark.parametrize("path, params, field", [
    ("/api/v1/totals", {"by": "colour"}, "by"),
    ("/api/v1/runs", {"cursor": "not-a-cursor"}, "cursor"),
    ("/api/v1/runs", {"status": "sleeping"}, "status"),
    ("/api/v1/runs", {"limit": 0}, "limit"),
    ("/api/v1/series", {"since": 10, "until": 5}, "until"),
    ("/api/v1/series", {"since": 0, "until": 5, "points": 0}, "points"),
])
def test_a_bad_query_is_400_naming_the_parameter(client, read, path, params, field):
    response = client.get(path, params=params, headers=read)

    assert response.status_code == 400, response.text
    assert response.json()["detail"]["field"] == field and response.json()["detail"]["message"]


def test_dedup_totals_count_overlapping_runs_on_one_host_once(client, org, read, run_objects):
    items, summary = run_objects
    assert items[0]["scope"] == "machine"  # both runs measure the whole (same) host
    ingest(client, org, items + renamed(items, "same-time-same-host"))

    plain = client.get("/api/v1/totals", params={"by": "project"}, headers=read).json()
    both = client.get("/api/v1/totals", params={"by": "project", "dedup": "true"},
                      headers=read).json()

    assert "dedup" not in plain and "deduplicated" not in plain["groups"][0]
    [group] = both["groups"]
    once_j, once_g = summary.energy_j["total"], summary.emissions_g
    assert group["energy_j"] == pytest.approx(2 * once_j)  # the per-run sum
    assert group["deduplicated"] == {"energy_j": pytest.approx(once_j),
                                     "emissions_g": pytest.approx(once_g)}
    assert both["dedup"]["measured_energy_j"] == pytest.approx(2 * once_j)
    assert both["dedup"]["energy_j"] == pytest.approx(once_j)
    assert both["dedup"]["removed_energy_j"] == pytest.approx(once_j)
    assert both["dedup"]["rule"]


def test_dedup_totals_by_component_split_the_kept_energy(client, org, read, run_objects):
    items, summary = run_objects
    ingest(client, org, items + renamed(items, "same-time-same-host"))

    groups = client.get("/api/v1/totals", params={"by": "component", "dedup": "true"},
                        headers=read).json()["groups"]

    by_key = {g["key"]: g["deduplicated"] for g in groups}
    assert by_key["gpu"]["energy_j"] == pytest.approx(summary.energy_j["gpu"])
    assert by_key["cpu"]["energy_j"] == pytest.approx(summary.energy_j["cpu"])
    assert by_key["cpu"]["emissions_g"] + by_key["gpu"]["emissions_g"] == \
        pytest.approx(summary.emissions_g)


def test_dedup_leaves_runs_on_different_hosts_whole(client, org, read, run_objects):
    items, summary = run_objects
    elsewhere = renamed(items, "other-host")
    elsewhere[0]["host"]["host_id"] = "0123456789abcdef"  # another machine
    ingest(client, org, items + elsewhere)

    both = client.get("/api/v1/totals", params={"by": "host", "dedup": "true"},
                      headers=read).json()

    assert both["dedup"]["energy_j"] == pytest.approx(2 * summary.energy_j["total"])
    assert both["dedup"]["removed_energy_j"] == pytest.approx(0.0)


def test_a_signed_in_member_reads_through_the_org_routes_only_of_their_org(settings, engine, org,
                                                                           run_objects):
    items, summary = run_objects
    app = create_app(settings, wall_clock=lambda: 1_800_000_000.0)
    with TestClient(app, base_url="https://testserver") as web:  # Secure cookies need https
        ingest(web, org, items)
        signed = web.post("/api/v1/login", json={"email": "owner@acme.test",
                                                 "password": "correct horse battery"})
        assert signed.status_code == 200, signed.text
        mine = f"/api/v1/orgs/{org.organisation_id}"
        runs = web.get(f"{mine}/runs").json()["runs"]
        totals = web.get(f"{mine}/totals", params={"by": "run"}).json()["groups"]
        other_org = web.get(f"/api/v1/orgs/{org.organisation_id + 1}/runs")
        no_org = web.get("/api/v1/runs")  # a session names its organisation in the path
    app.state.engine.dispose()

    assert [r["run_id"] for r in runs] == [summary.run_id]
    assert totals[0]["energy_j"] == pytest.approx(summary.energy_j["total"])
    assert other_org.status_code == 404
    assert no_org.status_code == 403 and "API key" in no_org.json()["detail"]["message"]


def test_a_read_key_on_an_org_route_must_name_its_own_org(client, org, read, run_objects):
    items, summary = run_objects
    ingest(client, org, items)

    own = client.get(f"/api/v1/orgs/{org.organisation_id}/runs/{summary.run_id}", headers=read)
    other = client.get(f"/api/v1/orgs/{org.organisation_id + 1}/runs", headers=read)

    assert own.status_code == 200 and own.json()["run_id"] == summary.run_id
    assert other.status_code == 404
